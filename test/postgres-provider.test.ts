import { randomBytes } from 'node:crypto';
import { providerTranscript } from './harness/provider-transcript';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { postgresOptionsFromEnv } from '../providers/postgres/options';
import { createPostgresProvider, type PostgresProvider } from '../providers/postgres/provider';
import { createFileDestinationProvider, type FileDestinationProvider } from '../providers/file/destination';
import type { ActionContext } from '../providers/types';
import { startPostgres, type PostgresServer } from './harness/postgres';

/** Everything the providers said or returned, searched for secrets at the end. */
const transcript: string[] = [];
const { act, failure } = providerTranscript(transcript);
/** Every password that existed during the run: the leaked ones and every value minted. */
const secrets = new Set<string>();

let pg: PostgresServer;
let sinkDir: string;
/** The file destination, confined to sinkDir as the worker's is to its secrets directory. */
let fileDestination: FileDestinationProvider;
let provider: PostgresProvider;

function leaked(label: string): string {
  const value = `canary-${label}-${randomBytes(12).toString('hex')}`;
  secrets.add(value);
  return value;
}

function makeContext(
  overrides: Partial<Pick<ActionContext, 'idempotencyKey' | 'incidentId' | 'undoOf' | 'deliverSecret'>> = {},
): ActionContext {
  const ctx: ActionContext = {
    incidentId: overrides.incidentId ?? 'inc-1',
    stepId: 'step',
    idempotencyKey: overrides.idempotencyKey ?? `key-${randomBytes(4).toString('hex')}`,
    attempt: 1,
    exercise: false,
    signal: new AbortController().signal,
    log: {
      info: (fields, message) => transcript.push(JSON.stringify({ level: 'info', fields, message })),
      warn: (fields, message) => transcript.push(JSON.stringify({ level: 'warn', fields, message })),
    },
    heartbeat: () => undefined,
    evidence: {
      preserve: () => Promise.reject(new Error('no evidence in these tests')),
    },
    undoOf: overrides.undoOf,
    deliverSecret:
      overrides.deliverSecret ??
      (async (destination, value) => {
        secrets.add(value);
        if (destination.provider !== 'file')
          throw new Error(`no destination provider ${destination.provider}`);
        await fileDestination.destination.storeSecret(destination.target, value, ctx);
      }),
  };
  return ctx;
}

