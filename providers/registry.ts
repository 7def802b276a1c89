import { PROVIDER_CATALOGS, PROVIDERS } from './index';
import type { SimulationJournal } from './simulated/journal';
import { createSimulatedProvider } from './simulated/provider';
import { ProviderError, type ActionContext, type Provider, type ProviderCatalog } from './types';

/**
 * `live`: a real incident acts only through configured providers; a system without one is `not-configured`.
 * `demo`: systems without a configured provider are simulated, and every incident says SIMULATED.
 */
export const PROVIDER_MODES = ['live', 'demo'] as const;
export type ProviderMode = (typeof PROVIDER_MODES)[number];

/** A real incident named a system this worker has no real provider for: nothing ran. */
export class NotConfiguredError extends ProviderError {
  constructor(message: string) {
    super(message, false, 'NotConfigured');
    this.name = 'NotConfiguredError';
  }
}

export interface ResolveOptions {
  /** Tabletop exercise: only the simulated provider may act. */
  exercise: boolean;
  /** The incident's own mode, fixed when it opened; absent for incidents opened before modes (the worker's). */
  demo?: boolean;
}

export interface ProviderRegistry {
  readonly mode: ProviderMode;
  /**
   * The real provider when it is configured and this is not an exercise; the simulated stand-in for an exercise or
   * a demo incident. A real incident naming a system with no configured provider throws NotConfiguredError.
   */
  resolve(system: string, options: ResolveOptions): Provider;
  /** Which systems have a real, configured provider (shown by `tourniquet up`). */
  configured(): string[];
  /** In live mode, every system a real incident cannot act on, with what would configure it; empty in demo mode. */
  unconfigured(): Record<string, string>;
  deliverSecret(
    destination: { provider: string; target: string },
    value: string,
    ctx: ActionContext,
  ): Promise<void>;
}

/**
 * Demo only when nothing that can act is configured: the file destination is always available and acts on nothing.
 * An explicit setting wins either way.
 */
export function defaultMode(real: readonly Provider[], explicit?: ProviderMode): ProviderMode {
  if (explicit) return explicit;
  return real.some((provider) => Object.keys(provider.catalog).length > 0) ? 'live' : 'demo';
}

/** What a real incident says when a system has no real provider: the settings that would configure it. */
export function notConfiguredMessage(system: string): string {
  const definition = PROVIDERS.find((candidate) => candidate.name === system);
  if (!definition || definition.settings.length === 0 || definition.name === 'simulated') {
    return `"${system}" has no real provider in this worker and a real incident never simulates (set TOURNIQUET_MODE=demo to try a runbook on simulated systems)`;
  }
  const enabledBy = definition.enabledBy ?? definition.settings.join(' / ');
  return `"${system}" is not configured in this worker: set ${enabledBy} (see the README's provider table); nothing was done`;
}

export function createProviderRegistry(options: {
  real: Provider[];
  journal: SimulationJournal;
  /** Unset: `defaultMode(real)`. */
  mode?: ProviderMode;
  /** The systems a stand-in can be made for; the provider list's by default. */
  catalogs?: Readonly<Record<string, ProviderCatalog>>;
}): ProviderRegistry {
  const catalogs = options.catalogs ?? PROVIDER_CATALOGS;
  const real = new Map(options.real.map((provider) => [provider.name, provider]));
  const mode = defaultMode(options.real, options.mode);
  const simulated = new Map<string, Provider>();
  const simulatedFor = (system: string): Provider => {
    let provider = simulated.get(system);
    if (!provider) {
      const catalog = catalogs[system];
      if (!catalog) throw new ProviderError(`unknown provider "${system}"`, false, 'UnknownProvider');
      provider = createSimulatedProvider(system, { catalog, journal: options.journal });
      simulated.set(system, provider);
    }
    return provider;
  };

  const registry: ProviderRegistry = {
    mode,
    resolve(system, { exercise, demo }) {
      // Exercise mode is a hard guarantee: no real endpoint is ever called, whatever the runbook names.
      if (exercise) return simulatedFor(system);
      const provider = real.get(system);
      if (provider) return provider;
      if (demo ?? mode === 'demo') return simulatedFor(system);
      if (!catalogs[system])
        throw new ProviderError(`unknown provider "${system}"`, false, 'UnknownProvider');
      // A simulated step reported `succeeded` in a real incident would tell on-call the leak is contained.
      throw new NotConfiguredError(notConfiguredMessage(system));
    },
    configured: () => [...real.keys()],
    unconfigured: () =>
      mode === 'demo'
        ? {}
        : Object.fromEntries(
            Object.keys(catalogs)
              .filter((system) => !real.has(system))
              .map((system) => [system, notConfiguredMessage(system)]),
          ),
    async deliverSecret(destination, value, ctx) {
      const provider = registry.resolve(destination.provider, { exercise: ctx.exercise, demo: ctx.demo });
      if (!provider.destination) {
        throw new ProviderError(
          `provider "${destination.provider}" cannot store secrets`,
          false,
          'NotADestination',
        );
      }
      await provider.destination.storeSecret(destination.target, value, ctx);
    },
  };
  return registry;
}
