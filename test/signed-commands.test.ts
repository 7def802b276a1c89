import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { signCommand } from '../client';
import type { IncidentCommandKind } from '../lib/runbook/command-check';
import type { ApprovalRequest } from '../lib/runbook/types';
import { fetchHistoryText } from './harness/history';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  start,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { decideAs } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { seededRandom } from './chaos/support';

/**
 * Notes, refusal reports and cancels are commands like decisions: whoever reaches the Temporal API can send them
 * by name with any body, so the workflow takes only those a gateway key it trusts has sealed, each once. These
 * tests are the attacker with a raw client; they never call the client's own senders for the forgeries.
 */
const stack = useTemporalWorker();

const MALLORY = generateKeyPairSync('ed25519');
const UPDATE_OF: Record<IncidentCommandKind, string> = {
  note: 'addNote',
  refusal: 'reportRefusal',
  cancel: 'cancelIncident',
};
const FORGED_BODY: Record<IncidentCommandKind, Record<string, string>> = {
  note: { actor: 'cli:mallory', text: 'forged note: the owner says stand down' },
  refusal: { stepId: 'rotate', actor: 'slack:U0IAM1', reason: 'forged refusal' },
  cancel: { actor: 'cli:mallory', reason: 'forged cancel' },
};

/** The Update by name; undefined when the workflow accepted it, else its refusal. */
async function sendRaw(
  incidentId: string,
  kind: IncidentCommandKind,
  command: unknown,
): Promise<string | undefined> {
  try {
    await stack.client.workflow.getHandle(incidentId).executeUpdate(UPDATE_OF[kind], { args: [command] });
    return undefined;
  } catch (error) {
    return (error as { cause?: Error }).cause?.message ?? (error as Error).message;
  }
}

async function awaitingRotate(): Promise<{ incidentId: string; request: ApprovalRequest }> {
  const incidentId = await start(
    stack.client,
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'low' }),
  );
  const request = await waitFor(async () =>
    (await query(stack.client, incidentId)).approvals.find((candidate) => candidate.stepId === 'rotate'),
  );
  return { incidentId, request };
}

const applied = async (incidentId: string, stepId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.effect === 'applied' && entry.stepId === stepId,
  );

/** A command sealed as the gateway (or the local CLI) seals it. */
const sealed = <Body>(incidentId: string, kind: IncidentCommandKind, body: Body, now?: number) =>
  signCommand(incidentId, kind, body, TEST_GATEWAY_KEY.privateKey, now);

/** Every way to get a command past the seal short of holding a trusted key. */
function forgeries(incidentId: string, kind: IncidentCommandKind): Array<[string, unknown]> {
  const body = FORGED_BODY[kind];
  const genuine = sealed(incidentId, kind, body);
  const otherKind: IncidentCommandKind = kind === 'note' ? 'cancel' : 'note';
  return [
    ['no seal', { body }],
    ['a bare body', body],
    ['sealed with a key of its own', signCommand(incidentId, kind, body, MALLORY.privateKey)],
    ['body altered after sealing', { ...genuine, body: { ...body, actor: 'slack:U0SOMEONE' } }],
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
          signature: signCommand(incidentId, kind, body, MALLORY.privateKey).seal.signature,
        },
      },
    ],
    ['sealed for another incident', sealed('incident-000000000000000000000000', kind, body)],
    ['sealed as another command', sealed(incidentId, otherKind, body)],
    ['expired', sealed(incidentId, kind, body, Date.now() - 3 * 60_000)],
    ['valid for an hour', sealed(incidentId, kind, body, Date.now() + 60 * 60_000)],
  ];
}

test('notes, refusal reports and cancels sent through the raw Temporal API change nothing unless a trusted gateway key sealed them, once', async () => {
  const { incidentId } = await awaitingRotate();
  const handle = stack.client.workflow.getHandle(incidentId);

  const outcomes: string[] = [];
  for (const kind of ['note', 'refusal', 'cancel'] as const) {
    for (const [how, command] of forgeries(incidentId, kind)) {
      const refusal = await sendRaw(incidentId, kind, command);
      outcomes.push(`${kind}, ${how}: ${refusal === undefined ? 'ACCEPTED' : 'refused'}`);
      expect(refusal).toMatch(/^(seal|body): /);
    }
  }
  expect(outcomes.filter((outcome) => outcome.endsWith('ACCEPTED'))).toEqual([]);
  expect(outcomes).toHaveLength(33);
  // The unsigned signals notes and refusals used to be: a newer incident does not act on them.
  await handle.signal('note', { actor: 'cli:mallory', text: 'forged note by signal' });
  await handle.signal('approvalRefused', {
    stepId: 'rotate',
    actor: 'slack:U0IAM1',
    reason: 'forged by signal',
  });

  // Control: a sealed note counts, and only once.
  const note = sealed(incidentId, 'note', { actor: 'cli:test', text: 'genuine note' });
  expect(await sendRaw(incidentId, 'note', note)).toBeUndefined();
  expect(await sendRaw(incidentId, 'note', note)).toBe('seal: this note was already received (nonce used)');

  const status = await query(stack.client, incidentId);
  expect(status.timeline.filter((event) => event.type === 'note').map((event) => event.detail)).toEqual([
    'genuine note',
  ]);
  expect(status.timeline.filter((event) => event.type === 'approval-refused')).toEqual([]);
  expect(status.state).toBe('awaiting-approval');
  expect((await handle.describe()).status.name).toBe('RUNNING');
  // A refused Update leaves no trace in history; the signals are there, but acted on by nothing.
  const history = await fetchHistoryText(stack.client, incidentId);
  for (const forged of ['forged note: the owner', 'forged refusal', 'forged cancel']) {
    expect(history).not.toContain(forged);
  }
  await cancelForTest(stack.client, incidentId);
});

