import './simulators/github/jest-esm-interop';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectorFor } from '../gateway/ingest';
import { normalizeSiemAlert } from '../gateway/siem/normalize';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY } from '../providers';
import { createGitHubProvider } from '../providers/github/provider';
import type { GitHubProviderOptions } from '../providers/github/options';
import { parseConnectorRef } from '../providers/github/refs';
import { MAX_REPOSITORY_WORKFLOWS } from '../providers/github/repository-connector';
import {
  MAX_WORKFLOW_FILE_BYTES,
  secretNamesIn,
  workflowReadsSecret,
} from '../providers/github/workflow-secrets';
import { ProviderError, type ActionContext, type ActionResult } from '../providers/types';
import { loadRunbookFile, formatIssues } from '../runbooks';
import { fixtureText, makeCanaries } from './fixtures/siem/canaries';
import { incidentInput, result, start, TEST_FINGERPRINT_KEY } from './harness/incidents';
import { useTemporalWorker } from './harness/stack';
import { startGitHubSimulator, type GitHubSimulator, type SimInstallation } from './simulators/github';
import { testContext, type TestContext } from './simulators/github/testing';

/**
 * The repository as the connector (`github:owner/repo`): an alert that names a repository but no workflow (every
 * GitHub secret-scanning alert) is contained by disabling the repository's workflows that can read the leaked
 * secret. The provider runs over real HTTP against the GitHub REST simulator, which checks every request and response
 * against GitHub's OpenAPI description (afterEach fails a test that provoked one it does not allow); the last tests
 * run it inside incidents on the real Temporal dev server, compensation and recovery included.
 */

const ALL_PERMISSIONS = { actions: 'write', contents: 'read', metadata: 'read' } as const;

let sim: GitHubSimulator;
let installation: SimInstallation;
let repoCounter = 0;

function providerOptions(
  overrides: Partial<GitHubProviderOptions> = {},
  installationId = installation.id,
): GitHubProviderOptions {
  return {
    baseUrl: sim.url,
    auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId },
    throttle: { writeSpacing: 'none' },
    retry: { retries: 2, retryAfterBaseValueMs: 20 },
    cancelGraceMs: 300,
    ...overrides,
  };
}

function freshRepository(prefix = 'repo'): string {
  repoCounter += 1;
  const fullName = `acme/${prefix}-${repoCounter}`;
  sim.addRepository(fullName);
  return fullName;
}

/** A step context whose incident credential is stored as these Actions secrets (`owner/repo:NAME`). */
function withSecrets(targets: string[], overrides: Partial<ActionContext> = {}): TestContext {
  const ctx = testContext(overrides);
  Object.assign(ctx, {
    credentialDestinations: targets.map((target) => ({ provider: 'github', target })),
  });
  return ctx;
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

const job = (steps: string) =>
  `name: ci\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`;
const READS_DEPLOY_TOKEN = job(
  '      - run: ./deploy.sh\n        env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n',
);
const READS_OTHER = job(
  '      - run: ./notify.sh\n        env:\n          TOKEN: ${{ secrets.SLACK_TOKEN }}\n',
);
const READS_NOTHING = job('      - run: npm test\n');
const INHERITS = `name: release\non: push\njobs:\n  call:\n    uses: ./.github/workflows/reusable.yml\n    secrets: inherit\n`;
const DUMPS_ALL = job("      - run: echo '${{ toJSON(secrets) }}' > /dev/null\n");

const disabledIds = (result: ActionResult) => result.summary.disabledWorkflowIds as string[];
const contentCalls = () => sim.calls.filter((call) => call.operationId === 'repos/get-content');

beforeAll(async () => {
  sim = await startGitHubSimulator();
  installation = sim.installApp({ account: 'acme', permissions: ALL_PERMISSIONS });
});

afterAll(async () => {
  await sim?.close();
});

afterEach(() => {
  sim.clearFaults();
  const violations = sim.violations.splice(0);
  expect(violations).toEqual([]);
});

describe('the reference', () => {
  test('an alert with a repository and no workflow names the repository as the connector', () => {
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app' })).toBe('github:acme/app');
    expect(PROVIDER_DIRECTORY.parseRef('connector', 'github:acme/app')).toMatchObject({
      provider: 'github',
      ref: 'acme/app',
      repository: 'acme/app',
    });
    // A workflow still makes the workflow the connector; a malformed one does not widen it to the repository.
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app', workflow: 'deploy.yml' })).toBe(
      'github:acme/app/deploy.yml',
    );
    expect(
      PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app', workflow: '../x.yml' }),
    ).toBeUndefined();
    expect(parseConnectorRef('github:acme/app')).toMatchObject({ scope: 'repository', fullName: 'acme/app' });
    expect(parseConnectorRef('acme/app/.github/workflows/deploy.yml')).toMatchObject({
      scope: 'workflow',
      workflowId: 'deploy.yml',
    });
  });

  test('a GitHub secret-scanning alert is contained on its repository, not simulated', () => {
    const normalized = normalizeSiemAlert(
      'github',
      JSON.parse(fixtureText('github', 'secret-scanning-alert-created', makeCanaries())),
      { fingerprintKey: TEST_FINGERPRINT_KEY },
    );
    if (!normalized.ok) throw new Error(normalized.field);
    expect(connectorFor(normalized.alert)).toBe('github:acme/payments');
  });

  test.each([
    ['github:acme'],
    ['github:acme/'],
    ['github:/app'],
    ['github:acme/..'],
    ['github:../app'],
    ['github:./app'],
    ['github:acme/.'],
    ['github:acme/app/'],
    ['github:acme/app/../../x.yml'],
    ['github:acme/app/.github/workflows/../../x.yml'],
    ['github:acme/app%2F..'],
    ['github:acme/app?x=1'],
    ['github:acme/app#x'],
    ['github:acme/app\n'],
    ['github: acme/app'],
    ['github:acme/app:DEPLOY_TOKEN'],
    [`github:${'a'.repeat(40)}/app`],
    [`github:acme/${'a'.repeat(101)}`],
  ])('a malformed connector reference is refused: %j', (ref) => {
    expect(() => PROVIDER_DIRECTORY.parseRef('connector', ref)).toThrow(/connector ref|repository/);
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: ref.slice('github:'.length) })).toBeUndefined();
  });

  test('a malformed reference is refused by the step before any call to GitHub, and not retried', async () => {
    const provider = createGitHubProvider(providerOptions());
    const before = sim.calls.length;
    for (const ref of ['github:acme/..', 'github:../..', 'acme/app/../x.yml', 'github:acme']) {
      const failure = await failureOf(provider.actions.disableConnector({ ref }, testContext()));
      expect(failure.retryable).toBe(false);
      expect(failure.code).toBe('GitHubInvalidReference');
    }
    expect(sim.calls.length).toBe(before);
  });
});

