import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../lib/config';
import { BUILTIN_RUNBOOKS_DIR } from '../lib/runbook-files';
import { createGitHubProvider, gitHubOptionsFromEnv } from '../providers/github';
import {
  createHttpConnectorProvider,
  loadConnectorFile,
  type ConnectorDefinition,
} from '../providers/http-connector';
import { createPostgresProvider, postgresOptionsFromEnv } from '../providers/postgres';
import { createProviderRegistry, type ProviderRegistry } from '../providers/registry';
import { SimulationJournal } from '../providers/simulated';
import { createFileSinkProvider } from '../providers/sinks/file';
import type { Provider } from '../providers/types';

/** Connector definitions whose endpoint is configured (a literal base URL, or its env var is set). */
async function configuredConnectors(env: NodeJS.ProcessEnv): Promise<ConnectorDefinition[]> {
  const dir = env.TOURNIQUET_CONNECTORS_DIR
    ? resolve(env.TOURNIQUET_CONNECTORS_DIR)
    : join(BUILTIN_RUNBOOKS_DIR, 'connectors');
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((file) => /\.ya?ml$/.test(file));
  const definitions = (await Promise.all(files.map((file) => loadConnectorFile(join(dir, file))))).flat();
  return definitions.filter(
    (definition) => definition.baseUrl || (definition.baseUrlFromEnv && env[definition.baseUrlFromEnv]),
  );
}

/** Real providers for every system whose credentials are configured; the rest fall back to simulation. */
export async function configuredProviders(env: NodeJS.ProcessEnv, logger: Logger): Promise<Provider[]> {
  const fileSink = createFileSinkProvider();
  const providers: Provider[] = [fileSink];
  const github = gitHubOptionsFromEnv(env);
  if (github) providers.push(createGitHubProvider(github));
  const postgres = postgresOptionsFromEnv(env);
  if (postgres)
    providers.push(createPostgresProvider({ ...postgres, secretReaders: { file: fileSink.destination } }));
  const connectors = await configuredConnectors(env);
  if (connectors.length > 0) providers.push(createHttpConnectorProvider({ connectors, env }));
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
  });
}
