import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import { parse } from 'yaml';
import { OwnerDirectory, ownersFileSchema } from '../lib/owners';
import { slackUsergroupResolver } from '../slack/notifier';
import { withoutApprovals } from './harness/owners';
import { plainTextValues, signedInteraction, viewSubmissionPayload } from './harness/slack-signing';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  result,
  start,
  waitFor,
} from './harness/incidents';
import {
  buttonsOf,
  click,
  INCIDENT_CHANNEL,
  refusals,
  requestMessage,
  signed,
  startSlackStack,
  until,
  type SlackStack,
} from './fixtures/slack/harness';

let stack: SlackStack;

beforeAll(async () => {
  stack = await startSlackStack();
});

afterAll(async () => {
  await stack?.stop();
});

const executed = async (incidentId: string, stepId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.stepId === stepId && entry.effect === 'applied',
  );

const ephemeralTo = (user: string) =>
  stack.simulator.ephemeralMessages().filter((message) => message.user === user);

const updatesOf = (ts: string) =>
  stack.simulator.callsTo('chat.update').filter((call) => call.body.ts === ts && call.status === 200);

async function cancel(incidentId: string): Promise<void> {
  await cancelForTest(stack.temporal.client, incidentId);
}

test('an owner approves from Slack: the step runs and the request is updated in place; forged, stale, tampered, copied or unauthorised clicks execute nothing; signed ones are refused in the timeline, unsigned ones are only counted', async () => {
  // U0REQUESTER raised the incident and is in iam: separation of duties applies on the irreversible rotate.
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'slack:U0REQUESTER',
    severity: 'low',
  });
  const incidentId = await start(stack.temporal.client, input);
  const { request, message } = await requestMessage(stack, incidentId, 'rotate');

  // The request says exactly what will be done, in the incident's thread, mentioning the owners.
  const opening = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .find((candidate) => !candidate.threadTs && candidate.text?.includes(incidentId));
  expect(opening).toBeDefined();
  expect(message).toMatchObject({ channel: INCIDENT_CHANNEL, threadTs: opening!.ts });
  for (const expected of [
    '<@U0IAM1>',
    '<@U0IAM2>',
    '<@U0REQUESTER>',
    'simulated.rotateCredential',
    request.target,
    'irreversible',
    request.paramsHash,
    request.expiresAt,
  ]) {
    expect(message.text).toContain(expected);
  }
  const buttons = buttonsOf(message)!;
  expect(JSON.parse(buttons.approve)).toEqual({
    incidentId,
    stepId: 'rotate',
    nonce: request.nonce,
    paramsHash: request.paramsHash,
  });

  const now = Math.floor(Date.now() / 1000);
  const attempts: [string, { status: number }][] = [
    ['non-owner', await stack.deliver(signed(stack, click(stack, message, 'U0PLATFORM1', 'approve')))],
    ['requester', await stack.deliver(signed(stack, click(stack, message, 'U0REQUESTER', 'approve')))],
    ['stale', await stack.deliver(signed(stack, click(stack, message, 'U0IAM1', 'approve'), now - 6 * 60))],
    [
      'bad signature',
      await stack.deliver(
        signedInteraction('not-the-signing-secret', click(stack, message, 'U0IAM1', 'approve')),
      ),
    ],
    [
      'tampered hash',
      await stack.deliver(
        signed(
          stack,
          click(stack, message, 'U0IAM1', 'approve', {
            value: JSON.stringify({ ...JSON.parse(buttons.approve), paramsHash: 'f'.repeat(64) }),
          }),
        ),
      ),
    ],
    [
      'forwarded copy',
      await stack.deliver(signed(stack, click(stack, message, 'U0IAM1', 'approve', { botId: 'B0SOMEONE1' }))),
    ],
    [
      // Our own bot's message, correctly signed, carrying the request's buttons: but not the message that
      // carried the request (here the incident's opening message).
      'other message',
      await stack.deliver(signed(stack, click(stack, { ...message, ts: opening!.ts }, 'U0IAM1', 'approve'))),
    ],
  ];
  expect(attempts.map(([name, response]) => [name, response.status])).toEqual([
    ['non-owner', 200],
    ['requester', 200],
    ['stale', 401],
    ['bad signature', 401],
    ['tampered hash', 200],
    ['forwarded copy', 200],
    ['other message', 200],
  ]);

  expect(ephemeralTo('U0PLATFORM1').map((ephemeral) => ephemeral.text)).toEqual([
    'You are not an owner of iam: your click was refused and nothing was executed.',
  ]);
  expect(ephemeralTo('U0PLATFORM1')[0]).toMatchObject({ channel: INCIDENT_CHANNEL, threadTs: opening!.ts });
  expect(ephemeralTo('U0REQUESTER')[0].text).toContain('separation of duties');
  expect(ephemeralTo('U0IAM1').map((ephemeral) => ephemeral.text)).toEqual([
    expect.stringContaining('parameter hash mismatch'),
    expect.stringContaining("not Tourniquet's own approval request message"),
    expect.stringContaining('not the message that carried this approval request'),
  ]);

  const refused = await waitFor(async () => {
    const lines = refusals(await query(stack.temporal.client, incidentId), 'rotate');
    return lines.length >= 5 ? lines : undefined;
  });
  expect(refused).toEqual(
    expect.arrayContaining([
      'slack:U0PLATFORM1: not an owner of iam',
      'slack:U0REQUESTER: separation of duties: the person who raised the incident cannot approve this step',
      'slack:U0IAM1: the action changed since the request (parameter hash mismatch)',
      expect.stringMatching(/^slack:U0IAM1: not Tourniquet's own approval request message/),
      expect.stringMatching(/^slack:U0IAM1: not the message that carried this approval request/),
    ]),
  );
  // The stale and the badly signed click claimed to be U0IAM1: unauthenticated, they write nothing anywhere
  // (timeline, thread) and are only counted and logged.
  expect(refused).toHaveLength(5);
  const rotateRequest = (await query(stack.temporal.client, incidentId)).approvals.find(
    (candidate) => candidate.stepId === 'rotate',
  );
  expect(rotateRequest?.message).toEqual({
    channel: message.channel,
    ts: message.ts,
  });
  expect(stack.refusedRequests).toEqual({ stale: 1, 'bad-signature': 1 });
  const thread = stack.simulator.messages(INCIDENT_CHANNEL).map((posted) => JSON.stringify(posted));
  expect(
    thread.filter((text) => /slack-unverified|failed verification|refused: timestamp/.test(text)),
  ).toEqual([]);
  expect(
    stack.logs.filter((line) => line.includes('refused a Slack request that failed verification')),
  ).toHaveLength(2);
  expect(await executed(incidentId, 'rotate')).toHaveLength(0);
  expect(updatesOf(message.ts)).toHaveLength(0);
  expect((await query(stack.temporal.client, incidentId)).state).toBe('awaiting-approval');

  // The owner approves: the step runs once and the request message says who decided and when.
  const approved = await stack.deliver(signed(stack, click(stack, message, 'U0IAM1', 'approve')));
  expect(approved.status).toBe(200);
  await waitFor(async () => ((await executed(incidentId, 'rotate')).length === 1 ? true : undefined));
  const [update] = await until(() => {
    const updates = updatesOf(message.ts);
    return updates.length > 0 ? updates : undefined;
  });
  expect(update.body.text).toMatch(/Approved\* by <@U0IAM1> at <!date\^\d+\^[^|]+\|\d{4}-\d\d-\d\dT[^>]+>/);
  const edited = stack.simulator.messages(INCIDENT_CHANNEL).find((candidate) => candidate.ts === message.ts)!;
  expect(edited.edited).toBeDefined();
  expect(buttonsOf(edited)).toBeUndefined();
  const status = await query(stack.temporal.client, incidentId);
  expect(status.timeline.find((event) => event.type === 'approved' && event.stepId === 'rotate')?.actor).toBe(
    'slack:U0IAM1',
  );
  await cancel(incidentId);
});

