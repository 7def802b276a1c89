import { randomUUID } from 'node:crypto';
import type { Notifier } from '../activities/notify';
import type { IncidentNotification } from '../activities/types';
import { silentLogger } from './harness/worker';
import {
  watchTerminations,
  type TerminatedIncident,
  type TerminationWatch,
} from '../worker/termination-watch';
import { cancelForTest, fixtureRunbook, incidentInput, query, start, waitFor } from './harness/incidents';
import { useTemporalWorker } from './harness/stack';

/**
 * Terminate and reset run no workflow code, so no signature can refuse them. What Tourniquet can do is refuse to
 * let them pass silently: these tests are an insider with a raw Temporal client stopping containment, and check
 * that the watch reports each, with who did it and why, and reports nothing else.
 */
const stack = useTemporalWorker();

const told: IncidentNotification[] = [];
const recording: Notifier = {
  notify: (notification) => {
    told.push(notification);
    return Promise.resolve({});
  },
};
// Checked by hand below; the interval is the production path and only has to stay out of the way.
let watch: TerminationWatch;
beforeAll(() => {
  watch = watchTerminations({
    client: stack.client,
    notifier: recording,
    logger: silentLogger,
    intervalMs: 60_000,
    since: new Date(Date.now() - 1_000),
  });
});
afterAll(() => watch.stop());

async function awaitingRotate(): Promise<string> {
  const incidentId = await start(
    stack.client,
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'high' }),
  );
  await waitFor(async () =>
    (await query(stack.client, incidentId)).state === 'awaiting-approval' ? true : undefined,
  );
  return incidentId;
}

/** Looks until the watch has reported the incident (visibility lags the close a little). */
async function reportedFor(incidentId: string): Promise<TerminatedIncident> {
  return waitFor(async () => (await watch.check()).find((found) => found.incidentId === incidentId));
}

test('an incident terminated through the Temporal API is reported once, with who and why; a signed cancel is not', async () => {
  const terminated = await awaitingRotate();
  const cancelled = await awaitingRotate();
  await stack.client.workflow.getHandle(terminated).terminate('insider says stop');
  await cancelForTest(stack.client, cancelled);
  await stack.client.workflow.getHandle(cancelled).result();

  expect(await reportedFor(terminated)).toMatchObject({
    reason: 'insider says stop',
    identity: expect.any(String),
  });
  const [notification] = told.filter((candidate) => candidate.incidentId === terminated);
  expect(notification).toMatchObject({
    severity: 'high',
    exercise: false,
    event: {
      type: 'incident-halted',
      actor: 'tourniquet:watch',
      detail: expect.stringContaining('terminated through the Temporal API by '),
    },
  });
  expect(notification.event.detail).toContain('(reason given: insider says stop), not by a signed cancel');

  // Looking again reports nothing new: not the same termination twice, and never the signed cancel.
  expect(await watch.check()).toEqual([]);
  expect(told.filter((candidate) => candidate.incidentId === terminated)).toHaveLength(1);
  expect(told.filter((candidate) => candidate.incidentId === cancelled)).toEqual([]);
});

test('a reset is reported too: the run it replaced ended terminated', async () => {
  const incidentId = await awaitingRotate();
  const handle = stack.client.workflow.getHandle(incidentId);
  const { runId } = await handle.describe();
  const history = await handle.fetchHistory();
  const firstTask = history.events!.find((event) => event.workflowTaskCompletedEventAttributes)!;
  await stack.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: incidentId, runId },
    reason: 'rewind to before the approvals',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
  });

  await reportedFor(incidentId);
  const [notification] = told.filter((candidate) => candidate.incidentId === incidentId);
  expect(notification.event.detail).toContain('rewind to before the approvals');
  await cancelForTest(stack.client, incidentId).catch(() => undefined);
});
