/**
 * Benchmark 1: alert to first containment call, no human in the loop.
 *
 * Each sample is one alert: build the incident input (fingerprint, the default runbook as shipped, context),
 * then either
 *  - Temporal: `startIncident` (the function the CLI and gateway call) against the real dev server, with the
 *    production worker in this process. The first workflow task is the production one: it schedules the
 *    disable and evidence steps and opens the approval requests of the steps that wait for owners. Once the
 *    sample is taken and the steps that need nobody are done, the incident is terminated, so every sample starts
 *    from an idle system; or
 *  - direct (baseline): the same handler (`executeStep`, in a MockActivityEnvironment) called with the step the
 *    workflow would render, no Temporal at all.
 * The sample ends when the provider's `disableConnector` is entered (instrumented simulated provider,
 * `performance.now()`). Temporal and direct samples alternate, so both see the same machine load.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStepActivities } from '../activities/execute-step';
import { startIncident } from '../client';
import { resolveAction } from '../lib/runbook/actions';
import { renderParams } from '../lib/runbook/template';
import type { IncidentInput, Runbook } from '../lib/runbook/types';
import { createProviderRegistry } from '../providers/registry';
import { incidentInput, runbookById, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { silentLogger } from '../test/harness/worker';
import { quiescent, unattendedSteps } from './lib/quiescent';
import { instrumentedProvider, startStack, startWorker } from './lib/stack';
import { summarize, type Summary } from './lib/stats';

export interface LatencyResult {
  temporal: Summary;
  direct: Summary;
  /** Start request returned to the caller (describe + StartWorkflowExecution), for the breakdown. */
  startReturned: Summary;
  warmup: number;
}

const TASK_QUEUE = 'bench-latency';
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300);

export async function benchLatency(options: { incidents: number; warmup: number }): Promise<LatencyResult> {
  const stack = await startStack();
  const waiting = new Map<string, (at: number) => void>();
  const provider = instrumentedProvider('github', stack.journal, (call) => {
    if (call.action === 'disableConnector') waiting.get(call.incidentId)?.(call.at);
  });
  const registry = createProviderRegistry({ real: [provider], journal: stack.journal });
  const worker = await startWorker({ stack, taskQueue: TASK_QUEUE, registry });
  const activities = createStepActivities({
    registry,
    evidence: stack.evidence,
    logger: silentLogger,
    workerIdentity: 'bench-direct',
  });
  const runbook: Runbook = runbookById('leaked-workflow-secret');
  const disable = runbook.steps.find((step) => step.id === 'disable-connector')!;
  const unattended = unattendedSteps(runbook);

  const firstCall = (incidentId: string) =>
    new Promise<number>((resolve) =>
      waiting.set(incidentId, (at) => {
        waiting.delete(incidentId);
        resolve(at);
      }),
    );

  const temporal: number[] = [];
  const direct: number[] = [];
  const startReturned: number[] = [];
  try {
    for (let index = 0; index < options.warmup + options.incidents; index += 1) {
      const measured = index >= options.warmup;

      // Temporal: the alert starts a durable incident; the worker runs the first step.
      const t0 = performance.now();
      const input = incidentInput(runbook);
      const called = firstCall(input.context.incident.id);
      await startIncident(stack.temporal.client, TASK_QUEUE, input, TEST_GATEWAY_KEY.privateKey);
      const started = performance.now();
      const at = await called;
      if (measured) {
        temporal.push(at - t0);
        startReturned.push(started - t0);
      }
      // Let the steps that need nobody finish, then end the incident: nobody will approve the rest.
      await quiescent(stack, input.context.incident.id, unattended, { timeoutMs: 10_000 });
      await stack.temporal.client.workflow
        .getHandle(input.context.incident.id)
        .terminate('benchmark sample taken');
      // The server finishes the termination (history, visibility) before the next alert arrives.
      await sleep(SETTLE_MS);

      // Direct: the same handler, the same provider, no Temporal.
      const d0 = performance.now();
      const directInput = incidentInput(runbook);
      const directCalled = firstCall(directInput.context.incident.id);
      const done = runDirect(activities, directInput, disable);
      const directAt = await directCalled;
      await done;
      if (measured) direct.push(directAt - d0);
    }
  } finally {
    await worker.stop();
    await stack.stop();
  }
  return {
    temporal: summarize(temporal),
    direct: summarize(direct),
    startReturned: summarize(startReturned),
    warmup: options.warmup,
  };
}

/** What the workflow does for the first step (render params, resolve the role), then the activity itself. */
async function runDirect(
  activities: ReturnType<typeof createStepActivities>,
  input: IncidentInput,
  step: Runbook['steps'][number],
): Promise<void> {
  const params = renderParams(step.params, { context: input.context, steps: {} });
  const resolved = resolveAction(step.action, input.context);
  const environment = new MockActivityEnvironment({ attempt: 1 });
  await environment.run(activities.executeStep, {
    incidentId: input.context.incident.id,
    stepId: step.id,
    provider: resolved.provider,
    action: resolved.action,
    params,
    exercise: input.exercise,
    idempotencyKey: `${input.context.incident.id}/${step.id}`,
  });
}
