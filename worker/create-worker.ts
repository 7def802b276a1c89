import { hostname } from 'node:os';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { createIncidentActivities } from '../activities/execute-step';
import type { ProviderRegistry } from '../providers/registry';
import type { EvidenceSink } from '../providers/types';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface TourniquetWorkerOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  registry: ProviderRegistry;
  evidence: EvidenceSink;
  logger: Logger;
  /** A bundle made by `bundleWorkflows`, so short-lived workers skip the webpack build. */
  workflowBundlePath?: string;
  identity?: string;
  maxConcurrentActivityTaskExecutions?: number;
}

export interface TourniquetWorker {
  worker: Worker;
  connection: NativeConnection;
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined, warn: () => undefined, error: () => undefined } });
}

let runtimeInstalled = false;

export async function createTourniquetWorker(options: TourniquetWorkerOptions): Promise<TourniquetWorker> {
  if (!runtimeInstalled) {
    // The SDK's own logs (poll errors while the server restarts) go through pino at warn level.
    Runtime.install({
      logger: {
        log: (level, message, meta) => {
          if (level === 'WARN' || level === 'ERROR') options.logger.warn(meta ?? {}, message);
        },
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: (message, meta) => options.logger.warn(meta ?? {}, message),
        error: (message, meta) => options.logger.error(meta ?? {}, message),
      },
    });
    runtimeInstalled = true;
  }
  const identity = options.identity ?? `tourniquet-worker@${hostname()}:${process.pid}`;
  const connection = await NativeConnection.connect({ address: options.address });
  const workflowSource = options.workflowBundlePath
    ? { workflowBundle: { code: await readFile(options.workflowBundlePath, 'utf8') } }
    : { workflowsPath: WORKFLOWS_PATH };
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity,
    ...workflowSource,
    activities: createIncidentActivities({
      registry: options.registry,
      evidence: options.evidence,
      logger: options.logger,
      workerIdentity: identity,
    }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 100,
  });
  return {
    worker,
    connection,
    run: () => worker.run(),
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
