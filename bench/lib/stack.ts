import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LogNotifier } from '../../activities/notify';
import { openVault } from '../../evidence';
import type { Inventory } from '../../lib/inventory';
import { createProviderRegistry, type ProviderRegistry } from '../../providers/registry';
import { PROVIDER_CATALOGS } from '../../providers';
import { createSimulatedProvider } from '../../providers/simulated/provider';
import { SimulationJournal } from '../../providers/simulated/journal';
import type { ActionContext, EvidenceStore, Provider } from '../../providers/types';
import { testOwners } from '../../test/harness/owners';
import { TEST_RUNBOOKS } from '../../test/harness/incidents';
import { startTestTemporal, workflowBundlePath, type TestTemporal } from '../../test/harness/temporal';
import { silentLogger } from '../../test/harness/worker';
import { createTourniquetWorker, type TourniquetWorker } from '../../worker/create-worker';

/** A real Temporal dev server on a free 127.0.0.1 port with its own SQLite file, and the vault beside it. */
/** The environment of a benchmark's worker child process that leaves only simulated providers, whatever the shell has. */
export const SIMULATED_ONLY_ENV: Record<string, string> = {
  GITHUB_TOKEN: '',
  GITHUB_APP_ID: '',
  GITHUB_APP_PRIVATE_KEY: '',
  GITHUB_APP_PRIVATE_KEY_FILE: '',
  GITHUB_APP_INSTALLATION_ID: '',
  GITHUB_API_URL: '',
};

export interface BenchStack {
  temporal: TestTemporal;
  evidence: EvidenceStore;
  journal: SimulationJournal;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startStack(): Promise<BenchStack> {
  const temporal = await startTestTemporal();
  const evidence = await openVault({ dataDir: temporal.dataDir, env: {} });
  return {
    temporal,
    evidence,
    journal: new SimulationJournal(join(temporal.dataDir, 'simulated', 'journal.jsonl')),
    dataDir: temporal.dataDir,
    async stop() {
      await temporal.stop();
      await rm(temporal.dataDir, { recursive: true, force: true });
    },
  };
}

export interface RunningWorker {
  worker: TourniquetWorker;
  stop(): Promise<void>;
}

/** The production worker (createTourniquetWorker) in this process, with the registry the benchmark chooses. */
export async function startWorker(options: {
  stack: BenchStack;
  taskQueue: string;
  registry?: ProviderRegistry;
  evidence?: EvidenceStore;
  maxConcurrentActivityTaskExecutions?: number;
  /** The credential inventory `forEach` steps resolve their items against (none by default). */
  inventory?: Inventory;
}): Promise<RunningWorker> {
  const { stack } = options;
  const worker = await createTourniquetWorker({
    address: stack.temporal.address,
    namespace: 'default',
    taskQueue: options.taskQueue,
    registry: options.registry ?? createProviderRegistry({ real: [], journal: stack.journal }),
    evidence: options.evidence ?? stack.evidence,
    owners: testOwners(stack.dataDir),
    inventory: () => options.inventory,
    runbooks: TEST_RUNBOOKS,
    notifier: new LogNotifier(silentLogger),
    logger: silentLogger,
    workflowBundlePath: await workflowBundlePath(),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      await worker.shutdown();
      await running;
      await worker.connection.close();
    },
  };
}

export type CallObserver = (call: { incidentId: string; stepId: string; action: string; at: number }) => void;

/**
 * The simulated stand-in for `system` (same catalog, same journal), registered as if it were the real provider,
 * noting `performance.now()` as each action is entered: a sub-millisecond, same-clock timestamp of the first
 * provider call, where the journal only has wall-clock milliseconds.
 */
export function instrumentedProvider(
  system: string,
  journal: SimulationJournal,
  observe: CallObserver,
): Provider {
  const base = createSimulatedProvider(system, { catalog: PROVIDER_CATALOGS[system], journal });
  const actions = Object.fromEntries(
    Object.entries(base.actions).map(([action, implementation]) => [
      action,
      (params: Record<string, unknown>, ctx: ActionContext) => {
        observe({ incidentId: ctx.incidentId, stepId: ctx.stepId, action, at: performance.now() });
        return implementation(params, ctx);
      },
    ]),
  ) as Provider['actions'];
  return { ...base, actions };
}
