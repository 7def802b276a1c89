import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signOutOfBandDecision, vouchForSlackDecision } from '../client';
import { mayStartFromSlack, OwnerDirectory, ownersFileSchema, rawPublicKey } from '../lib/owners';
import { approverIdentities, personOf, refusalReason } from '../lib/runbook/approval-check';
import type { ApprovalDecision, ApprovalRequest, OwnerSnapshot } from '../lib/runbook/types';
import { formatPath } from '../lib/runbook/validate';

/**
 * The owners file defines people: every Slack account, CLI user and key of one person is one identity for
 * separation of duties and two-person rules. These run the Update validator's own check (`refusalReason`) on
 * snapshots made by the worker's `OwnerDirectory`, with real signatures.
 */
const GATEWAY = generateKeyPairSync('ed25519');
const PRIYA = generateKeyPairSync('ed25519');
const OMAR = generateKeyPairSync('ed25519');
const INCIDENT = 'incident-people';

const owners = ownersFileSchema.parse({
  people: {
    priya: { slack: ['U0PRIYA01', 'U0PRIYA02'], cli: ['priya'], publicKey: rawPublicKey(PRIYA.publicKey) },
    omar: { slack: ['U0OMAR001'], publicKey: rawPublicKey(OMAR.publicKey) },
  },
  roles: { iam: { people: ['priya', 'omar'] } },
});

let snapshots: OwnerSnapshot[];

beforeAll(async () => {
  const directory = new OwnerDirectory(owners, mkdtempSync(join(tmpdir(), 'tourniquet-people-')), {
    gatewayKeys: [rawPublicKey(GATEWAY.publicKey)],
  });
  snapshots = [await directory.snapshot('iam')];
});

const request: ApprovalRequest = {
  stepId: 'revoke',
  nonce: 'nonce-1',
  paramsHash: 'a'.repeat(64),
  action: 'simulated.revokeCredential',
  target: 'simulated:npm/token',
  reversible: false,
  policy: 'two-person',
  required: 2,
  roles: ['iam'],
  requestedAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  escalated: false,
  approvals: [],
  breakGlassEligible: false,
};

const viaSlack = (userId: string): ApprovalDecision =>
  vouchForSlackDecision({
    incidentId: INCIDENT,
    decision: {
      stepId: request.stepId,
      nonce: request.nonce,
      paramsHash: request.paramsHash,
      decision: 'approve',
    },
    userId,
    message: { channel: 'C0INCIDENT', ts: '1760000000.000100' },
    gatewayKey: GATEWAY.privateKey,
  });

const viaKey = (name: string, key: typeof PRIYA): ApprovalDecision =>
  signOutOfBandDecision({
    incidentId: INCIDENT,
    request,
    decision: 'approve',
    name,
    privateKeyPem: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  });

const check = (decision: ApprovalDecision, requester: string, priorApprovals: string[] = []) =>
  refusalReason(request, snapshots, decision, {
    incidentId: INCIDENT,
    requester,
    separationOfDuties: true,
    now: Date.now(),
    priorApprovals,
  });

test('the person who started it from the CLI cannot approve it from either Slack account or with their key', () => {
  const sod = 'separation of duties: the person who raised the incident cannot approve this step';
  expect(check(viaSlack('U0PRIYA01'), 'cli:priya')).toBe(sod);
  expect(check(viaSlack('U0PRIYA02'), 'cli:priya')).toBe(sod);
  expect(check(viaKey('priya', PRIYA), 'cli:priya')).toBe(sod);
  // Started from one Slack account, approved from the other.
  expect(check(viaSlack('U0PRIYA02'), 'slack:U0PRIYA01')).toBe(sod);
  // Control: another person may.
  expect(check(viaSlack('U0OMAR001'), 'cli:priya')).toBeUndefined();
});

test('a two-person rule needs two people: one person through Slack and then their key counts once', () => {
  const first = approverIdentities(viaSlack('U0PRIYA01').approver, snapshots);
  expect(first).toEqual(
    expect.arrayContaining(['slack:U0PRIYA01', 'slack:U0PRIYA02', 'cli:priya', 'key:priya']),
  );
  expect(check(viaKey('priya', PRIYA), 'cli:someone-else', first)).toBe(
    'already approved by this person; a second, distinct owner is needed',
  );
  expect(check(viaSlack('U0PRIYA02'), 'cli:someone-else', first)).toBe(
    'already approved by this person; a second, distinct owner is needed',
  );
  expect(check(viaKey('omar', OMAR), 'cli:someone-else', first)).toBeUndefined();
  expect(new Set(['slack:U0PRIYA01', 'key:priya', 'cli:priya'].map((id) => personOf(id, snapshots)))).toEqual(
    new Set(['person:priya']),
  );
});

test("a person's key is checked like any approver's: someone else's key under their name is refused", () => {
  expect(check(viaKey('priya', OMAR), 'cli:someone-else')).toBe(
    "the signature does not verify against priya's key in the owners file",
  );
});

test('the owners file names the field of an unknown person or a key name that is also a person', () => {
  const unknown = ownersFileSchema.safeParse({ people: {}, roles: { iam: { people: ['nobody'] } } });
  expect(unknown.success).toBe(false);
  expect(unknown.error!.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`)).toEqual([
    'roles.iam.people[0]: unknown person "nobody"',
  ]);
  const clash = ownersFileSchema.safeParse({
    people: { priya: { slack: ['U0PRIYA01'] } },
    roles: { iam: { outOfBand: [{ name: 'priya', publicKey: rawPublicKey(PRIYA.publicKey) }] } },
  });
  expect(clash.error!.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`)).toEqual([
    'roles.iam.outOfBand[0].name: "priya" is a person: list them under people instead',
  ]);
});

test("a person's Slack accounts may start containment at once (they are named in the owners file)", async () => {
  const none = () => Promise.resolve([]);
  expect(await mayStartFromSlack(owners, { user: 'U0PRIYA02' }, none)).toBe(true);
  expect(await mayStartFromSlack(owners, { user: 'U0STRANGER' }, none)).toBe(false);
});
