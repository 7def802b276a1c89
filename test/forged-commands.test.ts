import { createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { signOutOfBandDecision, signStart, vouchForSlackDecision } from '../client';
import { gatewaySigningKey } from '../lib/gateway-key';
import { rawPublicKey } from '../lib/owners';
import type { ApprovalDecision, ApprovalRequest, IncidentInput } from '../lib/runbook/types';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  query,
  signedForTest,
  start,
  TASK_QUEUE,
  waitFor,
} from './harness/incidents';
import { operatorKey } from './harness/owners';
import { refusalOf, startRaw } from './harness/raw-start';
import { useTemporalWorker } from './harness/stack';
import { startDefaultIncident } from './harness/up';
import { seededRandom } from './chaos/support';

/**
 * The Temporal API is an untrusted transport: whoever reaches it (a raw `@temporalio/client`, the Web UI's HTTP
 * API) can send the `decideStep` Update with any body. These tests are that attacker. They never call
 * `submitDecision`: the Update goes out by name, as a script of the attacker's would send it.
 */
const stack = useTemporalWorker();

const MALLORY = generateKeyPairSync('ed25519');
const STEP = 'rotate';

/** The raw Update, by name; resolves to whether the workflow accepted it. */
async function sendRaw(client: Client, incidentId: string, decision: unknown): Promise<boolean> {
  try {
    await client.workflow.getHandle(incidentId).executeUpdate('decideStep', { args: [decision] });
    return true;
  } catch {
    return false;
  }
}

async function refusedWith(incidentId: string, decision: unknown): Promise<string> {
  try {
    await stack.client.workflow.getHandle(incidentId).executeUpdate('decideStep', { args: [decision] });
  } catch (error) {
    return (error as { cause?: Error }).cause?.message ?? (error as Error).message;
  }
  throw new Error('the forged decision was accepted');
}

async function awaitingRotate(incidentId: string): Promise<ApprovalRequest> {
  return waitFor(async () =>
    (await query(stack.client, incidentId)).approvals.find((r) => r.stepId === STEP),
  );
}

async function openIncident(): Promise<{ incidentId: string; request: ApprovalRequest }> {
  const incidentId = await start(
    stack.client,
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'low' }),
  );
  return { incidentId, request: await awaitingRotate(incidentId) };
}

const applied = async (incidentId: string) =>
  (await stack.worker.journal.entries()).filter(
    (entry) => entry.incidentId === incidentId && entry.effect === 'applied' && entry.stepId === STEP,
  );

const bare = (request: ApprovalRequest) => ({
  stepId: request.stepId,
  nonce: request.nonce,
  paramsHash: request.paramsHash,
  decision: 'approve' as const,
});

function slackDecision(
  incidentId: string,
  request: ApprovalRequest,
  gatewayKey: KeyObject,
  overrides: { userId?: string; validForMs?: number } = {},
): ApprovalDecision {
  return vouchForSlackDecision({
    incidentId,
    decision: bare(request),
    userId: overrides.userId ?? 'U0IAM1',
    message: { channel: 'C0INCIDENTS', ts: '1760000000.000100' },
    gatewayKey,
    ...(overrides.validForMs !== undefined ? { validForMs: overrides.validForMs } : {}),
  });
}

function keyDecision(
  incidentId: string,
  request: ApprovalRequest,
  name = 'bob',
  overrides: { pem?: string; validForMs?: number } = {},
): ApprovalDecision {
  return signOutOfBandDecision({
    incidentId,
    request,
    decision: 'approve',
    name,
    privateKeyPem: overrides.pem ?? readFileSync(operatorKey(stack.dataDir, name), 'utf8'),
    ...(overrides.validForMs !== undefined ? { validForMs: overrides.validForMs } : {}),
  });
}

