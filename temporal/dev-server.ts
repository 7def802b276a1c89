import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
// Later tags carry replace directives in go.mod and cannot be `go install`ed.
const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export class TemporalCliError extends Error {}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheRoot, 'tourniquet', `temporal-${TEMPORAL_CLI_VERSION.slice(1)}`);
}

/**
 * The Temporal CLI binary: TEMPORAL_CLI, else `temporal` on PATH, else a build cached outside the repo,
 * made once from the Go module proxy (no binary download is possible here).
 */
export function findTemporalCli(
  options: { env?: NodeJS.ProcessEnv; build?: boolean; progress?: (line: string) => void } = {},
): string {
  const env = options.env ?? process.env;
  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI))
      throw new TemporalCliError(`TEMPORAL_CLI: ${env.TEMPORAL_CLI} is not an executable file`);
    return env.TEMPORAL_CLI;
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return fromPath;
  const cacheDir = temporalCliCacheDir(env);
  const cached = join(cacheDir, 'temporal');
  if (isExecutable(cached)) return cached;
  if (options.build === false)
    throw new TemporalCliError(`Temporal CLI not found (looked at TEMPORAL_CLI, PATH and ${cached})`);

  const go = onPath('go', env) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new TemporalCliError(
      'The Temporal CLI is missing and Go is needed to build it once: install Go 1.22 or newer ' +
        '(Debian: apt-get install golang-go; or https://go.dev/dl/), or set TEMPORAL_CLI to an existing temporal binary.',
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  options.progress?.(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} once into ${cacheDir} (a few minutes)…`,
  );
  const build = spawnSync(go, ['install', TEMPORAL_CLI_MODULE], {
    env: { ...env, GOBIN: cacheDir, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0 || !isExecutable(cached)) {
    throw new TemporalCliError(
      `go install ${TEMPORAL_CLI_MODULE} failed (exit ${build.status ?? build.signal})`,
    );
  }
  return cached;
}

export interface DevServerOptions {
  cli: string;
  dataDir: string;
  ip?: string;
  port: number;
  uiPort?: number;
  headless?: boolean;
  namespace?: string;
  /** Passed through to the server's stderr; by default its logs go to `<dataDir>/temporal/server.log`. */
  inheritOutput?: boolean;
  /**
   * Its own process group, out of reach of the terminal's Ctrl-C (which signals the whole foreground group): the
   * launcher stops it with `stop()` once its worker has drained, instead of it going away under the worker.
   */
  ownProcessGroup?: boolean;
  /** How long `stop()` waits for the server to exit after its signal before it kills it; default 15 s. */
  stopTimeoutMs?: number;
  /** Registered at start so workflows can publish them; the launcher knows no workflow of its own. */
  searchAttributes: readonly SearchAttributeDefinition[];
}

/** A custom search attribute as `temporal server start-dev --search-attribute name=Type` takes it. */
export interface SearchAttributeDefinition {
  name: string;
  type: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  dbFile: string;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `child` exits within `ms`. The timer goes as soon as it does: a pending timer keeps Node's event loop, and
 * with it a stopped `tourniquet up`, alive until it fires (15 s after Ctrl-C, before this cleared it).
 */
async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise<boolean>((resolve) => {
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    child.once('exit', onExit);
  });
}

/** A server left behind by a killed `tourniquet up` holds the SQLite file and the port: stop it first. */
async function stopStaleServer(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.includes('start-dev')) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 10_000 && processAlive(pid); waited += 100) await sleep(100);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}

export async function waitForHealth(
  cli: string,
  address: string,
  child?: ChildProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new TemporalCliError(`Temporal dev server exited early (${child.exitCode ?? child.signalCode})`);
    }
    const health = spawnSync(cli, ['operator', 'cluster', 'health', '--address', address], {
      encoding: 'utf8',
    });
    if (health.status === 0 && health.stdout.includes('SERVING')) return;
    await sleep(200);
  }
  throw new TemporalCliError(`Temporal dev server at ${address} not healthy after ${timeoutMs} ms`);
}

/**
 * Where the Web UI listens: loopback, always, whatever address the frontend is given. The UI proxies the full
 * Temporal API (start, signal, update, cancel, terminate, reset) to anyone who can reach it.
 *
 * It cannot be made read-only here. The UI server has `disableWriteActions` (and per-action switches such as
 * `workflowTerminateDisabled`), but `temporal server start-dev` (CLI v1.5.1, temporalcli/devserver/server.go
 * buildUIServer) builds the UI config in code from its flags, which are only --headless, --ui-ip, --ui-port,
 * --ui-public-path, --ui-asset-path and --ui-codec-endpoint; it reads no UI config file or environment variable.
 * (The standalone UI image reads TEMPORAL_DISABLE_WRITE_ACTIONS: ui-server config/docker.yaml.) So locally, nobody
 * but this machine's users reaches the UI; anyone who does can still terminate, reset or cancel an incident.
 */
export const DEV_SERVER_UI_IP = '127.0.0.1';

/** The dev server's SQLite file, pid file and log, under `<dataDir>/temporal/`. */
function serverFiles(dataDir: string): {
  serverDir: string;
  dbFile: string;
  pidFile: string;
  logFile: string;
} {
  const serverDir = join(dataDir, 'temporal');
  return {
    serverDir,
    dbFile: join(serverDir, 'temporal.sqlite'),
    pidFile: join(serverDir, 'server.pid'),
    logFile: join(serverDir, 'server.log'),
  };
}

/** The `temporal server start-dev` arguments for these options. */
export function devServerArgs(options: Omit<DevServerOptions, 'cli' | 'inheritOutput'>): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    options.ip ?? '127.0.0.1',
    '--port',
    String(options.port),
    '--db-filename',
    serverFiles(options.dataDir).dbFile,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    // Update-with-start, so concurrent alerts about one secret can never open two incidents.
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    // Task-queue priority: an incident's first containment steps go ahead of other incidents' later steps.
    '--dynamic-config-value',
    'matching.useNewMatcher=true',
  ];
  for (const key of options.searchAttributes) args.push('--search-attribute', `${key.name}=${key.type}`);
  if (options.namespace && options.namespace !== 'default') args.push('--namespace', options.namespace);
  if (options.headless || options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-ip', DEV_SERVER_UI_IP, '--ui-port', String(options.uiPort));
  return args;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const { serverDir, dbFile, pidFile, logFile } = serverFiles(options.dataDir);
  mkdirSync(serverDir, { recursive: true });
  await stopStaleServer(pidFile);
  const args = devServerArgs(options);

  const logFd = options.inheritOutput ? undefined : openSync(logFile, 'a');
  const child = spawn(options.cli, args, {
    stdio: ['ignore', logFd ?? 'inherit', logFd ?? 'inherit'],
    detached: options.ownProcessGroup ?? false,
  });
  if (logFd !== undefined) closeSync(logFd);
  if (child.pid === undefined) throw new TemporalCliError(`could not start ${options.cli}`);
  writeFileSync(pidFile, String(child.pid));
  const address = `${ip}:${options.port}`;
  let stopped = false;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.kill(signal);
    if (!(await waitForExit(child, options.stopTimeoutMs ?? 15_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
    rmSync(pidFile, { force: true });
  };
  try {
    await waitForHealth(options.cli, address, child);
  } catch (error) {
    await stop('SIGKILL');
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-5).join('\n') : '';
    throw new TemporalCliError(`${(error as Error).message}${tail ? `\n${tail}` : ''}`);
  }
  return {
    address,
    uiUrl:
      options.headless || options.uiPort === undefined
        ? undefined
        : `http://${DEV_SERVER_UI_IP}:${options.uiPort}`,
    dbFile,
    pid: child.pid,
    stop,
  };
}
