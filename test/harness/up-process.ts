/*
 * `tourniquet up` in a child process, started and stopped as a user does, for any build of it: the sources
 * (`UP_FROM_SOURCE`) or a compiled one (`node dist/bin/tourniquet.js up`). Node built-ins only, no Jest, so a
 * script can run the same check against a build:
 *
 *   npx tsx test/harness/up-process.ts node dist/bin/tourniquet.js up
 *
 * exits 0 when Ctrl-C stopped it cleanly (see `checkUpShutdown`), 1 otherwise, with the measurements as JSON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './cli';
import { freePort } from './ports';

const ROOT = join(__dirname, '..', '..');

/** `tourniquet up` from the sources, as `npm start` runs it. */
export const UP_FROM_SOURCE: readonly string[] = [process.execPath, join(ROOT, 'bin', 'tourniquet.js'), 'up'];

/** `tourniquet up` as a user runs it, in its own process. */
export interface UpProcess {
  child: ChildProcess;
  output: () => string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The signal that ended it, once `exited` has resolved; null when it exited by itself. */
  exitSignal: () => NodeJS.Signals | null;
}

/** The environment of a `tourniquet up` on free ports with its own data dir (a fresh temporary one by default). */
export async function upEnvOnFreePorts(
  dataDir = mkdtempSync(join(tmpdir(), 'tourniquet-up-')),
): Promise<Record<string, string>> {
  return {
    TOURNIQUET_DATA_DIR: dataDir,
    TOURNIQUET_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    TOURNIQUET_LOG_LEVEL: 'warn',
  };
}

/** Polls `probe` until it returns something, up to `timeoutMs`. */
async function poll<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Starts `command` (a `tourniquet up`) and resolves once it says it is up. With `ownProcessGroup`, it leads a
 * process group of its own, as a shell's foreground job does: `interrupt(up, { group: true })` is then a terminal's
 * Ctrl-C, which reaches every process in the group.
 */
export async function spawnUp(
  command: readonly string[],
  env: Record<string, string>,
  options: { ownProcessGroup?: boolean; readyTimeoutMs?: number } = {},
): Promise<UpProcess> {
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, exitSignal) => {
      signal = exitSignal;
      resolve(code);
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await poll(() => {
      if (gone) throw new Error('it exited');
      return output.includes('Press Ctrl-C') ? true : undefined;
    }, options.readyTimeoutMs ?? 120_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`tourniquet up did not come up: ${(error as Error).message}\n${output}`);
  }
  return { child, output: () => output, exited, exitSignal: () => signal };
}

/**
 * Sends `signal` (SIGINT: Ctrl-C) to `up`, or with `group` to its whole process group as a terminal does, and waits
 * for it to exit; how long that took, in ms, counted from the signal.
 */
export async function interrupt(
  up: UpProcess,
  options: { signal?: NodeJS.Signals; group?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const pid = up.child.pid;
  if (pid === undefined) throw new Error('tourniquet up has no pid');
  const sent = performance.now();
  process.kill(options.group ? -pid : pid, options.signal ?? 'SIGINT');
  const code = await Promise.race([
    up.exited,
    sleep(options.timeoutMs ?? 60_000).then(() => 'timeout' as const),
  ]);
  const ms = Math.round(performance.now() - sent);
  if (code === 'timeout') return { code: null, signal: null, ms };
  return { code, signal: up.exitSignal(), ms };
}

/** The pid of the Temporal dev server `up` started in `dataDir`, as it records it. */
export function devServerPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'temporal', 'server.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what `up` may have left behind (its process group, its dev server), so a failed check leaks nothing. */
export function killLeftovers(up: UpProcess, serverPid: number | undefined): void {
  const kill = (pid: number): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already, as it should be.
    }
  };
  const pid = up.child.pid;
  if (pid !== undefined && up.child.exitCode === null && up.child.signalCode === null) {
    kill(-pid);
    kill(pid);
  }
  if (serverPid !== undefined && isDevServer(serverPid)) kill(serverPid);
}

/** Whether `pid` is (still) a Temporal dev server, not another process that got its number since. */
function isDevServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev');
  } catch {
    return processAlive(pid);
  }
}

