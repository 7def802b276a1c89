import { ApprovalRefusedError, rerunInput, RerunRefusedError } from '../client';
import { validateInventory, type Inventory } from '../lib/inventory';
import { planBatches } from '../lib/runbook/for-each';
import type { ApprovalRequest, IncidentStatus, Runbook, StepStatus } from '../lib/runbook/types';
import { PROVIDER_CATALOGS, PROVIDER_DIRECTORY } from '../providers';
import type { Provider } from '../providers/types';
import { RecordingEvidenceSink } from './harness/evidence';
import { startInProcessWorker } from './harness/worker';
import { buildReport } from '../reports/model';
import { fixtureRunbook, incidentInput, query, result, start, waitFor } from './harness/incidents';
import { decideAs } from './harness/owners';
import { useTemporalWorker } from './harness/stack';

/** 12 credentials held by one platform, owned by three roles (iam ×5, platform ×4, app-owner ×3). */
const OWNERS = [
  'iam',
  'iam',
  'platform',
  'app-owner',
  'iam',
  'platform',
  'iam',
  'app-owner',
  'platform',
  'iam',
  'app-owner',
  'platform',
];
const CREDENTIALS = OWNERS.map((owner, index) => ({
  id: `platform-cred-${String(index + 1).padStart(2, '0')}`,
  kind: 'generic',
  issuer: `simulated:service-account-${index + 1}`,
  consumers: [{ provider: 'github', target: `acme/app:SECRET_${index + 1}` }],
  owners: [owner],
  identifiers: { n8nCredentialId: `n8nCred${index + 1}` },
}));
/** Approvers of the test owners file: alice answers for iam, platform and app-owner. */
const APPROVER = 'alice';

function testInventory(): Inventory {
  const validated = validateInventory(
    { credentials: [...CREDENTIALS, { ...CREDENTIALS[0], id: 'elsewhere', consumers: [], identifiers: {} }] },
    { providers: PROVIDER_DIRECTORY },
  );
  if (!validated.ok) throw new Error(JSON.stringify(validated.issues));
  return validated.inventory;
}

const stack = useTemporalWorker({ inventory: testInventory() });

const step = (status: IncidentStatus, id: string): StepStatus => status.steps.find((s) => s.id === id)!;

async function batchRequests(incidentId: string, count: number): Promise<ApprovalRequest[]> {
  return waitFor(async () => {
    const requests = (await query(stack.client, incidentId)).approvals.filter((request) => request.batch);
    return requests.length === count ? requests : undefined;
  });
}

/** The issuer's calls a step applied (a rotation's deliveries to its consumers are journaled apart). */
async function applied(incidentId: string, stepId: string) {
  return (await stack.worker.journal.entries()).filter(
    (entry) =>
      entry.incidentId === incidentId &&
      entry.stepId === stepId &&
      entry.effect === 'applied' &&
      entry.system === 'simulated',
  );
}

