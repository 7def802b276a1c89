import '../simulators/github/jest-esm-interop';
import { openVault } from '../../evidence';
import type { IncidentStatus } from '../../lib/runbook/types';
import { createGitHubProvider } from '../../providers/github/provider';
import { incidentInput, runbookById, start } from '../harness/incidents';
import { withoutApprovals } from '../harness/owners';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import { startInProcessWorker, type InProcessWorker } from '../harness/worker';
import {
  startGitHubSimulator,
  type FaultSpec,
  type GitHubSimulator,
  type PermissionSet,
  type SimRepository,
  type SimRun,
} from '../simulators/github';
import { between, CHAOS_SEED, exactlyOnce, recordChaos, report, seededRandom } from './support';

/**
 * The real GitHub provider (Octokit, App auth, throttling, retry) in the worker, against the GitHub REST
 * simulator answering 30% of API requests with 500 and 10% with 429 + retry-after. The faults are a seeded
 * pseudo-random stream fed through the simulator's injectFault API as requests consume it. Every incident of
 * the default runbook must complete, leave GitHub contained and recovered, and deliver the new secret once.
 */

const INCIDENTS = 10;
const TASK_QUEUE = 'chaos-github-faults';
const SERVER_ERROR_RATE = 0.3;
const RATE_LIMIT_RATE = 0.1;
const ALL_PERMISSIONS: PermissionSet = {
  actions: 'write',
  administration: 'write',
  environments: 'write',
  organization_administration: 'read',
  repository_hooks: 'write',
  secret_scanning_alerts: 'read',
  secrets: 'write',
};

let temporal: TestTemporal;
let sim: GitHubSimulator;
let worker: InProcessWorker | undefined;
let feeder: NodeJS.Timeout | undefined;
const counts = { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 };

beforeAll(async () => {
  [temporal, sim] = await Promise.all([startTestTemporal(), startGitHubSimulator()]);
});

afterAll(async () => {
  if (feeder) clearInterval(feeder);
  await worker?.stop();
  await sim?.close();
  await temporal?.stop();
  recordChaos('GitHub 5xx + 429', counts);
});

/**
 * Keeps a seeded stream of one-request faults queued in the simulator: each API request takes the next one
 * (500, 429 with retry-after, or a pass with a little latency). Log downloads from the short-lived storage URL
 * are a different service and pass: a block of pass-through entries for that route sits ahead of the stream.
 */
function feedFaults(random: () => number): NodeJS.Timeout {
  for (let index = 0; index < 5_000; index += 1) sim.injectFault({ route: '/_blobs/{id}' });
  let queued = 0;
  const next = (): FaultSpec => {
    const roll = random();
    if (roll < SERVER_ERROR_RATE) return { status: 500 };
    if (roll < SERVER_ERROR_RATE + RATE_LIMIT_RATE) return { status: 429, retryAfterSeconds: 1 };
    return { latencyMs: between(random, 0, 20) };
  };
  const topUp = () => {
    const consumed = sim.calls.filter((call) => call.route !== '/_blobs/{id}').length;
    while (queued - consumed < 200) {
      sim.injectFault(next());
      queued += 1;
    }
  };
  topUp();
  return setInterval(topUp, 25);
}

interface Fixture {
  repository: string;
  repo: SimRepository;
  done: SimRun;
  running: SimRun;
}

function fixture(index: number): Fixture {
  const repository = `acme/flaky-${index}`;
  const repo = sim.addRepository(repository);
  sim.addWorkflow(repository, { path: 'deploy.yml' });
  const done = sim.addRun(repository, {
    workflow: 'deploy.yml',
    jobs: [{ name: 'deploy', log: `deploying with token ghp_${'x'.repeat(36)}\n` }],
  });
  const running = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress' });
  sim.addHook(repository, { url: `https://hooks.example.test/${index}`, secret: 'hook-secret' });
  sim.addDeployKey(repository, { title: `deploy-${index}` });
  sim.seedSecret(repository, 'DEPLOY_TOKEN', `leaked-value-${index}`);
  return { repository, repo, done, running };
}