test('two-person via Slack: the same click posted twice counts once, the same person again is refused, a second owner completes it; a deny asks for a reason', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'cli:someone-else',
    severity: 'low',
  });
  const incidentId = await start(stack.temporal.client, input);
  const rotate = await requestMessage(stack, incidentId, 'rotate');
  expect((await stack.deliver(signed(stack, click(stack, rotate.message, 'U0IAM1', 'approve')))).status).toBe(
    200,
  );

  const revoke = await requestMessage(stack, incidentId, 'revoke');
  expect(revoke.message.text).toContain('two distinct owners of *iam*');
  // Slack retrying a click, or someone replaying it within five minutes: one signed request, delivered twice.
  const once = signed(stack, click(stack, revoke.message, 'U0IAM1', 'approve'));
  expect((await stack.deliver(once)).status).toBe(200);
  expect((await stack.deliver(once)).status).toBe(200);
  const recorded = await until(() => {
    const updates = updatesOf(revoke.message.ts);
    return updates.length > 0 ? updates : undefined;
  });
  expect(recorded[0].body.text).toContain('Approval recorded from <@U0IAM1>');
  let status = await query(stack.temporal.client, incidentId);
  expect(
    status.timeline.filter((event) => event.type === 'approval-recorded' && event.stepId === 'revoke'),
  ).toHaveLength(1);
  expect(status.approvals.find((request) => request.stepId === 'revoke')).toMatchObject({
    approvals: ['slack:U0IAM1'],
    required: 2,
  });
  // Still open: the updated message keeps its buttons.
  const afterOne = stack.simulator.messages().find((candidate) => candidate.ts === revoke.message.ts)!;
  expect(buttonsOf(afterOne)).toBeDefined();

  // A new click by the same person is a new request, refused by the validator.
  expect((await stack.deliver(signed(stack, click(stack, afterOne, 'U0IAM1', 'approve')))).status).toBe(200);
  expect(ephemeralTo('U0IAM1').at(-1)?.text).toContain('already approved by this person');
  expect(await executed(incidentId, 'revoke')).toHaveLength(0);

  expect((await stack.deliver(signed(stack, click(stack, afterOne, 'U0IAM2', 'approve')))).status).toBe(200);
  await waitFor(async () => ((await executed(incidentId, 'revoke')).length === 1 ? true : undefined));
  await until(() =>
    updatesOf(revoke.message.ts).some((call) => String(call.body.text).includes('Approved* by <@U0IAM2>'))
      ? true
      : undefined,
  );
  status = await query(stack.temporal.client, incidentId);
  expect(
    status.timeline.find((event) => event.type === 'approved' && event.stepId === 'revoke'),
  ).toMatchObject({
    actor: 'slack:U0IAM2',
    detail: 'approved (2/2)',
  });
  await cancel(incidentId);

  // Deny: the button opens a modal (views.open with the click's trigger id); the reason is required.
  const other = await start(
    stack.temporal.client,
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'low' }),
  );
  const { message } = await requestMessage(stack, other, 'rotate');
  const trigger = stack.simulator.issueTriggerId('U0IAM2');
  expect(
    (await stack.deliver(signed(stack, click(stack, message, 'U0IAM2', 'deny', { triggerId: trigger }))))
      .status,
  ).toBe(200);
  const denyView = stack.simulator.callsTo('views.open').at(-1)!;
  expect(denyView.body.trigger_id).toBe(trigger);
  const view = stack.simulator
    .views()
    .find((candidate) => candidate.callback_id === 'tourniquet_deny_reason')!;
  const submit = async (user: string, reason: string) => {
    const response = await stack.deliver(
      signed(
        stack,
        viewSubmissionPayload({
          user: { id: user },
          callbackId: 'tourniquet_deny_reason',
          viewId: view.id,
          privateMetadata: view.private_metadata,
          stateValues: plainTextValues({ reason: { value: reason } }),
        }),
      ),
    );
    return {
      status: response.status,
      body: response.body ? (JSON.parse(response.body) as unknown) : undefined,
    };
  };
  expect(await submit('U0IAM2', '   ')).toEqual({
    status: 200,
    body: { response_action: 'errors', errors: { reason: 'Reason: required' } },
  });
  expect(await submit('U0APPOWNER1', 'not mine to deny')).toEqual({
    status: 200,
    body: {
      response_action: 'errors',
      errors: { reason: 'You are not an owner of iam: your click was refused and nothing was executed.' },
    },
  });
  expect(await submit('U0IAM2', 'the credential is shared with billing; rotate it with them first')).toEqual({
    status: 200,
    body: undefined,
  });
  const denied = await result(stack.temporal.client, other);
  expect(denied.steps.find((step) => step.id === 'rotate')).toMatchObject({
    state: 'skipped',
    reason: 'denied by slack:U0IAM2',
  });
  expect(refusals(denied, 'rotate')).toEqual(['slack:U0APPOWNER1: not an owner of iam']);
  expect(await executed(other, 'rotate')).toHaveLength(0);
  const deniedMessage = stack.simulator.messages().find((candidate) => candidate.ts === message.ts)!;
  expect(deniedMessage.text).toContain('Denied* by <@U0IAM2>');
  expect(deniedMessage.text).toContain('rotate it with them first');
  expect(buttonsOf(deniedMessage)).toBeUndefined();
});