export interface UpShutdownCheck {
  /** The incident opened before Ctrl-C. */
  incidentId: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From Ctrl-C to the exit of `up`. */
  ms: number;
  /** Its dev server's pid, and whether it still ran (waited for briefly) after `up` exited. */
  serverPid?: number;
  serverAlive: boolean;
  output: string;
}

/**
 * The Ctrl-C check of `tourniquet up`: starts `command` with its own data dir and free ports, opens one incident of
 * the default runbook through the same build's CLI (it waits for approvals, so its workflow stays open and cached in
 * the worker), waits until it asks for an approval, or for `beforeStop` when given (say, until an activity is in
 * flight), sends SIGINT to the process group as a terminal's Ctrl-C does, and measures the exit.
 */
export async function checkUpShutdown(
  command: readonly string[],
  options: {
    /** Settings on top of `upEnvOnFreePorts()`: a prebuilt workflow bundle, providers… */
    env?: Record<string, string>;
    beforeStop?: (incidentId: string) => Promise<unknown>;
    /** Given up after this long without an exit (then `code` is null and `up` is killed). */
    exitTimeoutMs?: number;
  } = {},
): Promise<UpShutdownCheck> {
  if (command[command.length - 1] !== 'up')
    throw new Error(`expected a command ending in "up": ${command.join(' ')}`);
  const cli = command.slice(0, -1);
  const env = { ...(await upEnvOnFreePorts()), ...options.env };
  const up = await spawnUp(command, env, { ownProcessGroup: true });
  const serverPid = devServerPid(env.TOURNIQUET_DATA_DIR);
  try {
    const started = await runCommand(
      [
        ...cli,
        'incident',
        'start',
        '--secret-kind',
        'github-token',
        '--connector',
        'github:acme/app/deploy.yml',
        '--severity',
        'high',
        '--json',
      ],
      env,
    );
    if (started.code !== 0) throw new Error(`incident start failed (${started.code}): ${started.stderr}`);
    const { incidentId } = JSON.parse(started.stdout) as { incidentId: string };
    await (options.beforeStop ?? ((id: string) => approvalRequested(cli, env, id)))(incidentId);

    const exit = await interrupt(up, { group: true, timeoutMs: options.exitTimeoutMs ?? 60_000 });
    // Its exit is up's last word on it; give the kernel a moment to reap it.
    const serverAlive =
      serverPid !== undefined &&
      (await poll(() => (processAlive(serverPid) ? undefined : false), 2_000).catch(() => true));
    return { incidentId, ...exit, serverPid, serverAlive, output: up.output() };
  } finally {
    killLeftovers(up, serverPid);
  }
}

/** Resolves once the incident waits for an owner's approval (`tourniquet incident status`). */
async function approvalRequested(
  cli: string[],
  env: Record<string, string>,
  incidentId: string,
): Promise<void> {
  await poll(async () => {
    const shown = await runCommand([...cli, 'incident', 'status', incidentId, '--json'], env);
    if (shown.code !== 0) return undefined;
    const status = JSON.parse(shown.stdout) as { approvals?: unknown[] };
    return (status.approvals?.length ?? 0) > 0 ? true : undefined;
  }, 60_000);
}

/**
 * `npx tsx test/harness/up-process.ts [--compiled] [command…]`: exits 0 only when `up` stopped cleanly within 5 s.
 * `--compiled` (CI, after `npm run build`) runs `bin/tourniquet.js` from the build and fails unless `up` says it ran
 * the compiled code.
 */
if (require.main === module) {
  const compiled = process.argv[2] === '--compiled';
  const command = process.argv.slice(compiled ? 3 : 2);
  const limitMs = 5_000;
  checkUpShutdown(command.length > 0 ? command : UP_FROM_SOURCE, {
    env: { TOURNIQUET_FROM_SOURCE: compiled ? '0' : '1' },
  })
    .then((check) => {
      const ok =
        check.code === 0 &&
        check.ms < limitMs &&
        !check.serverAlive &&
        check.output.includes('Stopped.') &&
        (!compiled || check.output.includes('Code         compiled (dist/)'));
      const { output, ...measured } = check;
      process.stdout.write(`${JSON.stringify({ ok, limitMs, ...measured }, null, 2)}\n`);
      if (!ok) process.stderr.write(output);
      process.exit(ok ? 0 : 1);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    });
}
