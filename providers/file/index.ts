import { join, resolve } from 'node:path';
import { defineProviderPlugin } from '../plugin';
import { createFileDestinationProvider, type FileDestinationOptions } from './destination';
import { checkSecretName, SECRETS_DIR_SETTING } from './refs';

/**
 * Local files as a destination: the replacement credential is written 0600, atomically, to `file:<name>`, a name
 * under the secrets directory (TOURNIQUET_SECRETS_DIR, default `<data dir>/secrets`). Nothing else is ever written:
 * the worker may run as root, and a destination is whatever the incident's starter typed.
 */
export const file = defineProviderPlugin<FileDestinationOptions>({
  name: 'file',
  summary:
    'replacement credentials written under the secrets directory (0600, atomic rename) for consumers to read',
  roles: ['destination'],
  // Destinations only: it stores replacement credentials and has no actions of its own.
  catalog: {},
  settings: [SECRETS_DIR_SETTING],
  examples: { destination: 'file:app-db-password' },
  // Always available: writing a file needs no credentials. An empty setting counts as unset, never as `.`.
  fromEnv: (env) => ({
    baseDirectory: resolve(env[SECRETS_DIR_SETTING] || join(env.TOURNIQUET_DATA_DIR || '.data', 'secrets')),
  }),
  create: createFileDestinationProvider,
  parseRef(ref) {
    checkSecretName(ref);
    return {};
  },
});
