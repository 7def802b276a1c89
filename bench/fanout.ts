/**
 * Benchmark 4: rotate 500 credentials, 50 ms provider latency each, at most 20 at a time.
 *
 * One incident whose runbook has ONE `forEach` step: `issuer.rotateCredential` over 500 literal keys with
 * `concurrency: 20`, started with `startIncident` on the production worker (createTourniquetWorker), which resolves
 * the keys against its credential inventory (500 credentials, issuer `simulated:service-account-N`, owner iam) as
 * `tourniquet worker` does. Two wirings, alternated, each `runs` times:
 *  - engine only: an issuer that only sleeps 50 ms and an in-memory evidence sink: what Temporal, the interpreter
 *    and the batch activity (`executeItems`) cost;
 *  - production: the simulated issuer (its journal, the idempotency lookup, 50 ms injected by the simulated fault
 *    `simulated.rotateCredential: { latencyMs }`) and the evidence vault recording every item's action.
 * Then the same with `large` items (5,000: how the cost grows), and, with `perStep`, the shape before `forEach`:
 * 500 steps of one runbook, one activity each, the limit being the worker's activity slots.
 *
 * Ideal: items × latency / concurrency. "Rotations done": startIncident called → the last item's action record
 * returned (the last thing an item does; in-memory for the engine path); "step done": the step's `finishedAt` (the
 * workflow holds every batch's result); "incident closed": the workflow's result. History: every event of the
 * incident, and the step's share (from scheduling its item resolution to the workflow task that took its last
 * batch's result), read through a connection that accepts messages beyond gRPC's default 4 MiB.
 *
 * Each run has its own worker (task queue, journal, inventory), which first runs a 20-item incident so the measured
 * one does not pay for loading the workflow context, then waits (up to `quietMs`) for other processes to leave the
 * machine quiet; it records the CPU the bench process, the server and everything else used meanwhile.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { tsToMs } from '@temporalio/common/lib/time';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startIncident } from '../client';
import { validateInventory, type Inventory } from '../lib/inventory';
import type {
  IncidentInput,
  IncidentStatus,
  Runbook,
  RunbookStep,
  SimulatedFaultSpec,
} from '../lib/runbook/types';
import { createProviderRegistry, type ProviderRegistry } from '../providers/registry';
import { PROVIDER_CATALOGS, PROVIDER_DIRECTORY } from '../providers';
import { createSimulatedProvider } from '../providers/simulated/provider';
import { SimulationJournal, type JournalEntry } from '../providers/simulated/journal';
import type {
  ActionContext,
  EvidenceJson,
  EvidenceStore,
  PreservedArtifact,
  Provider,
} from '../providers/types';
import { RecordingEvidenceSink } from '../test/harness/evidence';
import { incidentInput, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { loadAverage, processCpuSeconds } from './lib/machine';
import { startStack, startWorker, type BenchStack } from './lib/stack';
import { summarize, type Summary } from './lib/stats';

export type Shape = 'forEach' | 'per-step';
export type Wiring = 'engine only' | 'production';

export interface HistoryFigures {
  events: number;
  /** The forEach step's own events: its item resolution, its batches, the workflow tasks that took their results. */
  stepEvents?: number;
  /** `executeItems` activities (forEach) or `executeStep` ones (per-step). */
  activities: number;
  /** The history as JSON, for scale, and its largest event (payloads are base64 in JSON: about 4/3 of their bytes). */
  jsonBytes: number;
  largestEvent: { kind: string; jsonBytes: number };
  /** Each batch activity: scheduled → started and started → completed (ms, server clock). */
  batches: { waitMs: number; runMs: number }[];
  /** ms after the workflow started (server clock): the step's item resolution and its first and last batch. */
  milestones: {
    resolveScheduled: number;
    resolveCompleted: number;
    firstBatchStarted: number;
    lastBatchCompleted: number;
  };
  /** Events by kind (`activityTaskScheduled`: 6, …). */
  byKind: Record<string, number>;
}

