/**
 * Tourniquet benchmarks on the real stack (Temporal dev server, production worker, simulated providers).
 * Each figure is measured side by side with its baseline in the same run, and the run prints one table.
 *
 *   npx tsx bench/run.ts                                   # everything (about 5–10 minutes on 2 cores)
 *   npx tsx bench/run.ts --only latency,exercise           # a subset: latency, ingest, concurrency, fanout, exercise, aws
 *   npx tsx bench/run.ts --incidents 200 --concurrent 100 --calls 500 --json bench-results.json
 *   npx tsx bench/run.ts --only fanout --runs 2 --large 5000 --per-step yes   # fan-out: forEach, before it too
 *
 * Everything listens on 127.0.0.1 only; every loop is bounded by its counts. `aws` also starts a moto server
 * (installed on first use, see docs/aws-iam.md).
 */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { benchAws, type AwsResult } from './aws';
import { benchConcurrency, type ConcurrencyResult } from './concurrency';
import { benchExercise, benchExerciseCli, type ExerciseCliResult, type ExerciseResult } from './exercise';
import { benchFanOut, type FanOutResult, type FanOutRun } from './fanout';
import { benchIngest, type IngestResult } from './ingest';
import { benchLatency, type LatencyResult } from './latency';
import { describeMachine, LoadSampler, loadAverage } from './lib/machine';
import { markdownTable, mib, ms, seconds } from './lib/stats';

const BENCHMARKS = ['latency', 'ingest', 'concurrency', 'fanout', 'exercise', 'aws'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const argsSchema = z.object({
  only: z
    .string()
    .default(BENCHMARKS.join(','))
    .transform((value) => value.split(',').map((name) => name.trim()))
    .pipe(z.array(z.enum(BENCHMARKS)).min(1)),
  incidents: z.coerce.number().int().min(10).max(2_000).default(200),
  /** Alerts per one-secret storm, distinct secrets, and the storms' connection counts. */
  alerts: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  secrets: z.coerce.number().int().min(0).max(100_000).default(1_000),
  connections: z
    .string()
    .default('256,1024')
    .transform((value) => value.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(4_096)).min(1)),
  warmup: z.coerce.number().int().min(0).max(100).default(10),
  concurrent: z.coerce.number().int().min(1).max(1_000).default(100),
  /** Fan-out: items of the `forEach` step, and of the run that shows how cost grows (0: none). */
  calls: z.coerce.number().int().min(20).max(10_000).default(500),
  large: z.coerce.number().int().min(0).max(10_000).default(5_000),
  /** Fan-out: runs of each configuration; `yes` adds the large production run and the per-step shape. */
  runs: z.coerce.number().int().min(1).max(10).default(2),
  'large-production': z.enum(['yes', 'no']).default('yes'),
  'per-step': z.enum(['yes', 'no']).default('no'),
  /** Fan-out: seconds each run may wait for other processes to leave the machine quiet. */
  quiet: z.coerce.number().int().min(0).max(3_600).default(120),
  latency: z.coerce.number().int().min(1).max(5_000).default(50),
  /** Leaked AWS key pairs alerted one at a time (each its own IAM user on moto), after `warmup` more. */
  keys: z.coerce.number().int().min(5).max(1_000).default(100),
  limit: z.coerce.number().int().min(1).max(500).default(20),
  scenario: z.string().default('runbooks/exercises/tj-actions-changed-files.yaml'),
  json: z.string().optional(),
});

