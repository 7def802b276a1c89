import { setTimeout as sleep } from 'node:timers/promises';
import type { IncidentStatus, Runbook } from '../../lib/runbook/types';
import { CONTAIN_SHORTCUT, DENY_VIEW, SECRET_LEAK_COMMAND, SECRET_LEAK_VIEW } from '../../slack/binding';
import { makeCanaries, type Canaries } from '../fixtures/siem/canaries';
import {
  click,
  INCIDENT_CHANNEL,
  requestMessage,
  signed,
  startSlackStack,
  until,
  type SlackStack,
} from '../fixtures/slack/harness';
import type { SlackMessage } from '../simulators/slack';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  result,
  start,
  waitFor,
} from '../harness/incidents';
import { decideAs } from '../harness/owners';
import { historyText } from '../harness/history';
import {
  messageShortcutPayload,
  plainTextValues,
  randomTriggerId,
  selectedOptionValue,
  signSlackRequest,
  slashCommandFields,
  viewSubmissionPayload,
} from '../harness/slack-signing';
import {
  garbageBody,
  histogram,
  inParallel,
  mutateJson,
  pick,
  postRaw,
  requestRandom,
  type HttpAnswer,
} from './fuzz';
import { CHAOS_SEED, exactlyOnce, recordChaos, report } from './support';

/**
 * 1. Slack is down (every Web API call answers 503) for CHAOS_SLACK_OUTAGE_MS (default two minutes) while an
 *    approval is open: the owner approves out of band with a signed key, the step runs once during the outage,
 *    the next approval opens unseen, and once Slack is back every notification is delivered (Temporal retries
 *    the notify activity), the new request is approved from Slack and the incident completes.
 * 2. From half-way through the outage (it is real time, so the fuzzer uses it) and on after Slack is back,
 *    `/slack/events` takes CHAOS_SLACK_FUZZ (default 5,000) seeded requests of each kind Slack posts there
 *    (Events API JSON, interactions, slash commands, message shortcuts): unsigned, wrongly signed, stale,
 *    garbage, oversized, odd content types and mutated but correctly signed payloads. No 5xx (a body Bolt cannot read is a 400), nothing decided or started that a valid
 *    signed request did not ask for, no leaked value echoed, logged or sent to Slack, and Slack approvals still
 *    work afterwards. Request `i` of kind `k` is built from `requestRandom(CHAOS_SEED, 'slack', k, i)`.
 */

const OUTAGE_MS = Number(process.env.CHAOS_SLACK_OUTAGE_MS ?? 120_000);
const PER_KIND = Number(process.env.CHAOS_SLACK_FUZZ ?? 5_000);
/** Requests no listener acknowledges are held 3 s by Bolt (then 404): many in flight keep the fuzzer fast. */
const PARALLEL = Number(process.env.CHAOS_SLACK_FUZZ_PARALLEL ?? 128);
/** express.raw's limit in slack/app.ts. */
const SLACK_BODY_LIMIT = 1024 * 1024;
/** When the fuzzer starts, after the outage began. */
const FUZZ_START_MS = Number(process.env.CHAOS_SLACK_FUZZ_START_MS ?? OUTAGE_MS / 2);
const SECOPS_CHANNEL = 'C0SECOPS001';
/** Slack users who may decide a step owned by iam (test/fixtures/owners.yaml). */
const IAM_OWNERS = ['U0IAM1', 'U0IAM2', 'U0REQUESTER'];

const KINDS = ['events', 'interactions', 'slash-commands', 'shortcuts'] as const;
type Kind = (typeof KINDS)[number];
const ATTACKS = [
  'unsigned',
  'wrong-secret',
  'stale',
  'garbage-unsigned',
  'garbage-signed',
  'oversized',
  'content-type',
  'mutated-signed',
] as const;
type Attack = (typeof ATTACKS)[number];

const FORM = 'application/x-www-form-urlencoded';