export interface FanOutRun {
  shape: Shape;
  wiring: Wiring;
  items: number;
  /** 1-based, per shape, wiring and size. */
  run: number;
  idealMs: number;
  rotationsMs: number;
  /** startIncident called → the first provider call entered. */
  firstCallMs: number;
  stepDoneMs: number;
  closedMs: number;
  succeeded: number;
  peakInFlight: number;
  history: HistoryFigures;
  /** Whether the worker's `preserveIncidentRecord` put the incident's history in the evidence store. */
  historyPreserved: boolean;
  /** Per item, in the worker: the provider call, and for production its journal and vault parts. */
  perItem: {
    providerMs: Summary;
    recordMs: Summary;
    journalLookupMs?: Summary;
    journalAppendMs?: Summary;
  };
  /**
   * CPU seconds from the start to the incident's result: this process (worker, vault, client), the server, and
   * everything else on the machine (other sessions' tests); `available`: that wall time × the machine's cores.
   */
  cpu: { bench: number; server: number; others: number; available: number };
  /** 1-minute / 5-minute / 15-minute load average when the run started and when it ended. */
  load: { start: string; end: string };
  /** How long the run waited for a quiet machine, and the cores busy just before it started. */
  quiet: { waitedMs: number; busyCores: number };
}

export interface FanOutResult {
  items: number;
  large: number;
  latencyMs: number;
  concurrency: number;
  runs: FanOutRun[];
}

const STEP_ID = 'rotate-each';

/** One `forEach` step over `keys`, no approval: started directly (the validator would want an owner's approval). */
export function forEachRunbook(keys: string[], concurrency: number): Runbook {
  return {
    id: 'bench-for-each',
    title: `Rotate ${keys.length} credentials`,
    steps: [
      {
        id: STEP_ID,
        title: 'Rotate each credential',
        phase: 'rotate-credentials',
        action: 'issuer.rotateCredential',
        params: { ref: '{{credential.ref}}', destinations: '{{credential.destinations}}' },
        forEach: { items: keys, concurrency, approval: 'per-owner-batch', onItemFailure: 'continue' },
        after: [],
        owner: 'iam',
        approval: { policy: 'none', deadline: '15m' },
        reversible: false,
        timeout: '30s',
        retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
        onFailure: 'continue',
      },
    ],
  };
}

/** The shape before `forEach`: one step (one activity) per rotation. */
export function perStepRunbook(calls: number): Runbook {
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

/** `count` credentials the worker's inventory knows, each with its own issuer account and owner iam. */
export function benchInventory(count: number): { inventory: Inventory; keys: string[] } {
  const credentials = Array.from({ length: count }, (_, index) => ({
    id: `bench-cred-${String(index + 1).padStart(5, '0')}`,
    kind: 'generic',
    issuer: `simulated:service-account-${index + 1}`,
    owners: ['iam'],
  }));
  const validated = validateInventory({ credentials }, { providers: PROVIDER_DIRECTORY });
  if (!validated.ok) throw new Error(`bench inventory: ${JSON.stringify(validated.issues.slice(0, 3))}`);
  return { inventory: validated.inventory, keys: credentials.map((credential) => credential.id) };
}

class Timings {
  readonly values: number[] = [];
  reset(): void {
    this.values.length = 0;
  }
  async time<T>(work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.values.push(performance.now() - t0);
    }
  }
}

/** The production journal class, timed: what the simulated issuer spends on its idempotency lookup and its append. */
class TimedJournal extends SimulationJournal {
  readonly lookups = new Timings();
  readonly appends = new Timings();
  reset(): void {
    this.lookups.reset();
    this.appends.reset();
  }
  override append(entry: JournalEntry): Promise<void> {
    return this.appends.time(() => super.append(entry));
  }
  override findApplied(idempotencyKey: string, action: string): Promise<JournalEntry | undefined> {
    return this.lookups.time(() => super.findApplied(idempotencyKey, action));
  }
}

/** The evidence store the worker gets, noting when each item's action record returned (the item's last act). */
class TimedEvidence implements EvidenceStore {
  readonly records = new Timings();
  lastActionAt = Number.NaN;
  /** Incidents whose Temporal history the worker preserved at close (`preserveIncidentRecord`). */
  readonly historiesPreserved = new Set<string>();
  constructor(private readonly inner: EvidenceStore) {}
  reset(): void {
    this.records.reset();
    this.lastActionAt = Number.NaN;
  }
  preserve(input: Parameters<EvidenceStore['preserve']>[0]): Promise<PreservedArtifact> {
    return this.inner.preserve(input);
  }
  async recordEvent(
    incidentId: string,
    event: { kind: string; stepId?: string; data: EvidenceJson },
  ): Promise<PreservedArtifact> {
    if (event.kind !== 'action') {
      const stored = await this.inner.recordEvent(incidentId, event);
      if (event.kind === 'temporal-history') this.historiesPreserved.add(incidentId);
      return stored;
    }
    const stored = await this.records.time(() => this.inner.recordEvent(incidentId, event));
    this.lastActionAt = performance.now();
    return stored;
  }
}

