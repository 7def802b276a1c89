import './simulators/github/jest-esm-interop';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintSecret } from '../lib/fingerprint';
import { createGitHubProvider } from '../providers/github/provider';
import { gitHubOptionsFromEnv, type GitHubProviderOptions } from '../providers/github/options';
import { ProviderError, type ActionResult } from '../providers/types';
import {
  startGitHubSimulator,
  type GitHubSimulator,
  type PermissionSet,
  type SimInstallation,
} from './simulators/github';
import { HashingEvidenceSink, testContext, type TestContext } from './simulators/github/testing';

/**
 * Every action of the GitHub provider against the GitHub REST simulator, over real HTTP with Octokit. The
 * simulator checks each request against GitHub's OpenAPI description; afterEach fails a test that provoked a
 * request or response the description does not allow.
 */

const ALL_PERMISSIONS: PermissionSet = {
  actions: 'write',
  administration: 'write',
  environments: 'write',
  organization_administration: 'read',
  repository_hooks: 'write',
  secret_scanning_alerts: 'read',
  secrets: 'write',
};

let sim: GitHubSimulator;
let installation: SimInstallation;
let repoCounter = 0;

/** Fast but faithful: writes are not spaced a second apart, retry-after is still honoured in real seconds. */
function providerOptions(overrides: Partial<GitHubProviderOptions> = {}): GitHubProviderOptions {
  return {
    baseUrl: sim.url,
    auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: installation.id },
    throttle: { writeSpacing: 'none' },
    retry: { retries: 2, retryAfterBaseValueMs: 20 },
    cancelGraceMs: 300,
    ...overrides,
  };
}

function freshRepository(prefix = 'service'): string {
  repoCounter += 1;
  const fullName = `acme/${prefix}-${repoCounter}`;
  sim.addRepository(fullName);
  return fullName;
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected the action to fail');
}

const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

beforeAll(async () => {
  sim = await startGitHubSimulator();
  installation = sim.installApp({ account: 'acme', permissions: ALL_PERMISSIONS });
});

afterAll(async () => {
  await sim.close();
});

afterEach(() => {
  sim.clearFaults();
  const violations = sim.violations.splice(0);
  expect(violations).toEqual([]);
});

describe('disable and re-enable the connector', () => {
  it('disables the workflow named by file, path or id; a second run is a no-op success', async () => {
    const repository = freshRepository();
    const workflow = sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());

    const first = await provider.actions.disableConnector(
      { ref: `${repository}/.github/workflows/deploy.yml` },
      testContext(),
    );
    expect(workflow.state).toBe('disabled_manually');
    expect(first.summary).toMatchObject({
      previousState: 'active',
      alreadyDisabled: false,
      workflowId: workflow.id,
    });

    const again = await provider.actions.disableConnector(
      { ref: `github:${repository}/${workflow.id}` },
      testContext(),
    );
    expect(again.summary).toMatchObject({ alreadyDisabled: true, state: 'disabled_manually' });
    expect(sim.calls.filter((call) => call.operationId === 'actions/disable-workflow')).toHaveLength(1);
  });

  it('remembers the state before containment across a retry of the same step', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());
    const ctx = testContext();
    await provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, ctx);
    const retried = await provider.actions.disableConnector(
      { ref: `${repository}/deploy.yml` },
      { ...ctx, attempt: 2 },
    );
    expect(retried.summary.previousState).toBe('active');
  });

  it('re-enables on recovery, but leaves a workflow that was already off before the incident', async () => {
    const repository = freshRepository();
    const active = sim.addWorkflow(repository, { path: 'deploy.yml' });
    const offBefore = sim.addWorkflow(repository, { path: 'nightly.yml', state: 'disabled_manually' });
    const provider = createGitHubProvider(providerOptions());

    const disabled = await provider.actions.disableConnector(
      { ref: `${repository}/deploy.yml` },
      testContext(),
    );
    await provider.actions.enableConnector(
      { ref: `${repository}/deploy.yml` },
      testContext({ undoOf: disabled.summary }),
    );
    expect(active.state).toBe('active');

    const disabledBefore = await provider.actions.disableConnector(
      { ref: `${repository}/nightly.yml` },
      testContext(),
    );
    const recovery = await provider.actions.enableConnector(
      { ref: `${repository}/nightly.yml` },
      testContext({ undoOf: disabledBefore.summary }),
    );
    expect(offBefore.state).toBe('disabled_manually');
    expect(recovery.summary.leftAsBefore).toBe('disabled_manually');
  });

  it('fails clearly and without retrying when the workflow does not exist', async () => {
    const repository = freshRepository();
    const provider = createGitHubProvider(providerOptions());
    const failure = await failureOf(
      provider.actions.disableConnector({ ref: `${repository}/missing.yml` }, testContext()),
    );
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/not found/);
    expect(failure.message).toContain(`/repos/${repository}/actions/workflows/missing.yml`);
    expect(sim.calls.filter((call) => call.path.endsWith('/actions/workflows/missing.yml'))).toHaveLength(1);
  });

  it('refuses a malformed connector reference before calling GitHub', async () => {
    const provider = createGitHubProvider(providerOptions());
    const before = sim.calls.length;
    const failure = await failureOf(
      provider.actions.disableConnector({ ref: 'acme/app/../deploy.yml' }, testContext()),
    );
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/owner\/repo\/<workflow file name or id>/);
    expect(sim.calls.length).toBe(before);
  });
});

