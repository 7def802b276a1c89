import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import {
  createIngestRevoker,
  ingestRevokerFromEnv,
  revocableSlackToken,
  type IngestRevoker,
} from '../gateway/revoke-at-ingest';
import { startGateway, type Gateway } from '../gateway/server';
import { createSiemWebhooks, type SiemWebhooks } from '../gateway/webhooks';
import { incidentRequestSchema } from '../client';
import type { IncidentStatus } from '../lib/runbook/types';
import { fetchHistoryText } from './harness/history';
import {
  query,
  runbookById,
  TASK_QUEUE,
  TEST_FINGERPRINT_KEY,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { startTemporalWorker, type TemporalWorker } from './harness/stack';
import { makeCanaries } from './fixtures/siem/canaries';
import { CapturedLogs, post, signedHeaders, testSiemSecrets, type Answer } from './fixtures/gateway/stack';
import { startSlackSimulator, type SlackSimulator } from './simulators/slack';

/**
 * Revocation at ingest, over real HTTP: a signed generic SIEM alert whose `secret` is a live Slack token reaches the
 * real gateway, which calls `auth.revoke` on the Slack simulator with it before answering, then starts the incident
 * on the real Temporal dev server; the worker records the revocation in the timeline. Every token the tests send is
 * searched for in the answers, the gateway's and the worker's logs, and every incident's Temporal history.
 */

const SIEM_SECRET = testSiemSecrets().generic;
/** Short, so the "Slack is slow" tests stay quick; production defaults to 2.5 s and caps at 3 s. */
const TIMEOUT_MS = 1_000;

let slack: SlackSimulator;
let stack: TemporalWorker;
const workerLines: string[] = [];
const gatewayLogs = new CapturedLogs();
/** Every value sent, every answer, every incident: searched at the end. */
const sent = new Set<string>();
const answers: Answer[] = [];
const incidents = new Set<string>();

/** A Slack stand-in that never answers, or answers headers and then stalls, or redirects elsewhere. */
let hanging: Server;
let hangingUrl: string;
const hangingRequests: { url: string; authorization?: string }[] = [];
const held: { destroy(): void }[] = [];

interface TestGateway {
  url: string;
  webhooks: SiemWebhooks;
  gateway: Gateway;
}
const gateways: TestGateway[] = [];

async function startTestGateway(revoker?: IngestRevoker): Promise<TestGateway> {
  const webhooks = createSiemWebhooks({
    client: stack.client,
    taskQueue: TASK_QUEUE,
    runbook: runbookById('leaked-workflow-secret'),
    fingerprintKey: TEST_FINGERPRINT_KEY,
    gatewayKey: TEST_GATEWAY_KEY.privateKey,
    secrets: { generic: SIEM_SECRET },
    logger: gatewayLogs.logger,
    ...(revoker ? { revoker } : {}),
  });
  const gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    logger: gatewayLogs.logger,
    temporalHealthy: () => Promise.resolve(true),
    mount: (app) => webhooks.mount(app),
  });
  const started = { url: gateway.url, webhooks, gateway };
  gateways.push(started);
  return started;
}

function revokerFor(apiUrl: string, overrides: { maxInFlight?: number } = {}): IngestRevoker {
  return createIngestRevoker({
    issuers: ['slack-token'],
    slackApiUrl: apiUrl,
    timeoutMs: TIMEOUT_MS,
    ...overrides,
  });
}

let sequence = 0;
function genericAlert(secret: string, secretKind = 'slack_bot_token'): string {
  sequence += 1;
  sent.add(secret);
  return JSON.stringify({
    alertId: `ingest-revocation-${process.pid}-${sequence}`,
    detector: 'trufflehog',
    secretKind,
    secret,
    severity: 'high',
    observedAt: new Date().toISOString(),
    location: { url: `https://github.com/acme/app/blob/main/config-${sequence}.js` },
  });
}

