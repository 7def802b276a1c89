/**
 * Profile of the workflow thread under a burst of new incidents (issue 18).
 *
 *   npx tsx bench/profile-first-task.ts [--incidents 200] [--out /tmp/dir] [--approvals off|on] [--top 25]
 *
 * Starts the stack (bench/lib/stack.ts), runs one `tourniquet worker` child process (test runbooks trusted, as
 * bench/concurrency.ts does) with `--cpu-prof`, which profiles every thread of the process, the workflow worker
 * thread included (one .cpuprofile per thread), warms it up with one incident, then starts `--incidents`
 * incidents of the default runbook at once. With approvals off (default) it waits until every incident completed;
 * with approvals on, until every incident has had its first workflow task completed and nothing is in flight.
 * The worker then stops on SIGTERM, so each thread writes its profile, and this prints:
 *  - the burst's incidents/s, and each incident's workflow tasks (WorkflowTaskStarted → Completed, from history);
 *  - workflow-thread CPU per incident (samples that are not idle, over every incident the worker ran);
 *  - the top frames by self time and the top files/modules by inclusive time, workflow bundle frames mapped back
 *    to their source files through the bundle's inline source map.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceMapConsumer } from 'source-map';
import { temporal } from '@temporalio/proto';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { startIncident } from '../client';
import { incidentInput, runbookById, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { withoutApprovals } from '../test/harness/owners';
import { workflowBundlePath } from '../test/harness/temporal';
import { killProcess, spawnWorkerProcess } from '../test/harness/worker';
import { loadAverage, processCpuSeconds } from './lib/machine';
import { SIMULATED_ONLY_ENV, startStack, type BenchStack } from './lib/stack';
import { markdownTable, ms, summarize } from './lib/stats';

const TASK_QUEUE = 'bench-profile';
const ROOT = join(__dirname, '..');
const EventType = temporal.api.enums.v1.EventType;

interface Args {
  incidents: number;
  out: string;
  approvals: boolean;
  top: number;
  /** Only summarise the profiles already in this directory. */
  analyze?: string;
  /** A workflow bundle to run instead of the current sources' (an A/B against an earlier build). */
  bundle?: string;
}

function parseArgs(argv: string[]): Args {
  const raw = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 2) {
    if (!argv[index].startsWith('--') || argv[index + 1] === undefined)
      throw new Error(`bad argument ${argv[index]}`);
    raw.set(argv[index].slice(2), argv[index + 1]);
  }
  const known = new Set(['incidents', 'out', 'approvals', 'top', 'analyze', 'bundle']);
  for (const key of raw.keys()) if (!known.has(key)) throw new Error(`unknown option --${key}`);
  const incidents = Number(raw.get('incidents') ?? 200);
  if (!Number.isInteger(incidents) || incidents < 1 || incidents > 2_000)
    throw new Error('--incidents: 1..2000');
  return {
    incidents,
    out: raw.get('out') ?? mkdtempSync(join(tmpdir(), 'tourniquet-cpuprof-')),
    approvals: raw.get('approvals') === 'on',
    top: Number(raw.get('top') ?? 25),
    analyze: raw.get('analyze'),
    bundle: raw.get('bundle'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The burst

interface TaskTiming {
  incidentId: string;
  /** WorkflowTaskStarted → Completed of each workflow task, ms (server clock; includes the round trip). */
  tasks: number[];
  /** From the burst's start to the incident's first WorkflowTaskCompleted, ms (wall clock). */
  firstTaskDoneMs: number;
}

async function waitForFirstTasks(stack: BenchStack, ids: string[]): Promise<void> {
  const pending = new Set(ids);
  const deadline = Date.now() + 300_000;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const id of [...pending]) {
      const { raw } = await stack.temporal.client.workflow.getHandle(id).describe();
      const started = Number(raw.workflowExecutionInfo?.historyLength ?? 0) > 3;
      if (started && !raw.pendingWorkflowTask && (raw.pendingActivities ?? []).length === 0)
        pending.delete(id);
    }
    if (pending.size > 0) await sleep(500);
  }
  if (pending.size > 0) throw new Error(`${pending.size} incidents did not settle`);
}

