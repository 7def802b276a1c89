import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Notifier } from '../activities/notify';
import type { IncidentNotification } from '../activities/types';
import { CredentialChoiceError, signCommand, type CredentialChoice } from '../client';
import type { IncidentInput, IncidentStatus } from '../lib/runbook/types';
import { NAME_CREDENTIAL_ACTION } from '../slack/binding';
import { runCli } from './harness/cli';
import { fetchHistoryText } from './harness/history';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  resolveCredentialForTest,
  result,
  start,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { decideAs } from './harness/owners';
import { blockActionsPayload, signedInteraction } from './harness/slack-signing';
import { useTemporalWorker } from './harness/stack';
import { workflowBundlePath } from './harness/temporal';
import { recordHistory, replayHistories } from '../worker/replay';
import { INCIDENT_CHANNEL, startSlackStack, until, type SlackStack } from './fixtures/slack/harness';
import type { SlackMessage } from './simulators/slack';

/**
 * Issue #15: a secret the inventory could not resolve still gets the containment that does not need the credential
 * at once; the steps on the credential wait, and the incident commander is asked which credential it is. A signed
 * `resolveCredential` (the CLI's `incident resolve-credential`, or the gateway) names it and releases them. Like
 * every command, it is taken only under a seal of a gateway key the worker trusts, once.
 */
const notifications: IncidentNotification[] = [];
const recording: Notifier = {
  notify(notification) {
    notifications.push(notification);
    return Promise.resolve({});
  },
};
// Demo mode: every system is simulated, so a step that ran says so in the journal.
const stack = useTemporalWorker({ mode: 'demo', notifier: recording });

const INVENTORY = join(__dirname, 'fixtures', 'resolve-credential-inventory.yaml');
const CREDENTIAL_STEPS = ['segment-role', 'rotate-credential', 'kill-sessions'];
const WAITING = 'waiting for the credential to be named (tourniquet incident resolve-credential)';
const LEDGER: Omit<CredentialChoice, 'actor'> = {
  credentialId: 'ledger-db',
  credential: 'postgres:ledger_app@ledgerdb',
  destinations: [
    { provider: 'file', target: 'ledger-db-password' },
    { provider: 'github', target: 'acme/ledger:DATABASE_PASSWORD' },
  ],
};

/** An incident whose secret the inventory did not resolve, as the gateway starts it. */
function unresolved(
  resolution?: IncidentInput['context']['credential']['resolution'],
  simulation?: IncidentInput['simulation'],
): IncidentInput {
  const input = incidentInput(
    fixtureRunbook('credential-wait'),
    { requester: 'cli:someone-else' },
    simulation,
  );
  input.context.credential.resolution = resolution ?? {
    by: 'unresolved',
    reason: 'no credential of the inventory is read in acme/unknown (candidates: ledger-db, ci-deployer)',
  };
  return input;
}

const stepOf = (status: IncidentStatus, id: string) => status.steps.find((step) => step.id === id)!;

const applied = async (incidentId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.effect === 'applied',
  );

/** Started, with its connector steps done and the prompt posted: the steps on the credential are waiting. */
async function waitingIncident(
  input = unresolved(),
): Promise<{ incidentId: string; status: IncidentStatus }> {
  const incidentId = await start(stack.client, input);
  const status = await waitFor(async () => {
    const current = await query(stack.client, incidentId);
    const connectorDone = ['disable-connector', 'capture-logs'].every(
      (id) => stepOf(current, id).state === 'succeeded',
    );
    const asked = current.timeline.some((event) => event.type === 'credential-requested');
    return connectorDone && asked ? current : undefined;
  });
  return { incidentId, status };
}

/** The Update by name over the raw client; undefined when the workflow accepted it, else its refusal. */
async function sendRaw(incidentId: string, command: unknown): Promise<string | undefined> {
  try {
    await stack.client.workflow.getHandle(incidentId).executeUpdate('resolveCredential', { args: [command] });
    return undefined;
  } catch (error) {
    return (error as { cause?: Error }).cause?.message ?? (error as Error).message;
  }
}