async function sendAlert(gateway: TestGateway, body: string): Promise<{ answer: Answer; ms: number }> {
  const startedAt = performance.now();
  const answer = await post(gateway.url, 'generic', body, signedHeaders('generic', SIEM_SECRET, body));
  const ms = performance.now() - startedAt;
  answers.push(answer);
  if (typeof answer.body.incidentId === 'string') incidents.add(answer.body.incidentId);
  return { answer, ms };
}

async function timelineWith(incidentId: string, text: string): Promise<IncidentStatus> {
  return waitFor(async () => {
    const status = await query(stack.client, incidentId);
    return status.timeline.some((event) => event.detail?.includes(text)) ? status : undefined;
  }, 30_000);
}

function revokeCalls(token: string) {
  return slack.callsTo('auth.revoke').filter((call) => call.token === token);
}

beforeAll(async () => {
  slack = await startSlackSimulator();
  hanging = createServer((request, response) => {
    hangingRequests.push({ url: request.url ?? '', authorization: request.headers.authorization });
    if (request.url?.endsWith('/redirect/auth.revoke')) {
      // A Slack (or a proxy) that sends the call elsewhere: the token must not follow.
      response.writeHead(307, { location: `${slack.url}auth.revoke` });
      response.end();
      return;
    }
    if (request.url?.endsWith('/stall-body/auth.revoke')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"ok":');
      held.push(response);
      return;
    }
    // Never answers.
    held.push(response);
  });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  stack = await startTemporalWorker({
    logger: pino({ level: 'info' }, { write: (line: string) => void workerLines.push(line) }),
  });
});

afterAll(async () => {
  for (const { webhooks, gateway } of gateways) {
    await webhooks.close().catch(() => undefined);
    await gateway.close().catch(() => undefined);
  }
  for (const response of held) response.destroy();
  hanging?.closeAllConnections();
  await new Promise((resolve) => hanging?.close(resolve));
  await stack?.stop();
  await slack?.close();
});