describe('the simulator serves the workflow list and file contents as GitHub does', () => {
  test('workflows list, a file by raw or encoded path, a directory, 404, and Contents: read enforced', async () => {
    const repository = freshRepository('sim');
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const token = sim.issueToken({ permissions: { actions: 'read', contents: 'read' } });
    const get = async (path: string, bearer = token) => {
      const response = await fetch(`${sim.url}/repos/${repository}${path}`, {
        headers: { authorization: `token ${bearer}`, accept: 'application/vnd.github+json' },
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const listed = await get('/actions/workflows');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total_count: 1, workflows: [{ id: deploy.id, path: deploy.path }] });
    for (const path of [
      '/contents/.github/workflows/deploy.yml',
      '/contents/.github%2Fworkflows%2Fdeploy.yml',
    ]) {
      const file = await get(path);
      expect(file.status).toBe(200);
      expect(file.body).toMatchObject({ type: 'file', encoding: 'base64', path: deploy.path });
      expect(Buffer.from(file.body.content as string, 'base64').toString('utf8')).toBe(READS_DEPLOY_TOKEN);
    }
    const directory = await get('/contents/.github/workflows');
    expect(directory.status).toBe(200);
    expect(directory.body).toEqual([expect.objectContaining({ type: 'file', name: 'deploy.yml' })]);
    expect((await get('/contents/.github/workflows/missing.yml')).status).toBe(404);
    const actionsOnly = sim.issueToken({ permissions: { actions: 'read' } });
    const refused = await get('/contents/.github/workflows/deploy.yml', actionsOnly);
    expect(refused.status).toBe(403);
  });
});

describe('disabling the workflows that can read the secret', () => {
  test('the secret is named: exactly the workflows that read it are disabled, the others are left; recovery re-enables only those', async () => {
    const repository = freshRepository();
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const notify = sim.addWorkflow(repository, { path: 'notify.yml', content: READS_OTHER });
    const release = sim.addWorkflow(repository, { path: 'release.yml', content: INHERITS });
    const dump = sim.addWorkflow(repository, { path: 'debug.yml', content: DUMPS_ALL });
    const bracket = sim.addWorkflow(repository, {
      path: 'bracket.yaml',
      content: job('      - run: x\n        env: { T: "${{ secrets[ \'deploy_token\' ] }}" }\n'),
    });
    // Off before the incident, and reads the secret: left off, and not switched on by recovery.
    const offBefore = sim.addWorkflow(repository, {
      path: 'nightly.yml',
      content: READS_DEPLOY_TOKEN,
      state: 'disabled_manually',
    });
    const dependabot = sim.addWorkflow(repository, { path: 'dynamic/dependabot/dependabot-updates' });
    const provider = createGitHubProvider(providerOptions());

    const disabled = await provider.actions.disableConnector(
      { ref: `github:${repository}` },
      withSecrets([`${repository}:DEPLOY_TOKEN`, 'acme/elsewhere:OTHER']),
    );
    const readers = [deploy, release, dump, bracket];
    expect(new Set(disabledIds(disabled))).toEqual(new Set(readers.map((workflow) => String(workflow.id))));
    for (const workflow of readers) expect(workflow.state).toBe('disabled_manually');
    for (const workflow of [lint, notify, dependabot]) expect(workflow.state).toBe('active');
    expect(offBefore.state).toBe('disabled_manually');
    expect(disabled.summary).toMatchObject({
      scope: 'repository',
      repository,
      secretNames: ['DEPLOY_TOKEN'],
      alreadyOffWorkflows: [offBefore.path],
      skippedWorkflows: [dependabot.path],
      note: `disabled 4 of the 8 workflows of ${repository}`,
    });
    expect(new Set(disabled.summary.leftActiveWorkflows as string[])).toEqual(
      new Set([lint.path, notify.path]),
    );
    expect(disabled.summary.readsSecretBecause).toEqual(
      expect.arrayContaining([
        `${deploy.path}: secrets.DEPLOY_TOKEN`,
        `${release.path}: secrets: inherit`,
        `${dump.path}: toJSON(secrets)`,
        `${bracket.path}: secrets.DEPLOY_TOKEN`,
      ]),
    );
    // Each file is read once, through the contents API, from the default branch; the dynamic workflow has no file.
    const read = contentCalls().filter((call) => call.path.includes(repository));
    expect(read).toHaveLength(6);
    expect(read.every((call) => call.status === 200)).toBe(true);
    // The App token was narrowed to this repository, Actions write and Contents read.
    const repoId = sim.repository(repository).id;
    expect(
      [...sim.state.tokens.values()].some(
        (token) =>
          token.repositoryIds?.length === 1 &&
          token.repositoryIds[0] === repoId &&
          JSON.stringify(token.permissions) === JSON.stringify({ actions: 'write', contents: 'read' }),
      ),
    ).toBe(true);

    const recovered = await provider.actions.enableConnector(
      { ref: `github:${repository}` },
      testContext({ undoOf: disabled.summary }),
    );
    for (const workflow of readers) expect(workflow.state).toBe('active');
    expect(offBefore.state).toBe('disabled_manually');
    expect(recovered.summary).toMatchObject({
      leftAsBefore: [offBefore.path],
      note: 're-enabled 4 of the 4 workflows the containment disabled',
    });
    expect(sim.calls.filter((call) => call.operationId === 'actions/enable-workflow')).toHaveLength(4);
  });

  test('the secret name is not known: every active workflow is disabled, without reading any file; compensation re-enables only those', async () => {
    const repository = freshRepository();
    const first = sim.addWorkflow(repository, { path: 'a.yml', content: READS_NOTHING });
    const second = sim.addWorkflow(repository, { path: 'b.yml', content: READS_OTHER });
    const offBefore = sim.addWorkflow(repository, { path: 'c.yml', state: 'disabled_inactivity' });
    const provider = createGitHubProvider(providerOptions());
    const readsBefore = contentCalls().length;

    // A destination in another repository says nothing about this one's secret names.
    const disabled = await provider.actions.disableConnector(
      { ref: repository },
      withSecrets(['acme/other:DEPLOY_TOKEN']),
    );
    expect(new Set(disabledIds(disabled))).toEqual(new Set([String(first.id), String(second.id)]));
    expect([first.state, second.state, offBefore.state]).toEqual([
      'disabled_manually',
      'disabled_manually',
      'disabled_inactivity',
    ]);
    expect(disabled.summary).toMatchObject({
      secretNames: [],
      selection: 'every workflow (the secret name is not known)',
      alreadyOffWorkflows: [offBefore.path],
    });
    expect(contentCalls().length).toBe(readsBefore);

    await provider.actions.enableConnector({ ref: repository }, testContext({ undoOf: disabled.summary }));
    expect([first.state, second.state, offBefore.state]).toEqual(['active', 'active', 'disabled_inactivity']);
  });

  test('a repository without workflows succeeds and says there was nothing to disable', async () => {
    const repository = freshRepository('empty');
    const provider = createGitHubProvider(providerOptions());
    const disabled = await provider.actions.disableConnector(
      { ref: `github:${repository}` },
      withSecrets([`${repository}:DEPLOY_TOKEN`]),
    );
    expect(disabled.summary).toMatchObject({
      workflowCount: 0,
      disabledWorkflowIds: [],
      note: `nothing to disable: ${repository} has no workflows`,
    });
    const cancelled = await provider.actions.cancelRuns(
      { ref: `github:${repository}`, force: true },
      testContext(),
    );
    expect(cancelled.summary).toMatchObject({ inFlight: 0, cancelledRunIds: [] });
    expect(cancelled.summary.note).toMatch(/^nothing to cancel/);
    const recovered = await provider.actions.enableConnector(
      { ref: `github:${repository}` },
      testContext({ undoOf: disabled.summary }),
    );
    expect(recovered.summary.note).toBe(
      `nothing to re-enable: the containment disabled no workflow of ${repository}`,
    );
  });

  test('when no active workflow reads the named secret, nothing is disabled and the summary says why', async () => {
    const repository = freshRepository();
    const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const provider = createGitHubProvider(providerOptions());
    const disabled = await provider.actions.disableConnector(
      { ref: `github:${repository}` },
      withSecrets([`${repository}:env/production:DEPLOY_TOKEN`]),
    );
    expect(lint.state).toBe('active');
    expect(disabled.summary).toMatchObject({
      disabledWorkflowIds: [],
      leftActiveWorkflows: [lint.path],
      note: `nothing to disable: no active workflow of ${repository} reads DEPLOY_TOKEN`,
    });
  });

  test('a retry of the same step still reports what its first attempt disabled, so compensation re-enables it', async () => {
    const repository = freshRepository();
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const provider = createGitHubProvider(providerOptions());
    const ctx = withSecrets([`${repository}:DEPLOY_TOKEN`]);
    await provider.actions.disableConnector({ ref: repository }, ctx);
    const retried = await provider.actions.disableConnector({ ref: repository }, { ...ctx, attempt: 2 });
    expect(disabledIds(retried)).toEqual([String(deploy.id)]);
    expect(retried.summary.alreadyOffWorkflows).toEqual([]);
    expect(
      sim.calls.filter(
        (call) => call.operationId === 'actions/disable-workflow' && call.path.includes(repository),
      ),
    ).toHaveLength(1);
  });

  test('re-enabling refuses to guess without the summary of the step that disabled, or with another repository’s', async () => {
    const repository = freshRepository();
    const off = sim.addWorkflow(repository, { path: 'deploy.yml', state: 'disabled_manually' });
    const provider = createGitHubProvider(providerOptions());
    const before = sim.calls.length;
    const blind = await failureOf(provider.actions.enableConnector({ ref: repository }, testContext()));
    expect(blind).toMatchObject({ retryable: false, code: 'GitHubNothingToRestore' });
    expect(blind.message).toMatch(/undoes/);
    const other = await failureOf(
      provider.actions.enableConnector(
        { ref: repository },
        testContext({ undoOf: { repository: 'acme/other', disabledWorkflowIds: [String(off.id)] } }),
      ),
    );
    expect(other.code).toBe('GitHubNothingToRestore');
    expect(sim.calls.length).toBe(before);
    expect(off.state).toBe('disabled_manually');
  });

  test('undoing a recovery disables exactly what the recovery re-enabled', async () => {
    const repository = freshRepository();
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const provider = createGitHubProvider(providerOptions());
    const disabled = await provider.actions.disableConnector(
      { ref: repository },
      withSecrets([`${repository}:DEPLOY_TOKEN`]),
    );
    const recovered = await provider.actions.enableConnector(
      { ref: repository },
      testContext({ undoOf: disabled.summary }),
    );
    const undone = await provider.actions.disableConnector(
      { ref: repository },
      testContext({ undoOf: recovered.summary }),
    );
    expect(disabledIds(undone)).toEqual([String(deploy.id)]);
    expect([deploy.state, lint.state]).toEqual(['disabled_manually', 'active']);
  });

  test('without Contents: read (App installation or plain token) containment still runs, on every workflow, and says why', async () => {
    const narrow = sim.installApp({ account: 'acme', permissions: { actions: 'write' } });
    for (const auth of ['app', 'token'] as const) {
      const repository = freshRepository(`no-contents-${auth}`);
      const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
      const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
      const provider = createGitHubProvider(
        auth === 'app'
          ? providerOptions({}, narrow.id)
          : providerOptions({
              auth: {
                token: sim.issueToken({ permissions: { actions: 'write' }, repositories: [repository] }),
              },
            }),
      );
      const ctx = withSecrets([`${repository}:DEPLOY_TOKEN`]);
      const disabled = await provider.actions.disableConnector({ ref: repository }, ctx);
      expect([deploy.state, lint.state]).toEqual(['disabled_manually', 'disabled_manually']);
      expect(disabled.summary.secretNames).toEqual(['DEPLOY_TOKEN']);
      expect(disabled.summary.selection).toMatch(
        /^every workflow: the files that read DEPLOY_TOKEN could not be told apart .*contents=read/,
      );
      expect(ctx.log.lines.some((line) => line.level === 'warn' && /not readable/.test(line.message))).toBe(
        true,
      );
      // Nothing was disabled before the files turned out unreadable: each workflow once.
      expect(
        sim.calls.filter(
          (call) => call.operationId === 'actions/disable-workflow' && call.path.includes(repository),
        ),
      ).toHaveLength(2);
      const recovered = await provider.actions.enableConnector(
        { ref: repository },
        testContext({ undoOf: disabled.summary }),
      );
      expect(recovered.summary.enabledWorkflowIds).toHaveLength(2);
      expect([deploy.state, lint.state]).toEqual(['active', 'active']);
    }
  });

  test(`a repository with more than ${MAX_REPOSITORY_WORKFLOWS} workflows is refused rather than half contained`, async () => {
    const repository = freshRepository('huge');
    for (let index = 0; index <= MAX_REPOSITORY_WORKFLOWS; index += 1) {
      sim.addWorkflow(repository, { path: `w${index}.yml` });
    }
    const provider = createGitHubProvider(providerOptions());
    const failure = await failureOf(provider.actions.disableConnector({ ref: repository }, testContext()));
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubTooManyWorkflows' });
    expect(failure.message).toMatch(/disableActions/);
    expect(
      sim.calls.filter(
        (call) => call.operationId === 'actions/disable-workflow' && call.path.includes(repository),
      ),
    ).toHaveLength(0);
  });
});

describe('runs and logs of the workflows that can read the secret', () => {
  test('in-flight runs of those workflows are cancelled (force-cancelled when stuck); others keep running', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const running = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress' });
    const stuck = sim.addRun(repository, { workflow: 'deploy.yml', status: 'queued', stuck: true });
    const finished = sim.addRun(repository, { workflow: 'deploy.yml', status: 'completed' });
    const lintRun = sim.addRun(repository, { workflow: 'lint.yml', status: 'in_progress' });
    const provider = createGitHubProvider(providerOptions());

    const result = await provider.actions.cancelRuns(
      { ref: `github:${repository}`, force: true },
      withSecrets([`${repository}:DEPLOY_TOKEN`]),
    );
    expect([running.conclusion, stuck.conclusion, finished.conclusion]).toEqual([
      'cancelled',
      'cancelled',
      'success',
    ]);
    expect(lintRun.status).toBe('in_progress');
    expect(result.summary).toMatchObject({
      scope: 'repository',
      inFlight: 2,
      forceCancelledRunIds: [String(stuck.id)],
      workflows: ['.github/workflows/deploy.yml'],
      leftWorkflows: ['.github/workflows/lint.yml'],
    });
    expect(new Set(result.summary.cancelledRunIds as string[])).toEqual(
      new Set([String(running.id), String(stuck.id)]),
    );
  });

  test('logs of those workflows are preserved; other workflows’ logs are not copied', async () => {
    const repository = freshRepository();
    sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const deployRun = sim.addRun(repository, {
      workflow: 'deploy.yml',
      jobs: [{ name: 'deploy', log: 'deploying\n' }],
    });
    sim.addRun(repository, { workflow: 'lint.yml', jobs: [{ name: 'lint', log: 'linting\n' }] });
    const provider = createGitHubProvider(providerOptions());
    const ctx = withSecrets([`${repository}:DEPLOY_TOKEN`]);

    const captured = await provider.actions.captureLogs({ ref: `github:${repository}` }, ctx);
    expect(captured.summary).toMatchObject({ runs: 1, capturedRunIds: [String(deployRun.id)] });
    expect(ctx.evidence.artifacts.map((artifact) => artifact.name)).toEqual([
      `${repository}/actions/runs/${deployRun.id}/logs.zip`,
      expect.stringMatching(new RegExp(`^${repository}/actions/runs/${deployRun.id}/jobs/\\d+\\.log$`)),
    ]);
    expect(ctx.evidence.artifacts.some((artifact) => artifact.content.includes('linting'))).toBe(false);

    const purged = await provider.actions.purgeLogs({ ref: `github:${repository}` }, ctx);
    expect(purged.summary).toMatchObject({ purgedRunIds: [String(deployRun.id)] });
    const runs = sim.repository(repository).runs;
    expect(runs.map((run) => run.logsDeleted)).toEqual([true, false]);
  });
});

