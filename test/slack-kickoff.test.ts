import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprintSecret } from '../lib/fingerprint';
import { incidentIdFor } from '../client';
import type { IncidentInput } from '../lib/runbook/types';
import { loadSlackGatewayConfig, loadSlackWorkerConfig, SlackConfigError } from '../slack/config';
import { cancelForTest, query, TEST_FINGERPRINT_KEY, uniqueConnector, waitFor } from './harness/incidents';
import { historyText } from './harness/history';
import {
  blockActionsPayload,
  messageShortcutPayload,
  selectedOptionValue,
  signedInteraction,
  signedSlashCommand,
  slashCommandFields,
  viewSubmissionPayload,
} from './harness/slack-signing';
import { INCIDENT_CHANNEL, startSlackStack, until, type SlackStack } from './fixtures/slack/harness';
import type { SlackView } from './simulators/slack';
import { CONFIRM_KICKOFF_ACTION } from '../slack/kickoff';

const SECOPS_CHANNEL = 'C0SECOPS001';
let stack: SlackStack;

beforeAll(async () => {
  // views.open accepts only trigger ids the simulator issued, within 3 s and once, as Slack does.
  stack = await startSlackStack({ requireIssuedTriggers: true });
});

afterAll(async () => {
  await stack?.stop();
});

async function incidentCount(): Promise<number> {
  let count = 0;
  for await (const _ of stack.temporal.client.workflow.list({ query: `WorkflowType = 'incidentWorkflow'` }))
    count += 1;
  return count;
}

/** `/secret-leak` from a user in a channel; returns the modal it opened. */
async function openModal(
  user: string,
  channel = SECOPS_CHANNEL,
): Promise<{ view: SlackView; elapsedMs: number }> {
  const before = stack.simulator.views().length;
  const fields = slashCommandFields({
    command: '/secret-leak',
    user: { id: user },
    channel: { id: channel },
    triggerId: stack.simulator.issueTriggerId(user),
  });
  const startedAt = Date.now();
  const response = await stack.deliver(signedSlashCommand(stack.signingSecret, fields));
  const elapsedMs = Date.now() - startedAt;
  expect(response.status).toBe(200);
  const views = stack.simulator.views();
  expect(views).toHaveLength(before + 1);
  return { view: views[views.length - 1], elapsedMs };
}

const text = (value: string) => ({ value: { type: 'plain_text_input', value } });
const select = (label: string, value: string) => ({ value: selectedOptionValue(label, value) });

async function submitModal(
  view: SlackView,
  user: string,
  fields: {
    kind?: string;
    severity?: string;
    connector?: string;
    credential?: string;
    whereSeen?: string;
    notes?: string;
  },
): Promise<{ status: number; body: unknown }> {
  const stateValues: Record<string, Record<string, unknown>> = {
    secret_kind: fields.kind
      ? select(fields.kind, fields.kind)
      : { value: { type: 'static_select', selected_option: null } },
    severity: select(fields.severity ?? 'high', fields.severity ?? 'high'),
    connector: text(fields.connector ?? ''),
    credential: text(fields.credential ?? ''),
    where_seen: text(fields.whereSeen ?? ''),
    notes: text(fields.notes ?? ''),
  };
  const response = await stack.deliver(
    signedInteraction(
      stack.signingSecret,
      viewSubmissionPayload({
        user: { id: user },
        callbackId: view.callback_id!,
        viewId: view.id,
        privateMetadata: view.private_metadata,
        stateValues,
      }),
    ),
  );
  return {
    status: response.status,
    body: response.body ? (JSON.parse(response.body) as unknown) : undefined,
  };
}