describe('cancel in-flight runs', () => {
  it('cancels running and queued runs and force-cancels the ones that ignore the cancel', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const finished = sim.addRun(repository, { workflow: 'deploy.yml', status: 'completed' });
    const running = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress' });
    const queued = sim.addRun(repository, { workflow: 'deploy.yml', status: 'queued' });
    const stuck = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress', stuck: true });
    const provider = createGitHubProvider(providerOptions());

    const result = await provider.actions.cancelRuns(
      { ref: `${repository}/deploy.yml`, force: true },
      testContext(),
    );
    expect([running, queued, stuck].map((run) => [run.status, run.conclusion])).toEqual([
      ['completed', 'cancelled'],
      ['completed', 'cancelled'],
      ['completed', 'cancelled'],
    ]);
    expect(finished.conclusion).toBe('success');
    expect(result.summary.forceCancelledRunIds).toEqual([String(stuck.id)]);
    expect(result.summary.inFlight).toBe(3);

    const again = await provider.actions.cancelRuns(
      { ref: `${repository}/deploy.yml`, force: true },
      testContext(),
    );
    expect(again.summary.inFlight).toBe(0);
  });
});

describe('preserve the run logs, then purge them', () => {
  it('streams every run and job log of the window into the vault, hashes matching what GitHub served', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const inWindow = sim.addRun(repository, {
      workflow: 'deploy.yml',
      createdAt: '2025-03-01T10:00:00Z',
      jobs: [
        { name: 'build', log: 'compiling\n' },
        { name: 'deploy', log: `token=${'x'.repeat(40)}\n`.repeat(5000) },
      ],
    });
    sim.addRun(repository, { workflow: 'deploy.yml', createdAt: '2025-02-01T10:00:00Z' });
    const provider = createGitHubProvider(providerOptions());
    const ctx = testContext();

    const result = await provider.actions.captureLogs(
      { ref: `${repository}/deploy.yml`, since: '2025-03-01T00:00:00Z', until: '2025-03-02T00:00:00Z' },
      ctx,
    );
    expect(result.summary.capturedRunIds).toEqual([String(inWindow.id)]);
    expect(ctx.evidence.artifacts.map((artifact) => artifact.name)).toEqual([
      `${repository}/actions/runs/${inWindow.id}/logs.zip`,
      `${repository}/actions/runs/${inWindow.id}/jobs/${inWindow.jobs[0].id}.log`,
      `${repository}/actions/runs/${inWindow.id}/jobs/${inWindow.jobs[1].id}.log`,
    ]);
    // What the vault hashed is byte for byte what the simulated storage served.
    const served = [...sim.state.blobs.values()].slice(-3);
    expect(ctx.evidence.artifacts.map((artifact) => artifact.sha256)).toEqual(
      served.map((blob) => sha256(blob.content)),
    );
    expect(ctx.evidence.artifacts[2].content.toString()).toBe(inWindow.jobs[1].log);
    expect(result.summary.bytes).toBe(served.reduce((total, blob) => total + blob.content.length, 0));
  });

  it('deletes a run log only after it is in the vault, skips running runs, and is idempotent', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const done = sim.addRun(repository, {
      workflow: 'deploy.yml',
      jobs: [{ name: 'build', log: 'leaked: hunter2\n' }],
    });
    const running = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress' });
    const provider = createGitHubProvider(providerOptions());
    const callsWhenPreserved = new Map<string, number>();
    const evidence = new HashingEvidenceSink((name) => callsWhenPreserved.set(name, sim.calls.length));
    const originalArchive = sha256(
      (
        await (async () => {
          const ctx = testContext();
          await provider.actions.captureLogs({ ref: `${repository}/deploy.yml` }, ctx);
          return ctx.evidence.artifacts[0];
        })()
      ).content,
    );

    const result = await provider.actions.purgeLogs(
      { ref: `${repository}/deploy.yml` },
      testContext({ evidence }),
    );
    expect(result.summary).toMatchObject({
      purgedRunIds: [String(done.id)],
      skippedInProgressRunIds: [String(running.id)],
    });
    expect(done.logsDeleted).toBe(true);
    expect(running.logsDeleted).toBe(false);
    const archive = evidence.artifacts.find((artifact) =>
      artifact.name.endsWith(`/runs/${done.id}/logs.zip`),
    )!;
    expect(archive.sha256).toBe(originalArchive);
    const deleteIndex = sim.calls.findIndex(
      (call) =>
        call.operationId === 'actions/delete-workflow-run-logs' &&
        call.path.endsWith(`/runs/${done.id}/logs`),
    );
    expect(deleteIndex).toBeGreaterThanOrEqual(callsWhenPreserved.get(archive.name)!);

    const again = await provider.actions.purgeLogs({ ref: `${repository}/deploy.yml` }, testContext());
    expect(again.summary).toMatchObject({ purgedRunIds: [], alreadyPurgedRunIds: [String(done.id)] });
  });

  it('gives the step back to be retried when the short-lived log URL fails, without deleting anything', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const run = sim.addRun(repository, { workflow: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());
    sim.injectFault({ route: '/_blobs/{id}', status: 403 });
    const failure = await failureOf(
      provider.actions.purgeLogs({ ref: `${repository}/deploy.yml` }, testContext()),
    );
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(/short-lived URL failed with 403/);
    expect(run.logsDeleted).toBe(false);
  });
});

