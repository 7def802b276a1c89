import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createTourniquetWorker, type TourniquetWorker } from '../../worker/create-worker';
import { createProviderRegistry, type ProviderMode } from '../../providers/registry';
import { SimulationJournal } from '../../providers/simulated/journal';
import type { EvidenceStore, Provider } from '../../providers/types';
import type { Runbook } from '../../lib/runbook/types';
import type { Inventory } from '../../lib/inventory';
import { LogNotifier, type Notifier } from '../../activities/notify';
import { testOwners } from './owners';
import { TASK_QUEUE, TEST_GATEWAY_PUBLIC_KEY, TEST_RUNBOOKS } from './incidents';
import { trustedGatewayKeys } from '../../lib/gateway-key';
import { workflowBundlePath } from './temporal';
import { buildState } from '../../bin/build-state';

export const silentLogger = pino({ level: 'silent' });

export interface InProcessWorker {
  worker: TourniquetWorker;
  journal: SimulationJournal;
  stop(): Promise<void>;
}

export async function startInProcessWorker(options: {
  address: string;
  dataDir: string;
  evidence: EvidenceStore;
  real?: Provider[];
  /** As in production unless given: `demo` when `real` holds no system that can act, `live` otherwise. */
  mode?: ProviderMode;
  /** What the production worker does with each rotated value of an inventory credential (`rotationRecorder`). */
  recordRotation?: (credentialId: string, value: string) => void;
  taskQueue?: string;
  /** Where the worker logs (silent by default), e.g. a buffer a test searches for leaked values. */
  logger?: Logger;
  notifier?: Notifier;
  /** Runbooks that replace the shipped file of their id for this worker (what an unpinned start gets). */
  runbooks?: Runbook[];
  /** The inventory `forEach` steps resolve items against (none by default). */
  inventory?: Inventory;
  maxConcurrentActivityTaskExecutions?: number;
}): Promise<InProcessWorker> {
  const journal = new SimulationJournal(join(options.dataDir, 'simulated', 'journal.jsonl'));
  const worker = await createTourniquetWorker({
    address: options.address,
    namespace: 'default',
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    registry: createProviderRegistry({ real: options.real ?? [], journal, mode: options.mode }),
    recordRotation: options.recordRotation,
    evidence: options.evidence,
    owners: testOwners(options.dataDir),
    inventory: () => options.inventory,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions,
    runbooks: options.runbooks ? TEST_RUNBOOKS.withDefaults(options.runbooks) : TEST_RUNBOOKS,
    notifier: options.notifier ?? new LogNotifier(options.logger ?? silentLogger),
    logger: options.logger ?? silentLogger,
    workflowBundlePath: await workflowBundlePath(),
  });
  const running = worker.run();
  return {
    worker,
    journal,
    async stop() {
      await worker.shutdown();
      await running;
      await worker.connection.close();
    },
  };
}

const BIN = join(__dirname, '..', '..', 'bin', 'tourniquet.js');
const DIST = join(__dirname, '..', '..', 'dist');

/** The production worker process, trusting a test's in-code runbooks too (see `test/harness/worker-process.ts`). */
const WORKER_WITH_TEST_RUNBOOKS = join(__dirname, 'worker-process.ts');

/** The same entry as {@link WORKER_WITH_TEST_RUNBOOKS}, from the compiled build (`npm run build`). */
const COMPILED_WORKER_WITH_RUNBOOKS = `require(${JSON.stringify(join(DIST, 'worker', 'main.js'))}).runWorkerProcess(JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8')))`;

/**
 * `tourniquet worker` as a real child process, which a test may SIGKILL. With `runbooks`, the same worker runtime
 * started from the test entry, so it also trusts those runbooks (made in code, e.g. `withoutApprovals`). `compiled`
 * runs the build in dist/ and its prebuilt workflow bundle instead of the sources (benchmarks of the production
 * build); it must be current.
 */
export async function spawnWorkerProcess(
  env: Record<string, string>,
  options: {
    runbooks?: Runbook[];
    compiled?: boolean;
    /** Node options that NODE_OPTIONS refuses, e.g. `--cpu-prof` (bench/profile-first-task.ts). */
    nodeArgs?: string[];
  } = {},
): Promise<ChildProcess> {
  if (options.compiled && buildState() !== 'current')
    throw new Error('dist/ is not a current build: npm run build');
  const runbooksFile = options.runbooks ? writeRunbooks(options.runbooks) : undefined;
  const args = [
    ...(options.nodeArgs ?? []),
    ...(!runbooksFile
      ? [BIN, 'worker']
      : options.compiled
        ? ['-e', COMPILED_WORKER_WITH_RUNBOOKS, runbooksFile]
        : ['--require', 'tsx/cjs', WORKER_WITH_TEST_RUNBOOKS, runbooksFile]),
  ];
  // The production worker trusts only its data dir's gateway key unless told: this suite signs its starts too.
  const dataDirKeys = env.TOURNIQUET_DATA_DIR ? trustedGatewayKeys({ dataDir: env.TOURNIQUET_DATA_DIR }) : [];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      TOURNIQUET_GATEWAY_PUBLIC_KEYS: [TEST_GATEWAY_PUBLIC_KEY, ...dataDirKeys].join(','),
      TOURNIQUET_LOG_LEVEL: 'warn',
      ...(options.compiled
        ? { TOURNIQUET_FROM_SOURCE: '0' }
        : { TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath() }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr}`)));
  });
  return child;
}

export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

function writeRunbooks(runbooks: Runbook[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tourniquet-runbooks-')), 'runbooks.json');
  writeFileSync(file, JSON.stringify(runbooks), { mode: 0o600 });
  return file;
}
