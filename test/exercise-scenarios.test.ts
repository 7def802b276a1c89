import './simulators/github/jest-esm-interop';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openVault } from '../evidence';
import { runExercise, type ExerciseResult } from '../exercises/engine';
import { loadScenarioFile } from '../exercises/scenario';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { SimulationJournal } from '../providers/simulated/journal';
import { milestoneSteps } from '../reports/milestones';
import { formatOffset } from '../reports/model';
import { configuredProviders } from '../worker/providers';
import { incidentInput, result, runbookById, start, TEST_FINGERPRINT_KEY } from './harness/incidents';
import { startTestTemporal, workflowBundlePath, type TestTemporal } from './harness/temporal';
import { silentLogger, startInProcessWorker } from './harness/worker';
import { startGitHubSimulator, type GitHubSimulator } from './simulators/github';
import { startN8nSimulator, type N8nSimulator } from './simulators/n8n/server';

const SCENARIOS = join(__dirname, '..', 'runbooks', 'exercises');

let temporal: TestTemporal;
let github: GitHubSimulator;
let n8n: N8nSimulator;
/** A worker environment with REAL providers configured: GitHub and n8n, each pointed at its simulator. */
let realEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  [temporal, github, n8n] = await Promise.all([
    startTestTemporal(),
    startGitHubSimulator(),
    startN8nSimulator({
      apiKey: 'n8n-test-api-key',
      workflows: [{ id: '42', name: 'CRM sync', active: true }],
    }),
  ]);
  github.addRepository('acme/payments');
  github.addWorkflow('acme/payments', { path: '.github/workflows/ci.yml' });
  realEnv = {
    GITHUB_API_URL: github.url,
    GITHUB_TOKEN: github.issueToken(),
    N8N_BASE_URL: n8n.baseUrl,
    N8N_API_KEY: 'n8n-test-api-key',
  };
});

afterAll(async () => {
  await github?.close();
  await n8n?.stop();
  await temporal?.stop();
});

