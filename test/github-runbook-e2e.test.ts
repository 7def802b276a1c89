import './simulators/github/jest-esm-interop';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { openVault } from '../evidence';
import { createGitHubProvider } from '../providers/github/provider';
import { fetchHistoryText } from './harness/history';
import { incidentInput, result, runbookById, start } from './harness/incidents';
import { approveUntilClosed } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { startGitHubSimulator, type GitHubSimulator, type SimInstallation } from './simulators/github';

/**
 * The default runbook with the real GitHub provider against the GitHub REST simulator (every request checked
 * against GitHub's OpenAPI description), on the real Temporal dev server, with the real evidence vault.
 */
let sim: GitHubSimulator;
let installation: SimInstallation;
const logLines: string[] = [];
let jobLogHashes: string[] = [];
const REPO = 'acme/payments';
const OLD_SECRET = `ghp_${'o'.repeat(8)}OLDVALUE${Date.now()}`;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  installation = sim.installApp({
    account: 'acme',
    permissions: {
      actions: 'write',
      administration: 'write',
      repository_hooks: 'write',
      secrets: 'write',
      environments: 'write',
    },
  });
  sim.addRepository(REPO);
  sim.addWorkflow(REPO, { path: '.github/workflows/deploy.yml', name: 'deploy' });
  for (let index = 0; index < 2; index += 1) {
    sim.addRun(REPO, {
      workflow: '.github/workflows/deploy.yml',
      status: 'completed',
      conclusion: 'success',
      createdAt: new Date(Date.now() - 3_600_000).toISOString(),
      jobs: [
        {
          name: 'deploy',
          log: `deploying with token ${Buffer.from(Buffer.from(OLD_SECRET).toString('base64')).toString('base64')}\n`,
        },
      ],
    });
  }
  jobLogHashes = sim
    .repository(REPO)
    .runs.flatMap((run) => run.jobs.map((job) => createHash('sha256').update(job.log).digest('hex')));
  sim.addHook(REPO, { url: 'https://hooks.example.com/a', secret: 'hook-secret', active: true });
  sim.addDeployKey(REPO, { title: 'deploy bot' });
  sim.seedSecret(REPO, 'DEPLOY_TOKEN', OLD_SECRET);
});

// Set up after the simulator (hooks run in order), and stopped before it.
const stack = useTemporalWorker(() => ({
  evidence: (dataDir) => openVault({ dataDir }),
  logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
  // GitHub is real; the credential's issuer is the simulated stand-in, which only a demo-mode worker runs.
  mode: 'demo',
  real: [
    createGitHubProvider({
      baseUrl: sim.url,
      auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: installation.id },
      throttle: { writeSpacing: 'none' },
      retry: { retries: 2, retryAfterBaseValueMs: 20 },
      cancelGraceMs: 300,
    }),
  ],
}));

afterAll(async () => {
  await sim?.close();
});

test('the default runbook contains a leaked Actions secret on GitHub, evidence before the purge, and recovers', async () => {
  const input = incidentInput(runbookById('leaked-workflow-secret'), {
    connector: `github:${REPO}/.github/workflows/deploy.yml`,
    destinations: [`github:${REPO}:DEPLOY_TOKEN`],
    requester: 'cli:oncall',
    severity: 'critical',
  });
  const incidentId = await start(stack.client, input);
  await approveUntilClosed(stack.client, stack.dataDir, incidentId);
  const status = await result(stack.client, incidentId);
  expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
  expect(sim.violations).toEqual([]);

  const repo = sim.repository(REPO);
  // Disabled during containment, re-enabled by the recovery step the app owner approved.
  const workflowCalls = sim.calls.filter((call) =>
    /\/actions\/workflows\/\{workflow_id\}\/(disable|enable)$/.test(call.route),
  );
  expect(workflowCalls.map((call) => call.route.split('/').pop())).toEqual(['disable', 'enable']);
  expect(repo.workflows[0].state).toBe('active');

  // The new value decrypts from its sealed box and differs from the leaked one.
  const replacement = sim.readSecret(REPO, 'DEPLOY_TOKEN');
  expect(replacement).toBeDefined();
  expect(replacement).not.toBe(OLD_SECRET);

  // Every job log was preserved by the capture step, with matching SHA-256, before any log was deleted.
  const entries = await stack.evidence.list(incidentId);
  const artifacts = entries.filter((entry) => entry.type === 'artifact') as {
    stepId: string;
    sha256: string;
    time: string;
  }[];
  const captured = artifacts.filter((artifact) => artifact.stepId === 'capture-logs');
  expect(jobLogHashes).toHaveLength(2);
  for (const digest of jobLogHashes) expect(captured.map((artifact) => artifact.sha256)).toContain(digest);
  expect(repo.runs.every((run) => run.logsDeleted)).toBe(true);
  const lastCaptured = Math.max(...captured.map((artifact) => Date.parse(artifact.time)));
  const firstDeletion = Math.min(
    ...sim.calls
      .filter((call) => call.method === 'DELETE' && call.route.endsWith('/logs'))
      .map((call) => call.time),
  );
  expect(firstDeletion).toBeGreaterThan(lastCaptured);

  // Segmentation held: keys gone; hooks were deactivated (their secret kept) and then restored on recovery.
  expect(repo.deployKeys).toHaveLength(0);
  expect(repo.actionsPermissions.shaPinningRequired || repo.actionsPermissions.allowedActions !== 'all').toBe(
    true,
  );
  const hookCalls = sim.calls.filter(
    (call) => call.method === 'PATCH' && call.route.endsWith('/hooks/{hook_id}'),
  );
  expect(hookCalls).toHaveLength(2);
  expect(repo.hooks.every((hook) => hook.active && hook.config.secret === 'hook-secret')).toBe(true);

  // Neither the leaked value nor its replacement is in history, the worker's logs or anything under the data dir but sealed evidence.
  const history = await fetchHistoryText(stack.client, incidentId);
  const logs = logLines.join('\n');
  for (const secret of [OLD_SECRET, replacement!]) {
    expect(history).not.toContain(secret);
    expect(logs).not.toContain(secret);
  }
  const sqlite = join(stack.dataDir, 'temporal');
  for (const file of readdirSync(sqlite)) {
    const bytes = readFileSync(join(sqlite, file));
    expect(bytes.includes(Buffer.from(replacement!))).toBe(false);
  }
  expect(existsSync(join(stack.dataDir, 'evidence'))).toBe(true);
  expect((await stack.evidence.verify(incidentId)).ok).toBe(true);
});