test('at the deadline the request escalates to the backup (mentioned in a new request), break-glass posts "auto-executed after deadline", and the expired request executes nothing', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), {
    requester: 'cli:someone-else',
    severity: 'critical',
  });
  const incidentId = await start(stack.temporal.client, input);
  const keys = await requestMessage(stack, incidentId, 'keys', (request) => !request.escalated);
  const hooks = await requestMessage(stack, incidentId, 'hooks', (request) => !request.escalated);
  expect(keys.message.text).toContain('<@U0PLATFORM1> <@U0PLATFORM2>');

  // hooks is reversible with break-glass at critical: after its 3 s deadline it runs, and says so.
  const breakGlass = await until(() =>
    stack.simulator
      .messages(INCIDENT_CHANNEL)
      .find(
        (candidate) =>
          candidate.threadTs &&
          candidate.text?.includes('Break-glass: step `hooks` auto-executed after deadline'),
      ),
  );
  expect(breakGlass).toBeDefined();
  await waitFor(async () => ((await executed(incidentId, 'hooks')).length === 1 ? true : undefined));
  const hooksMessage = stack.simulator.messages().find((candidate) => candidate.ts === hooks.message.ts)!;
  expect(hooksMessage.text).toContain('auto-executed after deadline');
  expect(buttonsOf(hooksMessage)).toBeUndefined();
  // The backup hears about it: the escalation line mentions incident-commander's member.
  expect(
    stack.simulator
      .messages(INCIDENT_CHANNEL)
      .some(
        (candidate) =>
          candidate.threadTs === breakGlass.threadTs &&
          candidate.text?.includes('escalated to incident-commander (<@U0COMMANDER1>)'),
      ),
  ).toBe(true);

  // keys is irreversible: it escalates to incident-commander, whose member is mentioned in a new request.
  const escalated = await requestMessage(stack, incidentId, 'keys', (request) => request.escalated);
  expect(escalated.message.ts).not.toBe(keys.message.ts);
  expect(escalated.message.text).toContain('<@U0COMMANDER1>');
  expect(escalated.message.text).toContain('Approval needed (escalated)');
  const superseded = stack.simulator.messages().find((candidate) => candidate.ts === keys.message.ts)!;
  expect(superseded.text).toContain('Superseded');
  expect(buttonsOf(superseded)).toBeUndefined();

  // The expired request's button (a stale client still shows it) counts for nothing.
  expect(
    (await stack.deliver(signed(stack, click(stack, keys.message, 'U0PLATFORM1', 'approve')))).status,
  ).toBe(200);
  expect(ephemeralTo('U0PLATFORM1').at(-1)?.text).toMatch(/no longer current|expired/);
  expect(await executed(incidentId, 'keys')).toHaveLength(0);
  expect(refusals(await query(stack.temporal.client, incidentId), 'keys')).toEqual([
    expect.stringMatching(/^slack:U0PLATFORM1: .*(no longer current|expired)/),
  ]);

  expect(
    (await stack.deliver(signed(stack, click(stack, escalated.message, 'U0COMMANDER1', 'approve')))).status,
  ).toBe(200);
  await waitFor(async () => ((await executed(incidentId, 'keys')).length === 1 ? true : undefined));
  const status = await query(stack.temporal.client, incidentId);
  expect(status.flags).toContain('break-glass:hooks');
  expect(status.flags).not.toContain('break-glass:keys');
  await cancel(incidentId);
});

