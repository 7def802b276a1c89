import { verifyEd25519Signature } from './approval-check';
import { canonicalJson, sha256Hex } from './canonical';

/**
 * Commands to a running incident other than decisions (which carry their own binding to one request): a note, the
 * report of a refused approval, and a cancel. Each is signed by a channel the worker trusts, never taken on the word
 * of whoever reached the Temporal API.
 */
export type IncidentCommandKind = 'note' | 'refusal' | 'cancel';

/**
 * Every kind a seal names: the commands above; `resolve-credential`, which names the credential of an incident
 * whose secret the inventory could not resolve (the steps on the credential wait for it); and `alert-details`, what
 * the gateway read from a batch of authenticated alerts (severity, places, events) for the incident to take in.
 */
export type CommandKind = IncidentCommandKind | 'resolve-credential' | 'alert-details';

/** The signer's seal on one command: a one-time nonce, an expiry, and the ed25519 signature over both and the body. */
export interface CommandSeal {
  nonce: string;
  expiresAt: string;
  /** base64 ed25519 over `commandMessage(...)`. */
  signature: string;
}

export interface SignedCommand<Body> {
  body: Body;
  seal: CommandSeal;
}

/** How long a seal is valid for: a command is sent as soon as it is signed. */
export const COMMAND_VALID_MS = 2 * 60_000;
/** A signer's clock may run this far ahead of the worker's before its seals look too long-lived. */
const CLOCK_SKEW_MS = 60_000;

export function commandMessage(
  incidentId: string,
  kind: CommandKind,
  body: unknown,
  seal: Pick<CommandSeal, 'nonce' | 'expiresAt'>,
): string {
  return canonicalJson({
    purpose: 'tourniquet-command-v1',
    incidentId,
    command: kind,
    bodySha256: sha256Hex(canonicalJson(body)),
    nonce: seal.nonce,
    expiresAt: seal.expiresAt,
  });
}

/**
 * Why a command must be refused, or undefined. `usedNonces` are the nonces this incident has already accepted: a
 * command copied out of history and sent again is refused even before it expires.
 */
export function commandRefusal(
  incidentId: string,
  kind: CommandKind,
  command: unknown,
  trust: { gatewayKeys: readonly string[]; now: number; usedNonces: { has(nonce: string): boolean } },
): string | undefined {
  const { body, seal } = (command ?? {}) as Partial<SignedCommand<unknown>>;
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof seal !== 'object' ||
    seal === null ||
    typeof seal.nonce !== 'string' ||
    typeof seal.expiresAt !== 'string' ||
    typeof seal.signature !== 'string'
  ) {
    return `seal: a ${kind} must be signed by the gateway (Slack) or the local CLI`;
  }
  const expiresAt = Date.parse(seal.expiresAt);
  if (!Number.isFinite(expiresAt) || trust.now >= expiresAt) return `seal: the signed ${kind} had expired`;
  if (expiresAt - trust.now > COMMAND_VALID_MS + CLOCK_SKEW_MS) {
    return `seal: valid for longer than ${COMMAND_VALID_MS / 1000} s`;
  }
  if (seal.nonce.length < 16 || seal.nonce.length > 100)
    return 'seal: the nonce must be 16 to 100 characters';
  if (trust.usedNonces.has(seal.nonce)) return `seal: this ${kind} was already received (nonce used)`;
  let message: string;
  try {
    message = commandMessage(incidentId, kind, body, seal);
  } catch {
    return `body: a ${kind} must be plain JSON`;
  }
  if (!trust.gatewayKeys.some((key) => verifyEd25519Signature(key, message, seal.signature))) {
    return `seal: not signed by a gateway key this worker trusts (or the ${kind} was altered after signing)`;
  }
  return undefined;
}
