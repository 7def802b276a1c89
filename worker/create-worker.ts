import { hostname } from 'node:os';
import {
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Logger } from 'pino';
import { createStepActivities } from '../activities/execute-step';
import { createForEachActivities } from '../activities/for-each';
import { createRecordActivities, type Notifier } from '../activities/notify';
import { createOpeningActivities } from '../activities/runbooks';
import type { IncidentActivities } from '../activities/types';
import type { Inventory } from '../lib/inventory';
import type { OwnerDirectory } from '../lib/owners';
import type { RunbookCatalog } from '../runbooks/catalog';
import type { TemporalTlsOptions } from '../lib/temporal-tls';
import type { ProviderRegistry } from '../providers/registry';
import type { EvidenceJson, EvidenceStore } from '../providers/types';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * The workflow bundle `npm run build` writes beside the compiled code (`dist/workflow-bundle.js`), so a compiled
 * worker starts without webpack. Runs from source (tsx, jest) have none and bundle the current code at start, so a
 * bundle can never be paired with code other than the code it was built from.
 */
export function prebuiltWorkflowBundle(): string | undefined {
  const path = resolve(__dirname, '..', 'workflow-bundle.js');
  return __filename.endsWith('.js') && existsSync(path) ? path : undefined;
}

/** Where a worker or replayer takes its workflow code from: a given bundle, the build's, or the sources. */
export function workflowSource(bundlePath = prebuiltWorkflowBundle()) {
  return bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { preloadModules: WORKFLOW_PRELOAD_MODULES } };
}

export interface TourniquetWorkerOptions {
  address: string;
  /** TLS to the frontend (lib/temporal-tls.ts `temporalConnectionOptions`); absent: plaintext. */
  tls?: TemporalTlsOptions;
  namespace: string;
  taskQueue: string;
  registry: ProviderRegistry;
  /** Records the fingerprint of each value a rotation delivered for an inventory credential (`execute-step.ts`). */
  recordRotation?: (credentialId: string, value: string) => void;
  evidence: EvidenceStore;
  owners: OwnerDirectory;
  /** The credential inventory a `forEach` step resolves its items against (owners, issuers, consumers). */
  inventory?: () => Inventory | undefined;
  /** The runbooks a real incident may name: the worker's own directories (and any the embedder trusts in code). */
  runbooks: RunbookCatalog;
  notifier: Notifier;
  logger: Logger;
  /** A bundle made by `bundleWorkflows`, so short-lived workers skip the webpack build. */
  workflowBundlePath?: string;
  identity?: string;
  maxConcurrentActivityTaskExecutions?: number;
}

/**
 * Temporal's `shutdownGraceTime`. On shutdown the worker stops polling at once; an activity still running gets this
 * long to finish, then it is cancelled (steps pass the cancellation signal on to their provider calls), its attempt
 * fails and Temporal runs it again on another worker, or on this one once it is back. (The SDK's default, 0, cancels
 * at once.)
 */
export const SHUTDOWN_GRACE_MS = 1_000;
/**
 * Temporal's `shutdownForceTime`, counted from the shutdown. Past it `run()` gives up on an activity that has not
 * stopped after its cancellation and rejects (`isForcedShutdown`); the attempt is left to its heartbeat or
 * start-to-close timeout, after which Temporal retries it. Without it (the SDK's default) one provider call that
 * ignores its cancellation keeps the worker, and Ctrl-C, waiting as long as it runs. `tourniquet up` must be gone
 * within 5 s of Ctrl-C, its dev server's stop included.
 */
export const SHUTDOWN_FORCE_MS = 2_000;

export interface TourniquetWorker {
  worker: Worker;
  connection: NativeConnection;
  /**
   * Runs until shut down and drained. Rejects when it fails, and also when `shutdown()` had to give up on an
   * activity after `SHUTDOWN_FORCE_MS` (`isForcedShutdown` tells which).
   */
  run(): Promise<void>;
  /** Starts the shutdown (idempotent); `run()` settles once the worker has drained. */
  shutdown(): Promise<void>;
}

/**
 * Whether `run()` rejected because a shutdown outlasted `SHUTDOWN_FORCE_MS`. The SDK (1.24) throws
 * GracefulShutdownPeriodExpiredError there, but its native finalization then fails too and that IllegalStateError is
 * what `run()` rejects with; either means the same once a shutdown was asked for.
 */
function isForcedShutdown(worker: Worker, error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return (
    name === 'GracefulShutdownPeriodExpiredError' ||
    (name === 'IllegalStateError' && worker.getState() === 'FAILED')
  );
}

/**
 * Waits for a worker's `run()` to settle. True when it ended because a requested shutdown gave up on an activity
 * after `SHUTDOWN_FORCE_MS` (said at warn): that activity still holds its timers, so the process should exit rather
 * than wait for them; Temporal retries the attempt. Any other failure is thrown.
 */
export async function drainedByForce(
  worker: Worker,
  running: Promise<void>,
  stopRequested: () => boolean,
  logger: Logger,
): Promise<boolean> {
  try {
    await running;
    return false;
  } catch (error) {
    if (!stopRequested() || !isForcedShutdown(worker, error)) throw error;
    logger.warn(
      { shutdownForceMs: SHUTDOWN_FORCE_MS },
      'an activity did not stop in time; Temporal runs it again once its attempt times out',
    );
    return true;
  }
}

