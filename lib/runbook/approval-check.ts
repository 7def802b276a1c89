import { ed25519 } from '@noble/curves/ed25519.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, sha256Hex } from './canonical';
import type {
  ApprovalDecision,
  ApprovalRequest,
  Approver,
  GatewayVouch,
  OwnerSnapshot,
  Params,
} from './types';

/** What an approval binds to: the incident, the step, the resolved action and its exact parameters. */
export function approvalParamsHash(
  incidentId: string,
  stepId: string,
  action: string,
  params: Params,
): string {
  return sha256Hex(canonicalJson({ incidentId, stepId, action, params }));
}

/** The bytes an out-of-band approver signs with ed25519 (`tourniquet approve` builds the same). */
type SignedDecision = Pick<ApprovalDecision, 'stepId' | 'nonce' | 'paramsHash' | 'decision' | 'reason'>;

/** What every signed decision covers, whoever signs it: the request it answers and the answer. */
function decisionFields(incidentId: string, decision: SignedDecision) {
  return {
    incidentId,
    stepId: decision.stepId,
    nonce: decision.nonce,
    paramsHash: decision.paramsHash,
    decision: decision.decision,
    reason: decision.reason ?? '',
  };
}

export function outOfBandMessage(incidentId: string, decision: SignedDecision, expiresAt: string): string {
  return canonicalJson({
    purpose: 'tourniquet-approval-v1',
    ...decisionFields(incidentId, decision),
    expiresAt,
  });
}

/**
 * The bytes the gateway signs for a Slack decision: who decided what, on which message, for which request. Every
 * field an attacker could change is inside, so a claim fits one decision on one request and nothing else.
 */
export function slackDecisionMessage(
  incidentId: string,
  decision: SignedDecision,
  userId: string,
  vouch: Pick<GatewayVouch, 'message' | 'expiresAt'>,
): string {
  return canonicalJson({
    purpose: 'tourniquet-slack-decision-v1',
    ...decisionFields(incidentId, decision),
    userId,
    channel: vouch.message.channel,
    ts: vouch.message.ts,
    expiresAt: vouch.expiresAt,
  });
}

/**
 * Every identity the person behind `approver` acts under: a person of the owners file brings all their Slack ids,
 * CLI users and key; a key tied to a Slack user (`slackUser`) is the same person as that user.
 */
export function approverIdentities(approver: Approver, snapshots: OwnerSnapshot[]): string[] {
  if (approver.via === 'slack') return identitiesOf(`slack:${approver.userId}`, snapshots);
  return identitiesOf(`key:${approver.name}`, snapshots);
}

function identitiesOf(identity: string, snapshots: OwnerSnapshot[]): string[] {
  const person = snapshots
    .flatMap((snapshot) => snapshot.people ?? [])
    .find((p) => p.identities.includes(identity));
  if (person) return [...new Set([identity, ...person.identities])];
  const links = snapshots
    .flatMap((snapshot) => snapshot.outOfBand)
    .filter((entry) => entry.slackUser)
    .map((entry) => [`key:${entry.name}`, `slack:${entry.slackUser}`]);
  const linked = links.filter((pair) => pair.includes(identity)).flat();
  return [...new Set([identity, ...linked])];
}

