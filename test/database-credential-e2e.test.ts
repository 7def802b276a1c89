import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { startIncident, type IncidentRequest } from '../client';
import type { IncidentInput, IncidentStatus, Runbook, StepStatus } from '../lib/runbook/types';
import { createPostgresProvider } from '../providers/postgres/provider';
import { AdminSession } from '../providers/postgres/db';
import type { AdminUrlSource } from '../providers/postgres/options';
import { ensureStateTables } from '../providers/postgres/state';
import { createFileDestinationProvider } from '../providers/file/destination';
import type { Provider } from '../providers/types';
import { historyText } from './harness/history';
import { RecordingEvidenceSink } from './harness/evidence';
import {
  incidentInput,
  query,
  result,
  runbookById,
  start,
  TASK_QUEUE,
  uniqueConnector,
  waitFor,
  TEST_GATEWAY_KEY,
} from './harness/incidents';
import { freePort } from './harness/ports';
import { startPostgres, type PostgresServer } from './harness/postgres';
import { useTemporalWorker } from './harness/stack';
import { killProcess, spawnWorkerProcess, startInProcessWorker } from './harness/worker';

/**
 * The `leaked-database-credential` runbook end to end: the real Temporal dev server, a real PostgreSQL, the real
 * postgres provider and file destination in the worker; only the connector (GitHub) is simulated.
 */

const RUNBOOK = 'leaked-database-credential';
const UNREACHABLE =
  /^PostgreSQL 127\.0\.0\.1:\d+\/appdb is unreachable \(ECONNREFUSED\) while connecting as the admin role "tourniquet_admin"$/;

let pg: PostgresServer;
let sinkDir: string;
/** Every line any worker logged (in-process at debug level, worker processes at info). */
const workerLogs: string[] = [];
/** Every password that existed during the run, by label: leaked ones, minted ones, the admin's. */
const secrets = new Map<string, string>();
/** Every status the tests saw, searched for secrets at the end. */
const statuses: IncidentStatus[] = [];
const children: ChildProcess[] = [];

const logger = pino({ level: 'debug' }, { write: (line: string) => void workerLogs.push(line) });

/** PostgreSQL is real; the connector steps run on the simulated GitHub, which only a demo-mode worker runs. */
const DEMO = 'demo';

function adminUrlSource(url: string): AdminUrlSource {
  return { kind: 'env', variable: 'POSTGRES_ADMIN_URL', env: { POSTGRES_ADMIN_URL: url } };
}

/**
 * What the production worker configures (worker/providers.ts): the file destination, confined to its directory (the
 * test's sinkDir stands in for TOURNIQUET_SECRETS_DIR), and postgres reading it back.
 */
function realProviders(adminUrl: string): Provider[] {
  const fileDestination = createFileDestinationProvider({ baseDirectory: sinkDir });
  const postgres = createPostgresProvider({
    adminUrlSource: adminUrlSource(adminUrl),
    connectTimeoutMs: 2_000,
    secretReaders: { file: fileDestination.destination },
  });
  return [postgres, fileDestination];
}

/**
 * The production runbook as the tests run it: approvals are another suite's subject, so the one sign-off it asks
 * for (the app owner's, before the connector comes back) is switched off; everything else is as shipped.
 */
