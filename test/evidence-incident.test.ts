import { openVault } from '../evidence';
import { fixtureRunbook, incidentInput, query, result, start, waitFor } from './harness/incidents';
import { decideAs } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { ApprovalRefusedError } from '../client';

const stack = useTemporalWorker({ evidence: (dataDir) => openVault({ dataDir }) });

test('every action, approval request, decision and refusal, the timeline and the Temporal history land in the vault', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), { requester: 'cli:requester', severity: 'low' });
  const incidentId = await start(stack.client, input);
  const pending = async (stepId: string) =>
    waitFor(async () =>
      (await query(stack.client, incidentId)).approvals.find((request) => request.stepId === stepId),
    );

  const rotate = await pending('rotate');
  await expect(decideAs(stack.client, stack.dataDir, incidentId, rotate, 'carol')).rejects.toBeInstanceOf(
    ApprovalRefusedError,
  );
  await decideAs(stack.client, stack.dataDir, incidentId, rotate, 'alice');
  const revoke = await pending('revoke');
  await decideAs(stack.client, stack.dataDir, incidentId, revoke, 'alice');
  await decideAs(stack.client, stack.dataDir, incidentId, revoke, 'bob');
  await decideAs(
    stack.client,
    stack.dataDir,
    incidentId,
    await pending('keys'),
    'bob',
    'deny',
    'needed for the hotfix',
  );
  const escalatedHooks = await waitFor(async () =>
    (await query(stack.client, incidentId)).approvals.find(
      (request) => request.stepId === 'hooks' && request.escalated,
    ),
  );
  await decideAs(stack.client, stack.dataDir, incidentId, escalatedHooks, 'alice');
  const status = await result(stack.client, incidentId);

  const entries = await stack.evidence.list(incidentId);
  const events = entries.filter((entry) => entry.type === 'event') as { kind: string; stepId?: string }[];
  const kinds = (kind: string) => events.filter((entry) => entry.kind === kind).map((entry) => entry.stepId);
  expect(kinds('action').sort()).toEqual(
    status.steps
      .filter((step) => step.state === 'succeeded')
      .map((step) => step.id)
      .sort(),
  );
  expect(kinds('refusal')).toEqual(['rotate']);
  expect(kinds('approval')).toEqual(expect.arrayContaining(['rotate', 'revoke', 'keys', 'hooks']));
  expect(kinds('escalation')).toEqual(expect.arrayContaining(['hooks']));
  expect(kinds('timeline')).toHaveLength(1);
  expect(kinds('temporal-history')).toHaveLength(1);

  const report = await stack.evidence.verify(incidentId);
  expect(report.ok).toBe(true);
});