async function taskTimings(stack: BenchStack, ids: string[], t0Wall: number): Promise<TaskTiming[]> {
  const millis = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
  return Promise.all(
    ids.map(async (incidentId) => {
      const history = await stack.temporal.client.workflow.getHandle(incidentId).fetchHistory();
      const tasks: number[] = [];
      let startedAt: number | undefined;
      let firstTaskDoneMs = Number.NaN;
      for (const event of history.events ?? []) {
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
          startedAt = millis(event.eventTime);
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && startedAt !== undefined) {
          const done = millis(event.eventTime);
          tasks.push(done - startedAt);
          if (Number.isNaN(firstTaskDoneMs)) firstTaskDoneMs = done - t0Wall;
          startedAt = undefined;
        }
      }
      return { incidentId, tasks, firstTaskDoneMs };
    }),
  );
}

/** CPU seconds (user + system) each thread of a process has used so far, from /proc/<pid>/task/<tid>/stat. */
function threadCpuSeconds(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

function threadDeltas(
  before: Map<number, { name: string; seconds: number }>,
  after: Map<number, { name: string; seconds: number }>,
): { tid: number; name: string; seconds: number }[] {
  return [...after.entries()]
    .map(([tid, { name, seconds }]) => ({ tid, name, seconds: seconds - (before.get(tid)?.seconds ?? 0) }))
    .sort((a, b) => b.seconds - a.seconds);
}

// ---------------------------------------------------------------------------------------------------------------
// The profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

/** Where a frame's code comes from: a repo file, `pkg:<name>` for node_modules, or node's own. */
function moduleOf(url: string): string {
  if (!url) return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (inModules) return `pkg:${inModules[1]}`;
  if (path.startsWith('node:')) return path;
  if (path.startsWith('/')) return relative(ROOT, path);
  return path;
}

interface Mapped {
  name: string;
  module: string;
  location: string;
}

class FrameMapper {
  private readonly cache = new Map<number, Mapped>();

  constructor(
    private readonly bundleFile: string | undefined,
    private readonly consumer: SourceMapConsumer | undefined,
  ) {}

  map(node: ProfileNode): Mapped {
    const hit = this.cache.get(node.id);
    if (hit) return hit;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    let mapped: Mapped = {
      name: functionName || '(anonymous)',
      module: moduleOf(url),
      location: url ? `${basename(url)}:${lineNumber + 1}` : '',
    };
    if (this.consumer && this.bundleFile && url.endsWith(this.bundleFile)) {
      const pos = this.consumer.originalPositionFor({ line: lineNumber + 1, column: columnNumber });
      if (pos.source) {
        const source = pos.source.replace(/^webpack:\/\/[^/]*\//, '/');
        mapped = {
          name: functionName || pos.name || '(anonymous)',
          module: `wf:${moduleOf(source)}`,
          location: `${basename(source)}:${pos.line}`,
        };
      }
    }
    this.cache.set(node.id, mapped);
    return mapped;
  }
}

interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  gcMs: number;
  self: { key: string; ms: number }[];
  inclusive: { module: string; ms: number }[];
}

function summariseProfile(file: string, profile: CpuProfile, mapper: FrameMapper): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfMs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index += 1) {
    // timeDeltas[i] is the time since the previous sample; sample i stands for the interval that follows it.
    const delta = (profile.timeDeltas[index + 1] ?? 0) / 1000;
    selfMs.set(profile.samples[index], (selfMs.get(profile.samples[index]) ?? 0) + delta);
  }
  let busyMs = 0;
  let gcMs = 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of selfMs) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(garbage collector)') gcMs += time;
    if (name === '(idle)' || name === '(program)') continue;
    busyMs += time;
    const mapped = IDLE.has(name) ? { name, module: '(vm)', location: '' } : mapper.map(node);
    const key = `${mapped.name}  ${mapped.module} ${mapped.location}`;
    self.set(key, (self.get(key) ?? 0) + time);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!;
      if (frame.callFrame.functionName === '(root)') continue;
      const module = IDLE.has(frame.callFrame.functionName) ? '(vm)' : mapper.map(frame).module;
      if (seen.has(module)) continue;
      seen.add(module);
      inclusive.set(module, (inclusive.get(module) ?? 0) + time);
    }
  }
  const sorted = <K extends string>(map: Map<string, number>, key: K) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, time]) => ({ [key]: name, ms: time }) as Record<K, string> & { ms: number });
  return {
    file,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    busyMs,
    gcMs,
    self: sorted(self, 'key'),
    inclusive: sorted(inclusive, 'module'),
  };
}