describe('Actions settings', () => {
  it('disables Actions and restores exactly the previous selection', async () => {
    const repository = freshRepository();
    const repo = sim.repository(repository);
    repo.actionsPermissions = { enabled: true, allowedActions: 'selected', shaPinningRequired: false };
    repo.selectedActions = { githubOwnedAllowed: true, verifiedAllowed: false, patternsAllowed: ['acme/*'] };
    const provider = createGitHubProvider(providerOptions());

    const disabled = await provider.actions.disableActions({ repository }, testContext());
    expect(repo.actionsPermissions.enabled).toBe(false);
    expect(disabled.summary).toMatchObject({
      previousEnabled: true,
      previousAllowedActions: 'selected',
      previousPatternsAllowed: ['acme/*'],
    });

    await provider.actions.restoreActionsSettings({ repository }, testContext({ undoOf: disabled.summary }));
    expect(repo.actionsPermissions).toEqual({
      enabled: true,
      allowedActions: 'selected',
      shaPinningRequired: false,
    });
    expect(repo.selectedActions).toEqual({
      githubOwnedAllowed: true,
      verifiedAllowed: false,
      patternsAllowed: ['acme/*'],
    });
  });

  it('restricts to SHA-pinned actions and restores "all" afterwards', async () => {
    const repository = freshRepository();
    const repo = sim.repository(repository);
    const pinned = `actions/checkout@${'b4ffde65f46336ab88eb53be808477a3936bae11'}`;
    const provider = createGitHubProvider(providerOptions());

    const restricted = await provider.actions.restrictActions(
      { repository, allowed: [pinned], githubOwnedAllowed: false },
      testContext(),
    );
    expect(repo.actionsPermissions).toEqual({
      enabled: true,
      allowedActions: 'selected',
      shaPinningRequired: true,
    });
    expect(repo.selectedActions).toEqual({
      githubOwnedAllowed: false,
      verifiedAllowed: false,
      patternsAllowed: [pinned],
    });
    const again = await provider.actions.restrictActions(
      { repository, allowed: [pinned], githubOwnedAllowed: false },
      testContext(),
    );
    expect(again.summary.alreadyRestricted).toBe(true);

    await provider.actions.restoreActionsSettings(
      { repository },
      testContext({ undoOf: restricted.summary }),
    );
    expect(repo.actionsPermissions).toEqual({
      enabled: true,
      allowedActions: 'all',
      shaPinningRequired: false,
    });
  });

  it('refuses to restore without the summary of the step it undoes', async () => {
    const repository = freshRepository();
    const provider = createGitHubProvider(providerOptions());
    const failure = await failureOf(provider.actions.restoreActionsSettings({ repository }, testContext()));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/undoOf\.previousEnabled/);
  });
});