describe('TOURNIQUET_REVOKE_AT_INGEST=slack-token', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway(revokerFor(slack.url));
  });

  test('a live bot token is revoked before the 202 arrives; the incident records it; the value is nowhere', async () => {
    const token = slack.issueToken({ kind: 'bot' });
    expect(slack.tokenWorks(token)).toBe(true);
    const { answer } = await sendAlert(gateway, genericAlert(token));

    expect(answer.status).toBe(202);
    // By the time the sender reads its answer, Slack no longer accepts the token.
    expect(slack.tokenWorks(token)).toBe(false);
    expect(answer.body).toMatchObject({
      status: 'created',
      revokedAtIngest: [{ issuer: 'slack-token', tokenType: 'xoxb', outcome: 'revoked' }],
    });
    // Exactly one call, to auth.revoke, the token only as the bearer token: never in the body.
    const calls = revokeCalls(token);
    expect(calls).toHaveLength(1);
    expect(calls[0].raw).toBe('');
    expect(calls[0].body).not.toHaveProperty('test');
    expect(slack.calls.filter((call) => call.token === token)).toHaveLength(1);

    const incidentId = String(answer.body.incidentId);
    const status = await timelineWith(incidentId, 'revoked at ingest by the gateway');
    expect(status.timeline).toContainEqual(
      expect.objectContaining({
        type: 'note',
        actor: 'gateway',
        detail: 'revoked at ingest by the gateway: Slack bot token (auth.revoke: revoked)',
      }),
    );
    const history = await fetchHistoryText(stack.client, incidentId);
    expect(history).toContain('revokedAtIngest');
    for (const text of [history, workerLines.join('\n'), gatewayLogs.text(), JSON.stringify(answer)]) {
      expect(text).not.toContain(token);
    }
    expect(gatewayLogs.lines()).toContainEqual(
      expect.objectContaining({
        msg: 'leaked value revoked at ingest',
        issuer: 'slack-token',
        tokenType: 'xoxb',
        outcome: 'revoked',
        code: 'ok',
      }),
    );
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^tourniquet_siem_revoked_at_ingest_total\{issuer="slack-token",outcome="revoked"\} [1-9]/m,
    );
  });

  test('a user token and an expiring bot token are revoked too; a second alert about a dead token says already-dead', async () => {
    const user = slack.issueToken({ kind: 'user' });
    const rotating = slack.issueToken({ kind: 'rotating-bot' });
    const first = await sendAlert(gateway, genericAlert(user, 'slack_user_token'));
    const second = await sendAlert(gateway, genericAlert(rotating));
    expect(first.answer.body.revokedAtIngest).toEqual([
      { issuer: 'slack-token', tokenType: 'xoxp', outcome: 'revoked' },
    ]);
    expect(second.answer.body.revokedAtIngest).toEqual([
      { issuer: 'slack-token', tokenType: 'xoxe.xoxb', outcome: 'revoked' },
    ]);
    expect(slack.tokenWorks(user)).toBe(false);
    expect(slack.tokenWorks(rotating)).toBe(false);

    // The same token again (another detector, a retry): Slack no longer knows it; the alert joins the incident.
    const again = await sendAlert(gateway, genericAlert(user, 'slack_user_token'));
    expect(again.answer.status).toBe(202);
    expect(again.answer.body).toMatchObject({
      incidentId: first.answer.body.incidentId,
      status: 'joined',
      revokedAtIngest: [{ issuer: 'slack-token', tokenType: 'xoxp', outcome: 'already-dead' }],
    });
    await timelineWith(
      String(first.answer.body.incidentId),
      'revoked at ingest by the gateway: Slack user token (auth.revoke: revoked)',
    );
  });

  test('a kind Slack does not revoke by value, a non-Slack secret, or a value that only starts like a token: nothing is sent to Slack, the incident still starts', async () => {
    slack.resetCalls();
    const appLevel = slack.issueToken({ kind: 'app-level' });
    const refresh = slack.issueToken({ kind: 'refresh' });
    const github = makeCanaries().githubToken;
    const bot = slack.issueToken({ kind: 'bot' });
    const values = [
      appLevel,
      refresh,
      github,
      // A live token with something appended that could bend a header, or with a space: not a token's shape.
      `${bot}\r\nx-injected: 1`,
      `${bot} trailing`,
      // The right prefix, but too short to be a token, or far too long.
      'xoxb-123',
      `xoxb-${'a'.repeat(600)}`,
    ];
    for (const value of values) {
      const { answer } = await sendAlert(gateway, genericAlert(value));
      expect([value.slice(0, 8), answer.status, answer.body.status]).toEqual([
        value.slice(0, 8),
        202,
        'created',
      ]);
      expect(answer.body).not.toHaveProperty('revokedAtIngest');
    }
    expect(slack.calls).toEqual([]);
    expect(slack.tokenWorks(bot)).toBe(true);
  });
});

test('off by default: the token still works after the answer, and nothing is sent to Slack', async () => {
  const gateway = await startTestGateway(ingestRevokerFromEnv({}));
  slack.resetCalls();
  const token = slack.issueToken({ kind: 'bot' });
  const { answer } = await sendAlert(gateway, genericAlert(token));
  expect(answer.status).toBe(202);
  expect(answer.body).not.toHaveProperty('revokedAtIngest');
  expect(slack.tokenWorks(token)).toBe(true);
  expect(slack.calls).toEqual([]);
});

