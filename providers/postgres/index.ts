export {
  createPostgresProvider,
  parsePostgresRef,
  type PostgresProvider,
  type PostgresTarget,
} from './provider';
export {
  grantScopes,
  postgresOptionsFromEnv,
  type AdminUrlSource,
  type GrantScope,
  type PostgresProviderOptions,
  type SecretReader,
} from './options';