describe('segmentation', () => {
  it('deactivates webhooks keeping their secrets and reactivates only those it deactivated', async () => {
    const repository = freshRepository();
    const live = sim.addHook(repository, {
      url: 'https://ci.example.test/hook',
      secret: 'webhook-shared-secret',
    });
    const dormant = sim.addHook(repository, { url: 'https://old.example.test/hook', active: false });
    const provider = createGitHubProvider(providerOptions());

    const deactivated = await provider.actions.deactivateWebhooks({ repository }, testContext());
    expect(live.active).toBe(false);
    expect(live.config.secret).toBe('webhook-shared-secret');
    expect(deactivated.summary.deactivatedHookIds).toEqual([String(live.id)]);

    await provider.actions.reactivateWebhooks({ repository }, testContext({ undoOf: deactivated.summary }));
    expect(live.active).toBe(true);
    expect(dormant.active).toBe(false);
    expect(live.config.secret).toBe('webhook-shared-secret');
  });

  it('removes deploy keys and self-hosted runners', async () => {
    const repository = freshRepository();
    sim.addDeployKey(repository, { title: 'deploy', readOnly: false });
    sim.addDeployKey(repository, { title: 'mirror' });
    sim.addRunner(repository, { name: 'builder-1', busy: true });
    const provider = createGitHubProvider(providerOptions());

    const keys = await provider.actions.removeDeployKeys({ repository }, testContext());
    const runners = await provider.actions.removeRunners({ repository }, testContext());
    expect(sim.repository(repository).deployKeys).toEqual([]);
    expect(sim.repository(repository).runners).toEqual([]);
    expect(keys.summary).toMatchObject({ removedKeyTitles: ['deploy', 'mirror'], readWriteKeysRemoved: 1 });
    expect(runners.summary).toMatchObject({ removedRunnerNames: ['builder-1'], busyWhenRemoved: 1 });
    const again = await provider.actions.removeDeployKeys({ repository }, testContext());
    expect(again.summary.removedKeyIds).toEqual([]);
  });

  it('requires environment reviewers, keeps the other protection, and restores the previous reviewers', async () => {
    const repository = freshRepository();
    const environment = sim.addEnvironment(repository, {
      name: 'production',
      reviewers: [{ type: 'User', id: 11 }],
      waitTimer: 30,
      preventSelfReview: true,
    });
    const provider = createGitHubProvider(providerOptions());

    const required = await provider.actions.requireEnvironmentReviewers(
      { repository, environment: 'production', reviewers: [{ type: 'Team', id: 42 }] },
      testContext(),
    );
    expect(environment.reviewers).toEqual([{ type: 'Team', id: 42 }]);
    expect(environment.waitTimer).toBe(30);
    expect(environment.preventSelfReview).toBe(true);
    expect(required.summary.previousReviewers).toEqual(['User:11']);

    await provider.actions.restoreEnvironmentReviewers(
      { repository, environment: 'production' },
      testContext({ undoOf: required.summary }),
    );
    expect(environment.reviewers).toEqual([{ type: 'User', id: 11 }]);
    expect(environment.waitTimer).toBe(30);
  });
});

describe('GitHub App installation', () => {
  it('suspends the installation with the App JWT and lifts the suspension on recovery', async () => {
    const target = sim.installApp({ account: 'acme', permissions: { actions: 'read' } });
    const provider = createGitHubProvider(providerOptions());
    const suspended = await provider.actions.suspendInstallation(
      { installationId: target.id },
      testContext(),
    );
    expect(target.suspendedAt).not.toBeNull();
    expect(suspended.summary).toMatchObject({ wasSuspended: false, suspended: true });
    expect(
      (await provider.actions.suspendInstallation({ installationId: target.id }, testContext())).summary
        .alreadySuspended,
    ).toBe(true);

    await provider.actions.unsuspendInstallation(
      { installationId: target.id },
      testContext({ undoOf: suspended.summary }),
    );
    expect(target.suspendedAt).toBeNull();
  });

  it('says so when its own installation is suspended, and can lift that suspension with its JWT', async () => {
    const own = sim.installApp({ account: 'acme', permissions: ALL_PERMISSIONS });
    const repository = freshRepository();
    const workflow = sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(
      providerOptions({
        auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: own.id },
      }),
    );
    const suspended = await provider.actions.suspendInstallation({}, testContext());
    expect(suspended.summary.installationId).toBe(own.id);
    const failure = await failureOf(
      provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, testContext()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubInstallationRefused' });

    await provider.actions.unsuspendInstallation({}, testContext({ undoOf: suspended.summary }));
    await provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, testContext());
    expect(workflow.state).toBe('disabled_manually');
  });

  it('cannot suspend with a plain token, and says why', async () => {
    const provider = createGitHubProvider(providerOptions({ auth: { token: sim.issueToken() } }));
    const failure = await failureOf(
      provider.actions.suspendInstallation({ installationId: installation.id }, testContext()),
    );
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/GitHub App credentials/);
  });
});

