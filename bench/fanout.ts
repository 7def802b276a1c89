/**
 * Benchmark 4: rotate 500 credentials, 50 ms provider latency each, at most 20 at a time.
 *
 * The runbook DSL has no fan-out step, so this is one synthetic runbook of 500 independent rotate steps in ONE
 * incident; the limit of 20 is the worker's `maxConcurrentActivityTaskExecutions`. Two worker set-ups, same run:
 *  - production: the simulated issuer (journal, idempotency lookup, injected 50 ms latency) and the evidence
 *    vault recording every action, as `tourniquet worker` runs it;
 *  - engine only: a provider that only sleeps 50 ms and an in-memory evidence sink, to separate what Temporal
 *    and the interpreter cost from what the vault and the journal cost.
 *  - forEach prototype (bench/foreach): what a DSL `forEach` with `concurrency` could compile to, the items in
 *    `limit` batches, one activity per batch, each item still through `executeStep` with its own idempotency key.
 * Ideal: calls × latency / limit. "Rotations done" ends at the last provider call's return (from the step's
 * finishedAt); "incident closed" also waits for the notification tail and the evidence record.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIncident } from '../client';
import type {
  IncidentInput,
  IncidentStatus,
  Runbook,
  RunbookStep,
  SimulatedFaultSpec,
} from '../lib/runbook/types';
import { createProviderRegistry } from '../providers/registry';
import type { ProviderRegistry } from '../providers/registry';
import { PROVIDER_CATALOGS } from '../providers';
import { createSimulatedProvider } from '../providers/simulated/provider';
import { SimulationJournal } from '../providers/simulated/journal';
import type { ActionContext, EvidenceStore, Provider } from '../providers/types';
import { RecordingEvidenceSink } from '../test/harness/evidence';
import { incidentInput, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { benchForEachPrototype } from './foreach/run';
import { startStack, startWorker, type BenchStack } from './lib/stack';

export interface FanOutRun {
  label: string;
  rotationsMs: number;
  closedMs: number;
  succeeded: number;
  /** Most rotations observed in flight at once (the limit must hold). */
  peakInFlight: number;
}

export interface FanOutResult {
  calls: number;
  latencyMs: number;
  limit: number;
  idealMs: number;
  runs: FanOutRun[];
}

export function fanOutRunbook(calls: number): Runbook {
  const step = (index: number): RunbookStep => ({
    id: `rotate-${String(index).padStart(4, '0')}`,
    title: `Rotate credential ${index}`,
    phase: 'rotate-credentials',
    action: 'issuer.rotateCredential',
    params: { ref: `service-account-${index}`, destinations: [] },
    after: [],
    owner: 'iam',
    approval: { policy: 'none', deadline: '15m' },
    reversible: false,
    timeout: '30s',
    retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
    onFailure: 'continue',
  });
  return {
    id: 'bench-fan-out',
    title: `Rotate ${calls} credentials`,
    steps: Array.from({ length: calls }, (_, index) => step(index)),
  };
}

/** Four set-ups, one run each: per-step activities or the forEach prototype, engine only or production. */
interface Setup {
  registry: ProviderRegistry;
  evidence: EvidenceStore;
  gauge: InFlight;
  /** Simulated faults the production issuer needs for its latency; the sleeping issuer sleeps by itself. */
  faults?: Record<string, SimulatedFaultSpec>;
}

