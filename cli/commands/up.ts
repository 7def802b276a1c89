import { chmodSync, mkdirSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig, temporalAddress } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal-tls';
import { createLogger, resolveLogFormat, type Logger } from '../../lib/logger';
import { onShutdownSignals } from '../../lib/shutdown-signals';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../client';
import { findTemporalCli, startDevServer, type DevServer } from '../../temporal/dev-server';
import { modeLine, startConfiguredWorker } from '../../worker/runtime';
import { runWorkerProcess } from '../../worker/main';
import { drainedByForce, type TourniquetWorker } from '../../worker/create-worker';
import type { ProviderRegistry } from '../../providers/registry';
import { runGatewayProcess, startConfiguredGateway, type ConfiguredGateway } from '../../gateway/main';

/** How long `up` lets its dev server shut itself down before it kills it; it usually takes a second. */
const DEV_SERVER_STOP_MS = 2_000;

/**
 * `tourniquet up`. Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops it within 5 s: the gateway first, then the worker, drained
 * as Temporal's shutdown has it (an activity in flight gets `SHUTDOWN_GRACE_MS`, then is cancelled and retried), then
 * the dev server. A second Ctrl-C kills the dev server and exits at once.
 */
async function up(): Promise<void> {
  const config = loadConfig();
  // Its owner's alone, also when an older version left it readable (`worker` and `gateway` do the same).
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  // Readable lines at a terminal, JSON when piped or in a container, unless TOURNIQUET_LOG_FORMAT says otherwise.
  const logger = createLogger(
    config.TOURNIQUET_LOG_LEVEL,
    'tourniquet',
    resolveLogFormat(config.TOURNIQUET_LOG_FORMAT),
  );
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  const started: {
    server?: DevServer;
    connection?: Connection;
    worker?: TourniquetWorker;
    running?: Promise<void>;
    gateway?: ConfiguredGateway;
  } = {};
  let stopRequested = false;

  let startup: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  // In order: the gateway stops taking alerts, the worker drains against a server still there (the Temporal runtime's
  // own SIGINT/SIGTERM handler may have started that already), and only then does the server go.
  const stop = (): Promise<void> =>
    (stopping ??= startup
      .catch(() => undefined)
      .then(async () => {
        say('Stopping…');
        // Each stage's time at debug level: where a slow Ctrl-C spends it.
        let since = Date.now();
        const stage = (name: string): void => {
          logger.debug({ stage: name, ms: Date.now() - since }, 'stopped');
          since = Date.now();
        };
        await started.gateway?.shutdown().catch(() => undefined);
        stage('gateway');
        if (started.worker) {
          await started.worker.shutdown();
          await started.running?.catch(() => undefined);
          stage('worker drained');
          await started.worker.connection.close().catch(() => undefined);
        }
        await started.connection?.close().catch(() => undefined);
        stage('connections');
        await started.server?.stop();
        stage('dev server');
        say('Stopped.');
      }));
  // Before the dev server starts: it has a process group of its own, so a Ctrl-C during startup must stop it too.
  onShutdownSignals(
    () => {
      stopRequested = true;
      void stop();
    },
    {
      signals: ['SIGINT', 'SIGTERM', 'SIGHUP'],
      say,
      force: () => {
        if (started.server) killQuietly(started.server.pid);
      },
    },
  );

  let registry: ProviderRegistry | undefined;
  startup = (async () => {
    if (!config.TEMPORAL_ADDRESS) {
      const cli = findTemporalCli({ progress: say });
      started.server = await startDevServer({
        cli,
        dataDir: config.dataDir,
        port: config.TEMPORAL_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        searchAttributes: INCIDENT_SEARCH_ATTRIBUTES,
        // Stopped by `stop` after the worker drained, not by the terminal's Ctrl-C at the same moment.
        ownProcessGroup: true,
        stopTimeoutMs: DEV_SERVER_STOP_MS,
      });
    }
    if (stopRequested) return;
    started.connection = await Connection.connect(temporalConnectionOptions(config));
    if (stopRequested) return;
    const configured = await startConfiguredWorker(config, logger);
    started.worker = configured.worker;
    started.running = configured.running;
    registry = configured.registry;
    if (stopRequested) return;
    started.gateway = await startConfiguredGateway(config, started.connection, logger);
  })();
  try {
    await startup;
  } catch (error) {
    // Nothing it started outlives it (the dev server would hold the port and the SQLite file).
    await stop().catch(() => undefined);
    throw error;
  }

  const { server, gateway, running } = started;
  if (!stopRequested && gateway && running && registry) {
    say(`Tourniquet is up (data in ${config.dataDir})`);
    say(`  Temporal     ${temporalAddress(config)}${server ? ' (local dev server)' : ''}`);
    if (server?.uiUrl)
      say(`  Temporal UI  ${server.uiUrl}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`);
    say(`  Gateway      ${gateway.url}  (GET /healthz)`);
    say(`  Mode         ${modeLine(registry)}`);
    say(`  Code         ${__filename.endsWith('.js') ? 'compiled (dist/)' : 'TypeScript sources (tsx)'}`);
    say(
      '  Try: npx tourniquet incident start --secret-kind github-token --connector github:acme/app/deploy.yml --severity high',
    );
    say('Press Ctrl-C to stop.');
  }

  // The worker gave up on an activity that ignored its cancellation: its timers may still be pending.
  let drainForced = false;
  if (running && started.worker) {
    drainForced = await drainedByForce(started.worker.worker, running, () => stopRequested, logger).catch(
      (error: unknown) => {
        logger.error(
          { error: error instanceof Error ? error.message : String(error) },
          'worker stopped unexpectedly',
        );
        process.exitCode = 1;
        return false;
      },
    );
  }
  await stop();
  // An activity the worker gave up on still holds its timers; it is Temporal's to retry, not ours to wait for.
  if (drainForced) process.exit();
  exitIfStillRunning(logger);
}

/** A safety net: if a handle still keeps Node alive a second after everything stopped, say which and exit. */
function exitIfStillRunning(logger: Logger): void {
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'still running after stop; exiting');
    process.exit();
  }, 1_000).unref();
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description('run the Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker and the gateway')
    .action(up);
  program
    .command('worker')
    .description('run one worker process against TEMPORAL_ADDRESS')
    .action(() => runWorkerProcess());
  program
    .command('gateway')
    .description('run the HTTP gateway against TEMPORAL_ADDRESS')
    .action(runGatewayProcess);
  program
    .command('temporal-cli')
    .description('print the path of the Temporal CLI, building it once from the Go module proxy when missing')
    .action(() => {
      process.stdout.write(`${findTemporalCli({ progress: (line) => process.stderr.write(`${line}\n`) })}\n`);
    });
}
