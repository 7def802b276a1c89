import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { openVault } from '../../evidence';
import type { IncidentStatus, SimulatedFaultSpec } from '../../lib/runbook/types';
import { incidentStatus } from '../../client';
import { incidentInput, runbookById, start, waitFor } from '../harness/incidents';
import { withoutApprovals } from '../harness/owners';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import { startInProcessWorker, type InProcessWorker } from '../harness/worker';
import {
  between,
  CHAOS_SEED,
  exactlyOnce,
  expectCompletedExactlyOnce,
  recordChaos,
  report,
  seededRandom,
} from './support';

/**
 * The Temporal server is SIGKILLed and restarted on the same SQLite file, three times, at seeded random moments while
 * incidents are mid-flight (steps running, effects applied but not yet reported). Every incident completes and
 * no irreversible action runs twice.
 */

const INCIDENTS = 8;
const RESTARTS = 3;
const TASK_QUEUE = 'chaos-server-restart';
const SLOWED_STEPS = ['rotate-credential', 'revoke-old-credential', 'terminate-sessions', 'capture-logs'];

let temporal: TestTemporal;
let worker: InProcessWorker | undefined;
const counts = { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 };

beforeAll(async () => {
  temporal = await startTestTemporal();
});

afterAll(async () => {
  await worker?.stop();
  await temporal?.stop();
  recordChaos('server SIGKILL + restart', counts);
});

/** Polls through the outage: a long-poll for the result would fail while the server is down. */
async function closedStatus(client: Client, incidentId: string): Promise<IncidentStatus> {
  const handle = client.workflow.getHandle(incidentId);
  await waitFor(
    async () => ((await handle.describe()).status.name !== 'RUNNING' ? true : undefined),
    240_000,
    500,
  );
  return (await handle.result()) as IncidentStatus;
}

test(`SIGKILL and restart the Temporal server ${RESTARTS} times mid-incident: every incident completes, nothing irreversible twice`, async () => {
  const random = seededRandom(CHAOS_SEED + 1);
  worker = await startInProcessWorker({
    address: temporal.address,
    dataDir: temporal.dataDir,
    evidence: await openVault({ dataDir: temporal.dataDir, env: {} }),
    taskQueue: TASK_QUEUE,
  });
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const inputs = Array.from({ length: INCIDENTS }, (_, index) => {
    const faults: Record<string, SimulatedFaultSpec> = {};
    for (const step of SLOWED_STEPS) {
      faults[step] = { latencyMs: between(random, 200, 2500), settleMs: between(random, 0, 1500) };
    }
    return incidentInput(
      runbook,
      { destinations: [`github:acme/restart-${index}:DEPLOY_TOKEN`] },
      { faults },
    );
  });
  for (const input of inputs) {
    await start(temporal.client, input, TASK_QUEUE);
    counts.incidentsStarted += 1;
  }

  let runningAtKill = 0;
  for (let restart = 0; restart < RESTARTS; restart += 1) {
    await sleep(between(random, 500, 3000));
    const running = await Promise.all(
      inputs.map((input) =>
        incidentStatus(temporal.client, input.context.incident.id)
          .then((status) => status.steps.filter((step) => step.state === 'running').length)
          .catch(() => 0),
      ),
    );
    runningAtKill += running.reduce((sum, count) => sum + count, 0);
    await temporal.restart('SIGKILL');
    counts.faultsInjected += 1;
  }

  const statuses = await Promise.all(
    inputs.map((input) => closedStatus(temporal.client, input.context.incident.id)),
  );
  counts.incidentsCompleted = statuses.filter((status) => status.state === 'completed').length;
  const entries = await worker.journal.entries();
  const once = exactlyOnce(entries);
  counts.duplicatesFound = once.duplicates.length;
  const retried = statuses.flatMap((status) => status.steps).filter((step) => (step.attempts ?? 1) > 1);
  report(
    `server SIGKILL + restart: ${runningAtKill} steps were running at the kills; ${retried.length} step executions needed another attempt, ${entries.filter((entry) => entry.effect === 'replayed').length} retries found their effect already applied\n`,
  );

  expect(runningAtKill).toBeGreaterThan(0);
  expect(once.duplicates).toEqual([]);
  expectCompletedExactlyOnce(statuses, once);
}, 420_000);