let stack: SlackStack;
let canaries: Canaries;
/**
 * Incidents counted as started are the ones that must complete (the outage's); the fuzzer's own, and what valid
 * fuzzed intakes open, wait for approvals and are reported on their own line.
 */
const counts = { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 };

beforeAll(async () => {
  canaries = makeCanaries();
  stack = await startSlackStack();
}, 120_000);

afterAll(async () => {
  stack?.simulator.outage();
  await stack?.stop();
  recordChaos('Slack down + /slack/events fuzz', counts);
});

/** rotate (one owner), revoke (two owners), verify: approvals on the critical path, nothing on a short fuse. */
function approvalChain(): Runbook {
  const runbook = fixtureRunbook('approvals');
  return {
    ...runbook,
    steps: runbook.steps.filter((step) => ['rotate', 'revoke', 'verify'].includes(step.id)),
  };
}

const executed = async (incidentId: string, stepId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.stepId === stepId && entry.effect === 'applied',
  );

const DECISIONS: readonly string[] = ['approved', 'denied', 'approval-recorded'];

// ---------------------------------------------------------------------------------------------------------------
// The fuzzer.

interface Base {
  name: string;
  payload: Record<string, unknown>;
  encode: (value: unknown) => string;
  contentType: string;
}

/** A slash command's fields after mutation: scalars as text, arrays as repeated fields, objects as JSON. */
function encodeFields(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value) ?? '';
  const form = new URLSearchParams();
  for (const [name, field] of Object.entries(value)) {
    for (const item of Array.isArray(field) ? field : [field]) {
      form.append(name, typeof item === 'string' ? item : (JSON.stringify(item) ?? ''));
    }
  }
  return form.toString();
}

const encodeInteraction = (value: unknown) =>
  new URLSearchParams({ payload: JSON.stringify(value) }).toString();