class Calls {
  current = 0;
  peak = 0;
  firstAt = Number.NaN;
  readonly durations = new Timings();
  reset(): void {
    this.current = 0;
    this.peak = 0;
    this.firstAt = Number.NaN;
    this.durations.reset();
  }
  async track<T>(work: () => Promise<T>): Promise<T> {
    if (Number.isNaN(this.firstAt)) this.firstAt = performance.now();
    this.current += 1;
    this.peak = Math.max(this.peak, this.current);
    try {
      return await this.durations.time(work);
    } finally {
      this.current -= 1;
    }
  }
}

interface Setup {
  registry: ProviderRegistry;
  evidence: TimedEvidence;
  journal: TimedJournal;
  calls: Calls;
  /** The production issuer's latency, as a simulated fault; the engine-only issuer sleeps by itself. */
  faults?: Record<string, SimulatedFaultSpec>;
}

function setUp(stack: BenchStack, name: string, wiring: Wiring, latencyMs: number): Setup {
  // A journal per run, so no run pays for the entries of the one before.
  const journal = new TimedJournal(join(stack.dataDir, 'simulated', `${name}.jsonl`));
  const base = createSimulatedProvider('simulated', { catalog: PROVIDER_CATALOGS.simulated, journal });
  const calls = new Calls();
  const rotate = base.actions.rotateCredential;
  const issuer: Provider = {
    ...base,
    actions: {
      ...base.actions,
      rotateCredential: (params: unknown, ctx: ActionContext) =>
        calls.track(async () => {
          if (wiring === 'production') return rotate(params, ctx);
          await sleep(latencyMs, undefined, { signal: ctx.signal });
          return { summary: { simulated: true } };
        }),
    },
  };
  return {
    registry: createProviderRegistry({ real: [issuer], journal }),
    evidence: new TimedEvidence(wiring === 'production' ? stack.evidence : new RecordingEvidenceSink()),
    journal,
    calls,
    faults: wiring === 'production' ? { 'simulated.rotateCredential': { latencyMs } } : undefined,
  };
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** `activityTaskScheduled` for an ActivityTaskScheduled event, and so on. */
function kindOf(event: HistoryEvent): string {
  const [key] = Object.entries(event).find(
    ([name, value]) => name.endsWith('EventAttributes') && value !== null && value !== undefined,
  ) ?? ['?'];
  return key.replace(/EventAttributes$/, '');
}

function historyFigures(history: History, shape: Shape): HistoryFigures {
  const events = history.events ?? [];
  const kinds = events.map(kindOf);
  const activityType = new Map<number, string>();
  const scheduledAt = new Map<number, number>();
  const startedAt = new Map<number, number>();
  const batches: HistoryFigures['batches'] = [];
  let firstOfStep: number | undefined;
  let lastBatchDone: number | undefined;
  const origin = events[0]?.eventTime ? tsToMs(events[0].eventTime) : Number.NaN;
  const milestones = {
    resolveScheduled: Number.NaN,
    resolveCompleted: Number.NaN,
    firstBatchStarted: Number.NaN,
    lastBatchCompleted: Number.NaN,
  };
  events.forEach((event, index) => {
    const id = Number(event.eventId);
    const at = event.eventTime ? tsToMs(event.eventTime) : Number.NaN;
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '?';
      activityType.set(id, type);
      scheduledAt.set(id, at);
      if (type === 'resolveForEachItems') {
        firstOfStep ??= index;
        milestones.resolveScheduled = at - origin;
      }
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const of = Number(started.scheduledEventId);
      startedAt.set(of, at);
      if (activityType.get(of) === 'executeItems' && Number.isNaN(milestones.firstBatchStarted))
        milestones.firstBatchStarted = at - origin;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const of = Number(completed.scheduledEventId);
      if (activityType.get(of) === 'resolveForEachItems') milestones.resolveCompleted = at - origin;
      if (activityType.get(of) === 'executeItems') {
        lastBatchDone = index;
        milestones.lastBatchCompleted = at - origin;
        batches.push({ waitMs: startedAt.get(of)! - scheduledAt.get(of)!, runMs: at - startedAt.get(of)! });
      }
    }
  });
  const byKind: Record<string, number> = {};
  for (const kind of kinds) byKind[kind] = (byKind[kind] ?? 0) + 1;
  const largestEvent = { kind: 'none', jsonBytes: 0 };
  events.forEach((event, index) => {
    const bytes = Buffer.byteLength(historyToJSON({ events: [event] }));
    if (bytes > largestEvent.jsonBytes) Object.assign(largestEvent, { kind: kinds[index], jsonBytes: bytes });
  });
  let stepEvents: number | undefined;
  if (firstOfStep !== undefined && lastBatchDone !== undefined) {
    const taskDone = kinds.indexOf('workflowTaskCompleted', lastBatchDone);
    stepEvents = (taskDone === -1 ? lastBatchDone : taskDone) - firstOfStep + 1;
  }
  const wanted = shape === 'forEach' ? 'executeItems' : 'executeStep';
  return {
    events: events.length,
    ...(stepEvents !== undefined ? { stepEvents } : {}),
    activities: [...activityType.values()].filter((type) => type === wanted).length,
    jsonBytes: Buffer.byteLength(historyToJSON(history)),
    largestEvent,
    batches,
    milestones,
    byKind,
  };
}