test('each owner approves one batch of exactly their items; every item is rotated once, then verified', async () => {
  const incidentId = await start(stack.client, incidentInput(fixtureRunbook('for-each')));
  const requests = await batchRequests(incidentId, 3);
  const byOwner = Object.fromEntries(requests.map((request) => [request.roles[0], request]));
  expect(Object.keys(byOwner).sort()).toEqual(['app-owner', 'iam', 'platform']);
  for (const [owner, request] of Object.entries(byOwner)) {
    expect(request.stepId).toBe(`rotate-each--${owner}`);
    expect(request.batch!.stepId).toBe('rotate-each');
    expect(request.batch!.items).toEqual(
      CREDENTIALS.filter((credential) => credential.owners[0] === owner).map((credential) => credential.id),
    );
  }
  // The credential that no platform holds is not an item.
  expect(requests.flatMap((request) => request.batch!.items)).not.toContain('elsewhere');
  const waiting = await query(stack.client, incidentId);
  expect(waiting.state).toBe('awaiting-approval');
  expect(step(waiting, 'rotate-each').items!.counts['awaiting-approval']).toBe(12);

  // An approval bound to another list (another hash) or to another owner's batch acts on nothing.
  const iam = byOwner.iam;
  await expect(
    decideAs(
      stack.client,
      stack.dataDir,
      incidentId,
      { ...iam, paramsHash: byOwner.platform.paramsHash },
      APPROVER,
    ),
  ).rejects.toBeInstanceOf(ApprovalRefusedError);
  await expect(
    decideAs(stack.client, stack.dataDir, incidentId, { ...iam, stepId: 'rotate-each' }, APPROVER),
  ).rejects.toBeInstanceOf(ApprovalRefusedError);
  expect(await applied(incidentId, 'rotate-each')).toHaveLength(0);

  await decideAs(stack.client, stack.dataDir, incidentId, iam, APPROVER);
  // Only iam's five run; the others still wait for their owners.
  await waitFor(async () => ((await applied(incidentId, 'rotate-each')).length === 5 ? true : undefined));
  const partial = step(await query(stack.client, incidentId), 'rotate-each').items!;
  expect(partial.counts).toMatchObject({ succeeded: 5, 'awaiting-approval': 7 });

  await decideAs(stack.client, stack.dataDir, incidentId, byOwner.platform, APPROVER);
  await decideAs(stack.client, stack.dataDir, incidentId, byOwner['app-owner'], APPROVER);
  const final = await result(stack.client, incidentId);
  expect(final.state).toBe('completed');
  // The report puts each owner's batch under its owner.
  const report = buildReport({ status: final, runbook: fixtureRunbook('for-each') });
  expect(report.roles.map((row) => row.role).sort()).toEqual(['app-owner', 'iam', 'platform']);
  // The step's approval bar runs from the first batch asked to the last one decided.
  expect(report.steps.find((row) => row.id === 'rotate-each')!.approval).toMatchObject({
    outcome: 'approved',
  });
  const rotated = await applied(incidentId, 'rotate-each');
  expect(rotated.map((entry) => entry.idempotencyKey).sort()).toEqual(
    CREDENTIALS.map((credential) => `${incidentId}/rotate-each/${credential.id}`).sort(),
  );
  expect(rotated.map((entry) => entry.summary?.target).sort()).toEqual(
    CREDENTIALS.map((credential) => credential.issuer.slice('simulated:'.length)).sort(),
  );
  expect(step(final, 'rotate-each').summary).toMatchObject({ items: 12, succeeded: 12, failed: 0 });
  expect(step(final, 'verify-each')).toMatchObject({ state: 'succeeded', summary: { succeeded: 12 } });
  expect(await applied(incidentId, 'verify-each')).toHaveLength(12);
});

test('a retryable item failure is retried alone; a permanent one fails only its item, named in the step', async () => {
  const runbook = fixtureRunbook('for-each');
  runbook.steps[0].approval = { policy: 'none', deadline: '15m' };
  runbook.steps[0].preapproved = undefined;
  const input = incidentInput(
    runbook,
    {},
    {
      faults: {
        'rotate-each/platform-cred-03': { failAttempts: 1 },
        'rotate-each/platform-cred-07': { nonRetryable: true, message: 'issuer is down' },
      },
    },
  );
  const incidentId = await start(stack.client, input);
  const final = await result(stack.client, incidentId);
  const rotate = step(final, 'rotate-each');
  expect(rotate.state).toBe('failed');
  expect(rotate.error).toBe('1 of 12 items failed: platform-cred-07');
  expect(rotate.items!.items.find((item) => item.key === 'platform-cred-07')).toMatchObject({
    state: 'failed',
    error: 'issuer is down',
    attempts: 1,
  });
  expect(rotate.items!.items.find((item) => item.key === 'platform-cred-03')).toMatchObject({
    state: 'succeeded',
    attempts: 2,
  });
  // Every other item ran exactly once: the retry round carried platform-cred-03 alone.
  const attempts = (await stack.worker.journal.entries()).filter(
    (entry) =>
      entry.incidentId === incidentId &&
      entry.stepId === 'rotate-each' &&
      entry.action === 'rotateCredential',
  );
  const byKey = new Map<string, number>();
  for (const entry of attempts) byKey.set(entry.idempotencyKey, (byKey.get(entry.idempotencyKey) ?? 0) + 1);
  expect(byKey.get(`${incidentId}/rotate-each/platform-cred-03`)).toBe(2);
  expect(byKey.get(`${incidentId}/rotate-each/platform-cred-01`)).toBe(1);
  // The verify step iterates over what succeeded: the failed item is not claimed dead.
  expect(step(final, 'verify-each').summary).toMatchObject({ items: 11, succeeded: 11 });
  // A rerun retries the failed item alone: the same incident, a new run, nothing else acted on again.
  const rerun = await rerunInput(stack.client, incidentId);
  expect(rerun.rerun!.items).toEqual({ 'rotate-each': ['platform-cred-07'] });
  const { simulation: _faults, ...healed } = rerun; // the issuer is back
  await start(stack.client, healed);
  const again = await result(stack.client, incidentId);
  expect(step(again, 'rotate-each')).toMatchObject({
    state: 'succeeded',
    summary: { items: 1, succeeded: 1 },
  });
  expect(step(again, 'verify-each')).toMatchObject({ state: 'succeeded', summary: { items: 1 } });
  const rotations = (await stack.worker.journal.entries()).filter(
    (entry) =>
      entry.incidentId === incidentId && entry.action === 'rotateCredential' && entry.effect === 'applied',
  );
  expect(rotations.map((entry) => entry.idempotencyKey).sort()).toEqual(
    CREDENTIALS.map((credential) => `${incidentId}/rotate-each/${credential.id}`).sort(),
  );

  // The after-action report names the failed item and why.
  const report = buildReport({ status: final, runbook });
  expect(report.steps.find((row) => row.id === 'rotate-each')!.items).toBe(
    '12 items: 11 succeeded, 1 failed (platform-cred-07: issuer is down)',
  );
});

