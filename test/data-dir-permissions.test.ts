import type { ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join, relative } from 'node:path';
import { devServerArgs } from '../temporal/dev-server';
import { runCli } from './harness/cli';
import { waitFor } from './harness/incidents';
import { freePort } from './harness/ports';
import { makeDataDir } from './harness/temporal';
import { startDefaultIncident, startUp, upEnv } from './harness/up';

/*
 * Issue #14, confinement: the data directory holds the fingerprint and evidence keys, operators' private keys,
 * Temporal's SQLite file (every incident's history) and the simulation journal. Another local user must read none
 * of it: every directory 0700, every file 0600, whoever created it (Tourniquet, or the Temporal dev server it runs).
 */

/** Every path under `root` (root itself as `.`), with what lstat says of it. */
function walk(root: string): { name: string; info: Stats }[] {
  const found: { name: string; info: Stats }[] = [];
  const visit = (path: string): void => {
    const info = lstatSync(path);
    found.push({ name: relative(root, path) || '.', info });
    if (info.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
  };
  visit(root);
  return found;
}

/** Every directory not 0700 and every file not 0600 under `root` (and root itself), as `path mode`. */
function offenders(root: string): string[] {
  return walk(root).flatMap(({ name, info }) => {
    const mode = info.mode & 0o777;
    if (info.isDirectory() && mode !== 0o700) return [`${name}/ ${mode.toString(8)}`];
    if (info.isFile() && mode !== 0o600) return [`${name} ${mode.toString(8)}`];
    return [];
  });
}

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** `tourniquet up` and its data dir, stopped the way Ctrl-C stops it even when an assertion failed half-way. */
let running: { child: ChildProcess; exited: Promise<unknown>; dataDir: string } | undefined;
afterAll(async () => {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill('SIGTERM');
  const stopped = await Promise.race([
    running.exited.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
  ]);
  if (stopped) return;
  running.child.kill('SIGKILL');
  // The dev server outlives a killed parent: stop it by the pid it recorded.
  try {
    process.kill(Number(readFileSync(join(running.dataDir, 'temporal', 'server.pid'), 'utf8')), 'SIGKILL');
  } catch {
    // Already gone.
  }
}, 60_000);

test('the dev server binds its Web UI to loopback, whatever address the frontend listens on', () => {
  const args = devServerArgs({
    dataDir: '/var/lib/tourniquet',
    ip: '0.0.0.0',
    port: 7233,
    uiPort: 8233,
    searchAttributes: [],
  });
  const uiIp = args.indexOf('--ui-ip');
  expect(uiIp).toBeGreaterThan(-1);
  expect(args[uiIp + 1]).toBe('127.0.0.1');
  expect(args.slice(args.indexOf('--ui-port'), args.indexOf('--ui-port') + 2)).toEqual(['--ui-port', '8233']);
  // Headless: no UI at all.
  const headless = devServerArgs({ dataDir: '/x', port: 7233, headless: true, searchAttributes: [] });
  expect(headless).toContain('--headless');
  expect(headless).not.toContain('--ui-port');
});

test('`tourniquet up` and an incident leave every directory of the data dir 0700 and every file 0600', async () => {
  const dataDir = makeDataDir('tourniquet-perms-');
  // A data dir from an older version, readable by everyone.
  chmodSync(dataDir, 0o755);
  const env = await upEnv(dataDir);
  const { child, exited } = await startUp(env);
  running = { child, exited, dataDir };

  // The Temporal Web UI answers on loopback only.
  const serverPid = readFileSync(join(dataDir, 'temporal', 'server.pid'), 'utf8').trim();
  const cmdline = readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0');
  expect(cmdline[cmdline.indexOf('--ui-ip') + 1]).toBe('127.0.0.1');
  const uiPort = Number(env.TEMPORAL_UI_PORT);
  expect(await refused('127.0.0.1', uiPort)).toBe(false);
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal);
  if (external) expect(await refused(external.address, uiPort)).toBe(true);

  // An incident: the containment that needs no human runs (simulation journal, evidence vault), then it waits.
  const incidentId = await startDefaultIncident(env);
  await waitFor(
    async () => {
      const shown = await runCli(['incident', 'status', incidentId, '--json'], env);
      const status = JSON.parse(shown.stdout) as {
        steps: { state: string }[];
        approvals: unknown[];
      };
      const ran = status.steps.some((step) => step.state === 'succeeded');
      return ran && status.approvals.length > 0 ? status : undefined;
    },
    120_000,
    300,
  );
  const written = walk(dataDir).map(({ name }) => name);
  for (const expected of [
    'temporal/temporal.sqlite',
    'temporal/server.log',
    'simulated/journal.jsonl',
    'keys/fingerprint.key',
  ]) {
    expect(written).toContain(expected);
  }
  expect(written.some((path) => path.startsWith('evidence/'))).toBe(true);
  // While everything runs (SQLite's -wal and -shm files exist only now)…
  expect(offenders(dataDir)).toEqual([]);

  child.kill('SIGINT');
  expect(await exited).toBe(0);
  // …and after a clean stop.
  expect(offenders(dataDir)).toEqual([]);
}, 300_000);

test.each(['worker', 'gateway'])(
  '`tourniquet %s` makes an existing data dir 0700 at start, even when Temporal is not there',
  async (command) => {
    const dataDir = makeDataDir('tourniquet-perms-');
    chmodSync(dataDir, 0o755);
    const result = await runCli([command], {
      TOURNIQUET_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      TOURNIQUET_PORT: '0',
      TOURNIQUET_LOG_LEVEL: 'silent',
    });
    expect(result.code).toBe(1);
    expect(offenders(dataDir)).toEqual([]);
  },
  60_000,
);
