import './simulators/github/jest-esm-interop';
import { Readable } from 'node:stream';
import pino from 'pino';
import { incidentRequestSchema } from '../client';
import type { IncidentStatus, Runbook } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY, PROVIDERS } from '../providers';
import { ProviderRefError } from '../providers/plugin';
import { slackToken } from '../providers/slack-token';
import { slackTokenCatalog } from '../providers/slack-token/catalog';
import {
  slackTokenOptionsFromEnv,
  type SlackTokenProofSettings,
  type SlackTokenProviderOptions,
} from '../providers/slack-token/options';
import { createSlackTokenProvider } from '../providers/slack-token/provider';
import { parseSlackTokenRef } from '../providers/slack-token/refs';
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
import { testContext, type TestContext } from './simulators/github/testing';
import { startSlackSimulator, type SlackSimulator, type SlackTokenKind } from './simulators/slack';

/**
 * The slack-token issuer over real HTTP against both simulators: the GitHub REST simulator holds the secret scanning
 * alert (every request checked against GitHub's OpenAPI description), the Slack Web API simulator the token. Every
 * token the tests leak is searched for, at the end, in everything the provider returned, threw, logged, heartbeated
 * and preserved.
 */

let github: GitHubSimulator;
let slack: SlackSimulator;
let installation: SimInstallation;
let unprivileged: SimInstallation;
let repoCounter = 0;

/** Every value the tests leaked, and everything the provider said: searched last. */
const leaked = new Set<string>();
const transcript: string[] = [];
const contexts: TestContext[] = [];

/** Quick proof: three refusals in a row over at least 60 ms, within three seconds. */
const FAST_PROOF: SlackTokenProofSettings = { refusals: 3, windowMs: 60, deadlineMs: 3_000 };
const FINGERPRINT = 'f'.repeat(64);

function options(
  overrides: { installationId?: number; proof?: SlackTokenProofSettings; slackApiUrl?: string } = {},
): SlackTokenProviderOptions {
  return {
    slackApiUrl: overrides.slackApiUrl ?? slack.url,
    github: {
      baseUrl: github.url,
      auth: {
        appId: github.app.appId,
        privateKey: github.app.privateKey,
        installationId: overrides.installationId ?? installation.id,
      },
      throttle: { writeSpacing: 'none' },
      retry: { retries: 1, retryAfterBaseValueMs: 10 },
    },
    proof: overrides.proof ?? FAST_PROOF,
    requestTimeoutMs: 2_000,
  };
}

function context(overrides: Parameters<typeof testContext>[0] = {}): TestContext {
  const ctx = testContext(overrides);
  contexts.push(ctx);
  return ctx;
}

/** A secret leaked in a new secret scanning alert: the issuer reference for it. */
function leakSecret(secret: string, secretType: string, owner = 'acme'): { ref: string; repository: string } {
  repoCounter += 1;
  const repository = `${owner}/service-${repoCounter}`;
  github.addRepository(repository);
  leaked.add(secret);
  const alert = github.addSecretScanningAlert(repository, { secret, secretType });
  return { ref: `secret-scanning/${repository}/${alert.number}`, repository };
}