describe('secrets', () => {
  it('lists repository, environment and organization secrets in scope, by name only', async () => {
    const repository = freshRepository();
    sim.seedSecret(repository, 'DEPLOY_TOKEN', 'old');
    sim.addEnvironment(repository, { name: 'production' });
    sim.seedSecret(repository, 'PROD_DB_URL', 'old', 'production');
    sim.addOrganizationSecret('acme', 'ORG_WIDE');
    sim.addOrganizationSecret('acme', 'ELSEWHERE', { visibility: 'selected', repositories: [] });
    const provider = createGitHubProvider(providerOptions());

    const { summary } = await provider.actions.listSecrets({ repository }, testContext());
    expect(summary.repositorySecrets).toEqual(['DEPLOY_TOKEN']);
    expect(summary.environmentSecrets).toEqual(['env/production:PROD_DB_URL']);
    expect(summary.organizationSecrets).toEqual(['ORG_WIDE']);
  });

  it('stores a new value as a sealed box that GitHub decrypts, in the repository and in an environment', async () => {
    const repository = freshRepository();
    sim.seedSecret(repository, 'DEPLOY_TOKEN', 'the-old-leaked-value');
    sim.addEnvironment(repository, { name: 'production' });
    const provider = createGitHubProvider(providerOptions());
    const replacement = `rotated-${createHash('sha256').update(String(Math.random())).digest('hex')}`;

    await provider.destination!.storeSecret(`${repository}:DEPLOY_TOKEN`, replacement, testContext());
    await provider.destination!.storeSecret(
      `${repository}:env/production:DEPLOY_TOKEN`,
      `${replacement}-prod`,
      testContext(),
    );
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN')).toBe(replacement);
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN')).not.toBe('the-old-leaked-value');
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN', 'production')).toBe(`${replacement}-prod`);
  });

  it('rejects a malformed destination target without calling GitHub', async () => {
    const provider = createGitHubProvider(providerOptions());
    const before = sim.calls.length;
    const failure = await failureOf(
      provider.destination!.storeSecret('acme/x:GITHUB_TOKEN', 'v', testContext()),
    );
    expect(failure.retryable).toBe(false);
    expect(sim.calls.length).toBe(before);
  });

  it('deletes a secret; deleting it again succeeds', async () => {
    const repository = freshRepository();
    sim.seedSecret(repository, 'DEPLOY_TOKEN', 'old');
    const provider = createGitHubProvider(providerOptions());
    await provider.actions.deleteSecret({ repository, name: 'DEPLOY_TOKEN' }, testContext());
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN')).toBeUndefined();
    const again = await provider.actions.deleteSecret({ repository, name: 'DEPLOY_TOKEN' }, testContext());
    expect(again.summary.alreadyDeleted).toBe(true);
  });
});

