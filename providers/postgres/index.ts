import { defineProviderPlugin } from '../plugin';
import { issuerCatalog } from '../roles/issuer';
import { postgresOptionsFromEnv, type PostgresProviderOptions } from './options';
import { parsePostgresRef } from './refs';

/** PostgreSQL as an issuer: rotates a role's password (SCRAM), kills its sessions, cuts and restores its grants. */
export const postgres = defineProviderPlugin<PostgresProviderOptions>({
  name: 'postgres',
  summary:
    'database roles: rotate the password, kill sessions, revoke and restore grants, prove the old one is dead',
  roles: ['issuer'],
  catalog: issuerCatalog,
  settings: [
    'POSTGRES_ADMIN_URL',
    'POSTGRES_ADMIN_URL_FILE',
    'POSTGRES_CONNECT_TIMEOUT_MS',
    'POSTGRES_STATEMENT_TIMEOUT_MS',
    'POSTGRES_SEGMENT_SCOPES',
    'POSTGRES_STATE_SCHEMA',
  ],
  examples: { issuer: 'postgres:app_user@appdb' },
  enabledBy: 'POSTGRES_ADMIN_URL (or POSTGRES_ADMIN_URL_FILE)',
  fromEnv: postgresOptionsFromEnv,
  // The pg driver loads only in a worker that has PostgreSQL configured.
  create: (options, { secretReaders }) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./provider') as typeof import('./provider')).createPostgresProvider({
      ...options,
      secretReaders,
    }),
  parseRef(ref) {
    parsePostgresRef(ref);
    return {};
  },
});