/** A Slack token the simulator minted, leaked in a new alert. */
function leakSlackToken(
  kind: SlackTokenKind = 'bot',
  target: SlackSimulator = slack,
  owner = 'acme',
): { token: string; ref: string; repository: string } {
  const token = target.issueToken({ kind });
  return { token, ...leakSecret(token, 'slack_api_token', owner) };
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

/** Calls the Slack simulator with `token` as the bearer token, the way any Web API client would. */
async function slackCall(
  method: string,
  token: string,
  form: Record<string, string> = {},
  target: SlackSimulator = slack,
): Promise<{ ok: boolean; error?: string } & Record<string, unknown>> {
  const response = await fetch(`${target.url}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return (await response.json()) as { ok: boolean; error?: string };
}

beforeAll(async () => {
  github = await startGitHubSimulator();
  slack = await startSlackSimulator();
  installation = github.installApp({ account: 'acme', permissions: { secret_scanning_alerts: 'read' } });
  unprivileged = github.installApp({ account: 'other', permissions: { actions: 'read', secrets: 'read' } });
});

afterAll(async () => {
  await github?.close();
  await slack?.close();
});

afterEach(() => {
  github.clearFaults();
  expect(github.violations.splice(0)).toEqual([]);
});

describe('what the Slack simulator adds for this issuer', () => {
  test('an issued bot token authenticates until auth.revoke is called with it; test=1 revokes nothing', async () => {
    const token = slack.issueToken({ kind: 'bot' });
    leaked.add(token);
    expect(token).toMatch(/^xoxb-\d+-\d+-[0-9a-f]{24}$/);
    expect(await slackCall('auth.test', token)).toMatchObject({
      ok: true,
      user_id: slack.botUserId,
      bot_id: slack.botId,
      team_id: slack.teamId,
    });
    expect(await slackCall('auth.revoke', token, { test: '1' })).toEqual({ ok: true, revoked: false });
    expect(slack.tokenWorks(token)).toBe(true);
    expect(await slackCall('auth.revoke', token)).toEqual({ ok: true, revoked: true });
    expect(slack.tokenWorks(token)).toBe(false);
    expect(await slackCall('auth.test', token)).toEqual({ ok: false, error: 'token_revoked' });
    expect(await slackCall('auth.revoke', token)).toEqual({ ok: false, error: 'token_revoked' });
    // Other tokens are untouched.
    expect(await slackCall('auth.test', slack.botToken)).toMatchObject({ ok: true });
  });

  test('a user token answers as its user; refresh and app-level tokens authenticate nothing', async () => {
    const user = slack.issueToken({ kind: 'user', userId: 'U0BOB00002' });
    const refresh = slack.issueToken({ kind: 'refresh' });
    const appLevel = slack.issueToken({ kind: 'app-level' });
    for (const value of [user, refresh, appLevel]) leaked.add(value);
    expect(user).toMatch(/^xoxp-/);
    expect(refresh).toMatch(/^xoxe-1-/);
    expect(appLevel).toMatch(/^xapp-1-/);
    const me = await slackCall('auth.test', user);
    expect(me).toMatchObject({ ok: true, user_id: 'U0BOB00002', user: 'bob' });
    expect(me.bot_id).toBeUndefined();
    expect(await slackCall('auth.test', refresh)).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await slackCall('auth.test', appLevel)).toEqual({ ok: false, error: 'invalid_auth' });
  });
});

describe('revokeCredential and verifyRevoked', () => {
  test.each([
    ['a bot token', 'bot', 'xoxb'],
    ['a user token', 'user', 'xoxp'],
    ['an expiring bot token (token rotation)', 'rotating-bot', 'xoxe.xoxb'],
    ['an expiring user or app configuration token', 'rotating-user', 'xoxe.xoxp'],
  ] as const)(
    '%s: read from the alert, revoked with itself, then refused by Slack and proven dead',
    async (_label, kind, tokenType) => {
      const { token, ref, repository } = leakSlackToken(kind);
      expect(slack.tokenWorks(token)).toBe(true);
      const provider = createSlackTokenProvider(options());
      const revokesBefore = slack.callsTo('auth.revoke').length;

      const revokeCtx = context();
      const revoked = await outcome(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, revokeCtx),
      );
      expect(revoked.summary).toMatchObject({
        repository,
        alertNumber: 1,
        secretType: 'slack_api_token',
        tokenType,
        method: 'auth.revoke',
        slackAnswer: 'ok',
        revoked: true,
        alreadyRevoked: false,
        slackTeamId: slack.teamId,
      });
      expect(slack.tokenWorks(token)).toBe(false);
      expect((await slackCall('auth.test', token)).error).toBe('token_revoked');

      // Sent once, as the bearer token: not in the body, not for real in test mode.
      const revokes = slack.callsTo('auth.revoke').slice(revokesBefore);
      expect(revokes).toHaveLength(1);
      expect(revokes[0]).toMatchObject({ token, status: 200 });
      expect(revokes[0].raw).toBe('');
      expect(revokes[0].body.test).toBeUndefined();

      const record = artifact(revokeCtx, 'revocation.json');
      expect(record).toMatchObject({
        provider: 'slack-token',
        repository,
        alertNumber: 1,
        tokenType,
        method: 'auth.revoke',
        slackAnswer: 'ok',
        alreadyRevoked: false,
        worker: { pid: process.pid },
      });
      expect(Number.isNaN(Date.parse(record.at as string))).toBe(false);

      const verifyCtx = context();
      const verified = await outcome(provider.actions.verifyRevoked({ ref }, verifyCtx));
      expect(verified.summary).toMatchObject({ verdict: 'dead', oldCredentialDead: true, tokenType });
      const proof = artifact(verifyCtx, 'proof-of-death.json');
      expect(proof.verdict).toBe('dead');
      const probes = proof.probes as Array<{ at: string; code: string; answer: string }>;
      expect(probes.length).toBeGreaterThanOrEqual(FAST_PROOF.refusals);
      for (const probe of probes) {
        expect(probe).toMatchObject({ answer: 'refused', code: 'token_revoked' });
        expect(Number.isNaN(Date.parse(probe.at))).toBe(false);
      }
      expect(verifyCtx.heartbeats.length).toBeGreaterThan(0);
    },
  );

  test('a retry after the revocation succeeded is answered token_revoked and succeeds', async () => {
    const { token, ref } = leakSlackToken('bot');
    const provider = createSlackTokenProvider(options());
    const ctx = context();
    await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, ctx));
    const revokedAt = slack.issuedToken(token)?.revokedAt;
    expect(revokedAt).toBeInstanceOf(Date);

    const retried = await outcome(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, { ...ctx, attempt: 2 }),
    );
    expect(retried.summary).toMatchObject({
      revoked: true,
      alreadyRevoked: true,
      slackAnswer: 'token_revoked',
      slackTeamId: null,
    });
    // Nothing changed at Slack: the token was dead and stays dead.
    expect(slack.issuedToken(token)?.revokedAt).toEqual(revokedAt);
    expect(slack.callsTo('auth.revoke').at(-1)).toMatchObject({ error: 'token_revoked' });
  });

  test('a Slack that answers invalid_auth for a revoked token: the retry succeeds and the proof holds', async () => {
    const strict = await startSlackSimulator({ revokedTokenError: 'invalid_auth' });
    try {
      const { token, ref } = leakSlackToken('user', strict);
      const provider = createSlackTokenProvider(options({ slackApiUrl: strict.url }));
      await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()));
      expect(strict.tokenWorks(token)).toBe(false);
      const again = await outcome(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context({ attempt: 2 })),
      );
      expect(again.summary).toMatchObject({ alreadyRevoked: true, slackAnswer: 'invalid_auth' });
      const verified = await outcome(provider.actions.verifyRevoked({ ref }, context()));
      expect(verified.summary.verdict).toBe('dead');
    } finally {
      await strict.close();
    }
  });

  test('a token that works again after a refusal fails the step loudly and for good', async () => {
    const { token, ref } = leakSlackToken('bot');
    const provider = createSlackTokenProvider(
      options({ proof: { refusals: 5, windowMs: 800, deadlineMs: 4_000 } }),
    );
    await outcome(provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()));

    const firstProbe = slack.callsTo('auth.test').length;
    const ctx = context();
    const verifying = failureOf(provider.actions.verifyRevoked({ ref }, ctx));
    for (let waited = 0; waited < 4_000; waited += 5) {
      if (
        slack
          .callsTo('auth.test')
          .slice(firstProbe)
          .some((call) => call.error === 'token_revoked')
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    slack.reinstateToken(token);

    const failure = await verifying;
    expect(failure).toMatchObject({ retryable: false, code: 'AliveAgain' });
    expect(failure.message).toMatch(/^slack-token\.verifyRevoked: .*NOT dead/);
    expect(artifact(ctx, 'proof-of-death.json').verdict).toBe('alive-again');
  });

  test('a token that was never revoked is not proven dead (retryably)', async () => {
    const { ref } = leakSlackToken('bot');
    const provider = createSlackTokenProvider(
      options({ proof: { refusals: 2, windowMs: 50, deadlineMs: 300 } }),
    );
    const ctx = context();
    const failure = await failureOf(provider.actions.verifyRevoked({ ref }, ctx));
    expect(failure).toMatchObject({ retryable: true, code: 'VerificationFailed' });
    const proof = artifact(ctx, 'proof-of-death.json');
    expect(proof.verdict).toBe('not-proven');
    expect((proof.probes as Array<{ answer: string }>).every((probe) => probe.answer === 'accepted')).toBe(
      true,
    );
  });

  test.each([
    ['an HTTP 503', { status: 503 }],
    ['a rate limit', { error: 'ratelimited', retryAfterSeconds: 1 }],
    ['internal_error', { error: 'internal_error' }],
  ] as const)(
    'Slack failing auth.revoke with %s fails the step retryably; the token still works',
    async (_label, fault) => {
      const { token, ref } = leakSlackToken('bot');
      const provider = createSlackTokenProvider(options());
      slack.failNext('auth.revoke', fault);
      const failure = await failureOf(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
      );
      expect(failure).toMatchObject({ retryable: true, code: 'SlackUnavailable' });
      expect(failure.message).toMatch(/^slack-token\.revokeCredential: auth\.revoke failed/);
      expect(slack.tokenWorks(token)).toBe(true);
      // The retry Temporal would make revokes it.
      const retried = await outcome(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context({ attempt: 2 })),
      );
      expect(retried.summary).toMatchObject({ slackAnswer: 'ok', alreadyRevoked: false });
      expect(slack.tokenWorks(token)).toBe(false);
    },
  );

  test('Slack refusing auth.revoke for another reason fails the step for good, naming the answer', async () => {
    const { token, ref } = leakSlackToken('user');
    const provider = createSlackTokenProvider(options());
    slack.failNext('auth.revoke', { error: 'ekm_access_denied' });
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'SlackRefused' });
    expect(failure.message).toMatch(/refused auth\.revoke with ekm_access_denied/);
    expect(slack.tokenWorks(token)).toBe(true);
  });
});

describe('refusals', () => {
  test('an App without secret_scanning_alerts: read fails at once, naming the permission; nothing reaches Slack', async () => {
    const { token, ref } = leakSlackToken('bot', slack, 'other');
    const provider = createSlackTokenProvider(options({ installationId: unprivileged.id }));
    const before = slack.calls.length;
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubMissingPermission' });
    expect(failure.message).toMatch(/^slack-token\.revokeCredential: .*secret_scanning_alerts=read/);
    const verify = await failureOf(provider.actions.verifyRevoked({ ref }, context()));
    expect(verify).toMatchObject({ retryable: false, code: 'GitHubMissingPermission' });
    expect(verify.message).toMatch(/^slack-token\.verifyRevoked: /);
    expect(slack.calls).toHaveLength(before);
    expect(slack.tokenWorks(token)).toBe(true);
  });

  test('a missing alert is not found, for good', async () => {
    repoCounter += 1;
    const repository = `acme/service-${repoCounter}`;
    github.addRepository(repository);
    const provider = createSlackTokenProvider(options());
    const failure = await failureOf(
      provider.actions.revokeCredential(
        { ref: `secret-scanning/${repository}/7`, fingerprint: FINGERPRINT },
        context(),
      ),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'GitHubNotFound' });
    expect(failure.message).toMatch(
      /^slack-token\.revokeCredential: secret scanning alert 7 in acme\/service-\d+ not found/,
    );
  });

  test.each([
    ['an AWS secret access key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key'],
    ['a GitHub token', `ghp_${'Qw8'.repeat(12)}`, 'github_personal_access_token'],
    [
      'a Slack webhook URL',
      'https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX',
      'slack_incoming_webhook_url',
    ],
  ])('%s is not a Slack token and is never sent to Slack', async (_label, secret, secretType) => {
    const { ref } = leakSecret(secret, secretType);
    const provider = createSlackTokenProvider(options());
    const before = slack.calls.length;
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'NotASlackToken' });
    expect(failure.message).toContain(`${secretType} that is not a Slack token; revoke it at its issuer`);
    const verify = await failureOf(provider.actions.verifyRevoked({ ref }, context()));
    expect(verify.code).toBe('NotASlackToken');
    expect(slack.calls).toHaveLength(before);
  });

  test.each([
    ['a refresh token (xoxe-)', 'refresh', /Slack refresh token .*\(xoxe\), which this issuer cannot revoke/],
    [
      'an app-level token (xapp-)',
      'app-level',
      /Slack app-level token \(xapp\), which this issuer cannot revoke/,
    ],
  ] as const)('%s is refused by kind, for good, and never sent to Slack', async (_label, kind, message) => {
    const { token, ref } = leakSlackToken(kind);
    const provider = createSlackTokenProvider(options());
    const before = slack.calls.length;
    const failure = await failureOf(
      provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
    );
    expect(failure).toMatchObject({ retryable: false, code: 'SlackNotRevocable' });
    expect(failure.message).toMatch(message);
    expect(slack.calls).toHaveLength(before);
    expect(slack.issuedToken(token)?.revokedAt).toBeUndefined();
  });

  describe('a reference carrying a token value is refused without repeating it', () => {
    const bot = `xoxb-1234567890-1234567890123-${'aB3'.repeat(8)}`;
    const user = `xoxp-1234-5678-9012-${'c0ffee'.repeat(5)}`;
    const config = `xoxe.xoxp-1-${'Mi0'.repeat(20)}`;
    const refresh = `xoxe-1-${'My1'.repeat(20)}`;
    const appLevel = `xapp-1-A0123456789-1234567890-${'d4'.repeat(16)}`;
    const short = 'xoxb-12-34';
    beforeAll(() => {
      for (const value of [bot, user, config, refresh, appLevel, short]) leaked.add(value);
    });

    test.each([
      ['a bare bot token', () => [bot, bot]],
      ['a prefixed user token', () => [`slack-token:${user}`, user]],
      ['an app configuration token', () => [config, config]],
      ['a refresh token', () => [refresh, refresh]],
      ['an app-level token', () => [appLevel, appLevel]],
      ['a short bot token the scrubber would not see', () => [short, short]],
      ['a token in place of the alert number', () => [`secret-scanning/acme/app/${bot}`, bot]],
      ['a token in place of the repository', () => [`secret-scanning/acme/${user}/1`, user]],
    ])('%s', async (_label, values) => {
      const [ref, secret] = values();
      const prefixed = ref.startsWith('slack-token:') ? ref : `slack-token:${ref}`;
      const check = () => PROVIDER_DIRECTORY.parseRef('issuer', prefixed);
      expect(check).toThrow(ProviderRefError);
      expect(check).toThrow(/looks like it holds a token value/);
      let message = '';
      try {
        check();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toContain(secret);
      transcript.push(message);

      const provider = createSlackTokenProvider(options());
      const githubBefore = github.calls.length;
      const slackBefore = slack.calls.length;
      const failure = await failureOf(
        provider.actions.revokeCredential({ ref, fingerprint: FINGERPRINT }, context()),
      );
      expect(failure).toMatchObject({ retryable: false, code: 'InvalidParams' });
      expect(failure.message).not.toContain(secret);
      expect(github.calls).toHaveLength(githubBefore);
      expect(slack.calls).toHaveLength(slackBefore);

      const request = incidentRequestSchema.safeParse({
        secretKind: 'slack-token',
        connector: 'github:acme/app/deploy.yml',
        credential: prefixed,
        severity: 'high',
      });
      expect(request.success).toBe(false);
      const issues = JSON.stringify(request.error?.issues);
      expect(issues).not.toContain(secret);
      transcript.push(issues);
    });
  });

  test.each([
    ['secret-scanning/acme/app', /four segments/],
    ['secret-scanning/acme/app/0', /alert number/],
    ['secret-scanning/-acme/app/1', /GitHub owner/],
    ['github-token:secret-scanning/acme/app/1', /does not start with secret-scanning/],
    ['dependabot/acme/app/1', /does not start with secret-scanning/],
  ])('%s is refused', (ref, message) => {
    expect(() => parseSlackTokenRef(ref)).toThrow(message);
    expect(() => PROVIDER_DIRECTORY.parseRef('issuer', `slack-token:${ref}`)).toThrow(ProviderRefError);
  });

  test('a good reference names the alert and its repository', () => {
    expect(PROVIDER_DIRECTORY.parseRef('issuer', 'slack-token:secret-scanning/acme/app.js/42')).toEqual({
      provider: 'slack-token',
      ref: 'secret-scanning/acme/app.js/42',
      repository: 'acme/app.js',
    });
    expect(parseSlackTokenRef('slack-token:secret-scanning/acme/app/42')).toMatchObject({
      owner: 'acme',
      repo: 'app',
      alertNumber: 42,
    });
  });
});

describe('the plugin', () => {
  test('offers revocation and its proof only: rotation and the rest are not applicable', () => {
    expect(Object.keys(slackTokenCatalog).sort()).toEqual(['revokeCredential', 'verifyRevoked']);
    expect(PROVIDERS.map((definition) => definition.name)).toContain('slack-token');
    expect(slackToken.roles).toEqual(['issuer']);
    expect(slackToken.settings).toContain('SLACK_API_URL');
    expect(slackToken.enabledBy).toMatch(/GITHUB_APP_ID/);
  });

  test('turns on with a GitHub App (Slack needs no credential of ours); settings are checked', () => {
    const app = {
      GITHUB_APP_ID: '12',
      GITHUB_APP_INSTALLATION_ID: '34',
      GITHUB_APP_PRIVATE_KEY: github.app.privateKey,
    };
    expect(slackTokenOptionsFromEnv({})).toBeUndefined();
    expect(slackTokenOptionsFromEnv({ GITHUB_TOKEN: 'ghp_not-a-real-token' })).toBeUndefined();
    // The Slack integration's own setting alone does not turn the issuer on.
    expect(slackTokenOptionsFromEnv({ SLACK_API_URL: 'http://127.0.0.1:1/api/' })).toBeUndefined();
    expect(slackTokenOptionsFromEnv(app)).toMatchObject({
      slackApiUrl: 'https://slack.com/api/',
      github: { baseUrl: 'https://api.github.com', auth: { appId: 12, installationId: 34 } },
      proof: { refusals: 3, windowMs: 30_000, deadlineMs: 300_000 },
    });
    expect(
      slackTokenOptionsFromEnv({
        ...app,
        SLACK_API_URL: 'http://127.0.0.1:4000/api',
        TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS: '5',
        TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS: '',
      }),
    ).toMatchObject({ slackApiUrl: 'http://127.0.0.1:4000/api/', proof: { refusals: 5, windowMs: 30_000 } });
    expect(() => slackTokenOptionsFromEnv({ ...app, SLACK_API_URL: 'ftp://slack.example' })).toThrow(
      /^SLACK_API_URL: expected an http\(s\) URL/,
    );
    expect(() =>
      slackTokenOptionsFromEnv({ GITHUB_TOKEN: 't', TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS: '2' }),
    ).toThrow(/^TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS is set but no GitHub App is configured/);
    expect(() => slackTokenOptionsFromEnv({ ...app, TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS: 'x' })).toThrow(
      /^TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS:/,
    );
    expect(() =>
      slackTokenOptionsFromEnv({
        ...app,
        TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS: '5000',
        TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS: '5000',
      }),
    ).toThrow(/^TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS: must exceed/);
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
    real: [createSlackTokenProvider(options())],
  }));

  /** The fixture's issuer steps: rotate (not applicable here), revoke, verify; no approvals. */
  function revocationRunbook(): Runbook {
    const base = fixtureRunbook('approvals');
    return withoutApprovals({
      ...base,
      id: 'slack-token-revocation',
      title: 'Revoke a leaked Slack token',
      steps: base.steps.filter((step) => ['rotate', 'revoke', 'verify'].includes(step.id)),
    });
  }

  test('revokes the bot token from its alert; the value is in no history, log or evidence', async () => {
    const { token, ref } = leakSlackToken('bot');
    const input = incidentInput(revocationRunbook(), {
      credential: `slack-token:${ref}`,
      requester: 'cli:oncall',
      severity: 'critical',
    });
    const incidentId = await start(stack.client, input);
    const status: IncidentStatus = await result(stack.client, incidentId);
    const step = (id: string) => status.steps.find((candidate) => candidate.id === id)!;

    expect(step('rotate')).toMatchObject({ state: 'skipped', reason: 'not applicable' });
    expect(step('revoke')).toMatchObject({
      state: 'succeeded',
      provider: 'slack-token',
      summary: expect.objectContaining({ revoked: true, slackAnswer: 'ok', tokenType: 'xoxb' }) as unknown,
    });
    expect(step('verify')).toMatchObject({
      state: 'succeeded',
      provider: 'slack-token',
      summary: expect.objectContaining({ verdict: 'dead' }) as unknown,
    });
    expect(slack.tokenWorks(token)).toBe(false);

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
    expect(everything).not.toContain(token.slice(5, 25));
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
    if (value.length >= 24) expect(said.includes(value.slice(5, 24))).toBe(false);
  }
});
