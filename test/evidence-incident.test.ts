import { openVault } from '../evidence';
import type { EvidenceVault } from '../evidence';
import { fixtureRunbook, incidentInput, query, result, start, waitFor } from './harness/incidents';
import { decideAs } from './harness/owners';
import { startTestTemporal, type TestTemporal } from './harness/temporal';
import { startInProcessWorker, type InProcessWorker } from './harness/worker';
import { ApprovalRefusedError } from '../client';

let temporal: TestTemporal;
let worker: InProcessWorker;
let vault: EvidenceVault;

beforeAll(async () => {
  temporal = await startTestTemporal();
  vault = await openVault({ dataDir: temporal.dataDir });
  worker = await startInProcessWorker({
    address: temporal.address,
    dataDir: temporal.dataDir,
    evidence: vault,
  });
});

afterAll(async () => {
  await worker?.stop();
  await temporal?.stop();
});

test('every action, approval request, decision and refusal, the timeline and the Temporal history land in the vault', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), { requester: 'cli:requester', severity: 'low' });
  const incidentId = await start(temporal.client, input);
  const pending = async (stepId: string) =>
    waitFor(async () =>
      (await query(temporal.client, incidentId)).approvals.find((request) => request.stepId === stepId),
    );

  const rotate = await pending('rotate');
  await expect(
    decideAs(temporal.client, temporal.dataDir, incidentId, rotate, 'carol'),
  ).rejects.toBeInstanceOf(ApprovalRefusedError);
  await decideAs(temporal.client, temporal.dataDir, incidentId, rotate, 'alice');
  const revoke = await pending('revoke');
  await decideAs(temporal.client, temporal.dataDir, incidentId, revoke, 'alice');
  await decideAs(temporal.client, temporal.dataDir, incidentId, revoke, 'bob');
  await decideAs(
    temporal.client,
    temporal.dataDir,
    incidentId,
    await pending('keys'),
    'bob',
    'deny',
    'needed for the hotfix',
  );
  const escalatedHooks = await waitFor(async () =>
    (await query(temporal.client, incidentId)).approvals.find(
      (request) => request.stepId === 'hooks' && request.escalated,
    ),
  );
  await decideAs(temporal.client, temporal.dataDir, incidentId, escalatedHooks, 'alice');
  const status = await result(temporal.client, incidentId);

  const entries = await vault.list(incidentId);
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

  const report = await vault.verify(incidentId);
  expect(report.ok).toBe(true);
});