const sealed = (incidentId: string, body: unknown, now?: number) =>
  signCommand(incidentId, 'resolve-credential', body, TEST_GATEWAY_KEY.privateKey, now);

test('the connector steps run at once; the steps on the credential wait (no approval asked) until a signed choice names it, then run on it', async () => {
  const { incidentId, status: waiting } = await waitingIncident();

  // Waiting, and saying so: the steps, the flag, the prompt to the incident commander (mentioned).
  for (const id of CREDENTIAL_STEPS) {
    expect(stepOf(waiting, id)).toMatchObject({ state: 'pending', reason: WAITING });
  }
  expect(waiting.flags).toContain('credential-unresolved');
  expect(waiting.approvals).toEqual([]);
  expect(waiting.timeline.filter((event) => event.type === 'approval-requested')).toEqual([]);
  const prompt = waiting.timeline.find((event) => event.type === 'credential-requested')!;
  expect(prompt.detail).toContain('which credential is this?');
  expect(prompt.detail).toContain('candidates: ledger-db, ci-deployer');
  expect(prompt.detail).toContain(`\`tourniquet incident resolve-credential ${incidentId} <credential-id>\``);
  expect(prompt.detail).toContain('segment-role, rotate-credential, kill-sessions');
  // Posted by its own activity, a moment after the timeline shows it.
  const posted = await waitFor(async () =>
    Promise.resolve(
      notifications.find(
        (notification) =>
          notification.incidentId === incidentId && notification.event.type === 'credential-requested',
      ),
    ),
  );
  expect(posted.mention).toEqual(['U0COMMANDER1']);

  // A while later nothing has moved: the steps wait for the credential, not for their turn.
  await new Promise((done) => setTimeout(done, 1_500));
  const still = await query(stack.client, incidentId);
  for (const id of CREDENTIAL_STEPS) expect(stepOf(still, id).state).toBe('pending');
  expect(still.approvals).toEqual([]);
  expect((await applied(incidentId)).map((entry) => entry.stepId).sort()).toEqual([
    'capture-logs',
    'disable-connector',
  ]);

  await resolveCredentialForTest(stack.client, incidentId, {
    actor: 'cli:test',
    ...LEDGER,
    reason: 'the migrate job printed it',
  });

  // The steps run on the named credential: the segmentation at once, the rotation behind its owner's approval.
  const request = await waitFor(async () =>
    (await query(stack.client, incidentId)).approvals.find(
      (candidate) => candidate.stepId === 'rotate-credential',
    ),
  );
  expect(request).toMatchObject({ action: 'postgres.rotateCredential', target: 'ledger_app@ledgerdb' });
  const named = await query(stack.client, incidentId);
  expect(stepOf(named, 'segment-role')).toMatchObject({ state: 'succeeded' });
  expect(stepOf(named, 'segment-role').reason).toBeUndefined();
  expect(named.flags).not.toContain('credential-unresolved');
  expect(named.flags).toContain('credential-named:ledger-db');
  expect(named.timeline.find((event) => event.type === 'credential-named')).toMatchObject({
    actor: 'cli:test',
    detail:
      'credential ledger-db (postgres:ledger_app@ledgerdb, 2 destinations): the migrate job printed it; the steps on it go on',
  });
  expect((await decideAs(stack.client, stack.dataDir, incidentId, request, 'alice')).outcome).toBe(
    'approved',
  );

  const final = await result(stack.client, incidentId);
  expect(final.state).toBe('completed');
  expect(final.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
  // `when: { credential.issuer: postgres }` was read once the credential was named, not against the placeholder.
  expect(stepOf(final, 'kill-sessions').state).toBe('succeeded');
  const entries = await applied(incidentId);
  // On the named credential's issuer, and the replacement delivered to its consumers.
  expect(
    entries
      .filter((entry) => CREDENTIAL_STEPS.includes(entry.stepId))
      .map((entry) => `${entry.stepId}:${entry.system}`)
      .sort(),
  ).toEqual([
    'kill-sessions:postgres',
    'rotate-credential:file',
    'rotate-credential:github',
    'rotate-credential:postgres',
    'segment-role:postgres',
  ]);
  // Each step on the credential ran after it was named, never before.
  const namedAt = Date.parse(final.timeline.find((event) => event.type === 'credential-named')!.at);
  for (const entry of entries.filter((candidate) => CREDENTIAL_STEPS.includes(candidate.stepId))) {
    expect(Date.parse(entry.at)).toBeGreaterThanOrEqual(namedAt);
  }

  // The wait, the prompt and the choice replay deterministically (older histories: test/replay.test.ts).
  const bundle = { code: readFileSync(await workflowBundlePath(), 'utf8') };
  expect(await replayHistories([await recordHistory(stack.client, incidentId)], bundle)).toEqual([
    { workflowId: incidentId },
  ]);
});

test('forged, altered, replayed or misdirected choices are refused and leave nothing in history; the genuine one counts once', async () => {
  const { incidentId } = await waitingIncident();
  const mallory = generateKeyPairSync('ed25519');
  const forged: CredentialChoice = {
    actor: 'cli:mallory',
    credentialId: 'ledger-db',
    credential: 'postgres:mallory_role@evil',
    destinations: [{ provider: 'github', target: 'mallory/exfil:LEAKED' }],
  };
  const genuine = sealed(incidentId, forged);
  const attempts: Array<[string, unknown]> = [
    ['no seal', { body: forged }],
    ['a bare body', forged],
    [
      'sealed with a key of its own',
      signCommand(incidentId, 'resolve-credential', forged, mallory.privateKey),
    ],
    ['body altered after sealing', { ...genuine, body: { ...forged, actor: 'cli:test' } }],
    ['nonce altered', { ...genuine, seal: { ...genuine.seal, nonce: randomUUID() } }],
    [
      'expiry moved',
      { ...genuine, seal: { ...genuine.seal, expiresAt: new Date(Date.now() + 60_000).toISOString() } },
    ],
    [
      "another key's signature grafted on",
      {
        ...genuine,
        seal: {
          ...genuine.seal,
          signature: signCommand(incidentId, 'resolve-credential', forged, mallory.privateKey).seal.signature,
        },
      },
    ],
    ['sealed for another incident', sealed('incident-000000000000000000000000', forged)],
    ['sealed as a note', signCommand(incidentId, 'note', forged, TEST_GATEWAY_KEY.privateKey)],
    ['expired', sealed(incidentId, forged, Date.now() - 3 * 60_000)],
    ['valid for an hour', sealed(incidentId, forged, Date.now() + 60 * 60_000)],
  ];
  const outcomes: string[] = [];
  for (const [how, command] of attempts) {
    const refusal = await sendRaw(incidentId, command);
    outcomes.push(`${how}: ${refusal === undefined ? 'ACCEPTED' : 'refused'}`);
    expect({ how, refusal }).toEqual({ how, refusal: expect.stringMatching(/^seal: /) });
  }
  expect(outcomes.filter((outcome) => outcome.endsWith('ACCEPTED'))).toEqual([]);

  // Sealed by the trusted key but not a credential the steps could act on (a bug in a trusted channel): refused.
  const malformed: Array<[string, unknown]> = [
    ['no issuer', { ...forged, credential: 'mallory_role' }],
    ['an issuer name that is not one', { ...forged, credential: '../etc:passwd' }],
    ['a control character', { ...forged, credential: 'postgres:app\nuser' }],
    ['destinations not a list', { ...forged, destinations: 'github:mallory/exfil:LEAKED' }],
    [
      'a destination with an extra field',
      { ...forged, destinations: [{ provider: 'github', target: 'x', run: 1 }] },
    ],
    ['a credential id that is not one', { ...forged, credentialId: 'Ledger DB' }],
    ['an unknown field', { ...forged, runbook: 'mine' }],
    ['no actor', { ...forged, actor: '' }],
  ];
  for (const [how, body] of malformed) {
    const refusal = await sendRaw(incidentId, sealed(incidentId, body));
    expect({ how, refusal }).toEqual({ how, refusal: expect.stringMatching(/^body/) });
  }
  // The client refuses the same before it signs anything.
  await expect(
    resolveCredentialForTest(stack.client, incidentId, { ...forged, credential: 'nosuchissuer:x' }),
  ).rejects.toThrow(CredentialChoiceError);

  let status = await query(stack.client, incidentId);
  for (const id of CREDENTIAL_STEPS)
    expect(stepOf(status, id)).toMatchObject({ state: 'pending', reason: WAITING });
  expect(status.flags).toContain('credential-unresolved');
  expect(status.timeline.filter((event) => event.type === 'credential-named')).toEqual([]);

  // Control: the genuine choice is taken, once; a copy of it and a second, freshly sealed choice are refused.
  const choice = sealed(incidentId, { actor: 'cli:test', ...LEDGER });
  expect(await sendRaw(incidentId, choice)).toBeUndefined();
  expect(await sendRaw(incidentId, choice)).toBe(
    'seal: this resolve-credential was already received (nonce used)',
  );
  expect(
    await sendRaw(
      incidentId,
      sealed(incidentId, { actor: 'cli:test', ...LEDGER, credentialId: 'ci-deployer' }),
    ),
  ).toBe('the credential was already named: ledger-db, by cli:test');
  status = await waitFor(async () => {
    const current = await query(stack.client, incidentId);
    return stepOf(current, 'segment-role').state === 'succeeded' ? current : undefined;
  });
  expect(status.timeline.filter((event) => event.type === 'credential-named')).toHaveLength(1);

  // A refused Update leaves no trace in history: only the genuine choice is there.
  const history = await fetchHistoryText(stack.client, incidentId);
  expect(history).not.toContain('mallory');
  expect(history).not.toContain('ci-deployer"');
  expect(history).toContain('postgres:ledger_app@ledgerdb');
  await cancelForTest(stack.client, incidentId);
});

test('an incident whose credential was resolved, or that was cancelled while it waited, takes no choice', async () => {
  const resolved = unresolved({ credentialId: 'ledger-db', by: 'location', reason: 'read in acme/ledger' });
  resolved.context.credential.issuer = 'postgres';
  resolved.context.credential.ref = 'ledger_app@ledgerdb';
  const resolvedId = await start(stack.client, resolved);
  await waitFor(async () =>
    (await query(stack.client, resolvedId)).approvals.some(
      (request) => request.stepId === 'rotate-credential',
    )
      ? true
      : undefined,
  );
  expect(await sendRaw(resolvedId, sealed(resolvedId, { actor: 'cli:test', ...LEDGER }))).toBe(
    "this incident's credential is not waiting to be named (resolved by location)",
  );
  const opened = await query(stack.client, resolvedId);
  expect(opened.flags).not.toContain('credential-unresolved');
  expect(opened.timeline.filter((event) => event.type === 'credential-requested')).toEqual([]);
  await cancelForTest(stack.client, resolvedId);

  // A signed cancel stops the wait: the steps on the credential are skipped, nothing ran on the placeholder.
  const { incidentId } = await waitingIncident();
  await cancelForTest(stack.client, incidentId, 'not ours');
  const final = await result(stack.client, incidentId);
  expect(final.state).toBe('cancelled');
  for (const id of CREDENTIAL_STEPS) {
    expect(stepOf(final, id)).toMatchObject({ state: 'skipped', reason: 'incident cancelled' });
  }
  expect((await applied(incidentId)).map((entry) => entry.stepId).sort()).toEqual([
    'capture-logs',
    'disable-connector',
  ]);

  // A failure that halts the incident ends the wait too: the steps on the credential are skipped, and it closes.
  const halting = await start(
    stack.client,
    unresolved(undefined, { faults: { 'disable-connector': { nonRetryable: true, message: 'gone' } } }),
  );
  const failed = await result(stack.client, halting);
  expect(failed.state).toBe('failed');
  expect(stepOf(failed, 'disable-connector').state).toBe('failed');
  for (const id of CREDENTIAL_STEPS) {
    expect(stepOf(failed, id)).toMatchObject({ state: 'skipped', reason: 'incident halted' });
  }
});

describe('`tourniquet incident resolve-credential`', () => {
  const env = () => ({ ...stack.cliEnv, TOURNIQUET_INVENTORY: INVENTORY });

  test('bad arguments are refused before anything is sent, each naming its argument; an unknown credential lists the known ones', async () => {
    const { incidentId } = await waitingIncident();
    const attempts = await Promise.all([
      runCli(['incident', 'resolve-credential', incidentId, 'unknown-id'], env()),
      runCli(['incident', 'resolve-credential', 'incident/../../etc', 'ledger-db'], env()),
      runCli(['incident', 'resolve-credential', incidentId, 'Ledger DB'], env()),
      runCli(['incident', 'resolve-credential', incidentId, 'ledger-db', '--reason', '  '], env()),
      runCli(
        ['incident', 'resolve-credential', incidentId, 'ci-deployer', '--aws-access-key-id', 'not-a-key'],
        env(),
      ),
      runCli(
        [
          'incident',
          'resolve-credential',
          incidentId,
          'ledger-db',
          '--aws-access-key-id',
          `AKIA${'Q7'.repeat(8)}`,
        ],
        env(),
      ),
      runCli(['incident', 'resolve-credential', incidentId, 'ledger-db'], {
        ...stack.cliEnv,
        TOURNIQUET_INVENTORY: join(__dirname, 'fixtures', 'no-such-inventory.yaml'),
      }),
    ]);
    expect(attempts.map((attempt) => [attempt.code, attempt.stderr.trim()])).toEqual([
      [
        2,
        `tourniquet: <credential-id>: "unknown-id" is not in the inventory ${INVENTORY}; known credentials: ledger-db, ci-deployer`,
      ],
      [2, expect.stringContaining('<incident-id>: expected an incident id')],
      [2, expect.stringContaining('<credential-id>: expected a lower-case slug')],
      [2, expect.stringContaining('--reason: say why, or leave --reason out')],
      [2, expect.stringContaining('--aws-access-key-id: expected an AWS access key id')],
      [
        2,
        expect.stringContaining(
          "--aws-access-key-id: ledger-db's issuer postgres:ledger_app@ledgerdb cannot be narrowed",
        ),
      ],
      [1, expect.stringContaining('credential inventory: ')],
    ]);
    const status = await query(stack.client, incidentId);
    expect(status.timeline.filter((event) => event.type === 'credential-named')).toEqual([]);
    for (const id of CREDENTIAL_STEPS) expect(stepOf(status, id).state).toBe('pending');
    // `incident status` says what waits, and how to name the credential.
    const shown = await runCli(['incident', 'status', incidentId], env());
    expect(shown.stdout).toMatch(
      /pending +segment-role +segment-downstream +waiting for the credential to be named/,
    );
    expect(shown.stdout).toContain(
      `credential unresolved: the steps on it wait  -> tourniquet incident resolve-credential ${incidentId} <credential-id>`,
    );

    const unknownIncident = await runCli(
      ['incident', 'resolve-credential', 'incident-000000000000000000000000', 'ledger-db'],
      env(),
    );
    expect(unknownIncident.code).not.toBe(0);
    expect(unknownIncident.stderr).toContain('incident incident-000000000000000000000000:');
    await cancelForTest(stack.client, incidentId);
  });

  test('a good choice is signed as the local user and releases the steps; a second one is refused', async () => {
    const { incidentId } = await waitingIncident();
    const named = await runCli(
      ['incident', 'resolve-credential', incidentId, 'ledger-db', '--reason', 'the migrate job printed it'],
      env(),
    );
    expect({ code: named.code, stderr: named.stderr }).toEqual({ code: 0, stderr: '' });
    expect(named.stdout).toBe(
      `Named the credential of ${incidentId}: ledger-db (postgres:ledger_app@ledgerdb), replacement to file:ledger-db-password, github:acme/ledger:DATABASE_PASSWORD; the steps on it run now\n`,
    );
    const status = await waitFor(async () => {
      const current = await query(stack.client, incidentId);
      return current.approvals.some((request) => request.stepId === 'rotate-credential')
        ? current
        : undefined;
    });
    expect(stepOf(status, 'segment-role').state).toBe('succeeded');
    expect(status.timeline.find((event) => event.type === 'credential-named')).toMatchObject({
      actor: `cli:${userInfo().username}`,
      detail: expect.stringContaining('the migrate job printed it'),
    });

    const again = await runCli(['incident', 'resolve-credential', incidentId, 'ci-deployer'], env());
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(
      `tourniquet: incident ${incidentId}: the credential was already named: ledger-db, by cli:${userInfo().username}`,
    );
    await cancelForTest(stack.client, incidentId);
  });

  test('an AWS user is narrowed to the key the operator names', async () => {
    const { incidentId } = await waitingIncident();
    const keyId = `AKIA${'Z3'.repeat(8)}`;
    const named = await runCli(
      ['incident', 'resolve-credential', incidentId, 'ci-deployer', '--aws-access-key-id', keyId],
      env(),
    );
    expect(named.code).toBe(0);
    expect(named.stdout).toContain(`ci-deployer (aws-iam:123456789012/ci-deployer/${keyId})`);
    const request = await waitFor(async () =>
      (await query(stack.client, incidentId)).approvals.find(
        (candidate) => candidate.stepId === 'rotate-credential',
      ),
    );
    expect(request).toMatchObject({
      action: 'aws-iam.rotateCredential',
      target: `123456789012/ci-deployer/${keyId}`,
    });
    // `when: { credential.issuer: postgres }`: not this credential's step.
    await cancelForTest(stack.client, incidentId);
  });
});

describe('the Slack prompt', () => {
  let slack: SlackStack;
  const before = process.env.TOURNIQUET_INVENTORY;
  beforeAll(async () => {
    // The worker's notifier offers, and the gateway reads a choice from, this process's inventory.
    process.env.TOURNIQUET_INVENTORY = INVENTORY;
    slack = await startSlackStack();
  });
  afterAll(async () => {
    await slack?.stop();
    if (before === undefined) delete process.env.TOURNIQUET_INVENTORY;
    else process.env.TOURNIQUET_INVENTORY = before;
  });

  interface Select {
    block_id: string;
    elements: {
      action_id: string;
      options?: { value: string }[];
      option_groups?: { label: { text: string }; options: { value: string }[] }[];
    }[];
  }
  const selectOf = (message: SlackMessage) =>
    (message.blocks as Select[] | undefined)?.find(
      (block) => block.elements?.[0]?.action_id === NAME_CREDENTIAL_ACTION,
    );

  /** A choice on the prompt, as Slack posts it: signed with the app's secret unless told otherwise. */
  const choose = (
    prompt: SlackMessage,
    user: string,
    credentialId: string,
    overrides: { botId?: string; blockId?: string; secret?: string } = {},
  ) =>
    slack.deliver(
      signedInteraction(
        overrides.secret ?? slack.signingSecret,
        blockActionsPayload({
          user: { id: user },
          actions: [
            {
              type: 'static_select',
              actionId: NAME_CREDENTIAL_ACTION,
              blockId: overrides.blockId ?? selectOf(prompt)!.block_id,
              selectedOption: { text: credentialId, value: credentialId },
            },
          ],
          message: {
            channel: { id: prompt.channel },
            ts: prompt.ts,
            text: prompt.text,
            blocks: prompt.blocks,
            botId: overrides.botId ?? slack.simulator.botId,
            ...(prompt.threadTs ? { threadTs: prompt.threadTs } : {}),
          },
        }),
      ),
    );

  const ephemeralTo = (user: string) =>
    slack.simulator.ephemeralMessages().filter((message) => message.user === user);

  test('an incident commander names the credential from the select; anyone else, a copy, a forged request or a second choice changes nothing', async () => {
    const input = unresolved({
      by: 'unresolved',
      reason: 'two credentials are read in acme/shared (candidates: ci-deployer)',
    });
    const incidentId = await start(slack.temporal.client, input);
    const prompt = await until(() =>
      slack.simulator
        .messages(INCIDENT_CHANNEL)
        .find((message) => selectOf(message)?.block_id === `credential:${incidentId}`),
    );
    expect(prompt.threadTs).toBeDefined();
    expect(prompt.text).toContain('Which credential is this?');
    expect(prompt.text).toContain('<@U0COMMANDER1>');
    // The resolver's candidates first, then the rest of the inventory.
    expect(
      selectOf(prompt)!.elements[0].option_groups!.map((group) => [
        group.label.text,
        group.options.map((option) => option.value),
      ]),
    ).toEqual([
      ['Candidates', ['ci-deployer']],
      ['Inventory', ['ledger-db']],
    ]);

    const named = async () =>
      (await query(slack.temporal.client, incidentId)).timeline.filter(
        (event) => event.type === 'credential-named',
      );
    // Someone who is not an incident commander; a forwarded copy; a request Slack did not sign; an unknown id.
    expect((await choose(prompt, 'U0IAM1', 'ledger-db')).status).toBe(200);
    await until(() => (ephemeralTo('U0IAM1').length > 0 ? true : undefined));
    expect(ephemeralTo('U0IAM1')[0].text).toBe(
      'You are not an owner of incident-commander: your click was refused and nothing was executed.',
    );
    expect((await choose(prompt, 'U0COMMANDER1', 'ledger-db', { botId: 'B0SOMEONEELSE' })).status).toBe(200);
    expect((await choose(prompt, 'U0COMMANDER1', 'ledger-db', { secret: 'not-the-secret' })).status).toBe(
      401,
    );
    expect((await choose(prompt, 'U0COMMANDER1', 'no-such-credential')).status).toBe(200);
    await until(() => (ephemeralTo('U0COMMANDER1').length >= 2 ? true : undefined));
    expect(ephemeralTo('U0COMMANDER1').map((message) => message.text)).toEqual([
      "Refused: not Tourniquet's own prompt (a forwarded copy or a link preview cannot name a credential). Nothing was executed.",
      "Refused: no-such-credential is not in the gateway's credential inventory. Nothing was executed.",
    ]);
    expect(await named()).toEqual([]);

    // The incident commander's choice: signed by the gateway as them, and the steps run on it.
    expect((await choose(prompt, 'U0COMMANDER1', 'ledger-db')).status).toBe(200);
    const status = await waitFor(async () => {
      const current = await query(slack.temporal.client, incidentId);
      return stepOf(current, 'segment-role').state === 'succeeded' ? current : undefined;
    });
    expect(status.timeline.filter((event) => event.type === 'credential-named')).toEqual([
      expect.objectContaining({
        actor: 'slack:U0COMMANDER1',
        detail: expect.stringContaining(
          'credential ledger-db (postgres:ledger_app@ledgerdb, 2 destinations)',
        ),
      }),
    ]);
    await until(() =>
      slack.simulator
        .messages(INCIDENT_CHANNEL)
        .find((message) => message.text?.includes(':key: Credential named by <@U0COMMANDER1>')),
    );

    // A second choice: the workflow refuses it, and the user hears why.
    expect((await choose(prompt, 'U0COMMANDER1', 'ci-deployer')).status).toBe(200);
    await until(() => (ephemeralTo('U0COMMANDER1').length >= 3 ? true : undefined));
    expect(ephemeralTo('U0COMMANDER1')[2].text).toBe(
      `Refused: incident ${incidentId}: the credential was already named: ledger-db, by slack:U0COMMANDER1. Nothing was executed.`,
    );
    expect(await named()).toHaveLength(1);
    await cancelForTest(slack.temporal.client, incidentId);
  });
});