const silent = {
  log: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Modules the workflow thread evaluates once, into the reusable V8 context's shared module cache, before any
 * workflow runs; otherwise every incident evaluates them again in its own module scope (ed25519 computes its field
 * constants and base-point tables: ~3 ms of workflow-thread CPU per incident). Only modules without per-workflow
 * state may be listed, with what they import: the SDK deep-freezes their exports and every workflow of the thread
 * shares them. These are pure functions (signature and hash checks, canonical JSON) and string constants; noble's
 * points and fields are frozen by noble itself and its caches are WeakMaps keyed by them, so sharing changes no
 * command a workflow emits. The checks themselves still run in each workflow, on what it receives.
 * Local files, resolved to paths (webpack drops a bare `require` of a package marked `sideEffects: false`, as noble
 * is), so any entry point bundles the same modules, from source or from the build.
 */
export const WORKFLOW_PRELOAD_MODULES = [
  require.resolve('../lib/runbook/approval-check'),
  require.resolve('../lib/runbook/command-check'),
  require.resolve('../lib/runbook/canonical'),
];

export async function bundleWorkflows(workflowsPath = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: silent, preloadModules: WORKFLOW_PRELOAD_MODULES });
}

/** Bounds one page of an incident's history as the worker reads it for the vault. */
const HISTORY_MESSAGE_LIMIT = 128 * 1024 * 1024;

/** Reads an incident's own history for the evidence vault; one client connection, opened on first use. */
class HistoryReader {
  private connection?: Promise<Connection>;

  constructor(
    private readonly address: string,
    private readonly namespace: string,
    private readonly tls?: TemporalTlsOptions,
  ) {}

  async read(incidentId: string): Promise<EvidenceJson> {
    this.connection ??= Connection.connect({
      address: this.address,
      tls: this.tls,
      // A fan-out's history can pass gRPC's default 4 MiB in one page (7,000 items did); the record must still go in.
      channelArgs: { 'grpc.max_receive_message_length': HISTORY_MESSAGE_LIMIT },
    });
    const client = new Client({ connection: await this.connection, namespace: this.namespace });
    const history = await client.workflow.getHandle(incidentId).fetchHistory();
    return JSON.parse(historyToJSON(history)) as EvidenceJson;
  }

  async close(): Promise<void> {
    if (this.connection) await (await this.connection).close();
  }
}

let runtimeInstalled = false;

/**
 * Core warnings that only say the server already gave up on a workflow task (it timed out under load): Temporal
 * hands the task out again, nothing is lost, and an operator can do nothing about it.
 */
const RETRIED_BY_TEMPORAL = [/^Task not found when completing/];

/**
 * Routes the SDK's own logs, the Rust core's included (poll errors while the server restarts…), to pino at warn and
 * above. Core would otherwise print them to stdout, in the middle of a command's `--json` output.
 */
export function ensureTemporalRuntime(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const quiet = (): void => undefined;
  const warn = (message: string, meta?: Record<string, unknown>) => {
    if (RETRIED_BY_TEMPORAL.some((pattern) => pattern.test(message))) logger.debug(meta ?? {}, message);
    else logger.warn(meta ?? {}, message);
  };
  Runtime.install({
    logger: {
      log: (level, message, meta) => {
        if (level === 'WARN') warn(message, meta);
        if (level === 'ERROR') logger.error(meta ?? {}, message);
      },
      trace: quiet,
      debug: quiet,
      info: quiet,
      warn,
      error: (message, meta) => logger.error(meta ?? {}, message),
    },
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
  });
}

export async function createTourniquetWorker(options: TourniquetWorkerOptions): Promise<TourniquetWorker> {
  ensureTemporalRuntime(options.logger);
  const identity = options.identity ?? `tourniquet-worker@${hostname()}:${process.pid}`;
  const connection = await NativeConnection.connect({ address: options.address, tls: options.tls });
  const historyReader = new HistoryReader(options.address, options.namespace, options.tls);
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity,
    ...workflowSource(options.workflowBundlePath),
    activities: {
      ...createStepActivities({
        registry: options.registry,
        evidence: options.evidence,
        logger: options.logger,
        workerIdentity: identity,
        recordRotation: options.recordRotation,
      }),
      ...createForEachActivities({ inventory: options.inventory ?? (() => undefined) }),
      ...createOpeningActivities({
        runbooks: options.runbooks,
        gatewayKeys: () => options.owners.trustedGatewayKeys(),
        ownerKeys: () => options.owners.ownerKeys(),
        registry: options.registry,
      }),
      ...createRecordActivities({
        owners: options.owners,
        notifier: options.notifier,
        evidence: options.evidence,
        fetchHistory: (incidentId) => historyReader.read(incidentId),
      }),
    } satisfies IncidentActivities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 100,
    shutdownGraceTime: SHUTDOWN_GRACE_MS,
    shutdownForceTime: SHUTDOWN_FORCE_MS,
  });
  return {
    worker,
    connection,
    async run() {
      try {
        await worker.run();
      } finally {
        // Only now: an activity still draining (an incident's record for the vault) may be reading a history.
        await historyReader.close().catch(() => undefined);
      }
    },
    shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      return Promise.resolve();
    },
  };
}
