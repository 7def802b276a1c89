import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../lib/config';
import { PROVIDER_DIRECTORY } from '../providers';
import { createProviderRegistry, type ProviderRegistry } from '../providers/registry';
import { SimulationJournal } from '../providers/simulated/journal';
import type { Provider } from '../providers/types';

/**
 * Real providers for every system whose settings are present (see providers/index.ts); the others are simulated in
 * demo mode and `not-configured` in a live one.
 */
export async function configuredProviders(env: NodeJS.ProcessEnv, logger: Logger): Promise<Provider[]> {
  const providers = await PROVIDER_DIRECTORY.createConfigured(env);
  logger.info({ providers: providers.map((provider) => provider.name) }, 'real providers configured');
  return providers;
}

export function simulationJournalPath(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return env.TOURNIQUET_SIMULATED_JOURNAL ?? join(config.dataDir, 'simulated', 'journal.jsonl');
}

export async function createRegistry(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProviderRegistry> {
  return createProviderRegistry({
    real: await configuredProviders(env, logger),
    journal: new SimulationJournal(simulationJournalPath(config, env)),
    mode: config.TOURNIQUET_MODE,
  });
}
