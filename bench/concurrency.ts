/**
 * Benchmark 3: 100 incidents at once (default runbook, approvals off, simulated providers) against one
 * `tourniquet worker` child process: time until every incident completed, and the worker's peak RSS
 * (/proc/<pid>/status VmHWM). Baselines in the same run: one incident alone on the same worker, and the
 * worker's resident memory once ready and idle.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncidentStatus } from '../lib/runbook/types';
import { startIncident } from '../client';
import { incidentInput, runbookById, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { withoutApprovals } from '../test/harness/owners';
import { killProcess, spawnWorkerProcess } from '../test/harness/worker';
import { processCpuSeconds, processMemory } from './lib/machine';
import { SIMULATED_ONLY_ENV, startStack } from './lib/stack';

export interface ConcurrencyResult {
  incidents: number;
  allCompletedMs: number;
  singleMs: number;
  completed: number;
  idleRssKiB: number;
  idleHwmKiB: number;
  peakHwmKiB: number;
  /** CPU seconds used during the 100-incident run by the worker, the Temporal server and this process. */
  cpu: { worker: number; server: number; client: number };
}

const TASK_QUEUE = 'bench-concurrency';

export async function benchConcurrency(options: {
  incidents: number;
  /** NODE_OPTIONS for the worker child only, e.g. `--max-old-space-size=256`. */
  workerNodeOptions?: string;
  /** Run the worker from the compiled build (`npm run build`) instead of the sources through tsx. */
  compiled?: boolean;
}): Promise<ConcurrencyResult> {
  const stack = await startStack();
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const child = await spawnWorkerProcess(
    {
      TEMPORAL_ADDRESS: stack.temporal.address,
      TOURNIQUET_DATA_DIR: stack.dataDir,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      TOURNIQUET_LOG_LEVEL: 'error',
      ...SIMULATED_ONLY_ENV,
      ...(options.workerNodeOptions ? { NODE_OPTIONS: options.workerNodeOptions } : {}),
      ...(process.env.BENCH_JOURNAL ? { TOURNIQUET_SIMULATED_JOURNAL: process.env.BENCH_JOURNAL } : {}),
    },
    { runbooks: [runbook], compiled: options.compiled },
  );
  const { client } = stack.temporal;
  const runIncidents = async (count: number): Promise<{ ms: number; statuses: IncidentStatus[] }> => {
    const inputs = Array.from({ length: count }, () => incidentInput(runbook));
    const t0 = performance.now();
    await Promise.all(
      inputs.map((input) => startIncident(client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey)),
    );
    const statuses = await Promise.all(
      inputs.map(
        (input) => client.workflow.getHandle(input.context.incident.id).result() as Promise<IncidentStatus>,
      ),
    );
    return { ms: performance.now() - t0, statuses };
  };

  try {
    const pid = child.pid!;
    // Warm-up: the first incident pays for lazy loading in the worker (vault keys, zod schemas, JIT).
    await runIncidents(1);
    await sleep(1_000);
    const idle = processMemory(pid);
    const single = await runIncidents(1);
    const serverPid = stack.temporal.server.pid;
    const cpuBefore = {
      worker: processCpuSeconds(pid),
      server: processCpuSeconds(serverPid),
      client: process.cpuUsage(),
    };
    const many = await runIncidents(options.incidents);
    const peak = processMemory(pid);
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const cpu = {
      worker: processCpuSeconds(pid) - cpuBefore.worker,
      server: processCpuSeconds(serverPid) - cpuBefore.server,
      client: (clientCpu.user + clientCpu.system) / 1e6,
    };
    return {
      incidents: options.incidents,
      allCompletedMs: many.ms,
      singleMs: single.ms,
      completed: many.statuses.filter((status) => status.state === 'completed').length,
      idleRssKiB: idle.vmRssKiB,
      idleHwmKiB: idle.vmHwmKiB,
      peakHwmKiB: peak.vmHwmKiB,
      cpu,
    };
  } finally {
    await killProcess(child, 'SIGTERM');
    await stack.stop();
  }
}