describe('a workflow file is untrusted text', () => {
  test('files that cannot be read safely count as reading the secret, and nothing outside the repository is fetched', async () => {
    const repository = freshRepository('guards');
    sim.addFile(repository, 'scripts/deploy.yml', READS_NOTHING);
    // A path from the listing that would climb out of .github/workflows/ is never put in a URL.
    const climbing = sim.addWorkflow(repository, { path: '.github/workflows/../../scripts/deploy.yml' });
    const nested = sim.addWorkflow(repository, {
      path: '.github/workflows/sub/x.yml',
      content: READS_NOTHING,
    });
    const linkIn = sim.addWorkflow(repository, { path: 'link-in.yml' });
    sim.addFile(repository, linkIn.path, { symlink: '../../scripts/deploy.yml' });
    const linkOut = sim.addWorkflow(repository, { path: 'link-out.yml' });
    sim.addFile(repository, linkOut.path, { symlink: '/etc/passwd' });
    const submodule = sim.addWorkflow(repository, { path: 'module.yml' });
    sim.addFile(repository, submodule.path, { submodule: 'https://git.example.test/evil.git' });
    const onlyOnABranch = sim.addWorkflow(repository, { path: 'branch.yml' });
    sim.repository(repository).files.delete(onlyOnABranch.path);
    const large = sim.addWorkflow(repository, {
      path: 'large.yml',
      content: `${READS_NOTHING}${'# padding\n'.repeat(MAX_WORKFLOW_FILE_BYTES / 10)}`,
    });
    const huge = sim.addWorkflow(repository, {
      path: 'huge.yml',
      content: `${READS_NOTHING}${'#'.repeat(1024 * 1024 + 1)}\n`,
    });
    const plain = sim.addWorkflow(repository, { path: 'plain.yml', content: READS_NOTHING });
    const provider = createGitHubProvider(providerOptions());

    const disabled = await provider.actions.disableConnector(
      { ref: repository },
      withSecrets([`${repository}:DEPLOY_TOKEN`]),
    );
    const because = Object.fromEntries(
      (disabled.summary.readsSecretBecause as string[]).map((line) => {
        const at = line.indexOf(': ');
        return [line.slice(0, at), line.slice(at + 2)];
      }),
    );
    expect(because).toEqual({
      [climbing.path]: 'not read: not a file directly under .github/workflows/',
      [nested.path]: 'not read: not a file directly under .github/workflows/',
      [linkIn.path]: 'not read: a link to another file',
      [linkOut.path]: 'not read: a symlink, not a file',
      [submodule.path]: 'not read: a submodule, not a file',
      [onlyOnABranch.path]: 'not read: no such file on the default branch',
      [large.path]: 'not read: larger than 256 KiB',
      [huge.path]: 'not read: larger than 1 MB',
    });
    expect(plain.state).toBe('active');
    expect(disabled.summary.leftActiveWorkflows).toEqual([plain.path]);
    // Disabling goes by numeric id; only the listing's direct children were read, and only through the API.
    const paths = sim.calls
      .filter((call) => call.path.includes(repository))
      .map((call) => decodeURIComponent(call.path));
    expect(paths.filter((path) => path.includes('..'))).toEqual([]);
    expect(
      paths
        .filter((path) => path.includes('/contents/'))
        .map((path) => path.split('/contents/')[1])
        .sort(),
    ).toEqual(
      [linkIn, linkOut, submodule, onlyOnABranch, large, huge, plain].map((workflow) => workflow.path).sort(),
    );
    expect(sim.calls.every((call) => call.route !== '/_blobs/{id}' || !call.path.includes(repository))).toBe(
      true,
    );
  });

  test.each([
    ['a YAML escape in a double-quoted scalar', 'run: "echo ${{ secrets.DEPLOY\\x5FTOKEN }}"'],
    ['a unicode escape in the context name', 'run: "echo ${{ \\u0073ecrets.DEPLOY_TOKEN }}"'],
    ['a line continuation inside the name', 'run: "echo ${{ secrets.DEPLOY_\\\n          TOKEN }}"'],
    ['another case', 'run: echo ${{ SECRETS.deploy_token }}'],
    ['spaces around the dot', 'run: echo ${{ secrets . DEPLOY_TOKEN }}'],
    ['a quoted index', `run: echo \${{ secrets [ "DEPLOY_TOKEN" ] }}`],
    ['an index computed at run time', "run: echo ${{ secrets[format('DEPLOY_{0}', 'TOKEN')] }}"],
    ['an index from the matrix', 'run: echo ${{ secrets[matrix.name] }}'],
    ['every value at once', "run: echo ${{ join(secrets.*, ',') }}"],
    ['toJSON in another case and spacing', 'run: echo ${{ toJson( secrets ) }}'],
    ['the whole context handed to a function', "run: echo ${{ format('{0}', secrets) }}"],
    ['an if: without ${{ }}', "if: secrets.DEPLOY_TOKEN != ''\n        run: echo"],
    ['a whole-context if:', "if: contains(toJSON(secrets), 'x')\n        run: echo"],
  ])('a workflow that reads the secret through %s is caught', (_label, step) => {
    const text = job(`      - ${step}\n`);
    expect(workflowReadsSecret(text, new Set(['DEPLOY_TOKEN']))).toMatchObject({ reads: true });
  });

  test.each([
    [
      'a quoted key',
      'name: x\njobs:\n  call:\n    uses: ./.github/workflows/r.yml\n    "secrets": \'inherit\'\n',
    ],
    ['a flow mapping', 'name: x\njobs:\n  call: { uses: ./.github/workflows/r.yml, secrets: inherit }\n'],
    ['an alias', 'x: &how inherit\njobs:\n  call:\n    uses: ./.github/workflows/r.yml\n    secrets: *how\n'],
    ['an escaped key', 'jobs:\n  call:\n    uses: ./.github/workflows/r.yml\n    "s\\x65crets": inherit\n'],
    ['a complex key', 'jobs:\n  call:\n    uses: ./.github/workflows/r.yml\n    ? secrets\n    : inherit\n'],
  ])('secrets: inherit written as %s is caught', (_label, text) => {
    expect(workflowReadsSecret(text, new Set(['DEPLOY_TOKEN']))).toEqual({
      reads: true,
      by: 'secrets: inherit',
    });
  });

  test.each([
    ['another secret', 'run: echo ${{ secrets.DEPLOY_TOKEN_OLD }}'],
    ['a step called "Load secrets"', 'name: Load secrets\n        run: ./load.sh'],
    ['a shell array called secrets', 'run: for s in "${secrets[@]}"; do echo "$s"; done'],
    [
      'a reusable workflow given one other secret',
      'uses: ./x.yml\n        with: { secrets: "${{ secrets.OTHER }}" }',
    ],
  ])('a workflow that only mentions %s is not taken for a reader', (_label, step) => {
    expect(workflowReadsSecret(job(`      - ${step}\n`), new Set(['DEPLOY_TOKEN']))).toEqual({
      reads: false,
    });
  });

  test('YAML this parser refuses (duplicate keys, several documents) counts as reading', () => {
    const names = new Set(['DEPLOY_TOKEN']);
    expect(workflowReadsSecret('on: push\non: pull_request\n', names)).toMatchObject({ reads: true });
    expect(workflowReadsSecret('on: push\n---\non: pull_request\n', names)).toMatchObject({ reads: true });
  });

  test('runaway nesting is never composed (composing it once crashed the whole process) and counts as reading', () => {
    const names = new Set(['DEPLOY_TOKEN']);
    let indented = '';
    for (let level = 0; level < 700; level += 1) indented += `${' '.repeat(level)}k${level}:\n`;
    const shapes = [
      `x: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
      `x: ${'{a: '.repeat(30_000)}1${'}'.repeat(30_000)}\n`,
      `x:\n  ${'- '.repeat(30_000)}y\n`,
      `x:\n  ${'? '.repeat(30_000)}y\n`,
      indented,
    ];
    // Repeated: the crash came on the second deep parse, when V8 compiled a regular expression at that depth.
    for (let round = 0; round < 3; round += 1) {
      for (const text of shapes) {
        expect(workflowReadsSecret(text, names)).toEqual({
          reads: true,
          by: 'YAML nested too deeply to read',
        });
      }
    }
  });

  test('alias bombs are not expanded', () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let level = 1; level < 30; level += 1) {
      bomb += `a${level}: &a${level} [${Array(10)
        .fill(`*a${level - 1}`)
        .join(', ')}]\n`;
    }
    const started = Date.now();
    expect(workflowReadsSecret(bomb, new Set(['DEPLOY_TOKEN']))).toEqual({ reads: false });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test.each([
    ['secrets.', () => 'x: ${{ secrets.'.repeat(20_000)],
    ["secrets['", () => `x: \${{ ${"secrets['a".repeat(20_000)}`],
    ['${{', () => `x: ${'${{ '.repeat(60_000)}`],
    ['whitespace', () => `x: \${{ secrets${' '.repeat(MAX_WORKFLOW_FILE_BYTES - 32)}`],
    ['secrets:', () => `x: "${'secrets: '.repeat(25_000)}"`],
  ])('matching a hostile file full of %s takes linear time', (_label, make) => {
    const text = make().slice(0, MAX_WORKFLOW_FILE_BYTES);
    const started = Date.now();
    workflowReadsSecret(text, new Set(['DEPLOY_TOKEN']));
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('secret names come only from Actions secrets of the same repository', () => {
    const repository = { owner: 'acme', repo: 'app', fullName: 'acme/app' };
    expect(
      secretNamesIn(repository, [
        { provider: 'github', target: 'acme/app:DEPLOY_TOKEN' },
        { provider: 'github', target: 'ACME/App:env/prod:db_password' },
        { provider: 'github', target: 'acme/other:ELSEWHERE' },
        { provider: 'file', target: 'acme/app:NOT_GITHUB' },
        { provider: 'github', target: 'acme/app:GITHUB_TOKEN' },
        { provider: 'github', target: 'acme/app:${{ x }}' },
        { provider: 'github', target: 42 },
        null,
        'acme/app:STRING',
      ]),
    ).toEqual(['DB_PASSWORD', 'DEPLOY_TOKEN']);
    expect(secretNamesIn(repository, 'acme/app:X')).toEqual([]);
  });
});

describe('in an incident, on the real Temporal server', () => {
  const runbookDir = mkdtempSync(join(tmpdir(), 'repo-connector-runbooks-'));
  afterAll(() => rmSync(runbookDir, { recursive: true, force: true }));

  function runbookFromText(name: string, text: string): Runbook {
    const file = join(runbookDir, `${name}.yaml`);
    writeFileSync(file, text);
    const loaded = loadRunbookFile(file);
    if (!loaded.ok) throw new Error(formatIssues(loaded).join('\n'));
    return loaded.runbook;
  }

  const CONTAIN = `
  - id: disable-connector
    title: Disable the connector
    phase: disable-connector
    action: connector.disableConnector
    params: { ref: '{{connector.ref}}' }
    owner: platform
    reversible: true
  - id: cancel-runs
    title: Cancel runs
    phase: disable-connector
    action: connector.cancelRuns
    params: { ref: '{{connector.ref}}', force: true }
    after: [disable-connector]
    owner: platform
    preapproved: stops runs
    reversible: false
  - id: capture-logs
    title: Capture logs
    phase: preserve-evidence
    action: connector.captureLogs
    params: { ref: '{{connector.ref}}' }
    owner: secops
    preapproved: copies logs
    reversible: false
`;

  const stack = useTemporalWorker(() => ({
    mode: 'demo',
    real: [createGitHubProvider(providerOptions())],
  }));

  const stepOf = (status: IncidentStatus, id: string) => status.steps.find((step) => step.id === id)!;

  test('a failure later in the incident compensates: only the workflows this incident disabled are re-enabled', async () => {
    const runbook = runbookFromText(
      'repository-compensation',
      `id: repository-compensation\ntitle: Repository containment that fails\nsteps:${CONTAIN}
  - id: prove
    title: Prove the credential revoked
    phase: rotate-credentials
    action: issuer.verifyRevoked
    params: { ref: '{{credential.ref}}' }
    after: [cancel-runs, capture-logs]
    owner: iam
    preapproved: only reads
    reversible: false
    onFailure: compensate
`,
    );
    const repository = freshRepository('incident');
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const offBefore = sim.addWorkflow(repository, { path: 'old.yml', state: 'disabled_manually' });
    const running = sim.addRun(repository, { workflow: 'lint.yml', status: 'in_progress' });
    sim.addRun(repository, { workflow: 'deploy.yml', jobs: [{ name: 'deploy', log: 'deploying\n' }] });

    const input = incidentInput(
      runbook,
      { connector: `github:${repository}` },
      { faults: { prove: { nonRetryable: true, message: 'still alive' } } },
    );
    const status = await result(stack.client, await start(stack.client, input));

    expect(status.connector).toBe(`github:${repository}`);
    const disable = stepOf(status, 'disable-connector');
    expect(disable).toMatchObject({ state: 'compensated', provider: 'github' });
    // The secret's name is not known to the step: every active workflow was disabled, the one off before was not.
    expect(new Set(disable.summary!.disabledWorkflowIds as string[])).toEqual(
      new Set([String(deploy.id), String(lint.id)]),
    );
    expect(disable.summary!.alreadyOffWorkflows).toEqual([offBefore.path]);
    expect(stepOf(status, 'cancel-runs').summary).toMatchObject({ cancelledRunIds: [String(running.id)] });
    expect(stepOf(status, 'capture-logs').summary).toMatchObject({ runs: 2 });
    expect([deploy.state, lint.state, offBefore.state]).toEqual(['active', 'active', 'disabled_manually']);
    const enables = sim.calls.filter(
      (call) => call.operationId === 'actions/enable-workflow' && call.path.includes(repository),
    );
    expect(enables).toHaveLength(2);
  });

  test('recovery that undoes the disable re-enables exactly those; a repository without workflows ends with a clear summary', async () => {
    const runbook = runbookFromText(
      'repository-recovery',
      `id: repository-recovery\ntitle: Repository containment and recovery\nsteps:${CONTAIN}
  - id: recover-connector
    title: Re-enable the connector
    phase: recover
    action: connector.enableConnector
    params: { ref: '{{connector.ref}}' }
    after: [cancel-runs, capture-logs]
    undoes: disable-connector
    owner: app-owner
    reversible: true
`,
    );
    const repository = freshRepository('recover');
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const offBefore = sim.addWorkflow(repository, { path: 'old.yml', state: 'disabled_manually' });
    const status = await result(
      stack.client,
      await start(stack.client, incidentInput(runbook, { connector: `github:${repository}` })),
    );
    expect(status.state).toBe('completed');
    expect(stepOf(status, 'recover-connector').summary).toMatchObject({
      enabledWorkflowIds: [String(deploy.id)],
      leftAsBefore: [offBefore.path],
    });
    expect([deploy.state, offBefore.state]).toEqual(['active', 'disabled_manually']);

    const empty = freshRepository('empty-incident');
    const emptyStatus = await result(
      stack.client,
      await start(stack.client, incidentInput(runbook, { connector: `github:${empty}` })),
    );
    expect(emptyStatus.state).toBe('completed');
    expect(stepOf(emptyStatus, 'disable-connector')).toMatchObject({
      state: 'succeeded',
      summary: expect.objectContaining({ note: `nothing to disable: ${empty} has no workflows` }),
    });
    expect(stepOf(emptyStatus, 'recover-connector').summary).toMatchObject({
      note: `nothing to re-enable: the containment disabled no workflow of ${empty}`,
    });
  });

  test('the incident names the Actions secret: only the workflows that read it are disabled', async () => {
    const runbook = runbookFromText(
      'repository-named',
      `id: repository-named\ntitle: Repository containment with a named secret\nsteps:${CONTAIN}`,
    );
    const repository = freshRepository('named');
    const deploy = sim.addWorkflow(repository, { path: 'deploy.yml', content: READS_DEPLOY_TOKEN });
    const lint = sim.addWorkflow(repository, { path: 'lint.yml', content: READS_NOTHING });
    const lintRun = sim.addRun(repository, { workflow: 'lint.yml', status: 'in_progress' });
    const deployRun = sim.addRun(repository, { workflow: 'deploy.yml', status: 'in_progress' });
    const status = await result(
      stack.client,
      await start(
        stack.client,
        incidentInput(runbook, {
          connector: `github:${repository}`,
          destinations: [`github:${repository}:DEPLOY_TOKEN`],
        }),
      ),
    );
    expect(status.state).toBe('completed');
    expect(stepOf(status, 'disable-connector').summary).toMatchObject({
      secretNames: ['DEPLOY_TOKEN'],
      disabledWorkflowIds: [String(deploy.id)],
      leftActiveWorkflows: [lint.path],
    });
    expect([deploy.state, lint.state]).toEqual(['disabled_manually', 'active']);
    expect(stepOf(status, 'cancel-runs').summary).toMatchObject({ cancelledRunIds: [String(deployRun.id)] });
    expect(lintRun.status).toBe('in_progress');
  });
});