/** One valid payload (or several) per kind, as Slack would post them; the fuzzer mutates copies. */
function fuzzBases(fuzzIncident: { message: SlackMessage; binding: string }): Record<Kind, Base[]> {
  const json = (value: unknown) => JSON.stringify(value);
  const interaction = (name: string, payload: Record<string, unknown>): Base => ({
    name,
    payload,
    encode: encodeInteraction,
    contentType: FORM,
  });
  const event = (name: string, payload: Record<string, unknown>): Base => ({
    name,
    payload,
    encode: json,
    contentType: 'application/json',
  });
  const team = { team_id: 'T0TOURNIQ1', api_app_id: 'A0TOURNAPP', token: 'verification-token-deprecated' };
  const authorizations = [
    { enterprise_id: null, team_id: 'T0TOURNIQ1', user_id: stack.simulator.botUserId, is_bot: true },
  ];
  const intakeState = {
    secret_kind: { value: selectedOptionValue('GitHub token', 'github-token') },
    severity: { value: selectedOptionValue('low', 'low') },
    connector: { value: { type: 'plain_text_input', value: 'github:acme/fuzz/deploy.yml' } },
    credential: { value: { type: 'plain_text_input', value: '' } },
    where_seen: { value: { type: 'plain_text_input', value: 'https://github.com/acme/fuzz/actions/runs/1' } },
    notes: { value: { type: 'plain_text_input', value: 'seen in a deploy log' } },
  };
  return {
    events: [
      event('url_verification', { ...team, type: 'url_verification', challenge: 'c0ffee-challenge' }),
      event('message', {
        ...team,
        type: 'event_callback',
        event_id: 'Ev0FUZZ0001',
        event_time: 1_714_564_800,
        authorizations,
        event: {
          type: 'message',
          channel: SECOPS_CHANNEL,
          user: 'U0APPOWNER1',
          text: `deploying with ${canaries.githubToken}`,
          ts: '1714564800.000100',
          channel_type: 'channel',
        },
      }),
      event('app_mention', {
        ...team,
        type: 'event_callback',
        event_id: 'Ev0FUZZ0002',
        event_time: 1_714_564_801,
        authorizations,
        event: {
          type: 'app_mention',
          channel: INCIDENT_CHANNEL,
          user: 'U0SECOPS1',
          text: `<@${stack.simulator.botUserId}> leaked ${canaries.awsSecretAccessKey}`,
          ts: '1714564801.000200',
        },
      }),
    ],
    interactions: [
      // Clicks and a deny form by someone who owns nothing in iam: whatever a mutation keeps, they cannot decide.
      interaction('approve-click', click(stack, fuzzIncident.message, 'U0PLATFORM1', 'approve')),
      interaction(
        'deny-click',
        click(stack, fuzzIncident.message, 'U0PLATFORM1', 'deny', { triggerId: randomTriggerId() }),
      ),
      // A deny form whose reason holds a token (refused as a secret, never recorded), and one with a plain
      // reason, which a mutation naming an owner turns into a legitimate denial.
      ...[
        ['deny-view-secret', `the old token ${canaries.githubToken} is shared with billing`],
        ['deny-view', 'shared with billing: rotate it with them first'],
      ].map(([name, reason]) =>
        interaction(
          name,
          viewSubmissionPayload({
            user: { id: 'U0PLATFORM1' },
            callbackId: DENY_VIEW,
            privateMetadata: JSON.stringify({
              binding: JSON.parse(fuzzIncident.binding) as unknown,
              channel: fuzzIncident.message.channel,
            }),
            stateValues: plainTextValues({ reason: { value: reason } }),
          }),
        ),
      ),
      // A valid intake: a mutation that keeps it valid legitimately starts (or joins) an incident.
      interaction(
        'intake-view',
        viewSubmissionPayload({
          user: { id: 'U0SECOPS1' },
          callbackId: SECRET_LEAK_VIEW,
          privateMetadata: JSON.stringify({ channel: SECOPS_CHANNEL }),
          stateValues: intakeState,
        }),
      ),
    ],
    'slash-commands': [
      {
        name: 'secret-leak',
        payload: slashCommandFields({
          command: SECRET_LEAK_COMMAND,
          text: `it was ${canaries.slackToken}`,
          user: { id: 'U0SECOPS1' },
          channel: { id: SECOPS_CHANNEL },
        }),
        encode: encodeFields,
        contentType: FORM,
      },
    ],
    shortcuts: [
      interaction(
        'contain-shortcut',
        messageShortcutPayload({
          callbackId: CONTAIN_SHORTCUT,
          user: { id: 'U0SECOPS1' },
          channel: { id: SECOPS_CHANNEL },
          message: { ts: '1714564802.000300', text: `db password=${canaries.password}`, user: 'U0APPOWNER1' },
        }),
      ),
    ],
  };
}

interface Planned {
  attack: Attack;
  base: Base;
  body: Buffer;
  headers: Record<string, string>;
  chunked?: boolean;
  expect?: number;
  /** The payload a signed interaction carries, for what it may legitimately do. */
  payload?: unknown;
}