describe('a failure to revoke never loses the alert', () => {
  test('Slack down (503): answered 202, the incident starts, the note says unavailable, the token still works', async () => {
    const gateway = await startTestGateway(revokerFor(slack.url));
    const token = slack.issueToken({ kind: 'bot' });
    slack.outage({ status: 503 });
    let answer: Answer;
    try {
      ({ answer } = await sendAlert(gateway, genericAlert(token)));
    } finally {
      slack.outage();
    }
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      status: 'created',
      revokedAtIngest: [{ issuer: 'slack-token', tokenType: 'xoxb', outcome: 'unavailable' }],
    });
    // Never retried inside the request.
    expect(revokeCalls(token)).toHaveLength(1);
    expect(slack.tokenWorks(token)).toBe(true);
    await timelineWith(
      String(answer.body.incidentId),
      'not revoked at ingest by the gateway: Slack bot token (auth.revoke: unavailable, HTTP 503); it may still work',
    );
  });

  test.each([
    ['never answers', ''],
    ['sends its headers, then stalls the body', '/stall-body'],
  ])(
    'Slack %s: answered 202 within the timeout, the incident starts, the note says unavailable (timeout)',
    async (_name, path) => {
      const gateway = await startTestGateway(revokerFor(`${hangingUrl}${path}/`));
      const token = slack.issueToken({ kind: 'bot' });
      const before = hangingRequests.length;
      const { answer, ms } = await sendAlert(gateway, genericAlert(token));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({
        status: 'created',
        revokedAtIngest: [{ issuer: 'slack-token', tokenType: 'xoxb', outcome: 'unavailable' }],
      });
      expect(hangingRequests.length - before).toBe(1);
      // The timeout, plus Temporal's start: well within the 10 s a webhook sender waits.
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(TIMEOUT_MS + 4_000);
      await timelineWith(
        String(answer.body.incidentId),
        'not revoked at ingest by the gateway: Slack bot token (auth.revoke: unavailable, timeout); it may still work',
      );
    },
  );

  test('a redirect is refused: the token never reaches where it points', async () => {
    const gateway = await startTestGateway(revokerFor(`${hangingUrl}/redirect/`));
    slack.resetCalls();
    const token = slack.issueToken({ kind: 'bot' });
    const { answer } = await sendAlert(gateway, genericAlert(token));
    expect(answer.status).toBe(202);
    expect(answer.body.revokedAtIngest).toEqual([
      { issuer: 'slack-token', tokenType: 'xoxb', outcome: 'unavailable' },
    ]);
    expect(hangingRequests.at(-1)?.url).toBe('/redirect/auth.revoke');
    expect(slack.calls).toEqual([]);
    expect(slack.tokenWorks(token)).toBe(true);
  });

  test('a flood of revocations is bounded: beyond the in-flight limit an alert is not held for Slack', async () => {
    const slow = createIngestRevoker({
      issuers: ['slack-token'],
      slackApiUrl: `${hangingUrl}/`,
      timeoutMs: 3_000,
      maxInFlight: 1,
    });
    const gateway = await startTestGateway(slow);
    const before = hangingRequests.length;
    const first = sendAlert(gateway, genericAlert(slack.issueToken({ kind: 'bot' })));
    // The first request holds the only slot, waiting on Slack's stand-in, when the second arrives.
    await waitFor(() => Promise.resolve(hangingRequests.length > before ? true : undefined), 5_000, 20);
    const second = await sendAlert(gateway, genericAlert(slack.issueToken({ kind: 'bot' })));
    expect(second.answer.status).toBe(202);
    expect(second.answer.body.revokedAtIngest).toEqual([
      { issuer: 'slack-token', tokenType: 'xoxb', outcome: 'unavailable' },
    ]);
    expect(second.ms).toBeLessThan(2_000);
    expect(hangingRequests.length - before).toBe(1);
    await timelineWith(String(second.answer.body.incidentId), '(auth.revoke: unavailable, busy)');
    const settled = await first;
    expect(settled.answer.status).toBe(202);
    expect(settled.ms).toBeGreaterThanOrEqual(2_950);
    expect(settled.ms).toBeLessThan(3_000 + 4_000);
  });
});