describe('revoking a leaked GitHub token', () => {
  const fingerprintKey = Buffer.alloc(32, 7);

  it('reads the token from the secret scanning alert and submits it, unauthenticated, for revocation', async () => {
    const repository = freshRepository();
    const leaked = `ghp_${'A1b2C3d4'.repeat(4)}WXyz`;
    const alert = sim.addSecretScanningAlert(repository, {
      secret: leaked,
      secretType: 'github_personal_access_token',
    });
    const provider = createGitHubProvider(providerOptions({ fingerprintKey }));

    const result = await provider.actions.revokeLeakedToken(
      { repository, alertNumber: alert.number, fingerprint: fingerprintSecret(fingerprintKey, leaked) },
      testContext(),
    );
    expect(sim.state.revokedCredentials).toContain(leaked);
    expect(result.summary).toMatchObject({
      tokenKind: 'ghp',
      tokenLength: leaked.length,
      tokenLast4: 'WXyz',
      revocationAccepted: true,
    });
    expect(JSON.stringify(result)).not.toContain(leaked);
  });

  it('refuses to revoke a token that is not the one this incident is about', async () => {
    const repository = freshRepository();
    const alert = sim.addSecretScanningAlert(repository, {
      secret: `ghp_${'z'.repeat(36)}`,
      secretType: 'github_personal_access_token',
    });
    const provider = createGitHubProvider(providerOptions({ fingerprintKey }));
    const failure = await failureOf(
      provider.actions.revokeLeakedToken(
        {
          repository,
          alertNumber: alert.number,
          fingerprint: fingerprintSecret(fingerprintKey, 'something else'),
        },
        testContext(),
      ),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubFingerprintMismatch' });
  });

  it('says so when the credential is not one GitHub can revoke', async () => {
    const repository = freshRepository();
    const alert = sim.addSecretScanningAlert(repository, {
      secret: 'AKIAIOSFODNN7EXAMPLE',
      secretType: 'aws_access_key_id',
    });
    const provider = createGitHubProvider(providerOptions());
    const failure = await failureOf(
      provider.actions.revokeLeakedToken({ repository, alertNumber: alert.number }, testContext()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubNotRevocable' });
    expect(failure.message).toMatch(/revoke it at its issuer/);
  });
});

describe('organization audit log', () => {
  it('streams the window into the vault and reports which secrets were passed to jobs', async () => {
    const at = (iso: string) => Date.parse(iso);
    sim.addAuditEntry('acme', {
      action: 'workflows.prepared_workflow_job',
      '@timestamp': at('2025-03-01T10:00:00Z'),
      repo: 'acme/payments',
      secrets_passed: ['DEPLOY_TOKEN', 'NPM_TOKEN'],
    });
    for (let index = 0; index < 150; index += 1) {
      sim.addAuditEntry('acme', { action: 'repo.access', '@timestamp': at('2025-03-01T11:00:00Z') + index });
    }
    sim.addAuditEntry('acme', { action: 'repo.create', '@timestamp': at('2025-01-01T00:00:00Z') });
    const provider = createGitHubProvider(providerOptions());
    const ctx = testContext();

    const { summary } = await provider.actions.captureAuditLog(
      { organization: 'acme', since: '2025-03-01T00:00:00Z', until: '2025-03-02T00:00:00Z' },
      ctx,
    );
    expect(summary).toMatchObject({
      available: true,
      entries: 151,
      preparedWorkflowJobs: 1,
      secretsPassed: ['DEPLOY_TOKEN', 'NPM_TOKEN'],
    });
    const [artifact] = ctx.evidence.artifacts;
    expect(artifact.content.toString().trim().split('\n')).toHaveLength(151);
    expect(artifact.sha256).toBe(summary.sha256);
    expect(sim.calls.filter((call) => call.operationId === 'orgs/get-audit-log').length).toBe(2);
  });

  it('reports the audit log as unavailable where GitHub does not offer it', async () => {
    sim.organization('acme').auditLogAvailable = false;
    try {
      const provider = createGitHubProvider(providerOptions());
      const ctx = testContext();
      const { summary } = await provider.actions.captureAuditLog({ organization: 'acme' }, ctx);
      expect(summary.available).toBe(false);
      expect(ctx.evidence.artifacts).toEqual([]);
    } finally {
      sim.organization('acme').auditLogAvailable = true;
    }
  });
});

describe('rate limits, server errors and permissions', () => {
  it('sits out a storm of secondary (403 and 429) and primary limits, honouring retry-after, and succeeds', async () => {
    const repository = freshRepository();
    const workflow = sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());
    sim.injectFault({ route: 'actions/get-workflow', status: 403, retryAfterSeconds: 1 });
    sim.injectFault({ route: 'actions/get-workflow', status: 429, retryAfterSeconds: 1 });
    sim.injectFault({
      route: 'actions/disable-workflow',
      status: 403,
      kind: 'primary-rate-limit',
      retryAfterSeconds: 1,
    });
    const ctx = testContext();

    const result = await provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, ctx);
    expect(workflow.state).toBe('disabled_manually');
    expect(result.summary.alreadyDisabled).toBe(false);
    const gets = sim.calls.filter(
      (call) => call.operationId === 'actions/get-workflow' && call.path.includes(repository),
    );
    expect(gets.map((call) => call.status)).toEqual([403, 429, 200]);
    expect(gets[1].time - gets[0].time).toBeGreaterThanOrEqual(950);
    expect(gets[2].time - gets[1].time).toBeGreaterThanOrEqual(950);
    const disables = sim.calls.filter(
      (call) => call.operationId === 'actions/disable-workflow' && call.path.includes(repository),
    );
    expect(disables.map((call) => call.status)).toEqual([403, 204]);
    expect(
      ctx.log.lines.filter((line) => line.message.startsWith('GitHub rate limit: waiting')),
    ).toHaveLength(3);
    expect(ctx.heartbeats.length).toBeGreaterThanOrEqual(3);
  });

  it('gives up retryably when the limit lasts longer than it is willing to wait inside the step', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(
      providerOptions({ throttle: { writeSpacing: 'none', maxRetryAfterSeconds: 5 } }),
    );
    sim.injectFault({ route: 'actions/get-workflow', status: 429, retryAfterSeconds: 3600 });
    const failure = await failureOf(
      provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, testContext()),
    );
    expect(failure).toMatchObject({ retryable: true, code: 'GitHubRateLimited' });
  });

  it('retries a transient 500', async () => {
    const repository = freshRepository();
    const workflow = sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());
    sim.injectFault({ route: 'actions/disable-workflow', status: 500, times: 2 });
    await provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, testContext());
    expect(workflow.state).toBe('disabled_manually');
  });

  it('fails non-retryably, naming the permission, when the App installation lacks it', async () => {
    const repository = freshRepository();
    sim.addHook(repository, { url: 'https://ci.example.test/hook' });
    const limited = sim.installApp({ account: 'acme', permissions: { actions: 'write' } });
    const provider = createGitHubProvider(
      providerOptions({
        auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: limited.id },
      }),
    );
    const failure = await failureOf(provider.actions.deactivateWebhooks({ repository }, testContext()));
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubMissingPermission' });
    expect(failure.message).toContain('repository_hooks=write');
  });

  it('fails non-retryably, naming the permission GitHub asks for, when a token is refused with 403', async () => {
    const repository = freshRepository();
    sim.addDeployKey(repository, { title: 'deploy' });
    const token = sim.issueToken({ permissions: { actions: 'write' }, repositories: [repository] });
    const provider = createGitHubProvider(providerOptions({ auth: { token } }));
    const before = sim.calls.length;
    const failure = await failureOf(provider.actions.removeDeployKeys({ repository }, testContext()));
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubMissingPermission' });
    expect(failure.message).toContain('administration=read');
    expect(sim.calls.length - before).toBe(1);
  });

  it('asks GitHub for tokens narrowed to the repository and the permissions of each action', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    const provider = createGitHubProvider(providerOptions());
    const tokensBefore = new Set(sim.state.tokens.keys());
    await provider.actions.disableConnector({ ref: `${repository}/deploy.yml` }, testContext());
    const minted = [...sim.state.tokens.entries()]
      .filter(([token]) => !tokensBefore.has(token))
      .map(([, grant]) => grant);
    expect(minted).toContainEqual(
      expect.objectContaining({
        permissions: { actions: 'write' },
        repositoryIds: [sim.repository(repository).id],
      }),
    );
  });
});