function parseArgs(argv: string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const value = argv[index + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
    raw[arg.slice(2)] = value;
    index += 1;
  }
  const unknown = Object.keys(raw).filter((key) => !(key in argsSchema.shape));
  if (unknown.length > 0) throw new Error(`unknown option --${unknown[0]}`);
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

interface Results {
  latency?: LatencyResult;
  ingest?: IngestResult;
  concurrency?: { compiled: ConcurrencyResult; source: ConcurrencyResult };
  fanout?: FanOutResult;
  exercise?: ExerciseResult;
  exerciseCli?: ExerciseCliResult;
  aws?: AwsResult;
}

const verdict = (met: boolean) => (met ? 'met' : '**missed**');

/** Fan-out targets (issue 17): the engine path and production wiring against the ideal, history per step. */
const FAN_OUT_TARGET: Record<FanOutRun['wiring'], number> = { 'engine only': 1.25, production: 1.5 };
const FAN_OUT_HISTORY_TARGET = 200;

function fanOutRows(fanout: FanOutResult): string[][] {
  const rows: string[][] = [];
  const { latencyMs, concurrency } = fanout;
  for (const run of fanout.runs) {
    const ratio = run.rotationsMs / run.idealMs;
    // The per-step shape and the large run are for comparison and growth: no target of their own.
    const target =
      run.shape === 'forEach' && run.items === fanout.items ? FAN_OUT_TARGET[run.wiring] : undefined;
    const { perItem, history } = run;
    const parts = [
      `ideal ${seconds(run.idealMs)} (${ratio.toFixed(2)}×)`,
      `first call ${ms(run.firstCallMs)}`,
      `step done ${seconds(run.stepDoneMs)}`,
      `incident closed ${seconds(run.closedMs)}`,
      `${run.succeeded} ok`,
      `≤ ${run.peakInFlight} in flight`,
      `${history.activities} ${run.shape === 'forEach' ? 'batch activities' : 'activities'}`,
      `${history.events.toLocaleString('en')} history events`,
      `record ${ms(perItem.recordMs.mean)}/item`,
      ...(perItem.journalLookupMs && perItem.journalAppendMs
        ? [
            `journal lookup ${ms(perItem.journalLookupMs.mean)} + append ${ms(perItem.journalAppendMs.mean)}/item`,
          ]
        : []),
      ...(run.historyPreserved ? [] : ['**history not preserved by the worker**']),
      `load ${run.load.start.split(' / ')[0]}, other processes ${run.cpu.others.toFixed(1)} of ${run.cpu.available.toFixed(1)} CPU s`,
    ];
    rows.push([
      `4. fan-out ${run.items.toLocaleString('en')} × ${latencyMs} ms, concurrency ${concurrency}: rotations done (${run.shape}, ${run.wiring}, run ${run.run})`,
      seconds(run.rotationsMs),
      parts.join('; '),
      target ? `≤ ${target}× ideal` : '—',
      target ? verdict(ratio <= target) : '—',
    ]);
  }
  const forEachRuns = fanout.runs.filter((run) => run.shape === 'forEach');
  for (const items of [...new Set(forEachRuns.map((run) => run.items))]) {
    const sized = forEachRuns.filter((run) => run.items === items);
    const events = sized.map((run) => run.history.events);
    const stepEvents = sized.map((run) => run.history.stepEvents ?? Number.NaN);
    const range = (values: number[]) =>
      Math.min(...values) === Math.max(...values)
        ? `${Math.max(...values)}`
        : `${Math.min(...values)}–${Math.max(...values)}`;
    const kib = sized.map((run) => run.history.jsonBytes / 1024);
    const onTarget = items === fanout.items;
    rows.push([
      `4. fan-out ${items.toLocaleString('en')} items: history events of the incident (forEach, ${sized.length} runs)`,
      `${range(events)} events (step ${range(stepEvents)})`,
      `${range(sized.map((run) => run.history.activities))} batch activities; history ${Math.min(...kib).toFixed(0)}–${Math.max(...kib).toFixed(0)} KiB as JSON`,
      onTarget ? `≤ ${FAN_OUT_HISTORY_TARGET}` : '—',
      onTarget ? verdict(Math.max(...events) <= FAN_OUT_HISTORY_TARGET) : '—',
    ]);
  }
  return rows;
}

function tableRows(results: Results): string[][] {
  const rows: string[][] = [];
  const { latency, ingest, concurrency, fanout, exercise, exerciseCli, aws } = results;
  if (latency) {
    const { temporal, direct, startReturned } = latency;
    rows.push([
      `1. alert → first containment call, p50 (n=${temporal.n})`,
      ms(temporal.p50),
      `direct ${ms(direct.p50)}; overhead ${ms(temporal.p50 - direct.p50)}; start RPC returned ${ms(startReturned.p50)}`,
      '≤ 25 ms',
      verdict(temporal.p50 <= 25),
    ]);
    rows.push([
      `1. alert → first containment call, p99 (n=${temporal.n})`,
      ms(temporal.p99),
      `direct ${ms(direct.p99)}; overhead ${ms(temporal.p99 - direct.p99)}; max ${ms(temporal.max)}`,
      '≤ 60 ms',
      verdict(temporal.p99 <= 60),
    ]);
  }
  if (ingest) {
    for (const storm of ingest.storms) {
      const { gateway, bare } = storm;
      rows.push([
        `2. ingest: ${ingest.alertsPerStorm.toLocaleString('en')} alerts about one secret, ${storm.concurrency} connections`,
        `${gateway.perSecond.toFixed(0)} alerts/s`,
        `bare node:http + HMAC ${bare.perSecond.toFixed(0)}/s (gateway ${((100 * gateway.perSecond) / bare.perSecond).toFixed(0)}%); p99 ack ${ms(gateway.p99)} (bare ${ms(bare.p99)}); ${storm.updates} Updates`,
        '≥ 3,000/s, gateway/bare ≥ 25%',
        verdict(gateway.perSecond >= 3_000 && gateway.perSecond >= 0.25 * bare.perSecond),
      ]);
      rows.push([
        `2. ingest: incidents and history for that storm`,
        `${storm.incidents} incident, ${storm.historyEvents ?? 'n/a'} events`,
        `${Object.entries(gateway.statuses)
          .map(([status, count]) => `${status}×${count}`)
          .join(' ')}; ${gateway.created} answered "created"`,
        'exactly 1, ≤ 1,000 events',
        verdict(storm.incidents === 1 && gateway.created === 1 && (storm.historyEvents ?? Infinity) <= 1_000),
      ]);
    }
    if (ingest.distinct) {
      const { gateway, bare, incidents, meanHistoryEvents, concurrency, withinSeconds, firstCall } =
        ingest.distinct;
      const burst = `2. burst: ${gateway.alerts.toLocaleString('en')} distinct secrets posted within ${withinSeconds} s, ${concurrency} connections`;
      const answers = Object.entries(gateway.statuses)
        .map(([status, count]) => `${status}×${count}`)
        .join(' ');
      rows.push([
        `${burst}: answers`,
        answers,
        `bare ${Object.entries(bare.statuses)
          .map(([status, count]) => `${status}×${count}`)
          .join(
            ' ',
          )}; p99 ack ${seconds(gateway.p99)} (bare ${ms(bare.p99)}); ${incidents} incidents, ${meanHistoryEvents.toFixed(0)} events/incident (mean); ${ingest.workflows} workflows in all`,
        `202 × ${gateway.alerts}, no 503`,
        verdict(gateway.statuses['202'] === gateway.alerts && incidents === gateway.alerts),
      ]);
      rows.push([
        `${burst}: alert → first containment call, p99`,
        seconds(firstCall.p99),
        `p50 ${seconds(firstCall.p50)}, max ${seconds(firstCall.max)}; ${firstCall.n} incidents measured, ${firstCall.missing} without a call`,
        '≤ 10 s',
        verdict(firstCall.p99 <= 10_000 && firstCall.missing === 0 && firstCall.n === gateway.alerts),
      ]);
      rows.push([
        `${burst}: incidents created per second`,
        `${ingest.distinct.creationPerSecond.toFixed(1)}/s`,
        `"created" answers, first alert sent to the last; posting pace ${(gateway.alerts / withinSeconds).toFixed(0)}/s; Temporal started ${ingest.distinct.started.incidents} incidents for the burst, ${ingest.distinct.started.perSecond.toFixed(1)}/s`,
        '≥ 50/s',
        verdict(ingest.distinct.creationPerSecond >= 50),
      ]);
    }
  }
  if (concurrency) {
    const { compiled, source } = concurrency;
    rows.push([
      `3. ${compiled.incidents} incidents at once: all completed (compiled worker)`,
      seconds(compiled.allCompletedMs),
      `from source ${seconds(source.allCompletedMs)}; 1 incident alone ${seconds(compiled.singleMs)}; ${compiled.completed}/${compiled.incidents} completed; CPU s worker ${compiled.cpu.worker.toFixed(0)} (source ${source.cpu.worker.toFixed(0)}), server ${compiled.cpu.server.toFixed(0)}`,
      '—',
      '—',
    ]);
    rows.push([
      '3. worker peak RSS (VmHWM, compiled `tourniquet worker`)',
      mib(compiled.peakHwmKiB),
      `from source (tsx) ${mib(source.peakHwmKiB)}`,
      '≤ 300 MiB',
      verdict(compiled.peakHwmKiB <= 300 * 1024),
    ]);
    rows.push([
      '3. worker idle RSS (after one incident, compiled)',
      mib(compiled.idleRssKiB),
      `from source (tsx) ${mib(source.idleRssKiB)}`,
      '≤ 150 MiB',
      verdict(compiled.idleRssKiB <= 150 * 1024),
    ]);
  }
  if (fanout) {
    rows.push(...fanOutRows(fanout));
  }
  if (exerciseCli) {
    const { speed, engineWallMs, processWallMs, scenarioTime, state } = exerciseCli;
    rows.push([
      `5a. \`tourniquet exercise run ${exerciseCli.scenario.split('/').pop()}\` (${state}, ${scenarioTime} of scenario at ${speed}×)`,
      seconds(processWallMs),
      `scenario part ${seconds(engineWallMs ?? Number.NaN)}; 4 h at ${speed}× is ${seconds(14_400_000 / (speed ?? 1))}; exit ${exerciseCli.exitCode}`,
      '≤ 30 s',
      verdict(processWallMs <= 30_000 && exerciseCli.exitCode === 0),
    ]);
  }
  if (exercise) {
    rows.push([
      `5b. 4-hour exercise at ${exercise.speed}× (${exercise.state})`,
      seconds(exercise.wallMs),
      `ideal ${seconds(exercise.idealMs)}; overhead ${seconds(exercise.wallMs - exercise.idealMs)}; ${exercise.approvals} approvals, ${exercise.breakGlass} break-glass`,
      '≤ 30 s',
      verdict(exercise.wallMs <= 30_000 && exercise.state === 'completed'),
    ]);
  }
  if (aws) {
    const { temporal, direct, acked, activity } = aws;
    rows.push([
      `6. alert → AWS key deactivated on moto, p50 (n=${temporal.n})`,
      ms(temporal.p50),
      `direct SDK UpdateAccessKey ${ms(direct.p50)}; overhead ${ms(temporal.p50 - direct.p50)}; gateway answered 202 at ${ms(acked.p50)}; deactivation step's own calls ${ms(activity.p50)}`,
      '—',
      '—',
    ]);
    rows.push([
      `6. alert → AWS key deactivated on moto, p99 (n=${temporal.n})`,
      ms(temporal.p99),
      `direct SDK UpdateAccessKey ${ms(direct.p99)}; overhead ${ms(temporal.p99 - direct.p99)}; max ${ms(temporal.max)}`,
      '—',
      '—',
    ]);
  }
  return rows;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const load = new LoadSampler();
  const started = new Date();
  process.stderr.write(`machine: ${describeMachine()}; load average at start ${loadAverage()}\n`);
  const results: Results = {};
  const run = async <T>(name: Benchmark, bench: () => Promise<T>): Promise<T | undefined> => {
    if (!args.only.includes(name)) return undefined;
    const t0 = Date.now();
    process.stderr.write(`running ${name}…\n`);
    const result = await bench();
    process.stderr.write(`${name} done in ${seconds(Date.now() - t0)} (load ${loadAverage()})\n`);
    return result;
  };
  results.latency = await run('latency', () =>
    benchLatency({ incidents: args.incidents, warmup: args.warmup }),
  );
  results.ingest = await run('ingest', () =>
    benchIngest({ alerts: args.alerts, secrets: args.secrets, concurrency: args.connections }, (line) =>
      process.stderr.write(`${line}\n`),
    ),
  );
  results.concurrency = await run('concurrency', async () => ({
    compiled: await benchConcurrency({ incidents: args.concurrent, compiled: true }),
    source: await benchConcurrency({ incidents: args.concurrent, compiled: false }),
  }));
  results.fanout = await run('fanout', () =>
    benchFanOut(
      {
        items: args.calls,
        large: args.large,
        latencyMs: args.latency,
        concurrency: args.limit,
        runs: args.runs,
        perStep: args['per-step'] === 'yes',
        largeProduction: args['large-production'] === 'yes',
        quietMs: args.quiet * 1000,
      },
      (line) => process.stderr.write(`${line}\n`),
    ),
  );
  results.exerciseCli = await run('exercise', () => benchExerciseCli(args.scenario));
  results.exercise = await run('exercise', () => benchExercise());
  results.aws = await run('aws', () => benchAws({ alerts: args.keys, warmup: args.warmup }));
  const loadDuringRun = load.stop();

  const table = markdownTable(
    ['benchmark', 'measured', 'baseline and detail (same run)', 'target', 'verdict'],
    tableRows(results),
  );
  process.stdout.write(
    [
      '',
      `Tourniquet benchmarks, ${started.toISOString()}`,
      `machine: ${describeMachine()}`,
      `1-min load average during the run: min ${loadDuringRun.min.toFixed(1)}, mean ${loadDuringRun.mean.toFixed(1)}, max ${loadDuringRun.max.toFixed(1)} (${describeMachine().split(' ')[0]} vCPU)`,
      '',
      table,
      '',
    ].join('\n'),
  );
  if (args.json) {
    writeFileSync(
      args.json,
      `${JSON.stringify({ started, machine: describeMachine(), load: loadDuringRun, args, results }, null, 2)}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