test('/secret-leak acks within 3 s with the modal open; invalid fields are answered in the modal, naming each, and nothing starts', async () => {
  const { view, elapsedMs } = await openModal('U0SECOPS1');
  expect(elapsedMs).toBeLessThan(3000);
  expect(view).toMatchObject({ callback_id: 'secret_leak', type: 'modal' });
  expect(view.blocks.map((block) => (block as { block_id?: string }).block_id).filter(Boolean)).toEqual([
    'secret_kind',
    'connector',
    'severity',
    'credential',
    'where_seen',
    'notes',
  ]);
  expect(JSON.parse(view.private_metadata!)).toEqual({ channel: SECOPS_CHANNEL });

  const messagesBefore = stack.simulator.messages().length;
  const answer = await submitModal(view, 'U0SECOPS1', {
    kind: 'github-token',
    connector: 'nope',
    whereSeen: 'not a url',
    notes: 'the log said password=hunter2hunter2 right there',
  });
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({
    response_action: 'errors',
    errors: {
      connector: expect.stringMatching(/^Connector: expected <provider>:<reference>/),
      where_seen: expect.stringMatching(/^Where seen: expected an http\(s\) URL/),
      notes: expect.stringMatching(/^Notes: looks like it contains a secret value/),
    },
  });
  const missing = await submitModal(view, 'U0SECOPS1', { connector: 'github:acme/app/deploy.yml' });
  expect(missing.body).toEqual({
    response_action: 'errors',
    errors: { secret_kind: 'Secret kind: required' },
  });
  const unknownProvider = await submitModal(view, 'U0SECOPS1', {
    kind: 'github-token',
    connector: 'gitlab:acme/app',
  });
  expect(unknownProvider.body).toEqual({
    response_action: 'errors',
    errors: { connector: expect.stringMatching(/^Connector: provider must be one of /) },
  });

  expect(await incidentCount()).toBe(0);
  expect(stack.simulator.messages()).toHaveLength(messagesBefore);
});

test('/secret-leak submission starts the incident as slack:<user> from source slack, and answers in the channel with its id', async () => {
  const { view } = await openModal('U0SECOPS1');
  const connector = uniqueConnector();
  const answer = await submitModal(view, 'U0SECOPS1', {
    kind: 'github-token',
    severity: 'critical',
    connector,
    whereSeen: 'https://github.com/acme/app/actions/runs/42?check_suite_focus=true#step:4:12',
    notes: 'printed by the deploy step',
  });
  expect(answer).toEqual({ status: 200, body: undefined });

  const reply = await until(() =>
    stack.simulator.messages(SECOPS_CHANNEL).find((message) => message.text?.includes('started incident')),
  );
  const incidentId = /incident-[0-9a-f]{24}/.exec(reply.text!)![0];
  expect(reply.text).toContain('<@U0SECOPS1> started incident');
  expect(reply.text).toContain('Seen at: https://github.com/acme/app/actions/runs/42\n');
  expect(reply.text).not.toContain('check_suite_focus');

  const status = await waitFor(async () => {
    const current = await query(stack.temporal.client, incidentId);
    return current.steps.some((step) => step.state === 'succeeded') ? current : undefined;
  });
  expect(status).toMatchObject({
    incidentId,
    runbookId: 'leaked-workflow-secret',
    severity: 'critical',
    connector,
    state: expect.stringMatching(/^(running|awaiting-approval)$/),
  });
  expect(status.timeline[0]).toMatchObject({ type: 'incident-opened', actor: 'slack:U0SECOPS1' });
  const history = await stack.temporal.client.workflow.getHandle(incidentId).fetchHistory();
  const data = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0].data!;
  const input = JSON.parse(
    (typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data)).toString('utf8'),
  ) as IncidentInput;
  expect(input.context.incident).toMatchObject({ requester: 'slack:U0SECOPS1', source: 'slack' });
  // The incident's own thread opened in the incident channel.
  await until(() =>
    stack.simulator
      .messages(INCIDENT_CHANNEL)
      .find((message) => !message.threadTs && message.text?.includes(incidentId)),
  );
  await cancelForTest(stack.temporal.client, incidentId);
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

