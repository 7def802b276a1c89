import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export interface PostgresServer {
  port: number;
  /** Superuser over TCP on 127.0.0.1 with SCRAM. */
  adminUrl: string;
  adminUser: string;
  dataDir: string;
  socketDir: string;
  /** Everything the server logged (every statement: `log_statement = all`), for leak checks. */
  readLog(): Promise<string>;
  stop(): Promise<void>;
}

/** The newest Debian PostgreSQL under /usr/lib/postgresql/<major>/bin, or an explicit PG_BIN. */
export function findPostgresBin(): string {
  const explicit = process.env.PG_BIN;
  if (explicit && existsSync(join(explicit, 'postgres'))) return explicit;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => /^\d+$/.test(entry) && existsSync(join(root, entry, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('no PostgreSQL server under /usr/lib/postgresql: run .ci/install-postgres.sh');
  }
  return join(root, versions[0], 'bin');
}

/** initdb and postgres refuse to run as root: run them as the `postgres` system user, created if missing. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    try {
      return {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
      };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  execFileSync('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    'postgres',
  ]);
  const created = lookup();
  if (!created) throw new Error('could not create the postgres system user');
  return created;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { uid: user?.uid, gid: user?.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${command} exited with ${code}:\n${output}`)),
    );
  });
}

async function waitUntilReady(adminUrl: string, server: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (server.exitCode !== null) {
      throw new Error(
        `postgres exited with ${server.exitCode}:\n${await readFile(logFile, 'utf8').catch(() => '')}`,
      );
    }
    const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * A private PostgreSQL for one test file: its own initdb in a temp dir, its own port on 127.0.0.1, its unix
 * socket in the temp dir, SCRAM for every connection, durability switched off for speed.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  const user = serverUser();
  const root = await mkdtemp(join(tmpdir(), 'tourniquet-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'socket');
  const logFile = join(root, 'server.log');
  await mkdir(socketDir);
  const adminUser = 'tourniquet_admin';
  const adminPassword = randomBytes(18).toString('base64url');
  const passwordFile = join(root, 'admin-password');
  await writeFile(passwordFile, adminPassword, { mode: 0o600 });
  if (user) {
    for (const path of [root, socketDir, passwordFile]) await chown(path, user.uid, user.gid);
  }
  await chmod(root, 0o700);

  await run(
    join(bin, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      adminUser,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ],
    user,
  );
  await rm(passwordFile);

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const adminUrl = `postgres://${adminUser}:${adminPassword}@127.0.0.1:${port}/postgres`;
    const server = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        socketDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=16MB',
        '-c',
        'max_connections=40',
        '-c',
        'log_statement=all',
        '-c',
        'log_connections=on',
      ],
      { uid: user?.uid, gid: user?.gid, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const logChunks: Buffer[] = [];
    server.stderr?.on('data', (chunk: Buffer) => logChunks.push(chunk));
    const flushLog = async () => writeFile(logFile, Buffer.concat(logChunks));
    try {
      await waitUntilReady(adminUrl, server, logFile).catch(async (error: unknown) => {
        await flushLog();
        throw error;
      });
    } catch (error) {
      lastError = error;
      server.kill('SIGKILL');
      continue;
    }
    // If the test process dies without stop(), the server must not outlive it.
    const killOnExit = () => server.kill('SIGKILL');
    process.once('exit', killOnExit);
    const exited = new Promise<void>((resolveExit) => {
      if (server.exitCode !== null) resolveExit();
      else server.once('exit', () => resolveExit());
    });
    return {
      port,
      adminUrl,
      adminUser,
      dataDir,
      socketDir,
      readLog: () => Promise.resolve(Buffer.concat(logChunks).toString('utf8')),
      stop: async () => {
        // SIGINT is PostgreSQL's fast shutdown: it ends sessions and exits cleanly.
        server.kill('SIGINT');
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        process.off('exit', killOnExit);
        await rm(root, { recursive: true, force: true });
      },
    };
  }
  await rm(root, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error('postgres did not start');
}
