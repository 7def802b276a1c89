import type { ChildProcess } from 'node:child_process';
import { openVault } from '../evidence';
import { incidentInput, query, result, runbookById, start, waitFor } from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { startTestTemporal, type TestTemporal } from './harness/temporal';
import { killProcess, spawnWorkerProcess, startInProcessWorker } from './harness/worker';
import { SimulationJournal, type JournalEntry } from '../providers/simulated/journal';
import { PROVIDER_CATALOGS } from '../providers';
import { join } from 'node:path';

let temporal: TestTemporal;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temporal = await startTestTemporal();
});

afterAll(async () => {
  for (const child of children) await killProcess(child);
  await temporal?.stop();
});

/** Every non-idempotent action must have changed the simulated system exactly once per step. */
function nonIdempotentEffects(entries: JournalEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const spec = PROVIDER_CATALOGS[entry.system]?.[entry.action];
    if (!spec || spec.idempotent) continue;
    const key = `${entry.idempotencyKey} ${entry.action}`;
    counts.set(key, (counts.get(key) ?? 0) + (entry.effect === 'applied' ? 1 : 0));
  }
  return counts;
}

test('SIGKILL of the worker mid-incident: a new worker finishes it and nothing irreversible runs twice', async () => {
  const taskQueue = 'crash-worker';
  const env = {
    TEMPORAL_ADDRESS: temporal.address,
    TOURNIQUET_DATA_DIR: temporal.dataDir,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const first = await spawnWorkerProcess(env, { runbooks: [runbook] });
  children.push(first);

  // The rotation applies, then lingers: the kill lands after the effect and before Temporal hears of it.
  const input = incidentInput(
    runbook,
    { destinations: ['github:acme/app:DEPLOY_TOKEN'] },
    {
      faults: { 'rotate-credential': { settleMs: 4000 } },
    },
  );
  const incidentId = await start(temporal.client, input, taskQueue);
  const journal = new SimulationJournal(join(temporal.dataDir, 'simulated', 'journal.jsonl'));
  await waitFor(async () =>
    (await journal.entries()).find(
      (entry) =>
        entry.incidentId === incidentId && entry.action === 'rotateCredential' && entry.effect === 'applied',
    ),
  );
  await killProcess(first, 'SIGKILL');

  const second = await spawnWorkerProcess(env, { runbooks: [runbook] });
  children.push(second);
  const status = await result(temporal.client, incidentId);
  expect(status.state).toBe('completed');

  const entries = (await journal.entries()).filter((entry) => entry.incidentId === incidentId);
  const effects = nonIdempotentEffects(entries);
  expect([...effects.keys()].sort()).toEqual([
    `${incidentId}/revoke-old-credential revokeCredential`,
    `${incidentId}/rotate-credential rotateCredential`,
  ]);
  for (const count of effects.values()) expect(count).toBe(1);
  // The retry really happened, and it found the first attempt's effect instead of minting again.
  expect(entries.filter((entry) => entry.action === 'rotateCredential').map((entry) => entry.effect)).toEqual(
    ['applied', 'replayed'],
  );
  expect(entries.filter((entry) => entry.action === 'storeSecret')).toHaveLength(1);
  await killProcess(second, 'SIGTERM');
});

test('the Temporal server is killed and restarted on the same SQLite file mid-incident: the incident completes', async () => {
  const taskQueue = 'crash-server';
  const worker = await startInProcessWorker({
    address: temporal.address,
    dataDir: temporal.dataDir,
    evidence: await openVault({ dataDir: temporal.dataDir }),
    taskQueue,
  });
  try {
    const input = incidentInput(
      withoutApprovals(runbookById('leaked-workflow-secret')),
      {},
      {
        faults: { 'terminate-sessions': { latencyMs: 3000 } },
      },
    );
    const incidentId = await start(temporal.client, input, taskQueue);
    await waitFor(async () => {
      const status = await query(temporal.client, incidentId);
      return status.steps.find((step) => step.id === 'terminate-sessions' && step.state === 'running');
    });
    await temporal.restart('SIGKILL');

    const status = await waitFor(
      async () => {
        const current = await query(temporal.client, incidentId);
        return current.state === 'completed' ? current : undefined;
      },
      90_000,
      500,
    );
    expect(status.steps.every((step) => step.state === 'succeeded')).toBe(true);
    const effects = nonIdempotentEffects(
      (await worker.journal.entries()).filter((entry) => entry.incidentId === incidentId),
    );
    for (const count of effects.values()) expect(count).toBe(1);
  } finally {
    await worker.stop();
  }
});