async function bundleSourceMap(
  bundlePath: string,
): Promise<{ consumer: SourceMapConsumer | undefined; file: string }> {
  const code = readFileSync(bundlePath, 'utf8');
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  if (at < 0) return { consumer: undefined, file: basename(bundlePath) };
  const base64 = code.slice(code.indexOf('base64,', at) + 'base64,'.length).trimEnd();
  const map = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as { file?: string };
  return { consumer: await new SourceMapConsumer(map as never), file: basename(map.file ?? bundlePath) };
}

/** The report of every .cpuprofile in `dir`, the workflow thread's first. */
async function profileReport(
  dir: string,
  bundlePath: string,
  incidentsRun: number,
  top: number,
): Promise<string[]> {
  const out: string[] = [];
  // The worker names the bundle after its source map's `file` (it is loaded from code, not from a path).
  const { consumer, file: bundleFile } = await bundleSourceMap(bundlePath);
  const files = readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'));
  const summaries = files.map((file) => {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const isWorkflowThread = profile.nodes.some((node) => node.callFrame.url.endsWith(bundleFile));
    return {
      isWorkflowThread,
      summary: summariseProfile(file, profile, new FrameMapper(bundleFile, consumer)),
    };
  });

  for (const { isWorkflowThread, summary } of summaries.sort(
    (a, b) => Number(b.isWorkflowThread) - Number(a.isWorkflowThread),
  )) {
    out.push('');
    out.push(
      `### ${isWorkflowThread ? 'Workflow thread' : 'Other thread'} ${summary.file}: busy ${ms(summary.busyMs)} of ${ms(summary.totalMs)} (GC ${ms(summary.gcMs)})` +
        (isWorkflowThread
          ? ` → ${ms(summary.busyMs / incidentsRun)} workflow-thread CPU per incident (${incidentsRun} incidents)`
          : ''),
    );
    const rows = isWorkflowThread ? top : Math.min(top, 15);
    out.push('');
    out.push(
      markdownTable(
        ['self ms', '%', 'frame'],
        summary.self
          .slice(0, rows)
          .map((row) => [row.ms.toFixed(0), ((100 * row.ms) / summary.busyMs).toFixed(1), row.key]),
      ),
    );
    out.push('');
    out.push(
      markdownTable(
        ['inclusive ms', '%', 'module / file'],
        summary.inclusive
          .slice(0, rows)
          .map((row) => [row.ms.toFixed(0), ((100 * row.ms) / summary.busyMs).toFixed(1), row.module]),
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.analyze) {
    // Summarise the profiles of an earlier run (same workflow sources, so the same bundle and source map).
    const report = await profileReport(
      args.analyze,
      await workflowBundlePath(),
      args.incidents + 1,
      args.top,
    );
    process.stdout.write(`${report.join('\n')}\n`);
    return;
  }
  const loadBefore = loadAverage();
  const shipped = runbookById('leaked-workflow-secret');
  const runbook: Runbook = args.approvals ? shipped : withoutApprovals(shipped);
  const stack = await startStack();
  const child = await spawnWorkerProcess(
    {
      TEMPORAL_ADDRESS: stack.temporal.address,
      TOURNIQUET_DATA_DIR: stack.dataDir,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      TOURNIQUET_LOG_LEVEL: 'error',
      ...SIMULATED_ONLY_ENV,
      ...(args.bundle ? { TOURNIQUET_WORKFLOW_BUNDLE: args.bundle } : {}),
    },
    { runbooks: [runbook], nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${args.out}`] },
  );
  const { client } = stack.temporal;
  const burst = async (count: number) => {
    const inputs = Array.from({ length: count }, () => incidentInput(runbook));
    const ids = inputs.map((input) => input.context.incident.id);
    const t0Wall = Date.now();
    const t0 = performance.now();
    await Promise.all(
      inputs.map((input) => startIncident(client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey)),
    );
    const startedMs = performance.now() - t0;
    let completed = 0;
    if (args.approvals) {
      await waitForFirstTasks(stack, ids);
    } else {
      const statuses = await Promise.all(
        ids.map((id) => client.workflow.getHandle(id).result() as Promise<IncidentStatus>),
      );
      completed = statuses.filter((status) => status.state === 'completed').length;
    }
    return { ids, t0Wall, startedMs, doneMs: performance.now() - t0, completed };
  };

  let workerCpu = 0;
  let serverCpu = 0;
  let threadCpu: { tid: number; name: string; seconds: number }[] = [];
  let result: Awaited<ReturnType<typeof burst>>;
  try {
    await burst(1);
    await sleep(1_000);
    const serverPid = stack.temporal.server.pid;
    const cpuBefore = { worker: processCpuSeconds(child.pid!), server: processCpuSeconds(serverPid) };
    const threadsBefore = threadCpuSeconds(child.pid!);
    result = await burst(args.incidents);
    threadCpu = threadDeltas(threadsBefore, threadCpuSeconds(child.pid!));
    workerCpu = processCpuSeconds(child.pid!) - cpuBefore.worker;
    serverCpu = processCpuSeconds(serverPid) - cpuBefore.server;
  } finally {
    // SIGTERM: worker/main.ts shuts the worker down and the process exits, so every thread writes its profile.
    await killProcess(child, 'SIGTERM');
  }
  const timings = await taskTimings(stack, result.ids, result.t0Wall);
  await stack.stop();
  const loadAfter = loadAverage();

  // The workflow thread's profile is the one with the vm-run workflow bundle in it; the others are the main thread.
  const incidentsRun = args.incidents + 1;
  const perTask = timings.flatMap((timing) => timing.tasks);
  const firstDone = timings.map((timing) => timing.firstTaskDoneMs);
  const out: string[] = [];
  out.push(
    `## Workflow-thread profile: ${args.incidents} incidents at once (approvals ${args.approvals ? 'on' : 'off'})`,
  );
  out.push('');
  out.push(`load average before: ${loadBefore}, after: ${loadAfter}; profiles in ${args.out}`);
  out.push(
    `burst: starts returned in ${ms(result.startedMs)}, ${args.approvals ? 'first tasks settled' : `all ${result.completed} completed`} in ${ms(result.doneMs)} → ${(args.incidents / (result.doneMs / 1000)).toFixed(1)} incidents/s`,
  );
  out.push(
    `first workflow task completed (from burst start): p50 ${ms(summarize(firstDone).p50)}, max ${ms(Math.max(...firstDone))} → ${(args.incidents / (Math.max(...firstDone) / 1000)).toFixed(1)} first tasks/s`,
  );
  const taskSummary = summarize(perTask);
  out.push(
    `workflow tasks: ${(perTask.length / timings.length).toFixed(1)} per incident; started→completed p50 ${ms(taskSummary.p50)}, p99 ${ms(taskSummary.p99)}; sum ${ms(perTask.reduce((a, b) => a + b, 0) / timings.length)} per incident`,
  );
  out.push(
    `worker process CPU during the burst (all threads): ${ms((workerCpu * 1000) / args.incidents)} per incident; Temporal server: ${ms((serverCpu * 1000) / args.incidents)} per incident`,
  );
  // Real CPU per thread (the profile's "busy" time is wall time, blocked time inside native calls included).
  // The workflow thread is the busiest `node` thread other than the main one (tid = pid).
  out.push(
    `worker threads by CPU during the burst (main thread: tid ${child.pid}): ` +
      threadCpu
        .slice(0, 6)
        .map((thread) => `${thread.name}[${thread.tid}] ${ms((thread.seconds * 1000) / args.incidents)}`)
        .join(', ') +
      ' per incident',
  );
  out.push(
    ...(await profileReport(args.out, args.bundle ?? (await workflowBundlePath()), incidentsRun, args.top)),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