function unattended(): Runbook {
  const runbook = runbookById(RUNBOOK);
  return {
    ...runbook,
    steps: runbook.steps.map((step) => ({ ...step, approval: { ...step.approval, policy: 'none' } })),
  };
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

/** A role of the app, as it was before the leak: LOGIN with the (now leaked) password, and its grants. */
async function createLeakedRole(role: string): Promise<string> {
  const password = `leaked-${role}-${randomBytes(12).toString('hex')}`;
  secrets.set(`leaked password of ${role}`, password);
  await admin('appdb', async (client) => {
    // The test sets the leaked value, not Tourniquet: keep it out of the server log searched at the end.
    await client.query("SET log_statement = 'none'");
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await client.query(`GRANT CONNECT ON DATABASE appdb TO ${role}`);
    await client.query(`GRANT USAGE ON SCHEMA app TO ${role}`);
    await client.query(`GRANT SELECT, INSERT ON app.orders TO ${role}`);
  });
  return password;
}

function roleClient(role: string, password: string): Client {
  const client = new Client({ host: '127.0.0.1', port: pg.port, user: role, password, database: 'appdb' });
  client.on('error', () => undefined);
  return client;
}

/** 'ok' when the role logs in AND reads the app's table (login, CONNECT and grants all work), else the SQLSTATE. */
async function loginAs(role: string, password: string): Promise<string> {
  const client = roleClient(role, password);
  try {
    await client.connect();
    await client.query('SELECT count(*) FROM app.orders');
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The file a destination name was written to. */
const deliveredPath = (name: string): string => join(sinkDir, name);

async function readDelivered(name: string, label: string): Promise<string> {
  const value = await readFile(deliveredPath(name), 'utf8');
  secrets.set(label, value);
  return value;
}

function dbRequest(role: string, destination: string): Partial<IncidentRequest> {
  return {
    secretKind: 'postgres-password',
    connector: uniqueConnector('github:acme/app'),
    credential: `postgres:${role}@appdb`,
    destinations: [`file:${destination}`],
  };
}

async function runToEnd(input: IncidentInput, taskQueue = TASK_QUEUE): Promise<IncidentStatus> {
  const incidentId = await start(stack.client, input, taskQueue);
  const status = await result(stack.client, incidentId);
  statuses.push(status);
  return status;
}

function stepOf(status: IncidentStatus, id: string): StepStatus {
  const step = status.steps.find((candidate) => candidate.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step;
}

async function rotationRecords(incidentId: string): Promise<{ key: string; delivered: boolean }[]> {
  return admin('appdb', async (client) => {
    const { rows } = await client.query<{ key: string; delivered: boolean }>(
      `SELECT idempotency_key AS key, delivered_at IS NOT NULL AS delivered
         FROM tourniquet.pg_credential_rotations WHERE incident_id = $1`,
      [incidentId],
    );
    return rows;
  });
}

async function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = await spawnWorkerProcess({ TOURNIQUET_MODE: DEMO, ...env }, { runbooks: [unattended()] });
  children.push(child);
  const capture = (chunk: Buffer): void => void workerLogs.push(chunk.toString());
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  return child;
}

// Jest runs afterAll hooks in the order they are registered: worker processes, then the stack, then PostgreSQL.
afterAll(async () => {
  for (const child of children) await killProcess(child);
});

// PostgreSQL starts and gets its application database while the Temporal server starts.
const stack = useTemporalWorker(async () => {
  pg = await startPostgres();
  secrets.set('admin password', decodeURIComponent(new URL(pg.adminUrl).password));
  await admin('postgres', async (client) => {
    await client.query('CREATE DATABASE appdb');
    // Only explicit grants let a role in: revoking CONNECT from the leaked role then really cuts it off.
    await client.query('REVOKE CONNECT ON DATABASE appdb FROM PUBLIC');
  });
  await admin('appdb', async (client) => {
    await client.query('CREATE SCHEMA app');
    await client.query('CREATE TABLE app.orders (id int PRIMARY KEY, item text)');
    await client.query("INSERT INTO app.orders VALUES (1, 'tourniquet')");
  });
  sinkDir = await mkdtemp(join(tmpdir(), 'tourniquet-db-e2e-'));
  return { real: realProviders(pg.adminUrl), mode: DEMO, logger };
});

afterAll(async () => {
  await pg?.stop();
  if (sinkDir) await rm(sinkDir, { recursive: true, force: true });
});

test('the runbook contains a leaked PostgreSQL password: segment, rotate, kill sessions, prove it dead, restore', async () => {
  const role = 'orders_app';
  const leaked = await createLeakedRole(role);
  // The attacker's session, opened with the leaked password before anyone noticed.
  const attacker = roleClient(role, leaked);
  let attackerError: Error | undefined;
  attacker.on('error', (error: Error) => (attackerError = error));
  await attacker.connect();
  const { rows } = await attacker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const attackerPid = rows[0].pid;

  // As shipped, reversible containment needs no human; what cannot be undone (rotate, revoke, purge) waits for
  // its owners, and so does the connector's return. This run turns approvals off to test the providers alone.
  const shipped = runbookById(RUNBOOK).steps.filter((step) => step.approval.policy !== 'none');
  expect(shipped.map((step) => [step.id, step.owner])).toEqual([
    ['rotate-credential', 'iam'],
    ['revoke-old-credential', 'iam'],
    ['purge-exposed-logs', 'secops'],
    ['recover-connector', 'app-owner'],
  ]);

  const destination = 'orders-app.password';
  const runbook = unattended();
  const status = await runToEnd(incidentInput(runbook, dbRequest(role, destination)));

  expect(status.state).toBe('completed');
  expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
  const step = (id: string) => stepOf(status, id);
  // The issuer steps ran on the real provider, the connector steps on the simulated GitHub.
  expect(step('rotate-credential').provider).toBe('postgres');
  expect(step('disable-connector').provider).toBe('simulated:github');
  for (const { id, after } of runbook.steps) {
    for (const dependency of after) {
      expect(Date.parse(step(id).startedAt!)).toBeGreaterThanOrEqual(
        Date.parse(step(dependency).finishedAt!),
      );
    }
  }

  // The destination holds the new password, readable by its owner only; the leaked one is dead, the new one works
  // with every grant back.
  const replacement = await readDelivered(destination, `new password of ${role}`);
  expect((await stat(deliveredPath(destination))).mode & 0o777).toBe(0o600);
  expect(replacement).not.toBe(leaked);
  expect(await loginAs(role, leaked)).toBe('28P01');
  expect(await loginAs(role, replacement)).toBe('ok');
  const [privileges] = await admin('appdb', async (client) => {
    const found = await client.query<Record<string, boolean>>(
      `SELECT rolcanlogin AS login, has_database_privilege($1, 'appdb', 'CONNECT') AS connect,
              has_schema_privilege($1, 'app', 'USAGE') AS usage,
              has_table_privilege($1, 'app.orders', 'SELECT') AS select,
              has_table_privilege($1, 'app.orders', 'INSERT') AS insert
         FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    return found.rows;
  });
  expect(privileges).toEqual({ login: true, connect: true, usage: true, select: true, insert: true });

  // The session opened with the leaked password before the incident was killed.
  await expect(attacker.query('SELECT 1')).rejects.toThrow();
  expect(attackerError?.message).toMatch(/terminated/);
  await attacker.end().catch(() => undefined);
  const [alive] = await admin('appdb', async (client) => {
    const found = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
      [attackerPid],
    );
    return found.rows;
  });
  expect(alive).toEqual({ n: 0 });

  // The summaries tell the story: cut off, rotated, the one session killed, proven while still cut off, restored.
  const segmented = step('segment-role').summary!;
  expect(segmented).toMatchObject({
    role,
    database: 'appdb',
    wasLogin: true,
    loginDisabled: true,
    remainingGrants: [],
  });
  // One entry per object: CONNECT on appdb, USAGE on app, SELECT + INSERT on app.orders.
  expect(segmented.revokedCount).toBe(3);
  const rotated = step('rotate-credential').summary!;
  expect(rotated).toMatchObject({
    role,
    destinations: [`file:${destination}`],
    previousCredentialKnown: true,
    reusedEarlierAttempt: false,
  });
  expect(step('terminate-sessions').summary).toMatchObject({
    sessionsFound: 1,
    sessionsTerminated: 1,
    remaining: 0,
  });
  expect(step('revoke-old-credential').summary).toMatchObject({ outcome: 'already-replaced-by-rotation' });
  expect(step('verify-old-credential-dead').summary).toMatchObject({
    oldCredentialDead: true,
    storedVerifierMatches: true,
    previousPasswordGone: true,
    sessionsFromBeforeRotation: 0,
    trustRules: 0,
    credentialVersion: rotated.credentialVersion,
    // Verified before the grants came back: NOLOGIN is checked after the password was accepted.
    destinationLogins: [`file:${destination}=accepted-but-blocked`],
  });
  expect(step('restore-grants').summary).toMatchObject({
    restoredCount: 3,
    missingObjects: [],
    loginRestored: true,
  });
  expect(await rotationRecords(status.incidentId)).toEqual([
    { key: `${status.incidentId}/rotate-credential`, delivered: true },
  ]);
});

test('running it twice: a second start joins the incident, a closed one is not reopened, a second incident rotates again cleanly', async () => {
  const role = 'billing_app';
  const leaked = await createLeakedRole(role);
  const destination = 'billing-app.password';
  const runbook = unattended();
  const input = incidentInput(runbook, dbRequest(role, destination));

  const incidentId = await start(stack.client, input);
  expect(await startIncident(stack.client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey)).toEqual({
    incidentId,
    created: false,
  });
  const first = await result(stack.client, incidentId);
  statuses.push(first);
  expect(first.state).toBe('completed');
  expect(await startIncident(stack.client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey)).toEqual({
    incidentId,
    created: false,
  });
  expect(stepOf(first, 'rotate-credential').attempts).toBe(1);
  expect(await rotationRecords(incidentId)).toEqual([
    { key: `${incidentId}/rotate-credential`, delivered: true },
  ]);
  const firstPassword = await readDelivered(destination, `first new password of ${role}`);
  expect(await loginAs(role, firstPassword)).toBe('ok');

  // The replacement leaked too (another connector): a second incident on the already rotated and restored role.
  const second = await runToEnd(incidentInput(runbook, dbRequest(role, destination)));
  expect(second.incidentId).not.toBe(incidentId);
  expect(second.state).toBe('completed');
  expect(second.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
  const secondPassword = await readDelivered(destination, `second new password of ${role}`);
  expect(secondPassword).not.toBe(firstPassword);
  expect(await loginAs(role, leaked)).toBe('28P01');
  expect(await loginAs(role, firstPassword)).toBe('28P01');
  expect(await loginAs(role, secondPassword)).toBe('ok');
  // It cut and gave back exactly what the first one had restored.
  expect(stepOf(second, 'segment-role').summary).toMatchObject({ revokedCount: 3, wasLogin: true });
  expect(stepOf(second, 'restore-grants').summary).toMatchObject({ restoredCount: 3, loginRestored: true });
});

test('the worker process is SIGKILLed after the new password was set and delivered, before that was recorded: the retry leaves exactly one valid credential, the one in the destination', async () => {
  const role = 'payments_app';
  const leaked = await createLeakedRole(role);
  const destination = 'payments-app.password';
  const taskQueue = 'db-crash';
  const gateKey = 424242;

  const session = await AdminSession.open(
    { adminUrlSource: adminUrlSource(pg.adminUrl), connectTimeoutMs: 2_000, statementTimeoutMs: 5_000 },
    'appdb',
  );
  await ensureStateTables(session, 'tourniquet').finally(() => session.close());
  // A gate in the database: "recording the delivery" of this role waits on an advisory lock the test holds, so the
  // kill lands after ALTER ROLE committed and the file was written, before Temporal or the record know it.
  const gate = new Client({ connectionString: pg.adminUrl.replace(/\/postgres$/, '/appdb') });
  await gate.connect();
  await gate.query(
    `CREATE FUNCTION public.hold_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_advisory_xact_lock_shared(${gateKey}); RETURN NEW; END $$`,
  );
  await gate.query(
    `CREATE TRIGGER hold_delivery BEFORE UPDATE ON tourniquet.pg_credential_rotations FOR EACH ROW
       WHEN (OLD.delivered_at IS NULL AND NEW.delivered_at IS NOT NULL AND NEW.role_name = '${role}')
       EXECUTE FUNCTION public.hold_delivery()`,
  );
  await gate.query('SELECT pg_advisory_lock($1)', [gateKey]);
  try {
    // The production worker process (`tourniquet worker`), configured from the environment like a deployment.
    const env = {
      TEMPORAL_ADDRESS: stack.address,
      TOURNIQUET_DATA_DIR: stack.dataDir,
      TOURNIQUET_SECRETS_DIR: sinkDir,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TOURNIQUET_LOG_LEVEL: 'info',
      POSTGRES_ADMIN_URL: pg.adminUrl,
    };
    const first = await spawnWorker(env);
    const input = incidentInput(unattended(), dbRequest(role, destination));
    const incidentId = await start(stack.client, input, taskQueue);

    const heldPid = await waitFor(async () => {
      const { rows } = await gate.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE application_name = 'tourniquet' AND wait_event_type = 'Lock' AND wait_event = 'advisory'
            AND query LIKE 'UPDATE%'`,
      );
      return rows[0]?.pid;
    }, 30_000);
    // The value the doomed attempt delivered is the role's password at this point (the role is still NOLOGIN).
    const lostAttemptValue = await readDelivered(
      destination,
      `value delivered by the killed attempt (${role})`,
    );
    expect(await loginAs(role, lostAttemptValue)).toBe('28000');
    await killProcess(first, 'SIGKILL');
    // The kernel closed the dead worker's socket; a backend blocked on a lock notices only when it next talks to
    // its client. End it, as the server does once it notices: the delivery is never recorded.
    await gate.query('SELECT pg_terminate_backend($1, 5000)', [heldPid]);
    await gate.query('SELECT pg_advisory_unlock($1)', [gateKey]);

    const second = await spawnWorker(env);
    const status = await result(stack.client, incidentId);
    statuses.push(status);
    await killProcess(second, 'SIGTERM');

    expect(status.state).toBe('completed');
    expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
    const rotation = stepOf(status, 'rotate-credential');
    // The retry found an undelivered record: it minted a fresh value rather than trust the lost attempt's.
    expect(rotation.attempts).toBe(2);
    expect(rotation.summary).toMatchObject({ reusedEarlierAttempt: false, previousCredentialKnown: true });
    expect(await rotationRecords(incidentId)).toEqual([
      { key: `${incidentId}/rotate-credential`, delivered: true },
    ]);

    const final = await readDelivered(destination, `new password of ${role}`);
    expect(final).not.toBe(lostAttemptValue);
    expect(await loginAs(role, leaked)).toBe('28P01');
    expect(await loginAs(role, lostAttemptValue)).toBe('28P01');
    expect(await loginAs(role, final)).toBe('ok');
    expect(stepOf(status, 'verify-old-credential-dead').summary).toMatchObject({
      oldCredentialDead: true,
      storedVerifierMatches: true,
      credentialVersion: rotation.summary!.credentialVersion,
    });
  } finally {
    await gate.query('DROP TRIGGER IF EXISTS hold_delivery ON tourniquet.pg_credential_rotations');
    await gate.query('DROP FUNCTION IF EXISTS public.hold_delivery()');
    await gate.end();
  }
});

test('an unreachable database: the step retries, then fails with a clear message and the incident stays queryable; when the database comes back during the retries, the incident completes', async () => {
  const role = 'ledger_app';
  const leaked = await createLeakedRole(role);
  const destination = 'ledger-app.password';
  const taskQueue = 'db-unreachable';
  // The worker's admin URL has the right credential and a port where nothing listens (yet).
  const port = await freePort();
  const adminUrl = new URL(pg.adminUrl);
  adminUrl.port = String(port);
  const flaky = await startInProcessWorker({
    address: stack.address,
    dataDir: stack.dataDir,
    evidence: new RecordingEvidenceSink(),
    real: realProviders(adminUrl.toString()),
    mode: DEMO,
    taskQueue,
    logger,
  });
  const retrying = async (incidentId: string) =>
    waitFor(
      async () => {
        const { raw } = await stack.client.workflow.getHandle(incidentId).describe();
        return raw.pendingActivities?.find(
          (activity) => (activity.attempt ?? 0) >= 2 && activity.lastFailure,
        );
      },
      20_000,
      50,
    );
  let proxy: Server | undefined;
  const sockets = new Set<Socket>();
  try {
    // The production DAG; only the retry policy is shortened, so the attempts run out in seconds.
    const production = unattended();
    const impatient: Runbook = {
      ...production,
      steps: production.steps.map((step) => ({
        ...step,
        retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 1, maximumInterval: '1s' },
      })),
    };
    const incidentId = await start(
      stack.client,
      incidentInput(impatient, dbRequest(role, destination)),
      taskQueue,
    );

    // While Temporal retries the step, the incident is running and says why it waits.
    const pending = await retrying(incidentId);
    expect(pending.lastFailure?.message).toMatch(UNREACHABLE);
    const during = await query(stack.client, incidentId);
    expect(during.state).toBe('running');
    expect(stepOf(during, 'segment-role').state).toBe('running');

    const failed = await result(stack.client, incidentId);
    statuses.push(failed);
    expect(failed.state).toBe('failed');
    expect(stepOf(failed, 'segment-role')).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(UNREACHABLE),
    });
    for (const id of [
      'rotate-credential',
      'terminate-sessions',
      'verify-old-credential-dead',
      'restore-grants',
    ]) {
      expect(stepOf(failed, id)).toMatchObject({
        state: 'skipped',
        reason: expect.stringMatching(/^blocked: /),
      });
    }
    // The connector containment did not wait for the database.
    for (const id of ['disable-connector', 'cancel-runs', 'capture-logs', 'purge-exposed-logs']) {
      expect(stepOf(failed, id).state).toBe('succeeded');
    }
    // The timeline records the failure, and the closed incident still answers queries.
    expect(failed.timeline).toContainEqual(
      expect.objectContaining({
        type: 'failed',
        stepId: 'segment-role',
        detail: expect.stringMatching(UNREACHABLE),
      }),
    );
    expect(await query(stack.client, incidentId)).toMatchObject({ state: 'failed' });
    // Nothing changed at the database: the leaked password still works, which is why the incident says failed.
    expect(await loginAs(role, leaked)).toBe('ok');

    // Again with the production retry policy; the database comes back (on that port) between two attempts.
    const again = await start(
      stack.client,
      incidentInput(production, dbRequest(role, destination)),
      taskQueue,
    );
    expect((await retrying(again)).lastFailure?.message).toMatch(UNREACHABLE);
    const listening = createServer((socket) => {
      const upstream = connect(pg.port, '127.0.0.1');
      for (const end of [socket, upstream]) {
        sockets.add(end);
        end.on('error', () => undefined);
      }
      socket.pipe(upstream).pipe(socket);
    });
    proxy = listening;
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    const recovered = await result(stack.client, again);
    statuses.push(recovered);
    expect(recovered.state).toBe('completed');
    expect(stepOf(recovered, 'segment-role').attempts).toBeGreaterThanOrEqual(2);
    const replacement = await readDelivered(destination, `new password of ${role}`);
    expect(await loginAs(role, leaked)).toBe('28P01');
    expect(await loginAs(role, replacement)).toBe('ok');
  } finally {
    await flaky.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
  }
});