test('a cancel sent through the Temporal API is flagged and ignored: containment goes on; only a signed cancel stops it', async () => {
  const { incidentId, request } = await awaitingRotate();
  const handle = stack.client.workflow.getHandle(incidentId);

  await handle.cancel();
  const flagged = await waitFor(async () => {
    const status = await query(stack.client, incidentId);
    return status.flags.includes('unsigned-cancel-ignored') ? status : undefined;
  });
  expect(flagged.timeline.at(-1)).toMatchObject({
    type: 'note',
    actor: 'workflow',
    detail: expect.stringContaining(
      'a cancel request without a signature came through the Temporal API: ignored',
    ),
  });
  // The owner's approval still runs the step the attacker wanted stopped.
  expect((await decideAs(stack.client, stack.dataDir, incidentId, request, 'bob')).outcome).toBe('approved');
  await waitFor(async () => ((await applied(incidentId, 'rotate')).length === 1 ? true : undefined));
  expect((await handle.describe()).status.name).toBe('RUNNING');

  await cancelForTest(stack.client, incidentId, 'contained by hand');
  const final = (await handle.result()) as Awaited<ReturnType<typeof query>>;
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  expect(final.state).toBe('cancelled');
  expect(final.steps.find((step) => step.id === 'rotate')?.state).toBe('succeeded');
  expect(final.steps.find((step) => step.id === 'revoke')?.state).toBe('skipped');
  expect(final.timeline.at(-1)).toMatchObject({
    type: 'incident-cancelled',
    actor: 'cli:test',
    detail: 'cancelled: contained by hand',
  });
  // Nothing left to stop: a second cancel is refused.
  expect(
    await sendRaw(incidentId, 'cancel', sealed(incidentId, 'cancel', { actor: 'cli:test' })),
  ).toBeDefined();
});

test('fuzz: 1,000 forged, altered or replayed notes, refusal reports and cancels over the raw client: none accepted, nothing changes', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  process.stderr.write(`[fuzz] signed-commands seed ${seed} (FUZZ_SEED=${seed} replays it)\n`);
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const { incidentId } = await awaitingRotate();

  // One genuine note goes in first: its copies are among the forgeries.
  const genuine = sealed(incidentId, 'note', { actor: 'cli:test', text: 'the one genuine note' });
  expect(await sendRaw(incidentId, 'note', genuine)).toBeUndefined();

  const counts: Record<string, number> = {};
  let accepted = 0;
  for (let sent = 0; sent < 1_000; sent += 8) {
    const batch = Array.from({ length: 8 }, () => {
      const kind = pick(['note', 'refusal', 'cancel'] as const);
      const [how, command] = pick([...forgeries(incidentId, kind), ['replayed', genuine] as const]);
      return { kind: how === 'replayed' ? ('note' as const) : kind, how, command };
    });
    const outcomes = await Promise.all(batch.map(({ kind, command }) => sendRaw(incidentId, kind, command)));
    batch.forEach(({ how }, index) => {
      counts[how] = (counts[how] ?? 0) + 1;
      if (outcomes[index] === undefined) accepted += 1;
    });
  }
  process.stderr.write(`[fuzz] ${JSON.stringify(counts)}\n`);
  expect(accepted).toBe(0);
  const status = await query(stack.client, incidentId);
  expect(status.timeline.filter((event) => event.type === 'note').map((event) => event.detail)).toEqual([
    'the one genuine note',
  ]);
  expect(status.timeline.filter((event) => event.type === 'approval-refused')).toEqual([]);
  expect(status.state).toBe('awaiting-approval');
  expect(await applied(incidentId, 'rotate')).toEqual([]);

  // Control: a genuine cancel is accepted, so the refusals above were the checks at work.
  await cancelForTest(stack.client, incidentId);
  expect(((await stack.client.workflow.getHandle(incidentId).result()) as { state: string }).state).toBe(
    'cancelled',
  );
});