test('"Contain leaked secret": the secret is fingerprinted and dropped, the modal opens prefilled, the poster is asked to delete, and the canary is nowhere', async () => {
  const canary = `ghp_${randomBytes(18).toString('hex')}`;
  const fingerprint = fingerprintSecret(TEST_FINGERPRINT_KEY, canary);
  const shortcut = (triggerId: string) =>
    messageShortcutPayload({
      user: { id: 'U0IAM1' },
      callbackId: 'contain_leaked_secret',
      channel: { id: INCIDENT_CHANNEL },
      message: {
        ts: '1714564800.000100',
        text: `deploy broke, the log printed ${canary} :(`,
        user: 'U0PLATFORM1',
      },
      triggerId,
    });

  // A forged copy is refused before anything reads it.
  expect(
    (await stack.deliver(signedInteraction('not-the-secret', shortcut(stack.simulator.issueTriggerId()))))
      .status,
  ).toBe(401);

  const viewsBefore = stack.simulator.views().length;
  const response = await stack.deliver(
    signedInteraction(stack.signingSecret, shortcut(stack.simulator.issueTriggerId('U0IAM1'))),
  );
  expect(response.status).toBe(200);
  const view = stack.simulator.views().slice(viewsBefore)[0];
  expect(view.callback_id).toBe('secret_leak');
  const metadata = JSON.parse(view.private_metadata!) as Record<string, string>;
  expect(metadata).toEqual({
    channel: INCIDENT_CHANNEL,
    fingerprint,
    kind: 'github-token',
    hint: `github_personal_access_token, ${canary.length} chars, ending …${canary.slice(-4)}, reported from a Slack message`,
  });
  const ask = stack.simulator
    .ephemeralMessages(INCIDENT_CHANNEL)
    .find((message) => message.user === 'U0PLATFORM1');
  expect(ask?.text).toContain('Please delete it now');
  expect(ask?.text).toContain('<@U0IAM1> reported it');

  const answer = await submitModal(view, 'U0IAM1', {
    kind: 'github-token',
    severity: 'high',
    connector: uniqueConnector(),
  });
  expect(answer).toEqual({ status: 200, body: undefined });
  const incidentId = incidentIdFor(fingerprint);
  const status = await waitFor(async () => {
    const current = await query(stack.temporal.client, incidentId);
    return current.steps.some((step) => step.state === 'succeeded') ? current : undefined;
  });
  expect(status.fingerprint).toBe(fingerprint);
  await until(() =>
    stack.simulator
      .messages(INCIDENT_CHANNEL)
      .find((message) => !message.threadTs && message.text?.includes(incidentId)),
  );
  await cancelForTest(stack.temporal.client, incidentId);
  await stack.temporal.client.workflow
    .getHandle(incidentId)
    .result()
    .catch(() => undefined);

  const haystacks: { where: string; text: string | Buffer }[] = [];
  for await (const execution of stack.temporal.client.workflow.list()) {
    const history = await stack.temporal.client.workflow
      .getHandle(execution.workflowId, execution.runId)
      .fetchHistory();
    haystacks.push({ where: `history of ${execution.workflowId}`, text: historyText(history) });
  }
  haystacks.push({ where: 'status', text: JSON.stringify(status) });
  haystacks.push({
    where: 'Slack calls',
    text: stack.simulator.calls.map((call) => `${call.raw}\n${JSON.stringify(call.body)}`).join('\n'),
  });
  haystacks.push({
    where: 'Slack state',
    text: JSON.stringify([
      stack.simulator.messages(),
      stack.simulator.ephemeralMessages(),
      stack.simulator.views(),
    ]),
  });
  haystacks.push({ where: 'logs', text: stack.logs.join('') });
  for (const file of await filesUnder(stack.temporal.dataDir)) {
    haystacks.push({ where: file, text: await readFile(file) });
  }
  // Not vacuous: each place holds what Tourniquet did with the secret, just not the secret.
  expect(haystacks.find(({ where }) => where === `history of ${incidentId}`)?.text).toContain(fingerprint);
  expect(String(haystacks.find(({ where }) => where === 'Slack calls')?.text)).toContain(fingerprint);
  expect(stack.logs.length).toBeGreaterThan(0);
  const found = haystacks.filter(({ text }) => text.includes(canary)).map(({ where }) => where);
  expect(found).toEqual([]);
});

test('Slack environment: validated at start, errors name the variable and never echo its value', () => {
  const token = 'xoxb-tourniquet-simulator';
  expect(loadSlackWorkerConfig({})).toBeUndefined();
  expect(loadSlackGatewayConfig({})).toBeUndefined();
  expect(
    loadSlackWorkerConfig({
      SLACK_BOT_TOKEN: token,
      SLACK_INCIDENT_CHANNEL: '#incidents',
      SLACK_API_URL: stack.simulator.url,
    }),
  ).toEqual({ botToken: token, channel: '#incidents', apiUrl: stack.simulator.url });
  const failures = [
    () => loadSlackWorkerConfig({ SLACK_BOT_TOKEN: 'hunter2-not-a-token' }),
    () => loadSlackWorkerConfig({ SLACK_BOT_TOKEN: token }),
    () => loadSlackWorkerConfig({ SLACK_BOT_TOKEN: token, SLACK_INCIDENT_CHANNEL: 'incidents room' }),
    () => loadSlackGatewayConfig({ SLACK_SIGNING_SECRET: 'hunter2-secret-value' }),
    () => loadSlackGatewayConfig({ SLACK_SIGNING_SECRET: 'short', SLACK_BOT_TOKEN: token }),
    () =>
      loadSlackGatewayConfig({
        SLACK_SIGNING_SECRET: 'x'.repeat(32),
        SLACK_BOT_TOKEN: token,
        SLACK_API_URL: 'ftp://x',
      }),
  ].map((load) => {
    try {
      load();
    } catch (error) {
      expect(error).toBeInstanceOf(SlackConfigError);
      return (error as Error).message;
    }
    return 'no error';
  });
  expect(failures).toEqual([
    'environment variable SLACK_BOT_TOKEN: expected a Slack bot token (xoxb-…)',
    expect.stringMatching(
      /^environment variable SLACK_INCIDENT_CHANNEL: required when SLACK_BOT_TOKEN is set/,
    ),
    expect.stringMatching(/^environment variable SLACK_INCIDENT_CHANNEL: expected a channel id/),
    expect.stringMatching(/^environment variable SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET is set/),
    expect.stringMatching(/^environment variable SLACK_SIGNING_SECRET: expected the signing secret/),
    expect.stringMatching(
      /^environment variable SLACK_API_URL: expected an http\(s\) URL ending with \/api\//,
    ),
  ]);
  expect(failures.join('\n')).not.toMatch(/hunter2/);
});

