import { fixtureRunbook, incidentInput, result, start } from './harness/incidents';
import { useTemporalWorker } from './harness/stack';
import type { IncidentStatus } from '../lib/runbook/types';

const stack = useTemporalWorker();

const stateOf = (status: IncidentStatus) =>
  Object.fromEntries(status.steps.map((step) => [step.id, step.state]));
const journalFor = async (incidentId: string) =>
  (await stack.worker.journal.entries()).filter((entry) => entry.incidentId === incidentId);

test('a non-retryable failure with onFailure: continue blocks only its dependants and is tried once', async () => {
  const input = incidentInput(
    fixtureRunbook('failure-semantics'),
    {},
    { faults: { 'may-continue': { nonRetryable: true, message: 'issuer refused' } } },
  );
  const status = await result(stack.client, await start(stack.client, input));

  expect(status.state).toBe('failed');
  expect(stateOf(status)).toEqual({
    slow: 'succeeded',
    'after-slow': 'succeeded',
    'may-continue': 'failed',
    'after-continue': 'skipped',
    'may-halt': 'succeeded',
  });
  const failed = status.steps.find((step) => step.id === 'may-continue')!;
  expect(failed.error).toBe('issuer refused');
  expect(status.steps.find((step) => step.id === 'after-continue')!.reason).toBe(
    'blocked: "may-continue" did not succeed',
  );
  const attempts = (await journalFor(status.incidentId)).filter((entry) => entry.stepId === 'may-continue');
  expect(attempts.map((entry) => entry.effect)).toEqual(['fault']);
});

test('a retryable failure is retried by the step retry policy and then succeeds', async () => {
  const input = incidentInput(
    fixtureRunbook('failure-semantics'),
    {},
    { faults: { 'may-continue': { failAttempts: 2 } } },
  );
  const status = await result(stack.client, await start(stack.client, input));

  expect(status.state).toBe('completed');
  expect(status.steps.find((step) => step.id === 'may-continue')).toMatchObject({
    state: 'succeeded',
    attempts: 3,
  });
});

test('a failure with onFailure: halt stops the incident; running steps finish, later ones are skipped', async () => {
  const input = incidentInput(
    fixtureRunbook('failure-semantics'),
    {},
    {
      faults: { 'may-halt': { nonRetryable: true }, slow: { latencyMs: 1500 } },
    },
  );
  const status = await result(stack.client, await start(stack.client, input));

  expect(status.state).toBe('failed');
  expect(stateOf(status)).toMatchObject({ slow: 'succeeded', 'after-slow': 'skipped', 'may-halt': 'failed' });
  expect(status.steps.find((step) => step.id === 'after-slow')!.reason).toBe('incident halted');
  expect(
    status.timeline.some((event) => event.type === 'incident-halted' && event.stepId === 'may-halt'),
  ).toBe(true);
});

test('onFailure: compensate undoes the completed reversible steps in reverse order', async () => {
  const input = incidentInput(
    fixtureRunbook('compensate-on-failure'),
    {},
    { faults: { revoke: { nonRetryable: true } } },
  );
  const status = await result(stack.client, await start(stack.client, input));

  expect(status.state).toBe('failed');
  expect(stateOf(status)).toEqual({
    disable: 'compensated',
    'deactivate-hooks': 'compensated',
    revoke: 'failed',
    'cancel-runs': 'skipped',
  });
  const compensated = status.timeline
    .filter((event) => event.type === 'compensated')
    .map((event) => event.stepId);
  expect(compensated).toEqual(['deactivate-hooks', 'disable']);
  const applied = (await journalFor(status.incidentId))
    .filter((entry) => entry.effect === 'applied')
    .map((entry) => `${entry.system}.${entry.action}`);
  expect(applied).toEqual([
    'github.disableConnector',
    'github.deactivateWebhooks',
    'github.reactivateWebhooks',
    'github.enableConnector',
  ]);
});
