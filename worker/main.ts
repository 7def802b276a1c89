import { chmodSync, mkdirSync } from 'node:fs';
import { loadConfig } from '../lib/config';
import type { Runbook } from '../lib/runbook/types';
import { createLogger } from '../lib/logger';
import { onShutdownSignals } from '../lib/shutdown-signals';
import { drainedByForce } from './create-worker';
import { modeLine, startConfiguredWorker, startTerminationWatch } from './runtime';

/**
 * `tourniquet worker`: one worker process; scale out by running more. `trustedRunbooks` is for a program that
 * embeds the worker (a test's child worker): the CLI passes none, so only the runbook directories count.
 */
export async function runWorkerProcess(trustedRunbooks?: Runbook[]): Promise<void> {
  const config = loadConfig();
  // The data dir is its owner's alone, also when an older version left it readable.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  const logger = createLogger(config.TOURNIQUET_LOG_LEVEL, 'tourniquet-worker');
  const { worker, running, registry } = await startConfiguredWorker(config, logger, { trustedRunbooks });
  const watch = await startTerminationWatch(config, logger);
  // SIGINT or SIGTERM drains the worker (an activity in flight gets SHUTDOWN_GRACE_MS, then is cancelled and retried
  // by Temporal); a second one exits at once.
  let stopRequested = false;
  onShutdownSignals(() => {
    stopRequested = true;
    void worker.shutdown();
  });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, mode: registry.mode }, 'worker running');
  if (registry.mode === 'demo') logger.warn({}, `demo mode: ${modeLine(registry)}`);
  process.stdout.write('worker ready\n');
  const drainForced = await drainedByForce(worker.worker, running, () => stopRequested, logger);
  await watch.stop();
  await worker.connection.close();
  // The activity the worker gave up on still holds its timers; it is Temporal's to retry, not ours to wait for.
  if (drainForced) process.exit();
}