/** CPU seconds the whole machine has been busy (every core, user + system), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq (steal, guest: not this machine's work).
  const busy = fields
    .slice(0, 7)
    .reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  return busy / 100;
}

/** Cores busy on the whole machine over `ms` (between runs the bench itself is idle: that is everyone else). */
async function machineBusyCores(ms: number): Promise<number> {
  const before = machineBusySeconds();
  await sleep(ms);
  return (machineBusySeconds() - before) / (ms / 1000);
}

/**
 * Waits, up to `maxMs`, for the machine to be quiet (other sessions' tests share it): less than QUIET_CORES busy
 * over QUIET_SAMPLE_MS. Returns how long it waited and how busy the machine was when the run started.
 */
async function awaitQuiet(maxMs: number): Promise<{ waitedMs: number; busyCores: number }> {
  const t0 = Date.now();
  for (;;) {
    const busyCores = await machineBusyCores(QUIET_SAMPLE_MS);
    if (busyCores < QUIET_CORES || Date.now() - t0 >= maxMs) return { waitedMs: Date.now() - t0, busyCores };
  }
}

const QUIET_CORES = 0.3;
const QUIET_SAMPLE_MS = 2_000;

/** What the bench's history reader accepts in one gRPC message (the default is 4 MiB). */
const HISTORY_MESSAGE_LIMIT = 256 * 1024 * 1024;

/** Items of the warm-up incident each worker runs before the measured one. */
const WARM_UP_ITEMS = 20;

async function runIncident(
  stack: BenchStack,
  taskQueue: string,
  runbook: Runbook,
  setup: Setup,
): Promise<void> {
  const input = incidentInput(runbook, {}, setup.faults ? { faults: setup.faults } : undefined);
  await startIncident(stack.temporal.client, taskQueue, input, TEST_GATEWAY_KEY.privateKey);
  await stack.temporal.client.workflow.getHandle(input.context.incident.id).result();
}

interface Options {
  /** Items of the main fan-out (500). */
  items: number;
  /** Items of the run that shows how cost grows (5,000); 0: none. */
  large: number;
  latencyMs: number;
  concurrency: number;
  /** Runs of each configuration. */
  runs: number;
  /** Also the shape before `forEach`, one activity per step (about a minute per run: the incident closes slowly). */
  perStep: boolean;
  /** Also the production wiring for the large run. */
  largeProduction: boolean;
  /** How long each run may wait for the machine to be quiet before it starts anyway. */
  quietMs: number;
}