function setUp(stack: BenchStack, name: string, engineOnly: boolean, latencyMs: number): Setup {
  // A journal per run, so no run pays for the entries of the one before.
  const journal = new SimulationJournal(join(stack.dataDir, 'simulated', `${name}.jsonl`));
  const base = createSimulatedProvider('simulated', { catalog: PROVIDER_CATALOGS.simulated, journal });
  const gauge = new InFlight();
  const rotate = base.actions.rotateCredential;
  const issuer: Provider = {
    ...base,
    actions: {
      ...base.actions,
      rotateCredential: (params: unknown, ctx: ActionContext) =>
        gauge.track(async () => {
          if (!engineOnly) return rotate(params, ctx);
          await sleep(latencyMs, undefined, { signal: ctx.signal });
          return { summary: { simulated: true } };
        }),
    },
  };
  return {
    registry: createProviderRegistry({ real: [issuer], journal }),
    evidence: engineOnly ? new RecordingEvidenceSink() : stack.evidence,
    gauge,
    faults: engineOnly ? undefined : { 'simulated.rotateCredential': { latencyMs } },
  };
}

class InFlight {
  current = 0;
  peak = 0;
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.current += 1;
    this.peak = Math.max(this.peak, this.current);
    try {
      return await work();
    } finally {
      this.current -= 1;
    }
  }
}

type Options = { calls: number; latencyMs: number; limit: number };

async function perStepRun(
  stack: BenchStack,
  label: string,
  setup: Setup,
  options: Options,
): Promise<FanOutRun> {
  const taskQueue = `bench-fanout-${label.replace(/\W+/g, '-')}`;
  const worker = await startWorker({
    stack,
    taskQueue,
    registry: setup.registry,
    evidence: setup.evidence,
    maxConcurrentActivityTaskExecutions: options.limit,
  });
  try {
    const input: IncidentInput = incidentInput(
      fanOutRunbook(options.calls),
      {},
      setup.faults ? { faults: setup.faults } : undefined,
    );
    const handle = stack.temporal.client.workflow.getHandle(input.context.incident.id);
    const wallStart = Date.now();
    const t0 = performance.now();
    await startIncident(stack.temporal.client, taskQueue, input, TEST_GATEWAY_KEY.privateKey);
    const status = (await handle.result()) as IncidentStatus;
    const closedMs = performance.now() - t0;
    const lastFinished = Math.max(
      ...status.steps.map((step) => (step.finishedAt ? Date.parse(step.finishedAt) : Number.NaN)),
    );
    return {
      label,
      rotationsMs: lastFinished - wallStart,
      closedMs,
      succeeded: status.steps.filter((step) => step.state === 'succeeded').length,
      peakInFlight: setup.gauge.peak,
    };
  } finally {
    await worker.stop();
  }
}

async function forEachRun(
  stack: BenchStack,
  label: string,
  setup: Setup,
  options: Options,
): Promise<FanOutRun> {
  const result = await benchForEachPrototype(stack, setup.registry, setup.evidence, options);
  return {
    label,
    rotationsMs: result.rotationsMs,
    closedMs: result.rotationsMs,
    succeeded: result.succeeded,
    peakInFlight: setup.gauge.peak,
  };
}

export async function benchFanOut(options: Options): Promise<FanOutResult> {
  const stack = await startStack();
  try {
    // A small warm-up incident so no measured run pays for the first workflow bundle load.
    await perStepRun(stack, 'warm-up', setUp(stack, 'warm-up', true, options.latencyMs), {
      ...options,
      calls: 20,
    });
    const runs: FanOutRun[] = [];
    runs.push(
      await perStepRun(
        stack,
        'per-step activities, engine only',
        setUp(stack, 'a', true, options.latencyMs),
        options,
      ),
    );
    runs.push(
      await perStepRun(
        stack,
        'per-step activities, production',
        setUp(stack, 'b', false, options.latencyMs),
        options,
      ),
    );
    runs.push(
      await forEachRun(
        stack,
        'forEach prototype, engine only',
        setUp(stack, 'c', true, options.latencyMs),
        options,
      ),
    );
    runs.push(
      await forEachRun(
        stack,
        'forEach prototype, production',
        setUp(stack, 'd', false, options.latencyMs),
        options,
      ),
    );
    return { ...options, idealMs: (options.calls * options.latencyMs) / options.limit, runs };
  } finally {
    await stack.stop();
  }
}
