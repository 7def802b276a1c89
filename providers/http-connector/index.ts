import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILTIN_RUNBOOKS_DIR } from '../../lib/paths';
import { defineProviderPlugin, type Env } from '../plugin';
import {
  createHttpConnectorProvider,
  HTTP_CONNECTOR,
  httpConnectorCatalog,
  type HttpConnectorOptions,
} from './provider';
import { loadConnectorFile, type ConnectorDefinition } from './schema';

/** Connector definitions whose endpoint is configured (a literal base URL, or its env var is set). */
async function configuredConnectors(env: Env): Promise<ConnectorDefinition[]> {
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

/**
 * Automation platforms reached over plain HTTP, one YAML definition per platform (`runbooks/connectors/`):
 * references are `http-connector:<connector name>/<object id>`, e.g. `http-connector:n8n/42`.
 */
export const httpConnector = defineProviderPlugin<HttpConnectorOptions>({
  name: HTTP_CONNECTOR,
  summary: 'automation platforms over HTTP from a YAML definition (n8n preset): disable, runs, logs, rotate',
  roles: ['connector', 'issuer'],
  catalog: httpConnectorCatalog,
  // The connector files name the rest (the n8n preset reads N8N_BASE_URL and N8N_API_KEY).
  settings: ['TOURNIQUET_CONNECTORS_DIR', 'N8N_BASE_URL', 'N8N_API_KEY'],
  examples: { connector: 'http-connector:n8n/42', issuer: 'http-connector:n8n/credentials/17' },
  async fromEnv(env) {
    const connectors = await configuredConnectors(env);
    return connectors.length > 0 ? { connectors, env } : undefined;
  },
  create: createHttpConnectorProvider,
  parseRef(ref) {
    const slash = ref.indexOf('/');
    if (slash <= 0 || slash === ref.length - 1) throw new Error(`"${ref}" is not <connector>/<object id>`);
    return {};
  },
});