function plan(bases: Base[], random: () => number): Planned {
  const base = pick(random, bases);
  const secret = stack.signingSecret;
  const mutated = () => mutateJson(base.payload, random);
  const now = Math.floor(Date.now() / 1000);
  const sign = (body: string, ct = base.contentType, key = secret, at = now) => ({
    'content-type': ct,
    ...signSlackRequest(key, body, at),
  });
  // Bolt verifies the signature over the body decoded as UTF-8: garbage is sent as what it decodes to.
  const garbage = () => Buffer.from(garbageBody(random, base.encode(base.payload)).toString('utf8'));
  const roll = random();
  if (roll < 0.07) {
    const body = base.encode(random() < 0.5 ? base.payload : mutated());
    const partial = signSlackRequest(secret, body, now);
    const headers: Record<string, string> = { 'content-type': base.contentType };
    const which = random();
    if (which < 0.33) headers['x-slack-signature'] = partial['x-slack-signature'];
    else if (which < 0.66) headers['x-slack-request-timestamp'] = partial['x-slack-request-timestamp'];
    return { attack: 'unsigned', base, body: Buffer.from(body), headers, expect: 401 };
  }
  if (roll < 0.14) {
    const body = base.encode(random() < 0.5 ? base.payload : mutated());
    const key = pick(random, [`${secret}x`, secret.slice(1), secret.toUpperCase(), '']);
    return {
      attack: 'wrong-secret',
      base,
      body: Buffer.from(body),
      headers: sign(body, undefined, key),
      expect: 401,
    };
  }
  if (roll < 0.21) {
    // A captured request replayed later: right secret, timestamp past Slack's five minutes.
    const body = base.encode(base.payload);
    const at = now - pick(random, [301, 600, 3_600, 86_400 * 365]);
    return {
      attack: 'stale',
      base,
      body: Buffer.from(body),
      headers: sign(body, undefined, secret, at),
      expect: 401,
    };
  }
  if (roll < 0.26) {
    const body = garbage();
    return {
      attack: 'garbage-unsigned',
      base,
      body,
      headers: { 'content-type': pick(random, [FORM, 'application/json', 'text/plain']) },
      expect: 401,
    };
  }
  if (roll < 0.36) {
    const body = garbage();
    return { attack: 'garbage-signed', base, body, headers: sign(body.toString('utf8')) };
  }
  if (roll < 0.39) {
    const body = base.encode({ ...base.payload, padding: 'x'.repeat(SLACK_BODY_LIMIT + random() * 1_000) });
    const headers = random() < 0.7 ? sign(body) : { 'content-type': base.contentType };
    return {
      attack: 'oversized',
      base,
      body: Buffer.from(body),
      headers,
      chunked: random() < 0.5,
      expect: 413,
    };
  }
  if (roll < 0.44) {
    const payload = random() < 0.5 ? base.payload : mutated();
    const body = base.encode(payload);
    const ct = pick(
      random,
      [FORM, 'application/json', `${FORM}; charset=utf-8`, 'text/plain', 'multipart/form-data'].filter(
        (candidate) => candidate !== base.contentType,
      ),
    );
    return { attack: 'content-type', base, body: Buffer.from(body), headers: sign(body, ct), payload };
  }
  const payload = mutated();
  const body = base.encode(payload);
  return { attack: 'mutated-signed', base, body: Buffer.from(body), headers: sign(body), payload };
}

interface Sent {
  kind: Kind;
  index: number;
  attack: Attack;
  base: string;
  bytes: number;
  expect?: number;
  status?: number;
  text?: string;
  error?: string;
  /** The Slack user a signed payload names, and whether it was a SECRET_LEAK_VIEW submission. */
  user?: string;
  intake?: boolean;
  ms: number;
}

async function deliver(kind: Kind, index: number, bases: Base[]): Promise<Sent> {
  const random = requestRandom(CHAOS_SEED, 'slack', kind, index);
  const planned = plan(bases, random);
  const payload = planned.payload as {
    user?: { id?: unknown };
    type?: unknown;
    view?: { callback_id?: unknown };
  };
  const sent: Sent = {
    kind,
    index,
    attack: planned.attack,
    base: planned.base.name,
    bytes: planned.body.length,
    ...(planned.expect ? { expect: planned.expect } : {}),
    ...(typeof payload?.user?.id === 'string' ? { user: payload.user.id } : {}),
    intake: payload?.type === 'view_submission' && payload.view?.callback_id === SECRET_LEAK_VIEW,
    ms: 0,
  };
  const startedAt = Date.now();
  try {
    const answer: HttpAnswer = await postRaw(
      `${stack.gateway.url}/slack/events`,
      planned.body,
      planned.headers,
      {
        chunked: planned.chunked,
      },
    );
    sent.status = answer.status;
    sent.text = answer.text.slice(0, 2_000);
  } catch (error) {
    sent.error =
      error instanceof Error ? `${(error as { code?: string }).code ?? ''} ${error.message}` : String(error);
  }
  sent.ms = Date.now() - startedAt;
  return sent;
}