async function run(name: string): Promise<ExerciseResult> {
  const file = join(SCENARIOS, `${name}.yaml`);
  const loaded = loadScenarioFile(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const started = Date.now();
  const outcome = await runExercise({
    scenario: loaded.scenario,
    scenarioFile: file,
    scenarioSha256: loaded.sha256,
    client: temporal.client,
    address: temporal.address,
    namespace: 'default',
    dataDir: temporal.dataDir,
    fingerprintKey: TEST_FINGERPRINT_KEY,
    // The exercise worker is built like production's: the real GitHub and n8n providers are registered.
    env: realEnv,
    workflowBundlePath: await workflowBundlePath(),
  });
  process.stderr.write(
    `[measured] ${name}: ${formatOffset(outcome.report.durationMs)} of scenario (×${loaded.scenario.clock.speed}) ` +
      `in ${(outcome.wallMs / 1000).toFixed(1)} s incident time, ${((Date.now() - started) / 1000).toFixed(1)} s with worker start and reports\n`,
  );
  return outcome;
}

const events = (status: IncidentStatus, stepId: string) =>
  status.timeline.filter((event) => event.stepId === stepId).map((event) => event.type);

/** Milestones recomputed from the raw timeline, independently of the report's code path. */
function expectMilestonesMatchTimeline(outcome: ExerciseResult, runbook: Runbook): void {
  const { status, report } = outcome;
  const t0 = Date.parse(status.openedAt);
  for (const row of report.milestones) {
    if (row.outcome === 'not-applicable' || row.outcome === 'not-reached') {
      expect(row.at).toBeUndefined();
      continue;
    }
    const ids = milestoneSteps(row.id, status.steps)
      .filter((step) => !(step.state === 'skipped' && step.reason === 'not applicable'))
      .map((step) => step.id);
    expect(row.steps).toEqual(ids);
    const latest = status.timeline
      .filter((event) => event.type === 'succeeded' && ids.includes(event.stepId!))
      .map((event) => event.at)
      .sort()
      .at(-1);
    expect(row.at).toBe(latest);
    expect(row.offsetMs).toBe(Math.round((Date.parse(latest!) - t0) * report.speed));
    expect(row.outcome).toBe(row.offsetMs! <= row.targetMs ? 'met' : 'missed');
    // The same number in both renderings.
    expect(readReport(outcome.reports.markdown)).toContain(`| ${row.label} |`);
    expect(readReport(outcome.reports.markdown)).toContain(formatOffset(row.offsetMs!));
    expect(readReport(outcome.reports.html)).toContain(`${row.label} ${formatOffset(row.offsetMs!)}`);
  }
  expect(runbook.steps.map((step) => step.id).sort()).toEqual(status.steps.map((step) => step.id).sort());
}

function readReport(path: string): string {
  return readFileSync(path, 'utf8');
}

test('both shipped scenarios run green on the accelerated clock, with real GitHub and n8n configured and never called', async () => {
  // One after the other: at ×480 every second the two runs steal from each other on two cores is 8 scenario minutes.
  const tj = await run('tj-actions-changed-files');
  const n8nRun = await run('n8n-token-in-support-ticket');
  const runbook = runbookById('leaked-workflow-secret');

  for (const outcome of [tj, n8nRun]) {
    expect(outcome.record.outcome).toBe('closed');
    expect(outcome.status.state).toBe('completed');
    expect(outcome.status.exercise).toBe(true);
    // Every step that ran was carried out by a simulated stand-in.
    for (const step of outcome.status.steps.filter((candidate) => candidate.provider)) {
      expect(step.provider).toMatch(/^simulated:/);
    }
    const journal = await new SimulationJournal(
      join(temporal.dataDir, 'simulated', 'journal.jsonl'),
    ).entries();
    const mine = journal.filter((entry) => entry.incidentId === outcome.incidentId);
    expect(mine.length).toBeGreaterThan(5);
    expect(mine.every((entry) => entry.exercise)).toBe(true);
    // The opening alert and the second detector's alert both joined the incident.
    expect(outcome.status.alerts.count).toBe(2);
    expect(outcome.report.notes.length).toBeGreaterThanOrEqual(3);
    // Every inject is in the incident's own timeline (so its Temporal history and thread), not only the record.
    const timelineNotes = outcome.status.timeline
      .filter((event) => event.type === 'note')
      .map((event) => `${event.actor} ${event.detail}`);
    expect(timelineNotes).toEqual(
      expect.arrayContaining(outcome.record.notes.map((note) => `exercise:${note.kind} ${note.text}`)),
    );
    expect(timelineNotes.length).toBe(outcome.record.notes.length);
    expectMilestonesMatchTimeline(outcome, runbook);
  }
  // Four hours of scenario, with deadlines, escalations and break-glass, in well under a minute.
  expect(tj.report.durationMs).toBeGreaterThan(3 * 3_600_000);
  expect(tj.wallMs).toBeLessThan(60_000);
  expect(n8nRun.wallMs).toBeLessThan(60_000);

  // The hard guarantee: the configured real endpoints received nothing.
  expect(github.calls).toHaveLength(0);
  expect(n8n.requests).toHaveLength(0);

  // tj-actions: platform never answers. The reversible step escalates and breaks glass; the irreversible one
  // escalates and waits for the incident commander.
  const status = tj.status;
  expect(status.flags).toEqual(['break-glass:deactivate-webhooks']);
  expect(events(status, 'deactivate-webhooks')).toEqual([
    'approval-requested',
    'escalated',
    'break-glass',
    'requested',
    'started',
    'succeeded',
  ]);
  expect(events(status, 'remove-deploy-keys')).toEqual([
    'approval-requested',
    'escalated',
    'approved',
    'requested',
    'started',
    'succeeded',
  ]);
  expect(status.timeline.find((e) => e.stepId === 'remove-deploy-keys' && e.type === 'approved')?.actor).toBe(
    'key:carmen',
  );
  expect(status.timeline.filter((e) => e.type === 'break-glass').map((e) => e.stepId)).toEqual([
    'deactivate-webhooks',
  ]);
  expect(status.steps.find((step) => step.id === 'terminate-sessions')?.attempts).toBe(2);
  // The evidence was in the vault before the exposed logs were purged.
  const succeeded = (id: string) =>
    status.timeline.find((e) => e.stepId === id && e.type === 'succeeded')!.at;
  expect(succeeded('capture-logs') < succeeded('purge-exposed-logs')).toBe(true);
  const kinds = tj.report.findings.map((finding) => `${finding.kind}:${finding.stepId ?? ''}`);
  expect(kinds).toEqual(
    expect.arrayContaining([
      'unreachable-owner:',
      'missed-deadline:deactivate-webhooks',
      'missed-deadline:remove-deploy-keys',
      'break-glass:deactivate-webhooks',
      'retried-step:terminate-sessions',
    ]),
  );
  expect(kinds).not.toContain('purge-before-evidence:purge-exposed-logs');
  expect(tj.report.findings.find((f) => f.kind === 'unreachable-owner')?.text).toMatch(
    /^platform answered none/,
  );
  const platform = tj.report.roles.find((role) => role.role === 'platform')!;
  expect(platform.answered).toEqual([]);
  expect([...platform.missed].sort()).toEqual(['deactivate-webhooks', 'remove-deploy-keys']);

  // n8n: the app owner denies the recovery; the denial and its reason are a finding, recovery is not reached.
  const denied = n8nRun.status;
  expect(denied.flags).toEqual(['denied:recover-connector']);
  expect(denied.steps.find((step) => step.id === 'recover-connector')).toMatchObject({
    state: 'skipped',
    reason: 'denied by key:lena',
  });
  for (const id of ['deactivate-webhooks', 'remove-deploy-keys', 'restrict-actions']) {
    expect(denied.steps.find((step) => step.id === id)).toMatchObject({
      state: 'skipped',
      reason: 'not applicable',
    });
  }
  const denial = n8nRun.report.findings.find((finding) => finding.kind === 'denied');
  expect(denial?.stepId).toBe('recover-connector');
  expect(denial?.text).toContain('Keep CRM sync off until it uses a scoped token');
  expect(n8nRun.report.milestones.find((row) => row.id === 'recovered')?.outcome).toBe('not-reached');
  expect(n8nRun.report.milestones.find((row) => row.id === 'downstream-segmented')?.outcome).toBe(
    'not-applicable',
  );
  expect(n8nRun.report.owners.find((owner) => owner.identity === 'key:lena')?.responses).toEqual([
    expect.objectContaining({ stepId: 'recover-connector', role: 'app-owner', decision: 'denied' }),
  ]);
  expect(readReport(n8nRun.reports.html)).toContain('Keep CRM sync off');

  // The exercise's evidence is in the vault like a real incident's: artifacts, actions, script, report.
  const vault = await openVault({ dataDir: temporal.dataDir });
  const entries = await vault.list(tj.incidentId);
  const names = entries.map((entry) =>
    entry.type === 'artifact'
      ? `artifact:${entry.name}`
      : entry.type === 'event'
        ? `event:${entry.kind}`
        : entry.type,
  );
  expect(names).toEqual(
    expect.arrayContaining([
      'event:exercise-scenario',
      'event:exercise-inject',
      'event:exercise-decision',
      'event:timeline',
      'artifact:run-log.txt',
      'artifact:after-action-report.html',
    ]),
  );
  expect((await vault.verify(tj.incidentId)).ok).toBe(true);
});

test('control: outside exercise mode the same configuration does reach the real GitHub and n8n', async () => {
  const queue = 'tourniquet-exercise-control';
  const worker = await startInProcessWorker({
    address: temporal.address,
    dataDir: temporal.dataDir,
    evidence: await openVault({ dataDir: temporal.dataDir }),
    real: await configuredProviders(realEnv, silentLogger),
    taskQueue: queue,
  });
  try {
    const full = runbookById('leaked-workflow-secret');
    const disableOnly: Runbook = {
      ...full,
      steps: full.steps
        .filter((step) => step.id === 'disable-connector')
        .map((step) => ({ ...step, retry: { ...step.retry, maximumAttempts: 1 } })),
    };
    const ids = await Promise.all(
      ['github:acme/payments/.github/workflows/ci.yml', 'http-connector:n8n/42'].map((connector) =>
        start(temporal.client, incidentInput(disableOnly, { connector }), queue),
      ),
    );
    const statuses = await Promise.all(ids.map((id) => result(temporal.client, id)));
    expect(statuses.map((s) => s.steps[0].provider)).toEqual(['github', 'http-connector']);
    expect(github.calls.length).toBeGreaterThan(0);
    expect(n8n.requests.length).toBeGreaterThan(0);
    expect(n8n.workflow('42')?.active).toBe(false);
  } finally {
    await worker.stop();
  }
});