describe('GitHub Enterprise Server and token auth', () => {
  it('works under an /api/v3 base URL with a plain token', async () => {
    const enterprise = await startGitHubSimulator({ pathPrefix: '/api/v3' });
    try {
      enterprise.addRepository('corp/app');
      const workflow = enterprise.addWorkflow('corp/app', { path: 'ci.yml' });
      const provider = createGitHubProvider({
        baseUrl: `${enterprise.url}/`,
        auth: { token: enterprise.issueToken() },
        throttle: { writeSpacing: 'none' },
      });
      await provider.actions.disableConnector({ ref: 'corp/app/ci.yml' }, testContext());
      expect(workflow.state).toBe('disabled_manually');
      expect(enterprise.violations).toEqual([]);
    } finally {
      await enterprise.close();
    }
  });
});

describe('secret values never leave the provider', () => {
  it('keeps a canary out of every log line, summary and error it produces', async () => {
    const canary = `ghp_CANARY${'9f3a'.repeat(8)}`;
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml' });
    sim.addRun(repository, { workflow: 'deploy.yml', jobs: [{ name: 'build', log: `echo ${canary}\n` }] });
    sim.seedSecret(repository, 'DEPLOY_TOKEN', canary);
    sim.addHook(repository, { url: 'https://ci.example.test/hook', secret: canary });
    const alert = sim.addSecretScanningAlert(repository, {
      secret: canary,
      secretType: 'github_personal_access_token',
    });
    const provider = createGitHubProvider(providerOptions({ fingerprintKey: Buffer.alloc(32, 1) }));
    const contexts: TestContext[] = [];
    const results: ActionResult[] = [];
    const errors: string[] = [];
    const run = async (work: (ctx: TestContext) => Promise<ActionResult | void>) => {
      const ctx = testContext();
      contexts.push(ctx);
      try {
        const result = await work(ctx);
        if (result) results.push(result);
      } catch (error) {
        errors.push(`${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`);
      }
    };

    await run((ctx) =>
      provider.destination!.storeSecret(`${repository}:DEPLOY_TOKEN`, `${canary}-next`, ctx),
    );
    sim.injectFault({
      route: 'actions/create-or-update-repo-secret',
      status: 403,
      acceptedPermissions: 'secrets=write',
    });
    await run((ctx) => provider.destination!.storeSecret(`${repository}:DEPLOY_TOKEN`, canary, ctx));
    await run((ctx) =>
      provider.destination!.storeSecret(`${repository}:env/missing:DEPLOY_TOKEN`, canary, ctx),
    );
    await run((ctx) => provider.actions.deactivateWebhooks({ repository }, ctx));
    await run((ctx) => provider.actions.listSecrets({ repository }, ctx));
    await run((ctx) => provider.actions.captureLogs({ ref: `${repository}/deploy.yml` }, ctx));
    await run((ctx) => provider.actions.revokeLeakedToken({ repository, alertNumber: alert.number }, ctx));
    sim.injectFault({ route: 'credentials/revoke', status: 500, times: 5 });
    await run((ctx) => provider.actions.revokeLeakedToken({ repository, alertNumber: alert.number }, ctx));
    await run((ctx) =>
      provider.actions.revokeLeakedToken(
        { repository, alertNumber: alert.number, fingerprint: 'f'.repeat(64) },
        ctx,
      ),
    );

    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(sim.readSecret(repository, 'DEPLOY_TOKEN')).toBe(`${canary}-next`);
    expect(sim.state.revokedCredentials).toContain(canary);
    const emitted = JSON.stringify({
      logs: contexts.flatMap((ctx) => ctx.log.lines),
      heartbeats: contexts.flatMap((ctx) => ctx.heartbeats),
      results,
      errors,
      artifactNames: contexts.flatMap((ctx) => ctx.evidence.artifacts.map((artifact) => artifact.name)),
    });
    expect(emitted).not.toContain(canary);
    expect(emitted).not.toContain(canary.slice(4, 20));
    // The evidence itself does hold the leaked log line: that is what evidence is for.
    expect(
      contexts.some((ctx) => ctx.evidence.artifacts.some((artifact) => artifact.content.includes(canary))),
    ).toBe(true);
  });
});