test('Slack answering 500 or ratelimited: notifications are retried by Temporal and the incident is not lost', async () => {
  stack.simulator.failNext('chat.postMessage', { status: 500 });
  stack.simulator.failNext('chat.postMessage', { error: 'ratelimited', retryAfterSeconds: 1 });
  stack.simulator.failNext('chat.postMessage', { status: 503 });
  const input = incidentInput(withoutApprovals(fixtureRunbook('approvals')), { severity: 'high' });
  const incidentId = await start(stack.temporal.client, input);
  const status = await result(stack.temporal.client, incidentId);
  expect(status.state).toBe('completed');
  expect(status.timeline.some((event) => event.detail?.startsWith('notification not delivered'))).toBe(false);

  const posts = stack.simulator
    .callsTo('chat.postMessage')
    .filter((call) => call.raw.includes(incidentId))
    .map((call) => [call.status, call.error ?? null]);
  expect(posts.slice(0, 4)).toEqual([
    [500, 'fatal_error'],
    [429, 'ratelimited'],
    [503, 'fatal_error'],
    [200, null],
  ]);
  const thread = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .find((candidate) => !candidate.threadTs && candidate.text?.includes(incidentId))!;
  expect(thread).toBeDefined();
  // Every step's transition is in the thread, in order, after the retried opening message.
  const lines = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .filter((candidate) => candidate.threadTs === thread.ts);
  expect(lines.filter((line) => line.text?.includes('succeeded'))).toHaveLength(status.steps.length);
  // The thread as posted is part of the incident's evidence: one record per delivered message.
  const recorded = stack.evidence.events.filter(
    (event) => event.incidentId === incidentId && event.kind === 'slack-thread',
  );
  expect(recorded).toHaveLength(lines.length + 1);
});