test('a Slack approval sent straight through the Temporal API is refused unless the gateway signed it: made-up identity, own key, expired claim', async () => {
  const { incidentId, request } = await openIncident();
  const gatewayKey = gatewaySigningKey({ dataDir: stack.dataDir });

  // What sank the old gate: an owner's Slack id, typed in.
  expect(
    await refusedWith(incidentId, { ...bare(request), approver: { via: 'slack', userId: 'U0IAM1' } }),
  ).toBe('a Slack decision must come through the gateway, signed with its key');
  expect(await refusedWith(incidentId, slackDecision(incidentId, request, MALLORY.privateKey))).toBe(
    'the claim is not signed by a gateway key this worker trusts',
  );
  expect(
    await refusedWith(incidentId, slackDecision(incidentId, request, gatewayKey, { validForMs: -1_000 })),
  ).toBe("the gateway's claim has expired");
  // The gateway's signature does not make a non-owner an owner.
  expect(
    await refusedWith(incidentId, slackDecision(incidentId, request, gatewayKey, { userId: 'U0PLATFORM1' })),
  ).toBe('not an owner of iam');
  expect(await applied(incidentId)).toHaveLength(0);
  expect((await query(stack.client, incidentId)).steps.find((step) => step.id === STEP)?.state).toBe(
    'awaiting-approval',
  );

  // Control: the same request, vouched for by the gateway's key, is accepted and the step runs.
  expect(await sendRaw(stack.client, incidentId, slackDecision(incidentId, request, gatewayKey))).toBe(true);
  await waitFor(async () => ((await applied(incidentId)).length === 1 ? true : undefined));
  const approved = (await query(stack.client, incidentId)).timeline.find(
    (event) => event.type === 'approved' && event.stepId === STEP,
  );
  expect(approved?.actor).toBe('slack:U0IAM1');
  await cancelForTest(stack.client, incidentId);
});

test('an owners list sent with the start is not believed: a key it names cannot approve', async () => {
  const runbook = fixtureRunbook('approvals');
  const input = {
    ...incidentInput(runbook, { requester: 'cli:someone-else', severity: 'low' }),
    // What an attacker would add to a start it sends itself: itself as the owner of every role.
    owners: { iam: { outOfBand: [{ name: 'mallory', publicKey: rawPublicKey(MALLORY.publicKey) }] } },
  };
  const incidentId = await start(stack.client, input);
  const request = await awaitingRotate(incidentId);
  const pem = MALLORY.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  expect(await refusedWith(incidentId, keyDecision(incidentId, request, 'mallory', { pem }))).toBe(
    '"mallory" is not an out-of-band approver of iam',
  );
  expect(await applied(incidentId)).toHaveLength(0);
  await cancelForTest(stack.client, incidentId);
});