async function fanOutRun(
  stack: BenchStack,
  historyClient: Client,
  spec: { shape: Shape; wiring: Wiring; items: number; run: number },
  options: Options,
  inventories: Map<number, { inventory: Inventory; keys: string[] }>,
): Promise<FanOutRun> {
  const name = `${spec.shape}-${spec.wiring}-${spec.items}-${spec.run}`.replace(/\W+/g, '-');
  const setup = setUp(stack, name, spec.wiring, options.latencyMs);
  const taskQueue = `bench-fanout-${name}`;
  let runbook: Runbook;
  let warmUp: Runbook;
  let inventory: Inventory | undefined;
  if (spec.shape === 'forEach') {
    const known = inventories.get(spec.items) ?? benchInventory(spec.items);
    inventories.set(spec.items, known);
    inventory = known.inventory;
    runbook = forEachRunbook(known.keys, options.concurrency);
    warmUp = forEachRunbook(known.keys.slice(0, WARM_UP_ITEMS), options.concurrency);
  } else {
    runbook = perStepRunbook(spec.items);
    warmUp = perStepRunbook(WARM_UP_ITEMS);
  }
  const worker = await startWorker({
    stack,
    taskQueue,
    registry: setup.registry,
    evidence: setup.evidence,
    inventory,
    // Per-step: the limit is the worker's activity slots. forEach: the step's own `concurrency`, the worker as shipped.
    ...(spec.shape === 'per-step' ? { maxConcurrentActivityTaskExecutions: options.concurrency } : {}),
  });
  try {
    // A long-running worker has its workflow context loaded: the first incident on a new worker would pay for it.
    await runIncident(stack, taskQueue, warmUp, setup);
    for (const part of [setup.calls, setup.evidence, setup.journal]) part.reset();
    const quiet = await awaitQuiet(options.quietMs);
    const loadAtStart = loadAverage();
    const input: IncidentInput = incidentInput(
      runbook,
      {},
      setup.faults ? { faults: setup.faults } : undefined,
    );
    const handle = stack.temporal.client.workflow.getHandle(input.context.incident.id);
    const serverPid = stack.temporal.server.pid;
    const cpuBefore = {
      bench: processCpuSeconds(process.pid),
      server: processCpuSeconds(serverPid),
      machine: machineBusySeconds(),
    };
    const wallStart = Date.now();
    const t0 = performance.now();
    await startIncident(stack.temporal.client, taskQueue, input, TEST_GATEWAY_KEY.privateKey);
    const status = (await handle.result()) as IncidentStatus;
    const closedMs = performance.now() - t0;
    const bench = processCpuSeconds(process.pid) - cpuBefore.bench;
    const server = processCpuSeconds(serverPid) - cpuBefore.server;
    const cpu = {
      bench,
      server,
      others: Math.max(0, machineBusySeconds() - cpuBefore.machine - bench - server),
      available: (closedMs / 1000) * cpus().length,
    };
    const lastFinished = Math.max(
      ...status.steps.map((step) => (step.finishedAt ? Date.parse(step.finishedAt) : Number.NaN)),
    );
    const succeeded =
      spec.shape === 'forEach'
        ? Number(status.steps[0].summary?.succeeded ?? 0)
        : status.steps.filter((step) => step.state === 'succeeded').length;
    // Through the bench's own connection: a large fan-out's history outgrows gRPC's default 4 MiB message.
    const history = historyFigures(
      await historyClient.workflow.getHandle(input.context.incident.id).fetchHistory(),
      spec.shape,
    );
    const production = spec.wiring === 'production';
    return {
      ...spec,
      idealMs: (spec.items * options.latencyMs) / options.concurrency,
      rotationsMs: setup.evidence.lastActionAt - t0,
      firstCallMs: setup.calls.firstAt - t0,
      stepDoneMs: lastFinished - wallStart,
      closedMs,
      succeeded,
      peakInFlight: setup.calls.peak,
      history,
      historyPreserved: setup.evidence.historiesPreserved.has(input.context.incident.id),
      perItem: {
        providerMs: summarize(setup.calls.durations.values),
        recordMs: summarize(setup.evidence.records.values),
        ...(production
          ? {
              journalLookupMs: summarize(setup.journal.lookups.values),
              journalAppendMs: summarize(setup.journal.appends.values),
            }
          : {}),
      },
      cpu,
      load: { start: loadAtStart, end: loadAverage() },
      quiet,
    };
  } finally {
    await worker.stop();
  }
}

