import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, LogLevel, isValidSlackRequest, type BlockAction, type ButtonAction } from '@slack/bolt';
import { ErrorCode, WebClient, WebClientEvent, type WebAPIPlatformError } from '@slack/web-api';
import {
  DEFAULT_CHANNELS,
  DEFAULT_USERGROUPS,
  DEFAULT_USERS,
  startSlackSimulator,
  type SlackSimulator,
} from './simulators/slack';
import {
  blockActionsPayload,
  messageShortcutPayload,
  plainTextValues,
  randomTriggerId,
  signedInteraction,
  signedSlashCommand,
  signSlackRequest,
  slashCommandFields,
  viewSubmissionPayload,
} from './harness/slack-signing';

const [alice, bob, , , erin, , , gone] = DEFAULT_USERS;
const [incidents, secops] = DEFAULT_CHANNELS;
const platformGroup = DEFAULT_USERGROUPS[0];

function client(
  simulator: SlackSimulator,
  options: ConstructorParameters<typeof WebClient>[1] = {},
): WebClient {
  return new WebClient(simulator.botToken, {
    slackApiUrl: simulator.url,
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: 0 },
    ...options,
  });
}

async function platformError(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    const platform = error as WebAPIPlatformError;
    if (platform.code === ErrorCode.PlatformError) return platform.data.error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const modal = (callbackId: string) => ({
  type: 'modal' as const,
  callback_id: callbackId,
  title: { type: 'plain_text' as const, text: 'Secret leak' },
  blocks: [section('What leaked?')],
});

describe('Slack Web API simulator, through the real WebClient', () => {
  let simulator: SlackSimulator;
  let slack: WebClient;

  beforeEach(async () => {
    simulator = await startSlackSimulator();
    slack = client(simulator);
  });
  afterEach(async () => {
    await simulator.close();
  });

  it('serves under a URL that ends with /api/, as slackApiUrl expects', () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it('answers auth.test for the bot token and refuses others', async () => {
    await expect(slack.auth.test()).resolves.toMatchObject({
      ok: true,
      team_id: simulator.teamId,
      user_id: simulator.botUserId,
      bot_id: simulator.botId,
    });
    expect(await platformError(new WebClient('xoxb-wrong', { slackApiUrl: simulator.url }).auth.test())).toBe(
      'invalid_auth',
    );
    expect(await platformError(new WebClient(undefined, { slackApiUrl: simulator.url }).auth.test())).toBe(
      'not_authed',
    );
    expect(simulator.callsTo('auth.test').map((call) => call.token)).toEqual([
      simulator.botToken,
      'xoxb-wrong',
      undefined,
    ]);
  });

  it('posts, threads and updates messages, recording form-encoded arguments with blocks parsed', async () => {
    const posted = await slack.chat.postMessage({
      channel: incidents.id,
      text: 'Incident opened',
      blocks: [section('*Leak* of a GitHub token')],
    });
    expect(posted).toMatchObject({ ok: true, channel: incidents.id, message: { text: 'Incident opened' } });
    const reply = await slack.chat.postMessage({
      channel: incidents.id,
      thread_ts: posted.ts,
      text: 'Approval needed',
    });
    await slack.chat.update({
      channel: incidents.id,
      ts: posted.ts!,
      text: 'Incident contained',
      blocks: [],
    });

    const [first, threaded] = simulator.messages(incidents.id);
    expect(first).toMatchObject({
      ts: posted.ts,
      text: 'Incident contained',
      edited: { ts: expect.any(String) },
    });
    expect(threaded).toMatchObject({ ts: reply.ts, threadTs: posted.ts });
    expect(Number(reply.ts)).toBeGreaterThan(Number(posted.ts));

    const [call] = simulator.callsTo('chat.postMessage');
    expect(call.contentType).toBe('application/x-www-form-urlencoded');
    expect(call.body).toMatchObject({ channel: incidents.id, blocks: [section('*Leak* of a GitHub token')] });
    expect(call.raw).toContain('blocks=');
    expect(call.at).toBeInstanceOf(Date);
  });

  it('answers like Slack for unknown channels, messages and threads, and missing text', async () => {
    expect(await platformError(slack.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).toBe(
      'channel_not_found',
    );
    expect(await platformError(slack.chat.update({ channel: incidents.id, ts: '1.000001', text: 'x' }))).toBe(
      'message_not_found',
    );
    expect(
      await platformError(
        slack.chat.postMessage({ channel: incidents.id, thread_ts: '1.000001', text: 'x' }),
      ),
    ).toBe('thread_not_found');
    expect(await platformError(slack.apiCall('chat.postMessage', { channel: incidents.id }))).toBe('no_text');
    expect(await platformError(slack.apiCall('chat.nonexistent', {}))).toBe('unknown_method');
  });

  it('opens a DM when a message is posted to a user id', async () => {
    const posted = await slack.chat.postMessage({ channel: alice.id, text: 'Please approve' });
    expect(posted.channel).toMatch(/^D/);
    await expect(slack.conversations.info({ channel: posted.channel! })).resolves.toMatchObject({
      channel: { is_im: true, user: alice.id },
    });
  });

  it('posts ephemeral messages only to known users who can see the channel', async () => {
    const restricted = await startSlackSimulator({
      channels: [{ id: 'C0PRIVATE1', name: 'war-room', isPrivate: true, members: [alice.id] }],
    });
    try {
      const restrictedClient = client(restricted);
      await expect(
        restrictedClient.chat.postEphemeral({ channel: 'C0PRIVATE1', user: alice.id, text: 'Only you' }),
      ).resolves.toMatchObject({ ok: true, message_ts: expect.any(String) });
      expect(
        await platformError(
          restrictedClient.chat.postEphemeral({ channel: 'C0PRIVATE1', user: bob.id, text: 'x' }),
        ),
      ).toBe('user_not_in_channel');
      expect(restricted.ephemeralMessages('C0PRIVATE1')).toEqual([
        expect.objectContaining({ user: alice.id, text: 'Only you' }),
      ]);
    } finally {
      await restricted.close();
    }
  });

  it('opens views with a trigger id once, within its lifetime, and updates them guarded by hash', async () => {
    const shortLived = await startSlackSimulator({ triggerLifetimeMs: 50, requireIssuedTriggers: true });
    try {
      const views = client(shortLived);
      const trigger = shortLived.issueTriggerId(alice.id);
      const opened = await views.views.open({ trigger_id: trigger, view: modal('secret_leak') });
      expect(opened.view).toMatchObject({
        type: 'modal',
        callback_id: 'secret_leak',
        hash: expect.any(String),
      });
      expect(shortLived.views()[0].user).toBe(alice.id);
      expect(await platformError(views.views.open({ trigger_id: trigger, view: modal('again') }))).toBe(
        'exchanged_trigger_id',
      );
      const stale = shortLived.issueTriggerId();
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await platformError(views.views.open({ trigger_id: stale, view: modal('late') }))).toBe(
        'expired_trigger_id',
      );
      expect(
        await platformError(views.views.open({ trigger_id: randomTriggerId(), view: modal('forged') })),
      ).toBe('invalid_trigger_id');

      const updated = await views.views.update({
        view_id: opened.view!.id!,
        hash: opened.view!.hash!,
        view: modal('secret_leak_step2'),
      });
      expect(updated.view).toMatchObject({ id: opened.view!.id, callback_id: 'secret_leak_step2' });
      expect(
        await platformError(
          views.views.update({ view_id: opened.view!.id!, hash: opened.view!.hash!, view: modal('x') }),
        ),
      ).toBe('hash_conflict');
      expect(await platformError(views.views.update({ view_id: 'V0NOPE', view: modal('x') }))).toBe(
        'not_found',
      );
    } finally {
      await shortLived.close();
    }
  });

  it('lists user group members, skipping deactivated users unless asked', async () => {
    simulator.setUsergroupMembers(platformGroup.id, [alice.id, gone.id]);
    await expect(slack.usergroups.users.list({ usergroup: platformGroup.id })).resolves.toMatchObject({
      users: [alice.id],
    });
    await expect(
      slack.usergroups.users.list({ usergroup: platformGroup.id, include_disabled: true }),
    ).resolves.toMatchObject({ users: [alice.id, gone.id] });
    expect(await platformError(slack.usergroups.users.list({ usergroup: 'S0NOPE' }))).toBe('no_such_subteam');
  });

  it('describes users and conversations', async () => {
    await expect(slack.users.info({ user: erin.id })).resolves.toMatchObject({
      user: { id: erin.id, name: erin.name, deleted: false, is_bot: false, profile: { email: erin.email } },
    });
    await expect(slack.users.info({ user: gone.id })).resolves.toMatchObject({ user: { deleted: true } });
    expect(await platformError(slack.users.info({ user: 'U0NOPE' }))).toBe('user_not_found');
    await expect(slack.conversations.info({ channel: secops.id })).resolves.toMatchObject({
      channel: { id: secops.id, name: secops.name, is_private: true },
    });
    expect(await platformError(slack.conversations.info({ channel: 'C0NOPE' }))).toBe('channel_not_found');
  });

  it('accepts JSON bodies with a bearer token, and refuses a JSON body token as Slack does', async () => {
    const post = (headers: Record<string, string>, body: Record<string, unknown>) =>
      fetch(`${simulator.url}chat.postMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: JSON.stringify(body),
      }).then((response) => response.json() as Promise<{ ok: boolean; error?: string }>);
    await expect(
      post({ authorization: `Bearer ${simulator.botToken}` }, { channel: incidents.id, text: 'json' }),
    ).resolves.toMatchObject({ ok: true });
    await expect(
      post({}, { token: simulator.botToken, channel: incidents.id, text: 'json' }),
    ).resolves.toEqual({
      ok: false,
      error: 'not_authed',
    });
  });

  describe('fault injection', () => {
    it('fails the next call with an HTTP status; a retrying client succeeds on the second try', async () => {
      simulator.failNext('chat.postMessage', { status: 500 });
      await expect(slack.chat.postMessage({ channel: incidents.id, text: 'x' })).rejects.toMatchObject({
        code: ErrorCode.HTTPError,
        statusCode: 500,
      });

      simulator.failNext('chat.postMessage', { status: 503 });
      const retrying = client(simulator, { retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 } });
      await expect(retrying.chat.postMessage({ channel: incidents.id, text: 'y' })).resolves.toMatchObject({
        ok: true,
      });
      expect(simulator.callsTo('chat.postMessage').map((call) => call.status)).toEqual([500, 503, 200]);
    });

    it('rate-limits with HTTP 429 and Retry-After, which WebClient honours', async () => {
      simulator.failNext('users.info', { error: 'ratelimited', retryAfterSeconds: 7 });
      const strict = client(simulator, { rejectRateLimitedCalls: true });
      await expect(strict.users.info({ user: alice.id })).rejects.toMatchObject({
        code: ErrorCode.RateLimitedError,
        retryAfter: 7,
      });

      simulator.failNext('users.info', { error: 'ratelimited', retryAfterSeconds: 0 });
      const patient = client(simulator, { retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 } });
      const rateLimited = jest.fn();
      patient.on(WebClientEvent.RATE_LIMITED, rateLimited);
      await expect(patient.users.info({ user: alice.id })).resolves.toMatchObject({ ok: true });
      expect(rateLimited).toHaveBeenCalledWith(0, expect.anything());
      expect(simulator.callsTo('users.info').map((call) => [call.status, call.error])).toEqual([
        [429, 'ratelimited'],
        [429, 'ratelimited'],
        [200, undefined],
      ]);
    });

    it('answers with a Slack error when given one, in order, for that method only', async () => {
      simulator.failNext('views.open', { error: 'expired_trigger_id' });
      simulator.failNext('views.open', { error: 'view_too_large' });
      expect(await platformError(slack.views.open({ trigger_id: randomTriggerId(), view: modal('a') }))).toBe(
        'expired_trigger_id',
      );
      await expect(slack.auth.test()).resolves.toMatchObject({ ok: true });
      expect(await platformError(slack.views.open({ trigger_id: randomTriggerId(), view: modal('b') }))).toBe(
        'view_too_large',
      );
      await expect(
        slack.views.open({ trigger_id: randomTriggerId(), view: modal('c') }),
      ).resolves.toMatchObject({
        ok: true,
      });
    });
  });

  it('records posts to response URLs it hands out', async () => {
    const responseUrl = simulator.newResponseUrl();
    const response = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', text: 'Incident started' }),
    });
    expect(response.status).toBe(200);
    expect(simulator.responseUrlPosts).toEqual([
      expect.objectContaining({ body: { response_type: 'ephemeral', text: 'Incident started' } }),
    ]);
  });
});

describe('Slack request signing harness', () => {
  const signingSecret = randomBytes(16).toString('hex');

  it("signs the v0 way Bolt's own verifier accepts, and a changed body or old timestamp fails it", () => {
    const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D';
    const headers = signSlackRequest(signingSecret, body);
    const verify = (candidate: string, signed = headers) =>
      isValidSlackRequest({
        signingSecret,
        body: candidate,
        headers: {
          'x-slack-signature': signed['x-slack-signature'],
          'x-slack-request-timestamp': Number(signed['x-slack-request-timestamp']),
        },
      });
    expect(headers['x-slack-signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(verify(body)).toBe(true);
    expect(verify(`${body}x`)).toBe(false);
    expect(verify(body, signSlackRequest(signingSecret, body, Math.floor(Date.now() / 1000) - 600))).toBe(
      false,
    );
  });
});

describe('a real Bolt app against the simulator, driven by signed interactions', () => {
  const signingSecret = randomBytes(16).toString('hex');
  let simulator: SlackSimulator;
  let app: App;
  let appUrl: string;
  const seen: { type: string; user: string; detail: unknown }[] = [];

  beforeAll(async () => {
    simulator = await startSlackSimulator();
    app = new App({
      token: simulator.botToken,
      signingSecret,
      logLevel: LogLevel.ERROR,
      // The HTTP reply waits for the listener, so a test can assert right after delivering.
      processBeforeResponse: true,
      clientOptions: { slackApiUrl: simulator.url, retryConfig: { retries: 0 } },
    });
    app.command('/secret-leak', async ({ ack, body, client }) => {
      await ack();
      await client.views.open({ trigger_id: body.trigger_id, view: modal('secret_leak') });
      seen.push({ type: 'command', user: body.user_id, detail: body.text });
    });
    app.action<BlockAction<ButtonAction>>('approve', async ({ ack, body, client, action }) => {
      await ack();
      const { channel_id: channel, message_ts: ts } = body.container as {
        channel_id: string;
        message_ts: string;
      };
      await client.chat.update({ channel, ts, text: 'Approved' });
      seen.push({ type: 'action', user: body.user.id, detail: action.value });
    });
    app.view('secret_leak', async ({ ack, view, body }) => {
      await ack();
      seen.push({ type: 'view', user: body.user.id, detail: view.state.values });
    });
    app.shortcut('report_leak', async ({ ack, shortcut }) => {
      await ack();
      seen.push({ type: 'shortcut', user: shortcut.user.id, detail: shortcut.type });
    });
    const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
    appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  afterAll(async () => {
    await app.stop();
    await simulator.close();
  });

  async function deliver(request: { body: string; headers: Record<string, string> }): Promise<number> {
    const response = await fetch(appUrl, { method: 'POST', headers: request.headers, body: request.body });
    await response.arrayBuffer();
    return response.status;
  }

  it('runs a slash command that opens the modal through the simulator', async () => {
    const trigger = simulator.issueTriggerId(alice.id);
    const fields = slashCommandFields({
      command: '/secret-leak',
      text: 'ghp token in run 42',
      user: alice,
      channel: incidents,
      triggerId: trigger,
    });
    expect(await deliver(signedSlashCommand(signingSecret, fields))).toBe(200);
    expect(seen).toContainEqual({ type: 'command', user: alice.id, detail: 'ghp token in run 42' });
    expect(simulator.callsTo('views.open')[0].body).toMatchObject({ trigger_id: trigger });
    // Bolt verifies its token with auth.test before the first listener runs.
    expect(simulator.callsTo('auth.test')[0].token).toBe(simulator.botToken);
  });

  it('runs a button click on a bot message that updates it', async () => {
    const posted = await client(simulator).chat.postMessage({
      channel: incidents.id,
      text: 'Approve disabling?',
    });
    const payload = blockActionsPayload({
      user: bob,
      actions: [
        { actionId: 'approve', blockId: 'approval', value: 'step:disable-connector', text: 'Approve' },
      ],
      message: { channel: incidents, ts: posted.ts!, text: 'Approve disabling?', botId: simulator.botId },
    });
    expect(await deliver(signedInteraction(signingSecret, payload))).toBe(200);
    expect(seen).toContainEqual({ type: 'action', user: bob.id, detail: 'step:disable-connector' });
    expect(simulator.messages(incidents.id).find((message) => message.ts === posted.ts)?.text).toBe(
      'Approved',
    );
  });

  it('runs a view submission and a message shortcut', async () => {
    const values = plainTextValues({ what: { what_input: 'GitHub token' } });
    expect(
      await deliver(
        signedInteraction(
          signingSecret,
          viewSubmissionPayload({ user: erin, callbackId: 'secret_leak', stateValues: values }),
        ),
      ),
    ).toBe(200);
    const shortcut = messageShortcutPayload({
      user: erin,
      callbackId: 'report_leak',
      channel: incidents,
      message: { ts: '1714564800.000100', text: 'token printed in logs', user: bob.id },
    });
    expect(await deliver(signedInteraction(signingSecret, shortcut))).toBe(200);
    expect(seen).toContainEqual({ type: 'view', user: erin.id, detail: values });
    expect(seen).toContainEqual({ type: 'shortcut', user: erin.id, detail: 'message_action' });
  });

  it('refuses a request signed with another secret or replayed after five minutes', async () => {
    const before = seen.length;
    const payload = blockActionsPayload({
      user: bob,
      actions: [{ actionId: 'approve', blockId: 'approval', value: 'forged' }],
      message: { channel: incidents, ts: '1714564800.000200', botId: simulator.botId },
    });
    expect(await deliver(signedInteraction('not-the-secret', payload))).toBe(401);
    const stale = signedInteraction(signingSecret, payload, Math.floor(Date.now() / 1000) - 6 * 60);
    expect(await deliver(stale)).toBe(401);
    expect(seen).toHaveLength(before);
  });
});
