import { readFileSync } from 'node:fs';
import { ApprovalRefusedError, signOutOfBandDecision, submitDecision } from '../client';
import type { ApprovalRequest, IncidentStatus } from '../lib/runbook/types';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  result,
  start,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { decideAs, operatorKey } from './harness/owners';
import { useTemporalWorker } from './harness/stack';

const stack = useTemporalWorker();

async function awaitingRequest(
  incidentId: string,
  stepId: string,
  escalated?: boolean,
): Promise<ApprovalRequest> {
  return waitFor(async () => {
    const status = await query(stack.client, incidentId);
    return status.approvals.find(
      (request) => request.stepId === stepId && (escalated === undefined || request.escalated === escalated),
    );
  });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApprovalRefusedError) return error.message;
    throw error;
  }
  throw new Error('expected a refusal');
}

const executed = async (incidentId: string, stepId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.stepId === stepId && entry.effect === 'applied',
  );

function stepState(status: IncidentStatus, id: string) {
  return status.steps.find((step) => step.id === id)!;
}

test('an owner approves: the step runs; every forged, stale, replayed or unauthorised attempt executes nothing and is in the timeline', async () => {
  // The requester is Slack user U0PLATFORM1, whom alice's key belongs to: separation of duties applies to alice.
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'slack:U0PLATFORM1',
    severity: 'low',
  });
  const incidentId = await start(stack.client, input);
  const request = await awaitingRequest(incidentId, 'rotate');
  expect(request).toMatchObject({
    policy: 'owner',
    required: 1,
    roles: ['iam'],
    reversible: false,
    action: 'simulated.rotateCredential',
  });
  expect((await query(stack.client, incidentId)).state).toBe('awaiting-approval');

  const dataDir = stack.dataDir;
  const refusals = [
    await refusal(decideAs(stack.client, dataDir, incidentId, request, 'carol')),
    await refusal(decideAs(stack.client, dataDir, incidentId, request, 'alice')),
    await refusal(
      decideAs(stack.client, dataDir, incidentId, { ...request, paramsHash: 'f'.repeat(64) }, 'bob'),
    ),
    await refusal(decideAs(stack.client, dataDir, incidentId, { ...request, nonce: 'not-the-nonce' }, 'bob')),
    await refusal(
      submitDecision(
        stack.client,
        incidentId,
        signOutOfBandDecision({
          incidentId,
          request,
          decision: 'approve',
          name: 'bob',
          privateKeyPem: readFileSync(operatorKey(dataDir, 'bob'), 'utf8'),
          validForMs: -1000,
        }),
        { gatewayKey: TEST_GATEWAY_KEY.privateKey },
      ),
    ),
    await refusal(
      submitDecision(
        stack.client,
        incidentId,
        signOutOfBandDecision({
          incidentId,
          request,
          decision: 'approve',
          name: 'bob',
          privateKeyPem: readFileSync(operatorKey(dataDir, 'carol'), 'utf8'),
        }),
        { gatewayKey: TEST_GATEWAY_KEY.privateKey },
      ),
    ),
  ];
  expect(refusals).toEqual([
    '"carol" is not an out-of-band approver of iam',
    'separation of duties: the person who raised the incident cannot approve this step',
    'the action changed since the request (parameter hash mismatch)',
    'this approval request is no longer current (stale or already used)',
    'the signed approval has expired',
    "the signature does not verify against bob's key in the owners file",
  ]);
  expect(await executed(incidentId, 'rotate')).toHaveLength(0);

  const approved = await decideAs(stack.client, dataDir, incidentId, request, 'bob');
  expect(approved).toEqual({ stepId: 'rotate', outcome: 'approved', approvals: 1, required: 1 });
  const replayed = await refusal(decideAs(stack.client, dataDir, incidentId, request, 'bob'));
  expect(replayed).toBe('step "rotate" is not awaiting approval');

  await waitFor(async () => ((await executed(incidentId, 'rotate')).length === 1 ? true : undefined));
  const status = await query(stack.client, incidentId);
  const refused = status.timeline.filter(
    (event) => event.type === 'approval-refused' && event.stepId === 'rotate',
  );
  expect(refused.map((event) => `${event.actor}: ${event.detail}`)).toEqual([
    `key:carol: ${refusals[0]}`,
    `key:alice: ${refusals[1]}`,
    `key:bob: ${refusals[2]}`,
    `key:bob: ${refusals[3]}`,
    `key:bob: ${refusals[4]}`,
    `key:bob: ${refusals[5]}`,
    `key:bob: ${replayed}`,
  ]);
  expect(status.timeline.find((event) => event.type === 'approved' && event.stepId === 'rotate')?.actor).toBe(
    'key:bob',
  );
  await cancelForTest(stack.client, incidentId);
});