test(`${INCIDENTS} incidents complete while GitHub answers ${SERVER_ERROR_RATE * 100}% 500s and ${RATE_LIMIT_RATE * 100}% 429s`, async () => {
  const installation = sim.installApp({ account: 'acme', permissions: ALL_PERMISSIONS });
  const github = createGitHubProvider({
    baseUrl: sim.url,
    auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: installation.id },
    // Writes unspaced and 5xx back-off at 1/10 of production so the run stays short; retry-after is honoured
    // in real seconds.
    throttle: { writeSpacing: 'none' },
    retry: { retries: 3, retryAfterBaseValueMs: 100 },
    cancelGraceMs: 300,
  });
  worker = await startInProcessWorker({
    address: temporal.address,
    dataDir: temporal.dataDir,
    evidence: await openVault({ dataDir: temporal.dataDir, env: {} }),
    real: [github],
    // GitHub is real; the credential's issuer is the simulated stand-in, which only a demo-mode worker runs.
    mode: 'demo',
    taskQueue: TASK_QUEUE,
  });
  const fixtures = Array.from({ length: INCIDENTS }, (_, index) => fixture(index));
  feeder = feedFaults(seededRandom(CHAOS_SEED + 2));

  const runbook = withoutApprovals(runbookById('leaked-workflow-secret'));
  const inputs = fixtures.map(({ repository }) =>
    incidentInput(runbook, {
      connector: `github:${repository}/deploy.yml`,
      destinations: [`github:${repository}:DEPLOY_TOKEN`],
    }),
  );
  for (const input of inputs) {
    await start(temporal.client, input, TASK_QUEUE);
    counts.incidentsStarted += 1;
  }
  const statuses = await Promise.all(
    inputs.map(
      (input) =>
        temporal.client.workflow.getHandle(input.context.incident.id).result() as Promise<IncidentStatus>,
    ),
  );
  clearInterval(feeder);
  feeder = undefined;

  const faulted = sim.calls.filter((call) => call.faulted);
  counts.faultsInjected = faulted.length;
  counts.incidentsCompleted = statuses.filter((status) => status.state === 'completed').length;
  const once = exactlyOnce(await worker.journal.entries());
  const secretWrites = fixtures.map(({ repo }) => repo.secrets.get('DEPLOY_TOKEN')!.writes);
  counts.duplicatesFound = once.duplicates.length + secretWrites.filter((writes) => writes > 1).length;
  const apiCalls = sim.calls.filter((call) => call.route !== '/_blobs/{id}');
  report(
    `GitHub faults: ${apiCalls.length} API requests, ${faulted.filter((call) => call.status === 500).length} answered 500, ${faulted.filter((call) => call.status === 429).length} answered 429; ${statuses.flatMap((status) => status.steps).filter((step) => (step.attempts ?? 1) > 1).length} steps needed another Temporal attempt\n`,
  );

  // The stream really hit: close to the configured rates over the API traffic.
  expect(faulted.length / apiCalls.length).toBeGreaterThan(0.25);
  expect(sim.violations).toEqual([]);
  expect(once.duplicates).toEqual([]);
  expect(secretWrites).toEqual(fixtures.map(() => 1));
  for (const status of statuses) {
    expect({ id: status.incidentId, state: status.state }).toEqual({
      id: status.incidentId,
      state: 'completed',
    });
    expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
    expect(status.steps.every((step) => step.provider !== 'simulated:github')).toBe(true);
  }
  for (const [index, { repository, repo, done, running }] of fixtures.entries()) {
    const steps = new Map(statuses[index].steps.map((step) => [step.id, step]));
    // Contained, then recovered: the workflow and the webhooks are back as they were.
    expect(steps.get('disable-connector')!.summary).toMatchObject({ alreadyDisabled: false });
    expect(repo.workflows[0].state).toBe('active');
    expect(steps.get('deactivate-webhooks')!.summary!.deactivatedHookIds).toEqual(
      repo.hooks.map((hook) => String(hook.id)),
    );
    expect(repo.hooks.every((hook) => hook.active && hook.config.secret === 'hook-secret')).toBe(true);
    expect(repo.deployKeys).toEqual([]);
    expect(done.logsDeleted).toBe(true);
    expect([running.status, running.conclusion]).toEqual(['completed', 'cancelled']);
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN')).not.toBe(`leaked-value-${index}`);
  }
}, 420_000);