test('fuzz: 1,000 forged or altered decisions over the raw Temporal client are all refused and nothing runs', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  process.stderr.write(`[fuzz] forged-commands seed ${seed} (FUZZ_SEED=${seed} replays it)\n`);
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

  const target = await openIncident();
  const other = await openIncident();
  const gatewayKey = gatewaySigningKey({ dataDir: stack.dataDir });
  const carolPem = readFileSync(operatorKey(stack.dataDir, 'carol'), 'utf8');
  const malloryPem = MALLORY.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  // Genuine commands for `target`, each valid as it stands: the fuzz only ever sends altered copies.
  const genuine = () =>
    random() < 0.5
      ? slackDecision(target.incidentId, target.request, gatewayKey)
      : keyDecision(target.incidentId, target.request);

  const flipChar = (text: string) => {
    const index = Math.floor(random() * text.length);
    const replacement = text[index] === 'A' ? 'B' : 'A';
    return text.slice(0, index) + replacement + text.slice(index + 1);
  };
  type Forgery = { name: string; incidentId: string; decision: unknown };
  const alterations: ((decision: ApprovalDecision) => Forgery)[] = [
    (d) => ({ name: 'nonce', incidentId: target.incidentId, decision: { ...d, nonce: randomUUID() } }),
    (d) => ({
      name: 'params hash',
      incidentId: target.incidentId,
      decision: { ...d, paramsHash: flipChar(d.paramsHash) },
    }),
    (d) => ({
      name: 'step',
      incidentId: target.incidentId,
      decision: { ...d, stepId: pick(['revoke', 'verify', 'hooks', 'keys', 'nope']) },
    }),
    (d) => ({ name: 'decision', incidentId: target.incidentId, decision: { ...d, decision: 'deny' } }),
    (d) => ({ name: 'reason', incidentId: target.incidentId, decision: { ...d, reason: 'looks fine' } }),
    // The same signed command, sent to another incident waiting on the same step.
    (d) => ({ name: 'incident', incidentId: other.incidentId, decision: d }),
    (d) => ({
      name: 'signer',
      incidentId: target.incidentId,
      decision:
        d.approver.via === 'slack'
          ? { ...d, approver: { ...d.approver, userId: pick(['U0IAM2', 'U0REQUESTER', 'U0MALLORY1']) } }
          : { ...d, approver: { ...d.approver, name: pick(['alice', 'carol', 'mallory']) } },
    }),
    (d) => ({
      name: 'signed by another key',
      incidentId: target.incidentId,
      decision:
        d.approver.via === 'slack'
          ? slackDecision(target.incidentId, target.request, MALLORY.privateKey)
          : keyDecision(target.incidentId, target.request, 'bob', { pem: pick([carolPem, malloryPem]) }),
    }),
    (d) => {
      const later = new Date(Date.now() + 3_600_000 * (1 + random() * 100)).toISOString();
      return {
        name: 'expiry',
        incidentId: target.incidentId,
        decision:
          d.approver.via === 'slack'
            ? { ...d, approver: { ...d.approver, vouch: { ...d.approver.vouch, expiresAt: later } } }
            : { ...d, approver: { ...d.approver, expiresAt: later } },
      };
    },
    // Correctly signed, but already expired.
    (d) => ({
      name: 'expired',
      incidentId: target.incidentId,
      decision:
        d.approver.via === 'slack'
          ? slackDecision(target.incidentId, target.request, gatewayKey, {
              validForMs: -1 - random() * 60_000,
            })
          : keyDecision(target.incidentId, target.request, 'bob', { validForMs: -1 - random() * 60_000 }),
    }),
    (d) => {
      const signature = d.approver.via === 'slack' ? d.approver.vouch.signature : d.approver.signature;
      const forged = pick([flipChar(signature), signature.slice(0, 40), '', '!!not base64!!']);
      return {
        name: 'signature',
        incidentId: target.incidentId,
        decision:
          d.approver.via === 'slack'
            ? { ...d, approver: { ...d.approver, vouch: { ...d.approver.vouch, signature: forged } } }
            : { ...d, approver: { ...d.approver, signature: forged } },
      };
    },
    (d) => ({
      name: 'message',
      incidentId: target.incidentId,
      decision:
        d.approver.via === 'slack'
          ? {
              ...d,
              approver: {
                ...d.approver,
                vouch: { ...d.approver.vouch, message: { channel: 'C0ELSEWHERE', ts: '1760000000.000200' } },
              },
            }
          : { ...d, approver: { via: 'slack', userId: 'U0IAM1' } },
    }),
    (d) => ({
      name: 'shape',
      incidentId: target.incidentId,
      decision: pick<unknown>([
        null,
        'approve',
        { ...d, approver: undefined },
        { ...d, approver: { via: 'root' } },
        { ...d, approver: { ...d.approver, via: d.approver.via === 'slack' ? 'out-of-band' : 'slack' } },
        { stepId: STEP },
      ]),
    }),
  ];

  const counts: Record<string, number> = {};
  let accepted = 0;
  const forgeries = Array.from({ length: 1_000 }, () => pick(alterations)(genuine()));
  // Eight at a time: an attacker does not wait politely either.
  for (let index = 0; index < forgeries.length; index += 8) {
    const batch = forgeries.slice(index, index + 8);
    const outcomes = await Promise.all(
      batch.map((forgery) => sendRaw(stack.client, forgery.incidentId, forgery.decision)),
    );
    batch.forEach((forgery, position) => {
      counts[forgery.name] = (counts[forgery.name] ?? 0) + 1;
      if (outcomes[position]) accepted += 1;
    });
  }
  process.stderr.write(`[fuzz] ${JSON.stringify(counts)}\n`);
  expect(Object.keys(counts).length).toBe(alterations.length);
  expect(accepted).toBe(0);
  for (const { incidentId } of [target, other]) {
    expect(await applied(incidentId)).toHaveLength(0);
    const status = await query(stack.client, incidentId);
    expect(status.steps.find((step) => step.id === STEP)?.state).toBe('awaiting-approval');
    expect(
      status.timeline.filter((event) => event.type === 'approved' && event.stepId === STEP),
    ).toHaveLength(0);
  }

  // Control: the unaltered command is accepted, so the refusals above were the checks at work.
  expect(await sendRaw(stack.client, target.incidentId, genuine())).toBe(true);
  await waitFor(async () => ((await applied(target.incidentId)).length === 1 ? true : undefined));
  expect(await applied(other.incidentId)).toHaveLength(0);
  for (const { incidentId } of [target, other]) await cancelForTest(stack.client, incidentId);
});

