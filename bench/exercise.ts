/**
 * Benchmark 5: the wall time of a four-hour tabletop scenario on the accelerated exercise clock, two ways.
 *
 * 5a. `tourniquet exercise run <scenario>` as a user runs it (a child process against the bench's dev server:
 *     CLI start, its own exercise worker, the scenario, the after-action report), default scenario
 *     runbooks/exercises/tj-actions-changed-files.yaml ("about four hours of incident", 480×).
 * 5b. A workflow input with exactly four hours of approval deadlines at 600×, independent of any scenario
 *     author's choices: the default runbook as an exercise (`exercise: true`, every action simulated), `clock: { speed: 600 }`, and
 * scripted responders who let every approval deadline pass and answer the escalated request at once (signed
 * out-of-band decisions, test/harness/owners decideAs); the reversible segmentation step breaks glass instead.
 * Every approval deadline of the shipped runbook is scaled by one factor so that the deadlines on the runbook's
 * critical path sum to exactly 4 h (the shipped runbook's path rotate → revoke → verify → restore-webhooks →
 * recover-connector sums to 8 h 25 m, so the factor is about 0.475). Ideal wall time: 4 h / 600 = 24 s.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { incidentStatus, startIncident } from '../client';
import { topologicalOrder } from '../lib/runbook/dag';
import { durationMs } from '../lib/runbook/duration';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { incidentInput, runbookById, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { decideAs } from '../test/harness/owners';
import { workflowBundlePath } from '../test/harness/temporal';
import { startStack, startWorker, type BenchStack } from './lib/stack';

export interface ExerciseResult {
  scenarioMs: number;
  /** Critical path of the approval deadlines after scaling: must equal the scenario. */
  criticalPathMs: number;
  speed: number;
  idealMs: number;
  wallMs: number;
  state: string;
  approvals: number;
  breakGlass: number;
}

const TASK_QUEUE = 'bench-exercise';
const SPEED = 600;
const FOUR_HOURS_MS = 4 * 3_600_000;

/** The longest chain of approval deadlines through the DAG (activities taken as instant). */
export function criticalPathMs(runbook: Runbook): number {
  const order = topologicalOrder(runbook.steps);
  if (!order.ok) throw new Error(`cycle: ${order.cycle.join(', ')}`);
  const byId = new Map(runbook.steps.map((step) => [step.id, step]));
  const finish = new Map<string, number>();
  for (const id of order.order) {
    const step = byId.get(id)!;
    const wait = step.approval.policy === 'none' ? 0 : durationMs(step.approval.deadline);
    finish.set(id, Math.max(0, ...step.after.map((dependency) => finish.get(dependency) ?? 0)) + wait);
  }
  return Math.max(...finish.values());
}

/** The default runbook with every approval deadline scaled so that its critical path is `targetMs`. */
export function scenarioRunbook(targetMs: number): Runbook {
  const runbook = runbookById('leaked-workflow-secret');
  const factor = targetMs / criticalPathMs(runbook);
  const scaled: Runbook = {
    ...runbook,
    steps: runbook.steps.map((step) => ({
      ...step,
      approval: {
        ...step.approval,
        deadline: `${Math.round(durationMs(step.approval.deadline) * factor)}ms`,
      },
    })),
  };
  return scaled;
}

/** Answers every escalated request (its deadline has passed) as the first operators the validator accepts. */
async function respondAtDeadlines(
  stack: BenchStack,
  incidentId: string,
  closed: () => boolean,
): Promise<number> {
  let approvals = 0;
  while (!closed()) {
    const status = await incidentStatus(stack.temporal.client, incidentId).catch(() => undefined);
    for (const request of status?.approvals ?? []) {
      if (!request.escalated || request.breakGlassEligible) continue;
      for (const name of ['alice', 'bob', 'carol']) {
        const outcome = await decideAs(stack.temporal.client, stack.dataDir, incidentId, request, name).catch(
          () => undefined,
        );
        if (outcome) approvals += 1;
        if (outcome?.outcome === 'approved') break;
      }
    }
    await sleep(50);
  }
  return approvals;
}

export async function benchExercise(): Promise<ExerciseResult> {
  const stack = await startStack();
  const worker = await startWorker({ stack, taskQueue: TASK_QUEUE });
  try {
    const runbook = scenarioRunbook(FOUR_HOURS_MS);
    const input = {
      ...incidentInput(runbook, { exercise: true, severity: 'high' }),
      clock: { speed: SPEED },
    };
    const incidentId = input.context.incident.id;
    let done = false;
    const t0 = performance.now();
    await startIncident(stack.temporal.client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey);
    const responders = respondAtDeadlines(stack, incidentId, () => done);
    const status = (await stack.temporal.client.workflow.getHandle(incidentId).result()) as IncidentStatus;
    const wallMs = performance.now() - t0;
    done = true;
    const approvals = await responders;
    return {
      scenarioMs: FOUR_HOURS_MS,
      criticalPathMs: criticalPathMs(runbook),
      speed: SPEED,
      idealMs: FOUR_HOURS_MS / SPEED,
      wallMs,
      state: status.state,
      approvals,
      breakGlass: status.flags.filter((flag) => flag.startsWith('break-glass:')).length,
    };
  } finally {
    await worker.stop();
    await stack.stop();
  }
}

export interface ExerciseCliResult {
  scenario: string;
  exitCode: number | null;
  /** From the CLI's summary line: `<id>: <state> - <scenario time> of scenario in <s> s (×<speed>)`. */
  state?: string;
  scenarioTime?: string;
  engineWallMs?: number;
  speed?: number;
  /** The whole `tourniquet exercise run` process, start to exit. */
  processWallMs: number;
}

const BIN = join(__dirname, '..', 'bin', 'tourniquet.js');

export async function benchExerciseCli(scenario: string): Promise<ExerciseCliResult> {
  const stack = await startStack();
  try {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'exercise', 'run', scenario], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporal.address,
        TOURNIQUET_DATA_DIR: stack.dataDir,
        TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Bounded: the scenario cancels itself after its clock duration; this is a backstop.
    const killer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    const processWallMs = performance.now() - t0;
    const summary = /: (\w+) - (.+) of scenario in ([\d.]+) s \(×(\d+)\)/.exec(stdout);
    if (!summary)
      throw new Error(`tourniquet exercise run printed no summary (exit ${exitCode}): ${stderr.trim()}`);
    return {
      scenario,
      exitCode,
      state: summary[1],
      scenarioTime: summary[2],
      engineWallMs: Number(summary[3]) * 1000,
      speed: Number(summary[4]),
      processWallMs,
    };
  } finally {
    await stack.stop();
  }
}