test('history stays bounded: a 12-item step is a handful of activities, not one per item', async () => {
  const runbook = fixtureRunbook('for-each');
  runbook.steps[0].approval = { policy: 'none', deadline: '15m' };
  const incidentId = await start(stack.client, incidentInput(runbook));
  await result(stack.client, incidentId);
  const history = await stack.client.workflow.getHandle(incidentId).fetchHistory();
  const scheduled = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes);
  const batches = scheduled.filter(
    (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'executeItems',
  );
  // concurrency 4, 12 items: one batch of 12 with four lanes for each step.
  expect(batches).toHaveLength(2);
});

test('a rerun the worker cannot match to its runbook acts on nothing; a running or clean incident is not rerun', async () => {
  const runbook = fixtureRunbook('for-each');
  const incidentId = await start(stack.client, incidentInput(runbook));
  await expect(rerunInput(stack.client, incidentId)).rejects.toThrow(/still running/);
  await stack.client.workflow.getHandle(incidentId).terminate('test: not needed');

  const done = await start(
    stack.client,
    incidentInput({
      ...runbook,
      steps: [
        {
          ...runbook.steps[1],
          forEach: { ...runbook.steps[1].forEach!, items: ['platform-cred-01'] },
          after: [],
        },
      ],
    }),
  );
  await result(stack.client, done);
  await expect(rerunInput(stack.client, done)).rejects.toBeInstanceOf(RerunRefusedError);

  const forgeries: Record<string, string[]>[] = [
    { 'not-a-step': ['platform-cred-01'] },
    { 'rotate-each': ['bad key'] },
    {},
  ];
  for (const items of forgeries) {
    const forged = await start(stack.client, { ...incidentInput(runbook), rerun: { of: 'x', items } });
    const status = await result(stack.client, forged).catch(() => query(stack.client, forged));
    expect(status.state).toBe('refused');
    expect(status.refusal).toMatch(/^rerun/);
    expect(await applied(forged, 'rotate-each')).toHaveLength(0);
  }
});

test('batches that outnumber the concurrency wait for their slots: never more calls in flight than the limit', async () => {
  let current = 0;
  let peak = 0;
  const gauge: Provider = {
    name: 'github',
    catalog: { disableConnector: PROVIDER_CATALOGS.github.disableConnector },
    actions: {
      disableConnector: async () => {
        current += 1;
        peak = Math.max(peak, current);
        await new Promise((resolve) => setTimeout(resolve, 2));
        current -= 1;
        return { summary: {} };
      },
    },
  };
  const taskQueue = 'for-each-gauge';
  const worker = await startInProcessWorker({
    address: stack.address,
    dataDir: stack.dataDir,
    evidence: new RecordingEvidenceSink(),
    real: [gauge],
    taskQueue,
  });
  try {
    const keys = Array.from({ length: 250 }, (_, index) => `workflow-${index + 1}`);
    // 250 items at 2: four single-lane batches, two of which must wait.
    expect(planBatches(keys.length, 2)).toHaveLength(4);
    const runbook: Runbook = {
      id: 'for-each-gauge',
      title: 'Disable 250 workflows, two at a time',
      steps: [
        {
          ...fixtureRunbook('for-each').steps[0],
          action: 'connector.disableConnector',
          params: { ref: '{{item.key}}' },
          forEach: { items: keys, concurrency: 2, approval: 'per-owner-batch', onItemFailure: 'continue' },
          approval: { policy: 'none', deadline: '15m' },
        },
      ],
    };
    const incidentId = await start(stack.client, incidentInput(runbook), taskQueue);
    const final = await result(stack.client, incidentId);
    expect(step(final, 'rotate-each').summary).toMatchObject({ items: 250, succeeded: 250 });
    expect(peak).toBe(2);
  } finally {
    await worker.stop();
  }
});
