import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { startConfiguredWorker } from './runtime';

/** `tourniquet worker`: one worker process; scale out by running more. */
export async function runWorkerProcess(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.TOURNIQUET_LOG_LEVEL, 'tourniquet-worker');
  const { worker, running } = await startConfiguredWorker(config, logger);
  const stop = (): void => void worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  process.stdout.write('worker ready\n');
  await running;
  await worker.connection.close();
}