/** Batch activities' queueing and running times, min–max, in ms. */
export function batchSpread(history: HistoryFigures): string {
  if (history.batches.length === 0) return 'none';
  const span = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} ms`;
  return `waited ${span(history.batches.map((batch) => batch.waitMs))}, ran ${span(history.batches.map((batch) => batch.runMs))}`;
}

export function describeRun(run: FanOutRun): string {
  const ratio = (run.rotationsMs / run.idealMs).toFixed(2);
  return `${run.shape}, ${run.wiring}, ${run.items} items, run ${run.run}: ${(run.rotationsMs / 1000).toFixed(2)} s (${ratio}× ideal), first call ${run.firstCallMs.toFixed(0)} ms, step done ${(run.stepDoneMs / 1000).toFixed(2)} s, closed ${(run.closedMs / 1000).toFixed(2)} s, ${run.succeeded} ok, ≤ ${run.peakInFlight} in flight, ${run.history.events} events (step ${run.history.stepEvents ?? 'n/a'}), ${run.history.activities} activities; per item: provider ${run.perItem.providerMs.mean.toFixed(1)} ms, record ${run.perItem.recordMs.mean.toFixed(2)} ms (p99 ${run.perItem.recordMs.p99.toFixed(1)})${run.perItem.journalLookupMs ? `, journal lookup ${run.perItem.journalLookupMs.mean.toFixed(2)} ms, append ${run.perItem.journalAppendMs!.mean.toFixed(2)} ms` : ''}; largest event ${run.history.largestEvent.kind} ${(run.history.largestEvent.jsonBytes / 1024).toFixed(0)} KiB, history ${(run.history.jsonBytes / 1024).toFixed(0)} KiB${run.historyPreserved ? '' : ' NOT preserved by the worker'}; batches ${batchSpread(run.history)}; milestones ${JSON.stringify(run.history.milestones, (_, value: unknown) => (typeof value === 'number' ? Math.round(value) : value))}; CPU s bench ${run.cpu.bench.toFixed(2)}, server ${run.cpu.server.toFixed(2)}, others ${run.cpu.others.toFixed(2)} of ${run.cpu.available.toFixed(2)}; load ${run.load.start} → ${run.load.end}; waited ${(run.quiet.waitedMs / 1000).toFixed(0)} s for ${run.quiet.busyCores.toFixed(2)} busy cores`;
}

export async function benchFanOut(
  options: Options,
  progress: (line: string) => void = () => undefined,
): Promise<FanOutResult> {
  const stack = await startStack();
  const inventories = new Map<number, { inventory: Inventory; keys: string[] }>();
  const historyConnection = await Connection.connect({
    address: stack.temporal.address,
    channelArgs: { 'grpc.max_receive_message_length': HISTORY_MESSAGE_LIMIT },
  });
  const historyClient = new Client({ connection: historyConnection, namespace: 'default' });
  try {
    const specs: { shape: Shape; wiring: Wiring; items: number }[] = [];
    // Alternated, so a burst of outside load does not fall on one configuration only.
    for (let run = 1; run <= options.runs; run += 1) {
      specs.push({ shape: 'forEach', wiring: 'engine only', items: options.items });
      specs.push({ shape: 'forEach', wiring: 'production', items: options.items });
      if (options.perStep) {
        specs.push({ shape: 'per-step', wiring: 'engine only', items: options.items });
        specs.push({ shape: 'per-step', wiring: 'production', items: options.items });
      }
    }
    if (options.large > 0) {
      for (let run = 1; run <= options.runs; run += 1) {
        specs.push({ shape: 'forEach', wiring: 'engine only', items: options.large });
        if (options.largeProduction)
          specs.push({ shape: 'forEach', wiring: 'production', items: options.large });
      }
    }
    const runs: FanOutRun[] = [];
    for (const spec of specs) {
      const run = runs.filter(
        (done) => done.shape === spec.shape && done.wiring === spec.wiring && done.items === spec.items,
      ).length;
      const result = await fanOutRun(stack, historyClient, { ...spec, run: run + 1 }, options, inventories);
      progress(describeRun(result));
      runs.push(result);
    }
    return {
      items: options.items,
      large: options.large,
      latencyMs: options.latencyMs,
      concurrency: options.concurrency,
      runs,
    };
  } finally {
    await historyConnection.close();
    await stack.stop();
  }
}
