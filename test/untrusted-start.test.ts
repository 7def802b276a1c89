import { INCIDENT_WORKFLOW } from '../client';
import {
  fixtureRunbook,
  incidentInput,
  query,
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

test('a real incident started straight through the Temporal API with an exercise clock keeps real-time deadlines', async () => {
  const input = {
    ...incidentInput(fixtureRunbook('approvals'), { connector: uniqueConnector(), severity: 'critical' }),
    clock: { speed: 3_600 },
  };
  const incidentId = input.context.incident.id;
  await stack.client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: incidentId,
    taskQueue: TASK_QUEUE,
    args: [input],
  });

  const status = await waitFor(async () => {
    const current = await query(stack.client, incidentId);
    return current.approvals.some((request) => request.stepId === 'rotate') ? current : undefined;
  });
  const request = status.approvals.find((candidate) => candidate.stepId === 'rotate')!;
  // The runbook's deadline is one hour; at ×3,600 it would have been one second.
  expect(Date.parse(request.expiresAt) - Date.parse(request.requestedAt)).toBe(60 * 60_000);
  expect(status.flags).toContain('exercise-clock-ignored');
  expect(status.timeline.find((event) => event.type === 'note')).toMatchObject({
    actor: 'workflow',
    detail: 'an exercise clock was sent with a real incident: ignored',
  });
  await stack.client.workflow.getHandle(incidentId).cancel();
});

test('an exercise keeps its accelerated clock', async () => {
  const input = {
    ...incidentInput(fixtureRunbook('approvals'), {
      connector: uniqueConnector(),
      severity: 'critical',
      exercise: true,
    }),
    clock: { speed: 3_600 },
  };
  const incidentId = input.context.incident.id;
  await stack.client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: incidentId,
    taskQueue: TASK_QUEUE,
    args: [input],
  });
  const status = await waitFor(async () => {
    const current = await query(stack.client, incidentId);
    return current.approvals.some((request) => request.stepId === 'rotate') ? current : undefined;
  });
  const request = status.approvals.find((candidate) => candidate.stepId === 'rotate')!;
  expect(Date.parse(request.expiresAt) - Date.parse(request.requestedAt)).toBe(1_000);
  expect(status.flags).not.toContain('exercise-clock-ignored');
  await stack.client.workflow.getHandle(incidentId).cancel();
});