test('a report by someone the owners file does not name waits for an owner: nothing starts, an outsider cannot confirm it, an owner starts it in one click and the reporter stays the requester', async () => {
  const before = await incidentCount();
  const connector = uniqueConnector();
  const { view } = await openModal('U0MALLORY7');
  const answer = await submitModal(view, 'U0MALLORY7', {
    kind: 'github-token',
    severity: 'critical',
    connector,
  });
  expect(answer).toEqual({ status: 200, body: undefined });

  const report = await until(() =>
    stack.simulator.messages().find((message) => message.text?.includes('<@U0MALLORY7> reports a leaked')),
  );
  expect(report.text).toContain('Containment has *not* started');
  const told = await until(() =>
    stack.simulator.ephemeralMessages().find((message) => message.user === 'U0MALLORY7'),
  );
  expect(told.text).toContain('waits for an owner to confirm it');
  expect(await incidentCount()).toBe(before);

  const button = (report.blocks as { type: string; elements?: { action_id: string; value: string }[] }[])
    .find((block) => block.type === 'actions')!
    .elements!.find((element) => element.action_id === CONFIRM_KICKOFF_ACTION)!;
  const confirm = (user: string, overrides: { botId?: string } = {}) =>
    stack.deliver(
      signedInteraction(
        stack.signingSecret,
        blockActionsPayload({
          user: { id: user },
          actions: [
            {
              actionId: CONFIRM_KICKOFF_ACTION,
              blockId: 'kickoff',
              value: button.value,
              text: 'Start containment',
            },
          ],
          message: {
            channel: { id: report.channel },
            ts: report.ts,
            text: report.text,
            blocks: report.blocks,
            botId: overrides.botId ?? stack.simulator.botId,
          },
        }),
      ),
    );

  // The reporter, and a copy of the report posted by someone else's bot, start nothing.
  expect((await confirm('U0MALLORY7')).status).toBe(200);
  expect((await confirm('U0SECOPS1', { botId: 'B0SOMEONE1' })).status).toBe(200);
  await until(() =>
    stack.simulator
      .ephemeralMessages()
      .find((message) => message.user === 'U0MALLORY7' && message.text?.includes('Only an owner')),
  );
  await until(() =>
    stack.simulator
      .ephemeralMessages()
      .find((message) => message.user === 'U0SECOPS1' && message.text?.includes("not Tourniquet's own")),
  );
  expect(await incidentCount()).toBe(before);

  // An owner confirms: the incident starts with the reporter as requester; the confirmation is in its timeline.
  expect((await confirm('U0SECOPS1')).status).toBe(200);
  const updated = await until(() =>
    stack.simulator
      .messages()
      .find((message) => message.ts === report.ts && message.text?.includes('confirmed the report')),
  );
  const incidentId = /incident-[0-9a-f]{24}/.exec(updated.text!)![0];
  expect(updated.blocks ?? []).toEqual([]);
  const status = await waitFor(async () => {
    const current = await query(stack.temporal.client, incidentId);
    return current.timeline.some((event) => event.type === 'note') ? current : undefined;
  });
  expect(status).toMatchObject({ connector, severity: 'critical' });
  // The note may land before the opening entry: it is signalled as the incident starts.
  expect(status.timeline.find((event) => event.type === 'incident-opened')?.actor).toBe('slack:U0MALLORY7');
  expect(status.timeline.find((event) => event.type === 'note')).toMatchObject({
    actor: 'slack:U0SECOPS1',
    detail: 'confirmed the report of slack:U0MALLORY7 from Slack',
  });
  expect(await incidentCount()).toBe(before + 1);
  await cancelForTest(stack.temporal.client, incidentId);
});
