import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ProviderError, type SecretReader } from '../types';

/** What revokeGrants cuts; all of them unless configured otherwise. `login` is the emergency switch (NOLOGIN). */
export const grantScopes = [
  'login',
  'database',
  'schema',
  'table',
  'sequence',
  'function',
  'membership',
] as const;
export type GrantScope = (typeof grantScopes)[number];

/**
 * Where the admin connection string lives. Only the place is kept: the value is read inside each action at call
 * time, so it never travels as a parameter and a credential rotated under Tourniquet's feet is picked up.
 */
export type AdminUrlSource =
  | { kind: 'env'; variable: string; env: Readonly<Record<string, string | undefined>> }
  | { kind: 'file'; path: string };

export type { SecretReader } from '../types';

export interface PostgresProviderOptions {
  adminUrlSource: AdminUrlSource;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** How long terminateSessions waits for killed backends to disappear. */
  terminateWaitMs?: number;
  segmentScopes?: readonly GrantScope[];
  /** Schema holding Tourniquet's own bookkeeping (rotation and segmentation records) in the target database. */
  stateSchema?: string;
  /** Keyed by destination provider name, e.g. `{ file: fileDestination.destination }`. */
  secretReaders?: Record<string, SecretReader>;
}

const positiveMs = z.coerce.number().int().positive().max(600_000);
const envSchema = z.object({
  POSTGRES_ADMIN_URL: z.string().min(1).optional(),
  POSTGRES_ADMIN_URL_FILE: z.string().min(1).optional(),
  POSTGRES_CONNECT_TIMEOUT_MS: positiveMs.optional(),
  POSTGRES_STATEMENT_TIMEOUT_MS: positiveMs.optional(),
  POSTGRES_SEGMENT_SCOPES: z
    .string()
    .transform((list) => list.split(',').map((scope) => scope.trim()))
    .pipe(z.array(z.enum(grantScopes)).min(1))
    .optional(),
  POSTGRES_STATE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .optional(),
});

/**
 * Options for the postgres provider from the environment, or undefined when neither `POSTGRES_ADMIN_URL` nor
 * `POSTGRES_ADMIN_URL_FILE` is set. The admin URL itself is not read here.
 */
export function postgresOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): PostgresProviderOptions | undefined {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') ?? 'environment'}: ${issue?.message ?? 'invalid'}`);
  }
  const values = parsed.data;
  if (values.POSTGRES_ADMIN_URL && values.POSTGRES_ADMIN_URL_FILE) {
    throw new Error('POSTGRES_ADMIN_URL and POSTGRES_ADMIN_URL_FILE are both set: keep one');
  }
  let adminUrlSource: AdminUrlSource;
  if (values.POSTGRES_ADMIN_URL_FILE) adminUrlSource = { kind: 'file', path: values.POSTGRES_ADMIN_URL_FILE };
  else if (values.POSTGRES_ADMIN_URL) adminUrlSource = { kind: 'env', variable: 'POSTGRES_ADMIN_URL', env };
  else return undefined;
  return {
    adminUrlSource,
    connectTimeoutMs: values.POSTGRES_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: values.POSTGRES_STATEMENT_TIMEOUT_MS,
    segmentScopes: values.POSTGRES_SEGMENT_SCOPES,
    stateSchema: values.POSTGRES_STATE_SCHEMA,
  };
}

export interface ServerAddress {
  host: string;
  port: number;
  database: string;
  ssl: false | { rejectUnauthorized: boolean; ca?: string };
}

export interface AdminConnection extends ServerAddress {
  user: string;
  password: string | undefined;
}

function describeSource(source: AdminUrlSource): string {
  return source.kind === 'env' ? source.variable : `POSTGRES_ADMIN_URL_FILE (${source.path})`;
}

/** Reads and parses the admin URL now. Errors name the source, never the value (it embeds a password). */
export async function readAdminConnection(source: AdminUrlSource): Promise<AdminConnection> {
  let raw: string | undefined;
  if (source.kind === 'env') {
    raw = source.env[source.variable];
  } else {
    try {
      raw = await readFile(source.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ProviderError(
        `${describeSource(source)}: cannot read the file (${code})`,
        false,
        'Configuration',
      );
    }
  }
  raw = raw?.trim();
  if (!raw) throw new ProviderError(`${describeSource(source)}: not set or empty`, false, 'Configuration');
  return parseAdminUrl(raw, describeSource(source));
}

const sslModes = z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']);

export async function parseAdminUrl(raw: string, sourceName: string): Promise<AdminConnection> {
  const invalid = (what: string) => new ProviderError(`${sourceName}: ${what}`, false, 'Configuration');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL TypeError carries the input (with its password) in `.input`: it must not escape.
    throw invalid('not a valid postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalid('expected the postgres:// or postgresql:// scheme');
  }
  const socketDirectory = url.searchParams.get('host');
  const host = socketDirectory ?? url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw invalid('no host');
  const port = url.port ? Number(url.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid('port out of range');
  let user: string;
  let password: string | undefined;
  let database: string;
  try {
    user = decodeURIComponent(url.username);
    password = url.password ? decodeURIComponent(url.password) : undefined;
    database = decodeURIComponent(url.pathname.replace(/^\//, '')) || user;
  } catch {
    throw invalid('malformed percent-encoding');
  }
  if (!user) throw invalid('no user name');
  const sslMode = sslModes.safeParse(url.searchParams.get('sslmode') ?? 'prefer');
  if (!sslMode.success) throw invalid(`sslmode: expected one of ${sslModes.options.join(', ')}`);
  let ssl: ServerAddress['ssl'] = false;
  if (sslMode.data === 'require') ssl = { rejectUnauthorized: false };
  if (sslMode.data === 'verify-ca' || sslMode.data === 'verify-full') {
    const rootCertPath = url.searchParams.get('sslrootcert');
    let ca: string | undefined;
    if (rootCertPath) {
      try {
        ca = await readFile(rootCertPath, 'utf8');
      } catch {
        throw invalid('sslrootcert: cannot read the file');
      }
    }
    ssl = { rejectUnauthorized: true, ca };
  }
  return { host, port, database, user, password, ssl };
}