async function admin<T>(database: string, body: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(pg.adminUrl);
  url.pathname = `/${database}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** 'ok' or the SQLSTATE the server answered with. */
async function loginAs(role: string, password: string, database = 'appdb'): Promise<string> {
  const client = new Client({ host: '127.0.0.1', port: pg.port, user: role, password, database });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createRole(role: string, password: string): Promise<void> {
  await admin('appdb', async (client) => {
    // The leaked value is set by the test, not by Tourniquet: keep it out of the server log we search later.
    await client.query("SET log_statement = 'none'");
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await client.query(`GRANT CONNECT ON DATABASE appdb TO ${role}`);
    await client.query(`GRANT USAGE ON SCHEMA app TO ${role}`);
    await client.query(`GRANT SELECT, INSERT ON app.orders TO ${role}`);
    await client.query(`GRANT UPDATE ON app.orders TO ${role} WITH GRANT OPTION`);
    await client.query(`GRANT USAGE ON SEQUENCE app.order_ids TO ${role}`);
    await client.query(`GRANT EXECUTE ON FUNCTION app.order_count() TO ${role}`);
    await client.query(`GRANT readers TO ${role}`);
  });
}

/** The destination's target: a name under its directory. */
function sinkName(role: string): string {
  return `${role}.password`;
}

function sinkPath(role: string): string {
  return join(sinkDir, sinkName(role));
}

beforeAll(async () => {
  pg = await startPostgres();
  secrets.add(decodeURIComponent(new URL(pg.adminUrl).password));
  sinkDir = await mkdtemp(join(tmpdir(), 'tourniquet-sink-'));
  fileDestination = createFileDestinationProvider({ baseDirectory: sinkDir });
  await admin('postgres', async (client) => {
    await client.query('CREATE DATABASE appdb');
    await client.query('REVOKE CONNECT ON DATABASE appdb FROM PUBLIC');
    await client.query('CREATE ROLE readers NOLOGIN');
  });
  await admin('appdb', async (client) => {
    await client.query('CREATE SCHEMA app');
    await client.query('CREATE TABLE app.orders (id int PRIMARY KEY, item text)');
    await client.query("INSERT INTO app.orders VALUES (1, 'tourniquet')");
    await client.query('CREATE SEQUENCE app.order_ids');
    await client.query(
      'CREATE FUNCTION app.order_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM app.orders $$',
    );
    await client.query('REVOKE EXECUTE ON FUNCTION app.order_count() FROM PUBLIC');
  });
  const options = postgresOptionsFromEnv({
    POSTGRES_ADMIN_URL: pg.adminUrl,
    POSTGRES_CONNECT_TIMEOUT_MS: '3000',
  });
  provider = createPostgresProvider({ ...options!, secretReaders: { file: fileDestination.destination } });
});

afterAll(async () => {
  await pg?.stop();
  if (sinkDir) await rm(sinkDir, { recursive: true, force: true });
});

describe('postgres provider against a real server', () => {
  test('rotation: the old password dies, the new one works through the file destination, live sessions are killed', async () => {
    const oldPassword = leaked('old');
    await createRole('app_user', oldPassword);
    const attackerSession = new Client({
      host: '127.0.0.1',
      port: pg.port,
      user: 'app_user',
      password: oldPassword,
      database: 'appdb',
    });
    attackerSession.on('error', () => undefined);
    await attackerSession.connect();

    const rotated = await act(
      provider.actions.rotateCredential(
        { ref: 'app_user@appdb', destinations: [{ provider: 'file', target: sinkName('app_user') }] },
        makeContext(),
      ),
    );
    expect(rotated.summary).toMatchObject({
      role: 'app_user',
      database: 'appdb',
      destinations: [`file:${sinkName('app_user')}`],
      previousCredentialKnown: true,
      reusedEarlierAttempt: false,
    });
    expect((await stat(sinkPath('app_user'))).mode & 0o777).toBe(0o600);
    const newPassword = await fileDestination.destination.readSecret(sinkName('app_user'));
    secrets.add(newPassword);
    expect(newPassword).not.toBe(oldPassword);
    expect(await loginAs('app_user', oldPassword)).toBe('28P01');
    expect(await loginAs('app_user', newPassword)).toBe('ok');

    // A password change does not end sessions opened with the leaked value: verification must notice.
    await expect(attackerSession.query('SELECT 1')).resolves.toBeDefined();
    const notYet = await failure(provider.actions.verifyRevoked({ ref: 'app_user@appdb' }, makeContext()));
    expect(notYet.retryable).toBe(false);
    expect(notYet.message).toMatch(/1 session\(s\) opened before the rotation are still alive/);

    const terminated = await act(
      provider.actions.terminateSessions({ ref: 'app_user@appdb' }, makeContext()),
    );
    expect(terminated.summary).toMatchObject({
      role: 'app_user',
      sessionsFound: 1,
      sessionsTerminated: 1,
      remaining: 0,
    });
    await expect(attackerSession.query('SELECT 1')).rejects.toThrow();
    await attackerSession.end().catch(() => undefined);

    const verified = await act(provider.actions.verifyRevoked({ ref: 'app_user@appdb' }, makeContext()));
    expect(verified.summary).toMatchObject({
      oldCredentialDead: true,
      storedVerifierMatches: true,
      previousPasswordGone: true,
      sessionsFromBeforeRotation: 0,
      trustRules: 0,
      credentialVersion: rotated.summary.credentialVersion,
      destinationLogins: [`file:${sinkName('app_user')}=connected`],
    });
  });

  test('segmentation: revokeGrants blocks a new connection and cuts grants; restoreGrants brings them back', async () => {
    const password = await fileDestination.destination.readSecret(sinkName('app_user'));
    const privileges = () =>
      admin('appdb', async (client) => {
        const { rows } = await client.query<{
          select: boolean;
          update: boolean;
          connect: boolean;
          member: boolean;
        }>(
          `SELECT has_table_privilege('app_user', 'app.orders', 'SELECT') AS select,
                  has_table_privilege('app_user', 'app.orders', 'UPDATE WITH GRANT OPTION') AS update,
                  has_database_privilege('app_user', 'appdb', 'CONNECT') AS connect,
                  pg_has_role('app_user', 'readers', 'MEMBER') AS member`,
        );
        return rows[0];
      });
    expect(await privileges()).toEqual({ select: true, update: true, connect: true, member: true });

    const ctx = makeContext();
    const segmented = await act(provider.actions.revokeGrants({ ref: 'app_user@appdb' }, ctx));
    expect(segmented.summary).toMatchObject({
      role: 'app_user',
      wasLogin: true,
      loginDisabled: true,
      reusedEarlierAttempt: false,
    });
    expect(segmented.summary.revokedCount).toBe(6);
    expect(segmented.summary.remainingGrants).toEqual([]);
    expect(segmented.summary.publicConnectDatabases).toEqual(['postgres']);
    expect(await loginAs('app_user', password)).toBe('28000');
    expect(await privileges()).toEqual({ select: false, update: false, connect: false, member: false });

    // A retry of the same step must not re-snapshot the already-cut role as having nothing to restore.
    const retried = await act(provider.actions.revokeGrants({ ref: 'app_user@appdb' }, ctx));
    expect(retried.summary).toMatchObject({
      reusedEarlierAttempt: true,
      revokedGrants: segmented.summary.revokedGrants,
    });

    // NOLOGIN is checked after authentication, so the delivered password is still proven to be the valid one.
    const verified = await act(provider.actions.verifyRevoked({ ref: 'app_user@appdb' }, makeContext()));
    expect(verified.summary.destinationLogins).toEqual([`file:${sinkName('app_user')}=accepted-but-blocked`]);

    const tampered = await failure(
      provider.actions.restoreGrants(
        { ref: 'app_user@appdb' },
        makeContext({
          undoOf: {
            ...segmented.summary,
            revokedGrants: [
              JSON.stringify({ scope: 'table', object: 'app.orders', privileges: ['ALL; DROP'] }),
            ],
          },
        }),
      ),
    );
    expect(tampered.retryable).toBe(false);
    expect(tampered.message).toMatch(/^undoOf\.revokedGrants\[0\]\.privileges\.0: /);

    const restored = await act(
      provider.actions.restoreGrants({ ref: 'app_user@appdb' }, makeContext({ undoOf: segmented.summary })),
    );
    expect(restored.summary).toMatchObject({ restoredCount: 6, missingObjects: [], loginRestored: true });
    expect(await privileges()).toEqual({ select: true, update: true, connect: true, member: true });
    expect(await loginAs('app_user', password)).toBe('ok');
  });

  test('a retried rotation (same idempotency key) leaves exactly one valid credential, held by the destination', async () => {
    const oldPassword = leaked('retry-old');
    await createRole('retry_user', oldPassword);
    const ref = 'retry_user@appdb';
    const destinations = [{ provider: 'file', target: sinkName('retry_user') }];
    const idempotencyKey = 'incident-2/rotate/1';
    const seen: string[] = [oldPassword];

    // Attempt 1: the password is changed at the server, then the destination is down.
    const firstError = await failure(
      provider.actions.rotateCredential(
        { ref, destinations },
        makeContext({
          idempotencyKey,
          deliverSecret: (_destination, value) => {
            seen.push(value);
            secrets.add(value);
            return Promise.reject(new Error('destination unavailable'));
          },
        }),
      ),
    );
    expect(firstError.retryable).toBe(true);
    expect(firstError.message).toMatch(/file:.*retry_user\.password failed \(destination unavailable\)/);
    expect(seen).toHaveLength(2);
    expect(await loginAs('retry_user', seen[1])).toBe('ok');

    // Attempt 2: same key, destination back.
    const second = await act(
      provider.actions.rotateCredential({ ref, destinations }, makeContext({ idempotencyKey })),
    );
    expect(second.summary.reusedEarlierAttempt).toBe(false);
    const delivered = await fileDestination.destination.readSecret(sinkName('retry_user'));
    seen.push(delivered);

    // Attempt 3: a retry after success changes nothing.
    const third = await act(
      provider.actions.rotateCredential({ ref, destinations }, makeContext({ idempotencyKey })),
    );
    expect(third.summary).toMatchObject({
      reusedEarlierAttempt: true,
      credentialVersion: second.summary.credentialVersion,
    });
    expect(await fileDestination.destination.readSecret(sinkName('retry_user'))).toBe(delivered);

    const outcomes = await Promise.all(seen.map((value) => loginAs('retry_user', value)));
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
    expect(await loginAs('retry_user', delivered)).toBe('ok');
  });

  test('two attempts racing with one idempotency key rotate once: the later one finds the work done', async () => {
    await createRole('race_user', leaked('race-old'));
    const destinations = [{ provider: 'file', target: sinkName('race_user') }];
    const minted: string[] = [];
    const slowDelivery = (): ActionContext => {
      const ctx = makeContext({
        idempotencyKey: 'incident-3/rotate/1',
        deliverSecret: async (destination, value) => {
          minted.push(value);
          secrets.add(value);
          // Long enough that the other attempt is waiting on the role lock while this one delivers.
          await new Promise((resolveDelay) => setTimeout(resolveDelay, 300));
          await fileDestination.destination.storeSecret(destination.target, value, ctx);
        },
      });
      return ctx;
    };
    const results = await Promise.all([
      act(provider.actions.rotateCredential({ ref: 'race_user@appdb', destinations }, slowDelivery())),
      act(provider.actions.rotateCredential({ ref: 'race_user@appdb', destinations }, slowDelivery())),
    ]);
    expect(results.map((result) => result.summary.reusedEarlierAttempt).sort()).toEqual([false, true]);
    expect(minted).toHaveLength(1);
    const delivered = await fileDestination.destination.readSecret(sinkName('race_user'));
    expect(delivered).toBe(minted[0]);
    expect(await loginAs('race_user', delivered)).toBe('ok');
  });

  test('revokeCredential removes the password unless this incident already rotated it', async () => {
    const oldPassword = leaked('revoke-old');
    await createRole('revoke_user', oldPassword);
    const fingerprint = 'a'.repeat(64);
    const removed = await act(
      provider.actions.revokeCredential(
        { ref: 'revoke_user@appdb', fingerprint },
        makeContext({ incidentId: 'inc-r' }),
      ),
    );
    expect(removed.summary).toMatchObject({ outcome: 'password-removed', leakedFingerprint: fingerprint });
    expect(await loginAs('revoke_user', oldPassword)).toBe('28P01');

    await act(
      provider.actions.rotateCredential(
        { ref: 'revoke_user@appdb', destinations: [{ provider: 'file', target: sinkName('revoke_user') }] },
        makeContext({ incidentId: 'inc-r' }),
      ),
    );
    const afterRotation = await act(
      provider.actions.revokeCredential(
        { ref: 'revoke_user@appdb', fingerprint },
        makeContext({ incidentId: 'inc-r' }),
      ),
    );
    expect(afterRotation.summary.outcome).toBe('already-replaced-by-rotation');
    const delivered = await fileDestination.destination.readSecret(sinkName('revoke_user'));
    expect(await loginAs('revoke_user', delivered)).toBe('ok');
  });

  test('configuration and failures are named clearly, with the right retry decision', async () => {
    expect(postgresOptionsFromEnv({})).toBeUndefined();
    expect(() =>
      postgresOptionsFromEnv({ POSTGRES_ADMIN_URL: pg.adminUrl, POSTGRES_CONNECT_TIMEOUT_MS: 'soon' }),
    ).toThrow(/^POSTGRES_CONNECT_TIMEOUT_MS: /);

    // The admin URL from a file, read at call time.
    const urlFile = join(sinkDir, 'admin-url');
    await writeFile(urlFile, `${pg.adminUrl}\n`, { mode: 0o600 });
    const fromFile = createPostgresProvider(postgresOptionsFromEnv({ POSTGRES_ADMIN_URL_FILE: urlFile })!);
    await expect(
      act(fromFile.actions.terminateSessions({ ref: 'app_user@appdb' }, makeContext())),
    ).resolves.toMatchObject({
      summary: { sessionsFound: 0 },
    });

    // Nothing listens on the port: transient (a restarting server), so Temporal's retry policy may try again.
    const closedPort = await new Promise<number>((resolvePort) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolvePort(port));
      });
    });
    const unreachableUrl = new URL(pg.adminUrl);
    unreachableUrl.port = String(closedPort);
    const unreachable = createPostgresProvider(
      postgresOptionsFromEnv({
        POSTGRES_ADMIN_URL: unreachableUrl.toString(),
        POSTGRES_CONNECT_TIMEOUT_MS: '2000',
      })!,
    );
    const down = await failure(unreachable.actions.terminateSessions({ ref: 'app_user' }, makeContext()));
    expect(down.retryable).toBe(true);
    expect(down.message).toBe(
      `PostgreSQL 127.0.0.1:${closedPort}/postgres is unreachable (ECONNREFUSED) while connecting as the admin role "tourniquet_admin"`,
    );

    // A wrong admin password or a missing role will not heal by retrying.
    const wrongUrl = new URL(pg.adminUrl);
    wrongUrl.password = leaked('wrong-admin');
    const wrong = createPostgresProvider(
      postgresOptionsFromEnv({ POSTGRES_ADMIN_URL: wrongUrl.toString() })!,
    );
    const rejected = await failure(wrong.actions.terminateSessions({ ref: 'app_user' }, makeContext()));
    expect(rejected.retryable).toBe(false);
    expect(rejected.message).toMatch(/password authentication failed .*\(SQLSTATE 28P01\)/);

    const missing = await failure(provider.actions.terminateSessions({ ref: 'ghost@appdb' }, makeContext()));
    expect(missing).toMatchObject({
      retryable: false,
      message: 'PostgreSQL 127.0.0.1:' + pg.port + '/appdb: role "ghost" does not exist',
    });

    const notConfigured = createPostgresProvider({
      adminUrlSource: { kind: 'env', variable: 'POSTGRES_ADMIN_URL', env: {} },
    });
    const unset = await failure(notConfigured.actions.verifyRevoked({ ref: 'app_user' }, makeContext()));
    expect(unset).toMatchObject({ retryable: false, message: 'POSTGRES_ADMIN_URL: not set or empty' });

    const garbled = createPostgresProvider(
      postgresOptionsFromEnv({ POSTGRES_ADMIN_URL: `postgres://x:${leaked('garbled')}@` })!,
    );
    const invalid = await failure(garbled.actions.verifyRevoked({ ref: 'app_user' }, makeContext()));
    expect(invalid.message).toBe('POSTGRES_ADMIN_URL: not a valid postgres:// URL');

    const badRef = await failure(
      provider.actions.terminateSessions({ ref: 'app_user; DROP ROLE x' }, makeContext()),
    );
    expect(badRef.message).toMatch(/^ref: /);

    const noDestination = await failure(
      provider.actions.rotateCredential({ ref: 'app_user@appdb', destinations: [] }, makeContext()),
    );
    expect(noDestination.retryable).toBe(false);
  });

  test('no secret appears in anything the providers logged or returned, nor in the server log', async () => {
    expect(secrets.size).toBeGreaterThanOrEqual(8);
    const serverLog = await pg.readLog();
    // The log really records statements, so the absence below means something.
    expect(serverLog).toMatch(/ALTER ROLE "app_user" PASSWORD 'SCRAM-SHA-256\$4096:/);
    const everything = transcript.join('\n');
    for (const secret of secrets) {
      expect(everything.includes(secret)).toBe(false);
      expect(serverLog.includes(secret)).toBe(false);
    }
  });
});