test('two-person: the same person twice counts once, a second distinct owner completes it; a deny skips and flags', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'cli:someone-else',
    severity: 'low',
  });
  const incidentId = await start(stack.client, input);
  await decideAs(
    stack.client,
    stack.dataDir,
    incidentId,
    await awaitingRequest(incidentId, 'rotate'),
    'alice',
  );

  const revoke = await awaitingRequest(incidentId, 'revoke');
  expect(revoke.required).toBe(2);
  expect(await decideAs(stack.client, stack.dataDir, incidentId, revoke, 'alice')).toMatchObject({
    outcome: 'recorded',
    approvals: 1,
  });
  expect(await refusal(decideAs(stack.client, stack.dataDir, incidentId, revoke, 'alice'))).toBe(
    'already approved by this person; a second, distinct owner is needed',
  );
  expect(await executed(incidentId, 'revoke')).toHaveLength(0);
  expect(await decideAs(stack.client, stack.dataDir, incidentId, revoke, 'bob')).toMatchObject({
    outcome: 'approved',
    approvals: 2,
  });

  const keys = await awaitingRequest(incidentId, 'keys');
  await decideAs(
    stack.client,
    stack.dataDir,
    incidentId,
    keys,
    'bob',
    'deny',
    'deploy keys are needed for the hotfix',
  );
  const hooks = await awaitingRequest(incidentId, 'hooks');
  await decideAs(stack.client, stack.dataDir, incidentId, hooks, 'alice');

  const status = await result(stack.client, incidentId);
  expect(stepState(status, 'revoke').state).toBe('succeeded');
  expect(stepState(status, 'verify').state).toBe('succeeded');
  expect(stepState(status, 'keys')).toMatchObject({ state: 'skipped', reason: 'denied by key:bob' });
  expect(status.flags).toContain('denied:keys');
  expect(status.timeline.find((event) => event.type === 'denied')).toMatchObject({
    stepId: 'keys',
    actor: 'key:bob',
    detail: 'deploy keys are needed for the hotfix',
  });
  expect(await executed(incidentId, 'keys')).toHaveLength(0);
});

test('at the deadline the request escalates to the backup; a reversible step breaks glass at critical, an irreversible one never does', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'cli:someone-else',
    severity: 'critical',
  });
  const incidentId = await start(stack.client, input);
  const keys = await awaitingRequest(incidentId, 'keys', false);
  // carol is the incident commander, the backup of platform: not an approver until the request escalates.
  expect(await refusal(decideAs(stack.client, stack.dataDir, incidentId, keys, 'carol'))).toBe(
    '"carol" is not an out-of-band approver of platform',
  );

  const hooksDone = await waitFor(async () => {
    const status = await query(stack.client, incidentId);
    return stepState(status, 'hooks').state === 'succeeded' ? status : undefined;
  });
  expect(hooksDone.flags).toContain('break-glass:hooks');
  expect(hooksDone.timeline.filter((event) => event.stepId === 'hooks').map((event) => event.type)).toEqual([
    'approval-requested',
    'escalated',
    'break-glass',
    'requested',
    'started',
    'succeeded',
  ]);

  const escalated = await awaitingRequest(incidentId, 'keys', true);
  expect(escalated.roles).toEqual(['platform', 'incident-commander']);
  expect(escalated.nonce).not.toBe(keys.nonce);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const later = await query(stack.client, incidentId);
  expect(stepState(later, 'keys').state).toBe('awaiting-approval');
  expect(await executed(incidentId, 'keys')).toHaveLength(0);
  expect(later.flags).not.toContain('break-glass:keys');

  expect(await refusal(decideAs(stack.client, stack.dataDir, incidentId, keys, 'carol'))).toMatch(
    /no longer current|expired/,
  );
  const current = (await query(stack.client, incidentId)).approvals.find(
    (request) => request.stepId === 'keys',
  )!;
  expect(await decideAs(stack.client, stack.dataDir, incidentId, current, 'carol')).toMatchObject({
    outcome: 'approved',
  });
  await waitFor(async () => ((await executed(incidentId, 'keys')).length === 1 ? true : undefined));
  await cancelForTest(stack.client, incidentId);
});
