import { PROVIDER_CATALOGS } from './catalog';
import { createSimulatedProvider, type SimulationJournal } from './simulated';
import { ProviderError, type ActionContext, type Provider } from './types';

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
}): ProviderRegistry {
  const real = new Map(options.real.map((provider) => [provider.name, provider]));
  const simulated = new Map<string, Provider>();
  const simulatedFor = (system: string): Provider => {
    let provider = simulated.get(system);
    if (!provider) {
      if (!PROVIDER_CATALOGS[system])
        throw new ProviderError(`unknown provider "${system}"`, false, 'UnknownProvider');
      provider = createSimulatedProvider(system, { journal: options.journal });
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