describe('settings', () => {
  test('unset or empty: off; slack-token: on, with SLACK_API_URL or Slack itself', () => {
    expect(ingestRevokerFromEnv({})).toBeUndefined();
    expect(ingestRevokerFromEnv({ TOURNIQUET_REVOKE_AT_INGEST: '' })).toBeUndefined();
    // SLACK_API_URL is the Slack integration's too: not read while this is off.
    expect(ingestRevokerFromEnv({ SLACK_API_URL: 'not a url' })).toBeUndefined();
    expect(ingestRevokerFromEnv({ TOURNIQUET_REVOKE_AT_INGEST: 'slack-token' })?.issuers).toEqual([
      'slack-token',
    ]);
    expect(
      ingestRevokerFromEnv({
        TOURNIQUET_REVOKE_AT_INGEST: ' slack-token , ',
        TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS: '3000',
        SLACK_API_URL: 'http://127.0.0.1:1/api',
      })?.issuers,
    ).toEqual(['slack-token']);
  });

  test.each([
    [{ TOURNIQUET_REVOKE_AT_INGEST: 'xoxb-not-an-issuer-0123456789' }, 'TOURNIQUET_REVOKE_AT_INGEST'],
    [{ TOURNIQUET_REVOKE_AT_INGEST: 'slack-token,github-token' }, 'TOURNIQUET_REVOKE_AT_INGEST'],
    [
      { TOURNIQUET_REVOKE_AT_INGEST: 'slack-token', TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS: '10000' },
      'TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS',
    ],
    [
      { TOURNIQUET_REVOKE_AT_INGEST: 'slack-token', TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS: 'soon' },
      'TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS',
    ],
    [{ TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS: '1000' }, 'TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS'],
    [
      { TOURNIQUET_REVOKE_AT_INGEST: 'slack-token', SLACK_API_URL: 'file:///etc/xoxb-secret-path' },
      'SLACK_API_URL',
    ],
  ])('%j is refused, naming %s and not repeating the value', (env, variable) => {
    let message = '';
    try {
      ingestRevokerFromEnv(env);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(new RegExp(`^environment variable ${variable}: `));
    for (const value of Object.values(env)) {
      if (value.length > 6) expect(message).not.toContain(value);
    }
  });

  test('what looks like a revocable Slack token', () => {
    expect(revocableSlackToken(`xoxb-1234567890-0987654321-${'a'.repeat(24)}`)).toEqual({
      type: 'xoxb',
      label: 'bot token',
    });
    for (const value of [undefined, 42, 'xapp-1-A0123456789-1234567890-abcdef', `xoxe-1-${'a'.repeat(40)}`]) {
      expect(revocableSlackToken(value)).toBeUndefined();
    }
  });

  test('the incident request takes only well-formed records', () => {
    const base = { secretKind: 'slack_bot_token', connector: 'simulated:generic', severity: 'high' };
    const entry = {
      issuer: 'slack-token',
      tokenType: 'xoxb',
      tokenKind: 'bot token',
      method: 'auth.revoke',
      outcome: 'revoked',
      code: 'ok',
      at: new Date().toISOString(),
      by: 'gateway',
    };
    expect(incidentRequestSchema.safeParse({ ...base, revokedAtIngest: [entry] }).success).toBe(true);
    for (const bad of [
      { ...entry, tokenType: 'xoxb-1234567890-0987654321-abcdef' },
      { ...entry, code: 'xoxb-1234567890-0987654321-abcdef\n' },
      { ...entry, by: 'someone' },
      { ...entry, outcome: 'maybe' },
      { ...entry, value: 'xoxb-1234567890' },
    ]) {
      expect(incidentRequestSchema.safeParse({ ...base, revokedAtIngest: [bad] }).success).toBe(false);
    }
  });
});

// Last: every value sent is in no answer, log or history.
test('no value sent appears in any answer, the gateway or worker logs, or any incident history', async () => {
  expect(incidents.size).toBeGreaterThan(10);
  const histories = await Promise.all([...incidents].map((id) => fetchHistoryText(stack.client, id)));
  const texts = [JSON.stringify(answers), gatewayLogs.text(), workerLines.join('\n'), ...histories];
  for (const value of sent) {
    for (const text of texts) expect(text.includes(value)).toBe(false);
  }
});
