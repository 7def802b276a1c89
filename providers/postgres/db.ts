import { Client, type QueryResultRow } from 'pg';
import { ProviderError } from '../types';
import { toProviderError } from './errors';
import { readAdminConnection, type AdminUrlSource, type ServerAddress } from './options';

export interface ConnectionSettings {
  adminUrlSource: AdminUrlSource;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

/**
 * One admin connection to the target database for the duration of one action. Every error leaving it is a
 * ProviderError with the secrets registered so far struck out.
 */
export class AdminSession {
  /** Values to strike out of any server text we keep: the admin password, and whatever an action mints. */
  readonly secrets: string[] = [];

  private constructor(
    private readonly client: Client,
    readonly address: ServerAddress,
    readonly adminUser: string,
  ) {}

  get server(): string {
    return `${this.address.host}:${this.address.port}/${this.address.database}`;
  }

  static async open(settings: ConnectionSettings, database: string | undefined): Promise<AdminSession> {
    const admin = await readAdminConnection(settings.adminUrlSource);
    const address: ServerAddress = { ...admin, database: database ?? admin.database };
    const client = new Client({
      host: address.host,
      port: address.port,
      database: address.database,
      user: admin.user,
      password: admin.password,
      ssl: address.ssl,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      statement_timeout: settings.statementTimeoutMs,
      lock_timeout: settings.statementTimeoutMs,
      application_name: 'tourniquet',
    });
    // A connection the server drops between queries is reported on the next query; without a listener the
    // 'error' event would crash the worker instead.
    client.on('error', () => undefined);
    const session = new AdminSession(client, address, admin.user);
    if (admin.password) session.secrets.push(admin.password);
    try {
      await client.connect();
      // Catalog names cast to regclass/regprocedure come out schema-qualified, so they can be reused in SQL.
      await client.query('SET search_path = pg_catalog');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw session.describe(error, `connecting as the admin role "${admin.user}"`);
    }
    return session;
  }

  describe(error: unknown, operation: string, opaque = false): ProviderError {
    return toProviderError(error, { operation, server: this.server, secrets: this.secrets, opaque });
  }

  quote(identifier: string): string {
    return this.client.escapeIdentifier(identifier);
  }

  async query<R extends QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    try {
      const result = await this.client.query<R>(text, values);
      return result.rows;
    } catch (error) {
      throw this.describe(error, operation);
    }
  }

  /** For statements that carry secret material: the server's message is never kept, only its SQLSTATE. */
  async querySecretStatement(operation: string, text: string): Promise<void> {
    try {
      await this.client.query({ text, rowMode: 'array' });
    } catch (error) {
      throw this.describe(error, operation, true);
    }
  }

  async transaction<T>(operation: string, body: () => Promise<T>): Promise<T> {
    await this.query(operation, 'BEGIN');
    try {
      const result = await body();
      await this.query(operation, 'COMMIT');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error instanceof ProviderError ? error : this.describe(error, operation);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

export async function withAdminSession<T>(
  settings: ConnectionSettings,
  database: string | undefined,
  body: (session: AdminSession) => Promise<T>,
): Promise<T> {
  const session = await AdminSession.open(settings, database);
  try {
    return await body(session);
  } catch (error) {
    throw session.describe(error, 'running the action');
  } finally {
    await session.close();
  }
}

/** What a login attempt with a candidate password proves about that password. */
export type LoginOutcome =
  /** Authenticated and got a session. */
  | 'connected'
  /** Password accepted, then refused by role/database state (NOLOGIN, CONNECT revoked): still proves the password. */
  | 'accepted-but-blocked'
  /** The server said the password is wrong. */
  | 'rejected'
  /** Could not tell: network, pg_hba.conf has no entry, server gone. */
  | 'inconclusive';

export async function attemptLogin(
  address: ServerAddress,
  role: string,
  password: string,
  timeoutMs: number,
): Promise<LoginOutcome> {
  const client = new Client({
    host: address.host,
    port: address.port,
    database: address.database,
    user: role,
    password,
    ssl: address.ssl,
    connectionTimeoutMillis: timeoutMs,
    application_name: 'tourniquet-verify',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'connected';
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === '28P01') return 'rejected';
    // PostgreSQL checks rolcanlogin and CONNECT only after authentication succeeded.
    if (code === '28000' && /not permitted to log in/.test(message ?? '')) return 'accepted-but-blocked';
    if (code === '42501') return 'accepted-but-blocked';
    return 'inconclusive';
  } finally {
    await client.end().catch(() => undefined);
  }
}
