import { incidentInput, result, runbookById, start } from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { useTemporalWorker } from './harness/stack';

const stack = useTemporalWorker();

test('the default runbook completes end to end on the simulated provider, honouring the DAG', async () => {
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const latency = { latencyMs: 400 };
  const input = incidentInput(
    runbook,
    {},
    {
      faults: { 'disable-connector': latency, 'capture-logs': latency, 'rotate-credential': latency },
    },
  );
  const incidentId = await start(stack.client, input);
  const status = await result(stack.client, incidentId);

  expect(status.state).toBe('completed');
  for (const step of status.steps) expect(['succeeded']).toContain(step.state);

  const byId = new Map(status.steps.map((step) => [step.id, step]));
  for (const step of runbook.steps) {
    for (const dependency of step.after) {
      expect(Date.parse(byId.get(step.id)!.startedAt!)).toBeGreaterThanOrEqual(
        Date.parse(byId.get(dependency)!.finishedAt!),
      );
    }
  }
  const interval = (id: string) => [
    Date.parse(byId.get(id)!.startedAt!),
    Date.parse(byId.get(id)!.finishedAt!),
  ];
  const [disableStart, disableEnd] = interval('disable-connector');
  const [captureStart, captureEnd] = interval('capture-logs');
  expect(captureStart).toBeLessThan(disableEnd);
  expect(disableStart).toBeLessThan(captureEnd);

  expect(stack.evidence.artifacts.filter((artifact) => artifact.incidentId === incidentId)).toHaveLength(1);
  const applied = (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.effect === 'applied',
  );
  expect(applied.map((entry) => entry.stepId).sort()).toEqual(runbook.steps.map((step) => step.id).sort());
});

test("the steps that open an incident go ahead in the task queue; the rest keep the queue's order", async () => {
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const incidentId = await start(stack.client, incidentInput(runbook));
  await result(stack.client, incidentId);

  const history = await stack.client.workflow.getHandle(incidentId).fetchHistory();
  const priorityByStep = new Map<string, number | undefined>();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'executeStep') continue;
    const { stepId } = JSON.parse(Buffer.from(scheduled.input!.payloads![0].data!).toString('utf8')) as {
      stepId: string;
    };
    priorityByStep.set(stepId, scheduled.priority?.priorityKey ?? undefined);
  }
  const first = runbook.steps.filter((step) => step.after.length === 0).map((step) => step.id);
  expect(first).toEqual(expect.arrayContaining(['disable-connector', 'capture-logs']));
  for (const step of runbook.steps) {
    expect([step.id, priorityByStep.get(step.id)]).toEqual([
      step.id,
      first.includes(step.id) ? 1 : undefined,
    ]);
  }
});
