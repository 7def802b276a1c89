import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createTourniquetWorker, type TourniquetWorker } from '../../worker/create-worker';
import { createProviderRegistry } from '../../providers/registry';
import { SimulationJournal } from '../../providers/simulated/journal';
import type { EvidenceStore, Provider } from '../../providers/types';
import { LogNotifier, type Notifier } from '../../activities/notify';
import { testOwners } from './owners';
import { TASK_QUEUE } from './incidents';
import { workflowBundlePath } from './temporal';

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
  taskQueue?: string;
  /** Where the worker logs (silent by default), e.g. a buffer a test searches for leaked values. */
  logger?: Logger;
  notifier?: Notifier;
}): Promise<InProcessWorker> {
  const journal = new SimulationJournal(join(options.dataDir, 'simulated', 'journal.jsonl'));
  const worker = await createTourniquetWorker({
    address: options.address,
    namespace: 'default',
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    registry: createProviderRegistry({ real: options.real ?? [], journal }),
    evidence: options.evidence,
    owners: testOwners(options.dataDir),
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

/** `tourniquet worker` as a real child process, which a test may SIGKILL. */
export async function spawnWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: {
      ...process.env,
      TOURNIQUET_LOG_LEVEL: 'warn',
      TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath(),
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