/** Why an answer is wrong for what was sent; undefined when it is right. */
function wrongAnswer(sent: Sent): string | undefined {
  if (sent.error) {
    // An oversized body is refused unread and the connection closed: the client may still be writing it.
    if (sent.attack === 'oversized' && /ECONNRESET|EPIPE/.test(sent.error)) return undefined;
    return `no answer: ${sent.error}`;
  }
  const status = sent.status!;
  if (status >= 500) return `server error ${status}`;
  if (sent.expect !== undefined) return status === sent.expect ? undefined : `expected ${sent.expect}`;
  if (sent.bytes > SLACK_BODY_LIMIT) return status === 413 ? undefined : 'expected 413 (too large)';
  // Correctly signed and fresh: Bolt must not refuse it as unauthenticated.
  if (status === 401) return '401 for a correctly signed, fresh request';
  return [200, 400, 404].includes(status) ? undefined : `unexpected ${status}`;
}

interface FuzzOutcome {
  sent: Sent[];
  seconds: number;
  failure?: string;
}

interface FuzzTarget {
  incidentId: string;
  message: SlackMessage;
  binding: string;
}

let fuzzTarget: FuzzTarget | undefined;
let fuzzRun: Promise<FuzzOutcome> | undefined;

/** Every kind at once, each with its own lanes; never rejects (test 2 reads the outcome). */
async function runFuzz(target: FuzzTarget): Promise<FuzzOutcome> {
  const startedAt = Date.now();
  const bases = fuzzBases(target);
  try {
    const perKind = await Promise.all(
      KINDS.map((kind) =>
        inParallel(PER_KIND, Math.ceil(PARALLEL / KINDS.length), (index) =>
          deliver(kind, index, bases[kind]),
        ),
      ),
    );
    return { sent: perKind.flat(), seconds: (Date.now() - startedAt) / 1000 };
  } catch (error) {
    return { sent: [], seconds: (Date.now() - startedAt) / 1000, failure: String(error) };
  }
}

// ---------------------------------------------------------------------------------------------------------------