/** Who is behind an identity, so one person's approvals through two channels count once. */
export function personOf(identity: string, snapshots: OwnerSnapshot[]): string {
  const person = snapshots
    .flatMap((snapshot) => snapshot.people ?? [])
    .find((p) => p.identities.includes(identity));
  if (person) return `person:${person.name}`;
  // A key tied to a Slack user is that user.
  return identitiesOf(identity, snapshots).find((candidate) => candidate.startsWith('slack:')) ?? identity;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Buffer is not in the workflow sandbox, and its atob differs from Node's; a plain decoder behaves alike in both. */
export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  if (/[^A-Za-z0-9+/]/.test(clean)) throw new Error('not base64');
  // One encoding per byte string: padding of the right length (or none), and unused low bits of the last character
  // zero. Otherwise a signature re-encoded another way would be a different string that still verifies.
  const padding = text.length - clean.length;
  if (clean.length % 4 === 1 || padding > 2 || (padding > 0 && (clean.length + padding) % 4 !== 0)) {
    throw new Error('not canonical base64');
  }
  const bytes = new Uint8Array(Math.floor((clean.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of clean) {
    buffer = (buffer << 6) | BASE64.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[index++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new Error('not canonical base64');
  return bytes;
}

export function verifyEd25519Signature(
  publicKeyBase64: string,
  message: string,
  signatureBase64: string,
): boolean {
  try {
    return ed25519.verify(
      base64ToBytes(signatureBase64),
      utf8ToBytes(message),
      base64ToBytes(publicKeyBase64),
    );
  } catch {
    return false;
  }
}

export interface DecisionContext {
  incidentId: string;
  requester: string;
  separationOfDuties: boolean;
  now: number;
  /** Identities that already approved this request. */
  priorApprovals: string[];
  /** The Slack message that carried this request, once the notifier has said where it went. */
  requestMessage?: { channel: string; ts: string };
}

/**
 * Why a decision must be refused, or undefined when it may count. Runs inside the Update validator, so a
 * refusal leaves no trace in history and executes nothing; the caller records it in the timeline.
 */
export function refusalReason(
  request: ApprovalRequest | undefined,
  snapshots: OwnerSnapshot[],
  decision: ApprovalDecision,
  context: DecisionContext,
): string | undefined {
  if (!request) return `step "${decision.stepId}" is not awaiting approval`;
  if (decision.nonce !== request.nonce)
    return 'this approval request is no longer current (stale or already used)';
  if (decision.paramsHash !== request.paramsHash)
    return 'the action changed since the request (parameter hash mismatch)';
  if (context.now >= Date.parse(request.expiresAt))
    return `the approval request expired at ${request.expiresAt}`;

  const approver = decision.approver;
  const roles = request.roles.join(', ');
  if (approver.via === 'slack') {
    const unvouched = slackVouchRefusal(context, decision, approver, snapshots);
    if (unvouched) return unvouched;
    if (!snapshots.some((snapshot) => snapshot.slackUsers.includes(approver.userId))) {
      return `not an owner of ${roles}`;
    }
  } else {
    const entry = snapshots
      .flatMap((snapshot) => snapshot.outOfBand)
      .find((candidate) => candidate.name === approver.name);
    if (!entry) return `"${approver.name}" is not an out-of-band approver of ${roles}`;
    const expiresAt = Date.parse(approver.expiresAt);
    if (!Number.isFinite(expiresAt) || context.now >= expiresAt) return 'the signed approval has expired';
    const message = outOfBandMessage(context.incidentId, decision, approver.expiresAt);
    if (!verifyEd25519Signature(entry.publicKey, message, approver.signature)) {
      return `the signature does not verify against ${approver.name}'s key in the owners file`;
    }
  }

  const identities = approverIdentities(approver, snapshots);
  if (context.separationOfDuties && identities.includes(context.requester)) {
    return 'separation of duties: the person who raised the incident cannot approve this step';
  }
  if (
    decision.decision === 'approve' &&
    identities.some((identity) => context.priorApprovals.includes(identity))
  ) {
    return 'already approved by this person; a second, distinct owner is needed';
  }
  return undefined;
}

/** A Slack identity counts only with the gateway's signature, for a click on the message that carried the request. */
function slackVouchRefusal(
  context: DecisionContext,
  decision: ApprovalDecision,
  approver: Extract<Approver, { via: 'slack' }>,
  snapshots: OwnerSnapshot[],
): string | undefined {
  const vouch = approver.vouch;
  if (
    !vouch ||
    typeof vouch.signature !== 'string' ||
    typeof vouch.expiresAt !== 'string' ||
    typeof vouch.message?.channel !== 'string' ||
    typeof vouch.message.ts !== 'string'
  ) {
    return 'a Slack decision must come through the gateway, signed with its key';
  }
  const expiresAt = Date.parse(vouch.expiresAt);
  if (!Number.isFinite(expiresAt) || context.now >= expiresAt) return "the gateway's claim has expired";
  const message = slackDecisionMessage(context.incidentId, decision, approver.userId, vouch);
  const trusted = [...new Set(snapshots.flatMap((snapshot) => snapshot.gatewayKeys ?? []))];
  if (!trusted.some((key) => verifyEd25519Signature(key, message, vouch.signature))) {
    return 'the claim is not signed by a gateway key this worker trusts';
  }
  const carried = context.requestMessage;
  if (carried && (carried.channel !== vouch.message.channel || carried.ts !== vouch.message.ts)) {
    return 'clicked on a message that did not carry this request';
  }
  return undefined;
}