test('a DBA alters the role while the segmentation runs: the losing ALTER ROLE is retried, not a failed step', async () => {
  const role = 'reports_app';
  const leaked = await createLeakedRole(role);
  const destination = 'reports-app.password';
  const dba = new Client({ connectionString: pg.adminUrl.replace(/\/postgres$/, '/appdb') });
  await dba.connect();
  try {
    await dba.query('BEGIN');
    await dba.query(`ALTER ROLE ${role} CONNECTION LIMIT 5`);
    const incidentId = await start(stack.client, incidentInput(unattended(), dbRequest(role, destination)));
    // The segmentation's ALTER ROLE … NOLOGIN waits for the DBA's transaction; when it commits, PostgreSQL fails
    // the waiter with "tuple concurrently updated" (XX000) instead of applying it on top.
    // (Watched from another session: inside the DBA's transaction, pg_stat_activity is a frozen snapshot.)
    await waitFor(
      async () =>
        admin('appdb', async (client) => {
          const { rows } = await client.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
              WHERE application_name = 'tourniquet' AND wait_event_type = 'Lock' AND query LIKE 'ALTER ROLE%'`,
          );
          return rows[0]?.pid;
        }),
      30_000,
    );
    await dba.query('COMMIT');

    const status = await result(stack.client, incidentId);
    statuses.push(status);
    expect(status.state).toBe('completed');
    expect(stepOf(status, 'segment-role').attempts).toBe(2);
    expect(await loginAs(role, leaked)).toBe('28P01');
    expect(await loginAs(role, await readDelivered(destination, `new password of ${role}`))).toBe('ok');
    const { rows } = await dba.query<{ limit: number }>(
      'SELECT rolconnlimit AS limit FROM pg_roles WHERE rolname = $1',
      [role],
    );
    expect(rows).toEqual([{ limit: 5 }]);
  } finally {
    await dba.end();
  }
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

test('canary: no password (leaked, minted, lost, admin) is in Temporal history, statuses, logs, the Temporal SQLite file or the PostgreSQL log', async () => {
  // Every leaked, every minted (including the killed attempt's), and the admin password.
  expect(secrets.size).toBeGreaterThanOrEqual(13);
  const haystacks: { where: string; bytes: Buffer }[] = [];

  const histories: string[] = [];
  for await (const execution of stack.client.workflow.list()) {
    const history = await stack.client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .fetchHistory();
    const text = historyText(history);
    histories.push(text);
    haystacks.push({
      where: `history of ${execution.workflowId}/${execution.runId}`,
      bytes: Buffer.from(text),
    });
  }
  expect(histories.length).toBeGreaterThanOrEqual(7);
  haystacks.push({ where: 'statuses and timelines', bytes: Buffer.from(JSON.stringify(statuses)) });
  haystacks.push({ where: 'worker logs', bytes: Buffer.from(workerLogs.join('')) });
  const files = await filesUnder(stack.dataDir);
  expect(files).toContain(join(stack.dataDir, 'temporal', 'temporal.sqlite'));
  for (const file of files) haystacks.push({ where: file, bytes: await readFile(file) });
  const pgLog = await pg.readLog();
  haystacks.push({ where: 'PostgreSQL server log', bytes: Buffer.from(pgLog) });

  // The search is not vacuous: each place holds what Tourniquet did, just not the values.
  const version = String(stepOf(statuses[0], 'rotate-credential').summary!.credentialVersion);
  expect(histories.some((text) => text.includes(version))).toBe(true);
  const sqlite = haystacks.filter(({ where }) => where.includes(join('temporal', 'temporal.sqlite')));
  expect(sqlite.some(({ bytes }) => bytes.includes(version))).toBe(true);
  expect(workerLogs.join('')).toContain('password replaced at the server');
  expect(pgLog).toMatch(/ALTER ROLE "orders_app" PASSWORD 'SCRAM-SHA-256\$/);

  const found: string[] = [];
  for (const { where, bytes } of haystacks) {
    for (const [label, value] of secrets) {
      const forms = [value, Buffer.from(value).toString('base64'), encodeURIComponent(value)];
      if (forms.some((form) => bytes.includes(form))) found.push(`${where} contains the ${label}`);
    }
  }
  expect(found).toEqual([]);
});