test(`Slack down for ${OUTAGE_MS / 1000} s during an approval: approved out of band, runs once, every notification catches up, approved from Slack after, the incident completes`, async () => {
  const input = incidentInput(approvalChain(), { requester: 'cli:someone-else', severity: 'low' });
  const incidentId = await start(stack.temporal.client, input);
  counts.incidentsStarted += 1;
  const rotate = await requestMessage(stack, incidentId, 'rotate');

  // The fuzzer's own incident, its request posted while Slack is up; one refused click first, so Bolt knows
  // its bot identity (auth.test) before Slack goes down and the fuzzed requests reach the listeners.
  const fuzzIncident = await start(
    stack.temporal.client,
    incidentInput(approvalChain(), { requester: 'cli:someone-else', severity: 'low' }),
  );
  const fuzzRequest = await requestMessage(stack, fuzzIncident, 'rotate');
  expect(
    (await stack.deliver(signed(stack, click(stack, fuzzRequest.message, 'U0PLATFORM1', 'approve')))).status,
  ).toBe(200);
  await until(() => (stack.simulator.ephemeralMessages().length > 0 ? true : undefined));
  const approve = (
    click(stack, fuzzRequest.message, 'U0PLATFORM1', 'approve').actions as { value: string }[]
  )[0];
  fuzzTarget = { incidentId: fuzzIncident, message: fuzzRequest.message, binding: approve.value };

  const outageStarted = Date.now();
  stack.simulator.outage({ status: 503 });
  // The fuzzer starts half-way through the outage: its listeners meet Slack down, then Slack back.
  const target = fuzzTarget;
  fuzzRun = sleep(FUZZ_START_MS).then(() => runFuzz(target));
  let outageEnded = 0;
  let revokeNonce = '';
  try {
    // Slack is unreachable: an iam owner approves with the out-of-band key instead.
    const decided = await decideAs(
      stack.temporal.client,
      stack.temporal.dataDir,
      incidentId,
      rotate.request,
      'alice',
    );
    expect(decided.outcome).toBe('approved');
    const [rotated] = await waitFor(async () => {
      const entries = await executed(incidentId, 'rotate');
      return entries.length > 0 ? entries : undefined;
    });
    expect(Date.parse(rotated.at)).toBeLessThan(outageStarted + OUTAGE_MS);
    // The next approval opens while Slack is still down: nobody can see it there yet.
    revokeNonce = await waitFor(
      async () =>
        (await query(stack.temporal.client, incidentId)).approvals.find(
          (request) => request.stepId === 'revoke',
        )?.nonce,
    );
    expect(stack.simulator.messages().filter((message) => asksFor(message, revokeNonce))).toEqual([]);
    await sleep(Math.max(0, outageStarted + OUTAGE_MS - Date.now()));
  } finally {
    stack.simulator.outage();
    outageEnded = Date.now();
  }
  const during = stack.simulator.calls.filter(
    (call) => call.at.getTime() >= outageStarted && call.at.getTime() < outageEnded,
  );
  const failed = during.filter((call) => call.status === 503);
  counts.faultsInjected += failed.length;
  // Slack really was down for all of it: every call in the window failed.
  expect(failed.length).toBeGreaterThan(0);
  expect(during.length).toBe(failed.length);

  // Slack is back: the rotate request is closed in place, and the revoke request reaches the thread.
  await until(
    () =>
      stack.simulator
        .callsTo('chat.update')
        .some(
          (call) =>
            call.status === 200 && call.at.getTime() >= outageEnded && call.body.ts === rotate.message.ts,
        ),
    90_000,
  );
  const revoke = await requestMessage(stack, incidentId, 'revoke');
  for (const user of ['U0IAM1', 'U0IAM2']) {
    expect((await stack.deliver(signed(stack, click(stack, revoke.message, user, 'approve')))).status).toBe(
      200,
    );
  }
  const status = await result(stack.temporal.client, incidentId);
  if (status.state === 'completed') counts.incidentsCompleted += 1;

  const once = exactlyOnce(await stack.worker.journal.entries());
  counts.duplicatesFound += once.duplicates.length;
  const notifyRetries = failed.filter((call) => ['chat.postMessage', 'chat.update'].includes(call.method));
  report(
    `Slack outage: ${failed.length} Slack API calls answered 503 over ${(OUTAGE_MS / 1000).toFixed(0)} s (${notifyRetries.length} from the notifier, the rest from fuzzed requests' listeners); rotate approved out of band and applied at +${((Date.parse((await executed(incidentId, 'rotate'))[0].at) - outageStarted) / 1000).toFixed(1)} s; thread caught up ${((Date.now() - outageEnded) / 1000).toFixed(1)} s after Slack came back`,
  );

  expect(status.state).toBe('completed');
  expect(status.steps.map((step) => [step.id, step.state])).toEqual([
    ['rotate', 'succeeded'],
    ['revoke', 'succeeded'],
    ['verify', 'succeeded'],
  ]);
  expect(
    status.timeline.find((event) => event.type === 'approved' && event.stepId === 'rotate')?.actor,
  ).toMatch(/alice/);
  expect(
    status.timeline
      .filter((event) => event.type === 'approval-recorded' || event.type === 'approved')
      .filter((event) => event.stepId === 'revoke')
      .map((event) => event.actor),
  ).toEqual(['slack:U0IAM1', 'slack:U0IAM2']);
  expect(once.duplicates).toEqual([]);
  for (const step of ['rotate', 'revoke', 'verify']) expect(await executed(incidentId, step)).toHaveLength(1);
  // Nothing was dropped: every notification was eventually delivered, in the incident's thread, once.
  expect(status.timeline.filter((event) => event.detail?.startsWith('notification not delivered'))).toEqual(
    [],
  );
  const thread = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .find((message) => !message.threadTs && message.text?.includes(incidentId))!;
  const lines = await until(() => {
    const posted = stack.simulator
      .messages(INCIDENT_CHANNEL)
      .filter((message) => message.threadTs === thread.ts);
    return posted.filter((line) => line.text?.includes('succeeded')).length === 3 ? posted : undefined;
  });
  const texts = lines.map((line) => line.text ?? '');
  expect(texts.filter((text, index) => texts.indexOf(text) !== index)).toEqual([]);
  // The revoke request, retried through the outage, was posted once.
  expect(stack.simulator.messages().filter((message) => asksFor(message, revokeNonce))).toHaveLength(1);
}, 420_000);

