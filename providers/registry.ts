import { PROVIDER_CATALOGS } from './index';
import type { SimulationJournal } from './simulated/journal';
import { createSimulatedProvider } from './simulated/provider';
import { ProviderError, type ActionContext, type Provider, type ProviderCatalog } from './types';

export interface ProviderRegistry {
  /** The real provider when it is configured and this is not an exercise; otherwise the simulated stand-in. */
  resolve(system: string, options: { exercise: boolean }): Provider;
  /** Which systems have a real, configured provider (shown by `tourniquet up`). */
  configured(): string[];
  deliverSecret(
    destination: { provider: string; target: string },
    value: string,
    ctx: ActionContext,
  ): Promise<void>;
}

export function createProviderRegistry(options: {
  real: Provider[];
  journal: SimulationJournal;
  /** The systems a stand-in can be made for; the provider list's by default. */
  catalogs?: Readonly<Record<string, ProviderCatalog>>;
}): ProviderRegistry {
  const catalogs = options.catalogs ?? PROVIDER_CATALOGS;
  const real = new Map(options.real.map((provider) => [provider.name, provider]));
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
    resolve(system, { exercise }) {
      // Exercise mode is a hard guarantee: no real endpoint is ever called, whatever the runbook names.
      if (exercise) return simulatedFor(system);
      return real.get(system) ?? simulatedFor(system);
    },
    configured: () => [...real.keys()],
    async deliverSecret(destination, value, ctx) {
      const provider = registry.resolve(destination.provider, { exercise: ctx.exercise });
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