describe('starts sent straight through the Temporal API', () => {
  const fresh = () =>
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'low' });
  const requestedBy = (name: string) =>
    incidentInput(fixtureRunbook('approvals'), { requester: `key:${name}`, severity: 'low' });
  const ownerKey = (name: string) => ({
    name,
    key: createPrivateKey(readFileSync(operatorKey(stack.dataDir, name), 'utf8')),
  });

  const everything = async (incidentId: string) =>
    (await stack.worker.journal.entries()).filter((entry) => entry.incidentId === incidentId);

  test.each<[string, () => IncidentInput, string]>([
    [
      'unsigned',
      () => fresh(),
      'attestation: a start must be signed by the gateway (Slack, SIEM) or the local CLI',
    ],
    [
      "signed with the attacker's own key",
      () => signStart(fresh(), MALLORY.privateKey),
      'attestation: not signed by a gateway key this worker trusts (or the start was altered after signing)',
    ],
    [
      'signed, then the requester changed (to lock an owner out of approving)',
      () => {
        const signed = signedForTest(fresh());
        signed.context.incident.requester = 'slack:U0IAM1';
        return signed;
      },
      'attestation: not signed by a gateway key this worker trusts (or the start was altered after signing)',
    ],
    [
      'signed, then turned into a critical incident (break-glass sooner)',
      () => {
        const signed = signedForTest(fresh());
        signed.context.incident.severity = 'critical';
        return signed;
      },
      'attestation: not signed by a gateway key this worker trusts (or the start was altered after signing)',
    ],
    [
      "signed with an owner's key, in someone else's name",
      () => signStart(fresh(), ownerKey('bob')),
      'attestation: a start signed with the key of "bob" is requested by key:bob',
    ],
    [
      "signed with the attacker's key under an owner's name",
      () => signStart(requestedBy('bob'), { name: 'bob', key: MALLORY.privateKey }),
      'attestation: not signed by the key of "bob" (or the start was altered after signing)',
    ],
    [
      'signed with a key under a name the owners file does not have',
      () => signStart(requestedBy('mallory'), { name: 'mallory', key: MALLORY.privateKey }),
      'attestation.signer: "mallory" has no key in this worker\'s owners file',
    ],
    [
      "signed with an owner's key, then passed off as another owner's",
      () => {
        const signed = signStart(requestedBy('bob'), ownerKey('bob'));
        return {
          ...signed,
          attestation: { ...signed.attestation!, signer: { via: 'out-of-band', name: 'alice' } },
        };
      },
      'attestation: not signed by the key of "alice" (or the start was altered after signing)',
    ],
    [
      'signed long ago',
      () => signStart(fresh(), gatewaySigningKey({ dataDir: stack.dataDir }), Date.now() - 10 * 60_000),
      'attestation: the signed start had expired',
    ],
  ])('%s: refused, and nothing runs', async (_name, forge, expected) => {
    const incidentId = await startRaw(stack.client, forge());
    expect(await refusalOf(stack.client, incidentId)).toBe(expected);
    expect(await everything(incidentId)).toEqual([]);
  });

  test("control: an owner's start signed with their own key opens the incident in their name, and they cannot approve it", async () => {
    const incidentId = await startRaw(stack.client, signStart(requestedBy('bob'), ownerKey('bob')));
    const request = await awaitingRotate(incidentId);
    expect((await query(stack.client, incidentId)).timeline[0].actor).toBe('key:bob');
    expect(await refusedWith(incidentId, keyDecision(incidentId, request, 'bob'))).toBe(
      'separation of duties: the person who raised the incident cannot approve this step',
    );
    await cancelForTest(stack.client, incidentId);
  });

  test("`incident start --key` signs with the owner's own key: the incident is theirs", async () => {
    const incidentId = await startDefaultIncident(
      { ...stack.cliEnv, TEMPORAL_TASK_QUEUE: TASK_QUEUE },
      '--key',
      operatorKey(stack.dataDir, 'bob'),
    );
    const opened = await waitFor(async () => (await query(stack.client, incidentId)).timeline[0]);
    expect(opened).toMatchObject({ type: 'incident-opened', actor: 'key:bob' });
    await cancelForTest(stack.client, incidentId);
  });

  test('control: the same start, signed by the gateway key of the worker’s data dir, opens the incident', async () => {
    const incidentId = await startRaw(
      stack.client,
      signStart(fresh(), gatewaySigningKey({ dataDir: stack.dataDir })),
    );
    await awaitingRotate(incidentId);
    await cancelForTest(stack.client, incidentId);
  });
});