/** Whether a message carries the buttons of the request with this nonce. */
function asksFor(message: SlackMessage, nonce: string): boolean {
  return JSON.stringify(message.blocks ?? []).includes(nonce);
}

test(`${PER_KIND} fuzzed requests per /slack/events kind (${KINDS.join(', ')}), during and after the outage: no server error, nothing decided or started that a valid signed request did not ask for, no leaked value out, Slack approvals still work`, async () => {
  expect(fuzzRun).toBeDefined();
  const { sent, seconds, failure } = await fuzzRun!;
  expect(failure).toBeUndefined();
  const target = fuzzTarget!;
  counts.faultsInjected += sent.length;

  const statusOf = (entry: Sent) => entry.status ?? 'no answer';
  const byAttack = (attack: Attack) => sent.filter((entry) => entry.attack === attack);
  report(
    `Slack fuzz: ${sent.length} requests in ${seconds.toFixed(1)} s (seed ${CHAOS_SEED}); ${KINDS.map(
      (kind) =>
        `${kind} → ${JSON.stringify(histogram(sent.filter((entry) => entry.kind === kind).map(statusOf)))}`,
    ).join('; ')}`,
  );
  report(
    `Slack fuzz by attack: ${ATTACKS.map(
      (attack) =>
        `${attack} ${byAttack(attack).length} → ${JSON.stringify(histogram(byAttack(attack).map(statusOf)))} (mean ${Math.round(byAttack(attack).reduce((sum, entry) => sum + entry.ms, 0) / Math.max(1, byAttack(attack).length))} ms)`,
    ).join('; ')}`,
  );
  const wrong = sent
    .map((entry) => ({ entry, why: wrongAnswer(entry) }))
    .filter(({ why }) => why !== undefined)
    .map(
      ({ entry, why }) =>
        `${why}: CHAOS_SEED=${CHAOS_SEED} slack ${entry.kind} #${entry.index} (${entry.attack} of ${entry.base}, ${entry.bytes} bytes) → ${entry.status ?? ''} ${entry.text?.slice(0, 200) ?? entry.error}`,
    );
  if (wrong.length > 0)
    report(
      `Slack fuzz: ${wrong.length} wrong answers (seed ${CHAOS_SEED}):\n${wrong.slice(0, 20).join('\n')}`,
    );
  expect(wrong.slice(0, 20)).toEqual([]);

  // Decisions on the fuzzer's incident: none, or only by an iam owner whose id a correctly signed request
  // carried (Slack vouches for the user of a signed interaction: a mutation that names an owner is a click).
  const signedUsers = new Set(
    sent
      .filter((entry) => entry.status === 200 && ['mutated-signed', 'content-type'].includes(entry.attack))
      .map((entry) => entry.user)
      .filter((user): user is string => user !== undefined),
  );
  const fuzzStatus = await query(stack.temporal.client, target.incidentId);
  const decisions = fuzzStatus.timeline.filter((event) => DECISIONS.includes(event.type));
  for (const decision of decisions) {
    const user = /^slack:(.+)$/.exec(decision.actor)?.[1];
    expect({
      actor: decision.actor,
      owner: IAM_OWNERS.includes(user ?? ''),
      signed: signedUsers.has(user ?? ''),
    }).toEqual({
      actor: decision.actor,
      owner: true,
      signed: true,
    });
  }
  const rotated = await executed(target.incidentId, 'rotate');
  expect(rotated.length).toBeLessThanOrEqual(decisions.some((event) => event.type === 'approved') ? 1 : 0);

  // Incidents: the two this file started from the CLI, plus what valid intake submissions started (answered
  // 200 with no errors), each requested from Slack.
  const all: string[] = [];
  for await (const execution of stack.temporal.client.workflow.list()) all.push(execution.workflowId);
  const intakesAccepted = sent.filter((entry) => entry.intake && entry.status === 200 && entry.text === '');
  const started: IncidentStatus[] = [];
  for (const id of new Set(all)) {
    const status = await query(stack.temporal.client, id);
    const opened = status.timeline.find((event) => event.type === 'incident-opened');
    if (opened?.actor.startsWith('slack:')) started.push(status);
    else expect(opened?.actor).toBe('cli:someone-else');
  }
  report(
    `Slack fuzz: ${intakesAccepted.length} valid intake submissions accepted → ${started.length} incidents started from Slack; ${decisions.length} decisions on the fuzzed request (${decisions.map((event) => `${event.type} by ${event.actor}`).join(', ') || 'none'})`,
  );
  expect(started.length).toBeLessThanOrEqual(intakesAccepted.length);
  if (intakesAccepted.length === 0) expect(started).toEqual([]);

  // No leaked value in any answer, any log line, anything sent to Slack, or any incident's history.
  const answers = sent.map((entry) => entry.text ?? '').join('\n');
  const logs = stack.logs.join('\n');
  const toSlack = stack.simulator.calls.map((call) => call.raw).join('\n');
  const histories = await Promise.all(
    [...new Set(all)].map(async (id) =>
      historyText(await stack.temporal.client.workflow.getHandle(id).fetchHistory()),
    ),
  );
  for (const [name, value] of Object.entries(canaries)) {
    expect({
      name,
      inAnswers: answers.includes(value),
      inLogs: logs.includes(value),
      sentToSlack: toSlack.includes(value),
      inHistories: histories.some((text) => text.includes(value)),
    }).toEqual({ name, inAnswers: false, inLogs: false, sentToSlack: false, inHistories: false });
  }

  // Slack approvals still work: a fresh incident's request, approved by an iam owner from Slack, runs once.
  const fresh = await start(
    stack.temporal.client,
    incidentInput(approvalChain(), { requester: 'cli:someone-else', severity: 'low' }),
  );
  const freshRotate = await requestMessage(stack, fresh, 'rotate');
  expect(
    (await stack.deliver(signed(stack, click(stack, freshRotate.message, 'U0IAM1', 'approve')))).status,
  ).toBe(200);
  await waitFor(async () => ((await executed(fresh, 'rotate')).length === 1 ? true : undefined));
  await sleep(500);
  expect(await executed(fresh, 'rotate')).toHaveLength(1);
  for (const id of [fresh, target.incidentId, ...started.map((status) => status.incidentId)]) {
    await cancelForTest(stack.temporal.client, id).catch(() => undefined);
  }
}, 540_000);

test('a correctly signed interaction Bolt cannot read (no `user`, no `team`) is answered 400, not 500, and executes nothing', async () => {
  const incidentId = await start(
    stack.temporal.client,
    incidentInput(approvalChain(), { requester: 'cli:someone-else', severity: 'low' }),
  );
  const rotate = await requestMessage(stack, incidentId, 'rotate');
  const { user: _user, team: _team, ...withoutUser } = click(stack, rotate.message, 'U0IAM1', 'approve');
  try {
    const response = await stack.deliver(signed(stack, withoutUser));
    expect(await executed(incidentId, 'rotate')).toEqual([]);
    expect(response.status).toBe(400);
  } finally {
    await cancelForTest(stack.temporal.client, incidentId);
  }
});
