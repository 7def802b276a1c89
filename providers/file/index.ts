import { defineProviderPlugin } from '../plugin';
import { createFileDestinationProvider, type FileDestinationOptions } from './destination';

/** Local files as a destination: the replacement credential is written 0600, atomically, to `file:<path>`. */
export const file = defineProviderPlugin<FileDestinationOptions>({
  name: 'file',
  summary: 'replacement credentials written to a local file (0600, atomic rename) that consumers read',
  roles: ['destination'],
  // Destinations only: it stores replacement credentials and has no actions of its own.
  catalog: {},
  settings: [],
  examples: { destination: 'file:/run/secrets/app-db-password' },
  // Always available: writing a file needs no credentials.
  fromEnv: () => ({}),
  create: createFileDestinationProvider,
});
