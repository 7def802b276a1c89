import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncidentStatus, SimulatedFaultSpec } from '../../lib/runbook/types';
import { SimulationJournal } from '../../providers/simulated/journal';
import { incidentInput, runbookById, start } from '../harness/incidents';
import { withoutApprovals } from '../harness/owners';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import { killProcess, spawnWorkerProcess } from '../harness/worker';
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
 * The worker (`tourniquet worker`, a child process) is SIGKILLed at seeded random moments while 20 incidents
 * run; a fresh worker takes over each time. Every incident must complete, and the simulation journal must show
 * every irreversible action (rotation with its secret delivery, revocation) applied exactly once.
 */

const INCIDENTS = 20;
const KILLS = 5;
const TASK_QUEUE = 'chaos-worker-kill';
/** Steps given latency before and a pause after their effect, so kills land inside and after the effects. */
const SLOWED_STEPS = [
  'rotate-credential',
  'revoke-old-credential',
  'terminate-sessions',
  'cancel-runs',
  'capture-logs',
  'disable-connector',
];

let temporal: TestTemporal;
let worker: ChildProcess | undefined;
const counts = { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 };

beforeAll(async () => {
  temporal = await startTestTemporal();
});

afterAll(async () => {
  if (worker) await killProcess(worker);
  await temporal?.stop();
  recordChaos('worker SIGKILL', counts);
});

test(`SIGKILL the worker ${KILLS} times at random points during ${INCIDENTS} incidents: all complete, nothing irreversible twice`, async () => {
  const random = seededRandom(CHAOS_SEED);
  const env = {
    TEMPORAL_ADDRESS: temporal.address,
    TOURNIQUET_DATA_DIR: temporal.dataDir,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    GITHUB_TOKEN: '',
    GITHUB_APP_ID: '',
    GITHUB_API_URL: '',
  };
  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  worker = await spawnWorkerProcess(env, { runbooks: [runbook] });

  const inputs = Array.from({ length: INCIDENTS }, (_, index) => {
    const faults: Record<string, SimulatedFaultSpec> = {};
    for (const step of SLOWED_STEPS) {
      if (random() < 0.5)
        faults[step] = { latencyMs: between(random, 0, 800), settleMs: between(random, 0, 1500) };
    }
    return incidentInput(runbook, { destinations: [`github:acme/chaos-${index}:DEPLOY_TOKEN`] }, { faults });
  });

  // Incidents arrive over the first seconds while the kills begin.
  const starting = (async () => {
    for (const input of inputs) {
      await start(temporal.client, input, TASK_QUEUE);
      counts.incidentsStarted += 1;
      await sleep(between(random, 50, 400));
    }
  })();

  for (let kill = 0; kill < KILLS; kill += 1) {
    await sleep(between(random, 800, 4000));
    await killProcess(worker, 'SIGKILL');
    counts.faultsInjected += 1;
    await sleep(between(random, 0, 1500));
    worker = await spawnWorkerProcess(env, { runbooks: [runbook] });
  }
  await starting;

  const statuses = await Promise.all(
    inputs.map(
      (input) =>
        temporal.client.workflow.getHandle(input.context.incident.id).result() as Promise<IncidentStatus>,
    ),
  );
  counts.incidentsCompleted = statuses.filter((status) => status.state === 'completed').length;

  const journal = new SimulationJournal(join(temporal.dataDir, 'simulated', 'journal.jsonl'));
  const entries = await journal.entries();
  const once = exactlyOnce(entries);
  counts.duplicatesFound = once.duplicates.length;
  const retried = statuses.flatMap((status) => status.steps).filter((step) => (step.attempts ?? 1) > 1);
  const replayed = entries.filter((entry) => entry.effect === 'replayed');
  report(
    `worker SIGKILL: ${retried.length} step executions needed another attempt, ${replayed.length} retries found their effect already applied, ${once.superseded.length} deliveries by a killed attempt were overwritten by its retry\n`,
  );

  expect(once.duplicates).toEqual([]);
  // The kills landed inside steps, not only between them.
  expect(retried.length).toBeGreaterThan(0);
  expectCompletedExactlyOnce(statuses, once);
}, 420_000);
