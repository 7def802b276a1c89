import './simulators/github/jest-esm-interop';
import { Readable } from 'node:stream';
import pino from 'pino';
import { incidentRequestSchema } from '../client';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY, PROVIDERS } from '../providers';
import { githubToken } from '../providers/github-token';
import { gitHubTokenCatalog } from '../providers/github-token/catalog';
import {
  gitHubTokenOptionsFromEnv,
  type GitHubTokenProviderOptions,
  type TokenProofSettings,
} from '../providers/github-token/options';
import { createGitHubTokenProvider } from '../providers/github-token/provider';
import { parseGitHubTokenRef } from '../providers/github-token/refs';
import { ProviderRefError } from '../providers/plugin';
import {
  ProviderError,
  type ActionResult,
  type EvidenceSink,
  type PreservedArtifact,
} from '../providers/types';
import { RecordingEvidenceSink } from './harness/evidence';
import { fetchHistoryText } from './harness/history';
import { fixtureRunbook, incidentInput, result, start } from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { startGitHubSimulator, type GitHubSimulator, type SimInstallation } from './simulators/github';
import { randomToken } from './simulators/github/state';
import { testContext, type TestContext } from './simulators/github/testing';

/**
 * The github-token issuer against the GitHub REST simulator, over real HTTP with Octokit: every request is checked
 * against GitHub's OpenAPI description (afterEach fails a test that made one GitHub would not accept). Every token
 * the tests leak is searched for, at the end, in everything the provider returned, threw, logged, heartbeated and
 * preserved.
 */

let sim: GitHubSimulator;
let installation: SimInstallation;
let unprivileged: SimInstallation;
let repoCounter = 0;

/** Every token value the tests leaked, and everything the provider said: searched last. */
const leaked = new Set<string>();
const transcript: string[] = [];
const contexts: TestContext[] = [];

/** Quick proof: three refusals in a row over at least 60 ms (probes every 50 ms), within three seconds. */
const FAST_PROOF: TokenProofSettings = { refusals: 3, windowMs: 60, deadlineMs: 3_000 };

function options(
  installationId = installation.id,
  proof: TokenProofSettings = FAST_PROOF,
  target: GitHubSimulator = sim,
): GitHubTokenProviderOptions {
  return {
    github: {
      baseUrl: target.url,
      auth: { appId: target.app.appId, privateKey: target.app.privateKey, installationId },
      throttle: { writeSpacing: 'none' },
      retry: { retries: 1, retryAfterBaseValueMs: 10 },
    },
    proof,
  };
}

function context(overrides: Parameters<typeof testContext>[0] = {}): TestContext {
  const ctx = testContext(overrides);
  contexts.push(ctx);
  return ctx;
}

const FINGERPRINT = 'f'.repeat(64);

function freshRepository(owner = 'acme'): string {
  repoCounter += 1;
  const fullName = `${owner}/service-${repoCounter}`;
  sim.addRepository(fullName);
  return fullName;
}

/** A PAT of `user`, leaked in a new secret scanning alert: its value and the issuer reference for it. */
function leakPersonalToken(
  options: { fineGrained?: boolean; owner?: string; target?: GitHubSimulator } = {},
): { token: string; ref: string; repository: string } {
  const target = options.target ?? sim;
  repoCounter += 1;
  const repository = `${options.owner ?? 'acme'}/service-${repoCounter}`;
  target.addRepository(repository);
  const token = target.issuePersonalToken('octocat', { fineGrained: options.fineGrained });
  leaked.add(token);
  const alert = target.addSecretScanningAlert(repository, {
    secret: token,
    secretType: options.fineGrained
      ? 'github_fine_grained_personal_access_token'
      : 'github_personal_access_token',
  });
  return { token, ref: `secret-scanning/${repository}/${alert.number}`, repository };
}

async function outcome(promise: Promise<ActionResult>): Promise<ActionResult> {
  try {
    const value = await promise;
    transcript.push(JSON.stringify(value));
    return value;
  } catch (error) {
    transcript.push(`${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`);
    throw error;
  }
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    transcript.push(`${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`);
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected the action to fail');
}