test('owner user groups are expanded with usergroups.users.list', async () => {
  const client = new webApi.WebClient(stack.simulator.botToken, {
    slackApiUrl: stack.simulator.url,
    retryConfig: { retries: 0 },
  });
  const owners = ownersFileSchema.parse({
    roles: { platform: { slack: { users: ['U0PLATFORM1'], usergroups: ['S0PLATFORM'] } } },
  });
  const directory = new OwnerDirectory(owners, stack.temporal.dataDir, {
    gatewayKeys: [],
    expandUsergroup: slackUsergroupResolver(client),
  });
  await expect(directory.snapshot('platform')).resolves.toMatchObject({
    slackUsers: ['U0PLATFORM1', 'U0ALICE001', 'U0FRANK006'],
  });
  expect(stack.simulator.callsTo('usergroups.users.list').at(-1)?.body).toMatchObject({
    usergroup: 'S0PLATFORM',
  });
});

test('the app manifest asks for exactly the scopes of the methods Tourniquet called', () => {
  const manifest = parse(readFileSync(join(__dirname, '..', 'slack-app-manifest.yaml'), 'utf8')) as {
    oauth_config: { scopes: { bot: string[] } };
    settings: { interactivity: { request_url: string } };
    features: { slash_commands: { command: string; url: string }[]; shortcuts: { callback_id: string }[] };
  };
  const scopeOf: Record<string, string | undefined> = {
    'auth.test': undefined,
    'chat.postMessage': 'chat:write',
    'chat.update': 'chat:write',
    'chat.postEphemeral': 'chat:write',
    'views.open': undefined,
    'usergroups.users.list': 'usergroups:read',
  };
  const called = [...new Set(stack.simulator.calls.map((call) => call.method))];
  for (const method of called) expect(Object.keys(scopeOf)).toContain(method);
  const needed = new Set(called.map((method) => scopeOf[method]).filter((scope): scope is string => !!scope));
  needed.add('commands'); // the slash command and the message shortcut
  expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  expect(manifest.settings.interactivity.request_url).toMatch(/\/slack\/events$/);
  expect(manifest.features.slash_commands).toEqual([
    expect.objectContaining({ command: '/secret-leak', url: expect.stringMatching(/\/slack\/events$/) }),
  ]);
  expect(manifest.features.shortcuts.map((shortcut) => shortcut.callback_id)).toEqual([
    'contain_leaked_secret',
  ]);
});

test('every Slack message of a tabletop exercise says [EXERCISE], requests and their updates included', async () => {
  const input = incidentInput(fixtureRunbook('approvals'), {
    severity: 'low',
    exercise: true,
    requester: 'cli:x',
  });
  const incidentId = await start(stack.temporal.client, input);
  const { message } = await requestMessage(stack, incidentId, 'rotate');
  expect((await stack.deliver(signed(stack, click(stack, message, 'U0IAM1', 'approve')))).status).toBe(200);
  const [update] = await until(() => {
    const updates = updatesOf(message.ts);
    return updates.length > 0 ? updates : undefined;
  });
  expect(update.body.text).toMatch(/^\[EXERCISE\] /);
  await waitFor(async () => ((await executed(incidentId, 'rotate')).length === 1 ? true : undefined));
  await cancel(incidentId);
  const opening = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .find((candidate) => !candidate.threadTs && candidate.text?.includes(incidentId))!;
  const thread = stack.simulator
    .messages(INCIDENT_CHANNEL)
    .filter((candidate) => candidate.threadTs === opening.ts);
  expect(thread.length).toBeGreaterThanOrEqual(3);
  for (const posted of [opening, ...thread]) expect(posted.text).toMatch(/^\[EXERCISE\] /);
});
