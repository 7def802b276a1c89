import { setTimeout as sleep } from 'node:timers/promises';
import { incidentStatus } from '../../client';
import type { IncidentStatus, Runbook } from '../../lib/runbook/types';
import type { BenchStack } from './stack';

/** Steps that run without any owner: no approval themselves, and every dependency is such a step too. */
export function unattendedSteps(runbook: Runbook): Set<string> {
  const byId = new Map(runbook.steps.map((step) => [step.id, step]));
  const memo = new Map<string, boolean>();
  const unattended = (id: string): boolean => {
    if (!memo.has(id)) {
      const step = byId.get(id)!;
      memo.set(id, step.approval.policy === 'none' && step.after.every(unattended));
    }
    return memo.get(id)!;
  };
  return new Set(runbook.steps.map((step) => step.id).filter(unattended));
}

/**
 * Waits until the incident only waits for owners: every step that needs nobody has finished, and nothing is in
 * flight (no activity, no workflow task), so ending it leaves the worker idle for the next sample. `settled` may
 * refuse the status (throw) once those steps are done; the status it saw is returned.
 */
export async function quiescent(
  stack: BenchStack,
  incidentId: string,
  unattended: Set<string>,
  options: { timeoutMs: number; settled?: (status: IncidentStatus) => void },
): Promise<IncidentStatus> {
  const handle = stack.temporal.client.workflow.getHandle(incidentId);
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    const status = await incidentStatus(stack.temporal.client, incidentId);
    const done = status.steps
      .filter((step) => unattended.has(step.id))
      .every((step) => !['pending', 'running', 'awaiting-approval'].includes(step.state));
    if (done) {
      options.settled?.(status);
      const { raw } = await handle.describe();
      if ((raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask) return status;
    }
    await sleep(50);
  }
  throw new Error(`${incidentId} did not settle within ${options.timeoutMs / 1000} s`);
}
