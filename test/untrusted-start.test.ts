import { INCIDENT_WORKFLOW } from '../client';
import type { ApprovalRequest, IncidentStatus } from '../lib/runbook/types';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  signedForTest,
  TASK_QUEUE,
  uniqueConnector,
  waitFor,
} from './harness/incidents';
import { useTemporalWorker } from './harness/stack';

/**
 * Anyone who can reach the Temporal API can start an incident with any input. What the workflow must not take
 * from such a start: an exercise's accelerated clock on a real incident, which would expire approval deadlines
 * at once and so hasten escalation and break-glass.
 */
const stack = useTemporalWorker();

/** Starts the `approvals` fixture at ×3,600 through the raw client; its `rotate` step asks within one hour. */
async function startWithClock(
  exercise: boolean,
): Promise<{ status: IncidentStatus; rotate: ApprovalRequest }> {
  const input = {
    ...incidentInput(fixtureRunbook('approvals'), {
      connector: uniqueConnector(),
      severity: 'critical',
      exercise,
    }),
    clock: { speed: 3_600 },
  };
  const incidentId = input.context.incident.id;
  await stack.client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: incidentId,
    taskQueue: TASK_QUEUE,
    // Signed as the gateway signs: the clock is what is under test, not the signature.
    args: [signedForTest(input)],
  });
  const status = await waitFor(async () => {
    const current = await query(stack.client, incidentId);
    return current.approvals.some((request) => request.stepId === 'rotate') ? current : undefined;
  });
  await cancelForTest(stack.client, incidentId);
  return { status, rotate: status.approvals.find((request) => request.stepId === 'rotate')! };
}

const deadlineMs = (request: ApprovalRequest) =>
  Date.parse(request.expiresAt) - Date.parse(request.requestedAt);

test('a real incident started straight through the Temporal API with an exercise clock keeps real-time deadlines', async () => {
  const { status, rotate } = await startWithClock(false);
  // The runbook's deadline is one hour; at ×3,600 it would have been one second.
  expect(deadlineMs(rotate)).toBe(60 * 60_000);
  expect(status.flags).toContain('exercise-clock-ignored');
  expect(status.timeline.find((event) => event.type === 'note')).toMatchObject({
    actor: 'workflow',
    detail: 'an exercise clock was sent with a real incident: ignored',
  });
});

test('an exercise keeps its accelerated clock', async () => {
  const { status, rotate } = await startWithClock(true);
  expect(deadlineMs(rotate)).toBe(1_000);
  expect(status.flags).not.toContain('exercise-clock-ignored');
});