function artifact(ctx: TestContext, name: string): Record<string, unknown> {
  const found = ctx.evidence.artifacts.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no ${name} preserved`);
  return JSON.parse(found.content.toString('utf8')) as Record<string, unknown>;
}

const callsTo = (operationId: string, target: GitHubSimulator = sim) =>
  target.calls.filter((call) => call.operationId === operationId);

async function whoAmI(token: string): Promise<number> {
  const response = await fetch(`${sim.url}/user`, { headers: { authorization: `token ${token}` } });
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  sim = await startGitHubSimulator();
  installation = sim.installApp({ account: 'acme', permissions: { secret_scanning_alerts: 'read' } });
  unprivileged = sim.installApp({ account: 'other', permissions: { actions: 'read', secrets: 'read' } });
});

afterAll(async () => {
  await sim?.close();
});

afterEach(() => {
  sim.clearFaults();
  expect(sim.violations.splice(0)).toEqual([]);
});

describe('what the simulator adds for this issuer', () => {
  const call = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${sim.url}${path}`, {
      ...init,
      headers: {
        ...(init.token ? { authorization: `token ${init.token}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    });

  test('a personal token authenticates as its user until the revocation API revokes it', async () => {
    const token = sim.issuePersonalToken('hubot');
    leaked.add(token);
    const me = await call('/user', { token });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { login: string }).login).toBe('hubot');
    expect((await call('/rate_limit', { token })).status).toBe(200);
    // Unknown strings are accepted too: the answer never tells which ones were live tokens.
    const body = JSON.stringify({ credentials: [token, 'ghp_unknown'] });
    expect((await call('/credentials/revoke', { method: 'POST', body })).status).toBe(202);
    expect((await call('/user', { token })).status).toBe(401);
    expect((await call('/rate_limit', { token })).status).toBe(401);
    expect((await call('/rate_limit')).status).toBe(200);
  });

  test('DELETE /installation/token revokes only the installation token it is called with', async () => {
    const personal = sim.issuePersonalToken('hubot');
    leaked.add(personal);
    expect((await call('/installation/token', { method: 'DELETE', token: personal })).status).toBe(403);
    expect(sim.tokenWorks(personal)).toBe(true);
    const installationToken = randomToken('ghs_');
    leaked.add(installationToken);
    sim.state.tokens.set(installationToken, {
      kind: 'installation',
      installationId: installation.id,
      permissions: { secret_scanning_alerts: 'read' },
      expiresAt: Date.now() + 60_000,
    });
    expect((await call('/user', { token: installationToken })).status).toBe(403);
    const body = JSON.stringify({ credentials: [installationToken] });
    expect((await call('/credentials/revoke', { method: 'POST', body })).status).toBe(202);
    // The credential revocation API does not take installation tokens.
    expect(sim.tokenWorks(installationToken)).toBe(true);
    expect((await call('/installation/token', { method: 'DELETE', token: installationToken })).status).toBe(
      204,
    );
    expect(sim.tokenWorks(installationToken)).toBe(false);
  });
});

describe('revokeCredential and verifyRevoked on a leaked personal access token', () => {
  test.each([
    ['classic (ghp_)', false, 'ghp'],
    ['fine-grained (github_pat_)', true, 'github_pat'],
  ])(
    '%s: read from the alert, revoked unauthenticated, then refused by GitHub and proven dead',
    async (_label, fineGrained, tokenType) => {
      const { token, ref, repository } = leakPersonalToken({ fineGrained });
      expect(await whoAmI(token)).toBe(200);
      const provider = createGitHubTokenProvider(options());

      const revokeCtx = context();
      const revoked = await outcome(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, revokeCtx),
      );
      expect(revoked.summary).toMatchObject({
        repository,
        alertNumber: 1,
        tokenType,
        method: 'credential-revocation-api',
        githubStatus: 202,
        revoked: true,
        alreadyRevoked: false,
      });
      expect(sim.state.revokedCredentials).toContain(token);
      // The simulator answers 403 to an authenticated call here, as GitHub does: 202 means it went anonymously.
      expect(callsTo('credentials/revoke').at(-1)?.status).toBe(202);
      expect(sim.tokenWorks(token)).toBe(false);
      expect(await whoAmI(token)).toBe(401);

      const record = artifact(revokeCtx, 'revocation.json');
      expect(record).toMatchObject({
        provider: 'github-token',
        repository,
        alertNumber: 1,
        tokenType,
        endpoint: 'POST /credentials/revoke',
        githubStatus: 202,
        worker: { pid: process.pid },
      });
      expect(typeof record.at).toBe('string');

      const verifyCtx = context();
      const verified = await outcome(provider.actions.verifyRevoked({ ref }, verifyCtx));
      expect(verified.summary).toMatchObject({ verdict: 'dead', oldCredentialDead: true, tokenType });
      const proof = artifact(verifyCtx, 'proof-of-death.json');
      expect(proof.verdict).toBe('dead');
      const probes = proof.probes as Array<{ at: string; code: string; answer: string }>;
      expect(probes.length).toBeGreaterThanOrEqual(FAST_PROOF.refusals);
      for (const probe of probes) {
        expect(probe).toMatchObject({ answer: 'refused', code: 'HTTP 401' });
        expect(Number.isNaN(Date.parse(probe.at))).toBe(false);
      }
      expect(verifyCtx.heartbeats.length).toBeGreaterThan(0);
    },
  );

  test('a retry after the revocation succeeded sends nothing and succeeds; a new run is accepted again', async () => {
    const { ref } = leakPersonalToken();
    const provider = createGitHubTokenProvider(options());
    const ctx = context();
    await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, ctx));
    const submitted = callsTo('credentials/revoke').length;

    const retried = await outcome(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, { ...ctx, attempt: 2 }),
    );
    expect(retried.summary).toMatchObject({ revoked: true, alreadyRevoked: true, githubStatus: null });
    expect(callsTo('credentials/revoke')).toHaveLength(submitted);

    // Another step run (first attempt): GitHub answers 202 to an already revoked token too.
    const again = await outcome(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(again.summary).toMatchObject({ revoked: true, githubStatus: 202 });
  });

  test('GitHub revoking asynchronously: probes that still see the token precede the refusals', async () => {
    const slow = await startGitHubSimulator({ credentialRevocationDelayMs: 600 });
    try {
      const slowInstallation = slow.installApp({
        account: 'acme',
        permissions: { secret_scanning_alerts: 'read' },
      });
      const { token, ref } = leakPersonalToken({ target: slow });
      const provider = createGitHubTokenProvider(options(slowInstallation.id, FAST_PROOF, slow));
      await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()));
      expect(slow.tokenWorks(token)).toBe(true);

      const ctx = context();
      const verified = await outcome(provider.actions.verifyRevoked({ ref }, ctx));
      expect(verified.summary.verdict).toBe('dead');
      const answers = (artifact(ctx, 'proof-of-death.json').probes as Array<{ answer: string }>).map(
        (probe) => probe.answer,
      );
      expect(answers[0]).toBe('accepted');
      expect(answers.slice(answers.indexOf('refused'))).not.toContain('accepted');
      expect(slow.violations).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  test('a token that works again after a refusal fails the step loudly and for good', async () => {
    const { token, ref } = leakPersonalToken();
    const provider = createGitHubTokenProvider(
      options(installation.id, { refusals: 5, windowMs: 800, deadlineMs: 4_000 }),
    );
    await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()));

    const firstProbe = callsTo('rate-limit/get').length;
    const ctx = context();
    const verifying = failureOf(provider.actions.verifyRevoked({ ref }, ctx));
    // As soon as one probe was refused, the token comes back (re-issued, or GitHub disagreeing with itself).
    for (let waited = 0; waited < 4_000; waited += 5) {
      if (
        callsTo('rate-limit/get')
          .slice(firstProbe)
          .some((call) => call.status === 401)
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    delete sim.state.tokens.get(token)!.revokedAt;

    const failure = await verifying;
    expect(failure).toMatchObject({ retryable: false, code: 'AliveAgain' });
    expect(failure.message).toMatch(/NOT dead/);
    expect(artifact(ctx, 'proof-of-death.json').verdict).toBe('alive-again');
  });

  test('a token that was never revoked is not proven dead (retryably)', async () => {
    const { ref } = leakPersonalToken();
    const provider = createGitHubTokenProvider(
      options(installation.id, { refusals: 2, windowMs: 50, deadlineMs: 300 }),
    );
    const ctx = context();
    const failure = await failureOf(provider.actions.verifyRevoked({ ref }, ctx));
    expect(failure).toMatchObject({ retryable: true, code: 'VerificationFailed' });
    expect(artifact(ctx, 'proof-of-death.json').verdict).toBe('not-proven');
  });

  test('GitHub failing the revocation request fails the step retryably, naming no token', async () => {
    const { token, ref } = leakPersonalToken();
    const provider = createGitHubTokenProvider(options());
    sim.injectFault({ route: 'credentials/revoke', status: 500, times: 2 });
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: true, code: 'GitHubUnavailable' });
    expect(failure.message).toMatch(/^github-token\.revokeCredential: POST \/credentials\/revoke failed/);
    expect(sim.tokenWorks(token)).toBe(true);
  });
});

describe('a leaked installation token (ghs_)', () => {
  function leakInstallationToken(): { token: string; ref: string } {
    const repository = freshRepository();
    const token = randomToken('ghs_');
    leaked.add(token);
    sim.state.tokens.set(token, {
      kind: 'installation',
      installationId: installation.id,
      permissions: { secret_scanning_alerts: 'read' },
      expiresAt: Date.now() + 3_600_000,
    });
    const alert = sim.addSecretScanningAlert(repository, {
      secret: token,
      secretType: 'github_app_installation_access_token',
    });
    return { token, ref: `secret-scanning/${repository}/${alert.number}` };
  }

  test('is revoked with DELETE /installation/token authenticated as itself, then proven dead', async () => {
    const { token, ref } = leakInstallationToken();
    const provider = createGitHubTokenProvider(options());
    const revoked = await outcome(provider.actions.revokeInstallationToken({ ref }, context()));
    expect(revoked.summary).toMatchObject({
      tokenType: 'ghs',
      method: 'installation-token-delete',
      githubStatus: 204,
      alreadyRevoked: false,
    });
    expect(sim.tokenWorks(token)).toBe(false);
    // The credential revocation API does not take installation tokens: it was not sent there.
    expect(sim.state.revokedCredentials).not.toContain(token);

    const again = await outcome(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(again.summary).toMatchObject({ githubStatus: 401, alreadyRevoked: true, revoked: true });
    const verified = await outcome(provider.actions.verifyRevoked({ ref }, context()));
    expect(verified.summary.verdict).toBe('dead');
  });

  test('revokeInstallationToken refuses a personal access token', async () => {
    const { token, ref } = leakPersonalToken();
    const provider = createGitHubTokenProvider(options());
    const failure = await failureOf(provider.actions.revokeInstallationToken({ ref }, context()));
    expect(failure).toMatchObject({ retryable: false, code: 'InvalidParams' });
    expect(failure.message).toMatch(/use revokeCredential/);
    expect(sim.tokenWorks(token)).toBe(true);
  });
});

describe('refusals', () => {
  test('an App without secret_scanning_alerts: read fails at once, naming the permission; nothing is revoked', async () => {
    const { token, ref } = leakPersonalToken({ owner: 'other' });
    const provider = createGitHubTokenProvider(options(unprivileged.id));
    const before = callsTo('credentials/revoke').length;
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure.retryable).toBe(false);
    expect(failure.code).toBe('GitHubMissingPermission');
    expect(failure.message).toMatch(/^github-token\.revokeCredential: .*secret_scanning_alerts=read/);
    expect(callsTo('credentials/revoke')).toHaveLength(before);
    expect(sim.state.revokedCredentials).not.toContain(token);
    expect(sim.tokenWorks(token)).toBe(true);

    const verify = await failureOf(provider.actions.verifyRevoked({ ref }, context()));
    expect(verify).toMatchObject({ retryable: false, code: 'GitHubMissingPermission' });
  });

  test('a missing alert is not found, for good', async () => {
    const repository = freshRepository();
    const provider = createGitHubTokenProvider(options());
    const failure = await failureOf(
      provider.actions.revokeCredential(
        { ref: `secret-scanning/${repository}/7`, fingerprint: FINGERPRINT },
        context(),
      ),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubNotFound' });
    expect(failure.message).toMatch(/secret scanning alert 7 in acme\/service-\d+ not found/);
  });

  test('a secret that is not a GitHub token is never sent to GitHub', async () => {
    const repository = freshRepository();
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    leaked.add(secret);
    const alert = sim.addSecretScanningAlert(repository, { secret, secretType: 'aws_secret_access_key' });
    const provider = createGitHubTokenProvider(options());
    const before = sim.calls.length;
    const ref = `secret-scanning/${repository}/${alert.number}`;
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubNotRevocable' });
    expect(failure.message).toMatch(
      /aws_secret_access_key that is not a GitHub token; revoke it at its issuer/,
    );
    const verify = await failureOf(provider.actions.verifyRevoked({ ref }, context()));
    expect(verify.code).toBe('GitHubNotRevocable');
    const sent = sim.calls.slice(before).map((call) => call.operationId);
    expect(sent).not.toContain('credentials/revoke');
    expect(sent).not.toContain('rate-limit/get');
  });

  describe('a reference carrying a token value is refused without repeating it', () => {
    const token = `ghp_${'Zq9'.repeat(12)}`;
    const pat = `github_pat_11AAAAAAA0${'x'.repeat(20)}_${'y'.repeat(40)}`;
    const installationToken = `ghs_${'k2'.repeat(18)}`;
    beforeAll(() => {
      for (const value of [token, pat, installationToken]) leaked.add(value);
    });

    test.each([
      ['a bare classic token', () => token],
      ['a prefixed token', () => `github-token:${token}`],
      ['a fine-grained token', () => pat],
      ['a token in place of the alert number', () => `secret-scanning/acme/app/${installationToken}`],
      ['a token in place of the repository', () => `secret-scanning/acme/${token}/1`],
    ])('%s', async (_label, value) => {
      const ref = value();
      const check = () =>
        PROVIDER_DIRECTORY.parseRef('issuer', ref.startsWith('github-token:') ? ref : `github-token:${ref}`);
      expect(check).toThrow(ProviderRefError);
      expect(check).toThrow(/looks like it holds a token value/);
      let message = '';
      try {
        check();
      } catch (error) {
        message = (error as Error).message;
      }
      transcript.push(message);

      const provider = createGitHubTokenProvider(options());
      const before = sim.calls.length;
      const failure = await failureOf(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
      );
      expect(failure).toMatchObject({ retryable: false, code: 'InvalidParams' });
      expect(sim.calls).toHaveLength(before);

      const request = incidentRequestSchema.safeParse({
        secretKind: 'github-token',
        connector: 'github:acme/app/deploy.yml',
        credential: ref.startsWith('github-token:') ? ref : `github-token:${ref}`,
        severity: 'high',
      });
      expect(request.success).toBe(false);
      transcript.push(JSON.stringify(request.error?.issues));
    });
  });

  test.each([
    ['secret-scanning/acme/app', /four segments/],
    ['secret-scanning/acme/app/0', /alert number/],
    ['secret-scanning/acme/app/12a', /alert number/],
    ['secret-scanning/-acme/app/1', /GitHub owner/],
    ['secret-scanning/acme/../1', /repository/],
    ['dependabot/acme/app/1', /does not start with secret-scanning/],
  ])('%s is refused', (ref, message) => {
    expect(() => parseGitHubTokenRef(ref)).toThrow(message);
    expect(() => PROVIDER_DIRECTORY.parseRef('issuer', `github-token:${ref}`)).toThrow(ProviderRefError);
  });

  test('a good reference names the alert and its repository', () => {
    expect(PROVIDER_DIRECTORY.parseRef('issuer', 'github-token:secret-scanning/acme/app.js/42')).toEqual({
      provider: 'github-token',
      ref: 'secret-scanning/acme/app.js/42',
      repository: 'acme/app.js',
    });
    expect(parseGitHubTokenRef('github-token:secret-scanning/acme/app/42')).toMatchObject({
      owner: 'acme',
      repo: 'app',
      alertNumber: 42,
    });
  });
});

describe('the plugin', () => {
  test('offers revocation and its proof only: what GitHub cannot do for a token is not applicable', () => {
    expect(Object.keys(gitHubTokenCatalog).sort()).toEqual([
      'revokeCredential',
      'revokeInstallationToken',
      'verifyRevoked',
    ]);
    expect(PROVIDERS.map((definition) => definition.name)).toContain('github-token');
    expect(githubToken.roles).toEqual(['issuer']);
  });

  test('turns on with a GitHub App, not with a GITHUB_TOKEN alone; proof settings are checked', () => {
    const app = {
      GITHUB_APP_ID: '12',
      GITHUB_APP_INSTALLATION_ID: '34',
      GITHUB_APP_PRIVATE_KEY: sim.app.privateKey,
    };
    expect(gitHubTokenOptionsFromEnv({})).toBeUndefined();
    expect(gitHubTokenOptionsFromEnv({ GITHUB_TOKEN: 'ghp_not-a-real-token' })).toBeUndefined();
    expect(gitHubTokenOptionsFromEnv(app)).toMatchObject({
      github: { baseUrl: 'https://api.github.com', auth: { appId: 12, installationId: 34 } },
      proof: { refusals: 3, windowMs: 30_000, deadlineMs: 300_000 },
    });
    expect(
      gitHubTokenOptionsFromEnv({
        ...app,
        GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
        TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS: '5',
        TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS: '',
      }),
    ).toMatchObject({ github: { baseUrl: 'https://ghe.example.com/api/v3' }, proof: { refusals: 5 } });
    expect(() =>
      gitHubTokenOptionsFromEnv({ GITHUB_TOKEN: 't', TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS: '2' }),
    ).toThrow(/^TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS is set but no GitHub App is configured/);
    expect(() => gitHubTokenOptionsFromEnv({ ...app, TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS: 'x' })).toThrow(
      /^TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS:/,
    );
    expect(() =>
      gitHubTokenOptionsFromEnv({
        ...app,
        TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS: '5000',
        TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS: '5000',
      }),
    ).toThrow(/^TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS: must exceed/);
  });
});

/** Keeps what providers preserve, so the test can search it; records events like the harness's sink. */
class ReadableEvidence extends RecordingEvidenceSink {
  readonly contents: string[] = [];

  override async preserve(input: Parameters<EvidenceSink['preserve']>[0]): Promise<PreservedArtifact> {
    const chunks: Buffer[] = [];
    for await (const chunk of input.content) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    }
    const content = Buffer.concat(chunks);
    this.contents.push(`${input.name}\n${content.toString('utf8')}`);
    return super.preserve({ ...input, content: Readable.from([content]) });
  }
}

describe('in an incident on Temporal, with the real provider', () => {
  const logLines: string[] = [];
  const stack = useTemporalWorker(() => ({
    evidence: new ReadableEvidence(),
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
    real: [createGitHubTokenProvider(options())],
  }));

  /** The fixture's issuer steps: rotate (not applicable here), revoke, verify; no approvals. */
  function revocationRunbook(): Runbook {
    const base = fixtureRunbook('approvals');
    return withoutApprovals({
      ...base,
      id: 'github-token-revocation',
      title: 'Revoke a leaked GitHub token',
      steps: base.steps.filter((step) => ['rotate', 'revoke', 'verify'].includes(step.id)),
    });
  }

  test('revokes the token from its alert; the value is in no history, log or evidence', async () => {
    const { token, ref } = leakPersonalToken();
    const input = incidentInput(revocationRunbook(), {
      credential: `github-token:${ref}`,
      requester: 'cli:oncall',
      severity: 'critical',
    });
    const incidentId = await start(stack.client, input);
    const status: IncidentStatus = await result(stack.client, incidentId);
    const step = (id: string) => status.steps.find((candidate) => candidate.id === id)!;

    expect(step('rotate')).toMatchObject({ state: 'skipped', reason: 'not applicable' });
    expect(step('revoke')).toMatchObject({
      state: 'succeeded',
      provider: 'github-token',
      summary: expect.objectContaining({ revoked: true, githubStatus: 202 }) as unknown,
    });
    expect(step('verify')).toMatchObject({
      state: 'succeeded',
      provider: 'github-token',
      summary: expect.objectContaining({ verdict: 'dead' }) as unknown,
    });
    expect(sim.tokenWorks(token)).toBe(false);

    const evidence = stack.evidence;
    expect(evidence.contents.some((content) => content.startsWith('proof-of-death.json'))).toBe(true);
    const everything = [
      await fetchHistoryText(stack.client, incidentId),
      logLines.join('\n'),
      JSON.stringify(status),
      JSON.stringify(evidence.events),
      ...evidence.contents,
    ].join('\n');
    expect(everything).toContain(ref);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(4, 20));
  });
});

afterAll(() => {
  // Last: nothing the provider returned, threw, logged, heartbeated or preserved holds a leaked value.
  const said = [
    ...transcript,
    ...contexts.flatMap((ctx) => [
      JSON.stringify(ctx.log.lines),
      JSON.stringify(ctx.heartbeats),
      ...ctx.evidence.artifacts.map((preserved) => `${preserved.name} ${preserved.content.toString('utf8')}`),
    ]),
  ].join('\n');
  expect(contexts.length).toBeGreaterThan(10);
  expect(said.length).toBeGreaterThan(0);
  for (const value of leaked) {
    expect(said.includes(value)).toBe(false);
    expect(said.includes(value.slice(4, 24))).toBe(false);
  }
});