describe('configuration from the environment', () => {
  it('is undefined when nothing is configured, and reads a token or an App', () => {
    expect(gitHubOptionsFromEnv({})).toBeUndefined();
    expect(gitHubOptionsFromEnv({ GITHUB_TOKEN: 'abc' })).toEqual({
      baseUrl: 'https://api.github.com',
      auth: { token: 'abc' },
    });

    const directory = mkdtempSync(join(tmpdir(), 'tourniquet-github-'));
    try {
      const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs1', format: 'pem' })
        .toString();
      writeFileSync(join(directory, 'app.pem'), pem);
      const options = gitHubOptionsFromEnv({
        GITHUB_API_URL: 'https://ghe.example.test/api/v3/',
        GITHUB_APP_ID: '12',
        GITHUB_APP_INSTALLATION_ID: '34',
        GITHUB_APP_PRIVATE_KEY_FILE: join(directory, 'app.pem'),
      });
      expect(options).toEqual({
        baseUrl: 'https://ghe.example.test/api/v3',
        auth: { appId: 12, installationId: 34, privateKey: pem.trim() },
      });
      const escaped = gitHubOptionsFromEnv({
        GITHUB_APP_ID: '1',
        GITHUB_APP_INSTALLATION_ID: '2',
        GITHUB_APP_PRIVATE_KEY: pem.trim().replace(/\n/g, '\\n'),
      });
      expect(escaped?.auth).toMatchObject({ privateKey: pem.trim() });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('names the variable at fault and never echoes a value', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        gitHubOptionsFromEnv(env);
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    expect(attempt({ GITHUB_API_URL: 'ftp://nope', GITHUB_TOKEN: 't' })).toMatch(/^GITHUB_API_URL:/);
    expect(attempt({ GITHUB_APP_ID: 'twelve' })).toMatch(/^GITHUB_APP_ID:/);
    expect(attempt({ GITHUB_APP_ID: '1', GITHUB_APP_INSTALLATION_ID: '2' })).toMatch(
      /^GITHUB_APP_PRIVATE_KEY:/,
    );
    const secretLooking = 'not-a-pem-but-secret-material';
    const message = attempt({
      GITHUB_APP_ID: '1',
      GITHUB_APP_INSTALLATION_ID: '2',
      GITHUB_APP_PRIVATE_KEY: secretLooking,
    });
    expect(message).toMatch(/^GITHUB_APP_PRIVATE_KEY: not a PEM private key/);
    expect(message).not.toContain(secretLooking);
    expect(attempt({ GITHUB_TOKEN: 't', GITHUB_APP_ID: '1' })).toMatch(/^GITHUB_TOKEN:/);
  });
});
