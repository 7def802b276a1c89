import { verifyEd25519Signature } from './approval-check';
import { canonicalJson, sha256Hex } from './canonical';
import type { IncidentInput, StartAttestation } from './types';

/** The bytes signed for a start: the incident's id, the hash of everything else the start says, and the signer. */
export function startMessage(
  input: IncidentInput,
  expiresAt: string,
  signer?: StartAttestation['signer'],
): string {
  const { attestation: _attestation, ...signed } = input;
  return canonicalJson({
    purpose: 'tourniquet-start-v1',
    incidentId: input.context?.incident?.id ?? '',
    inputSha256: sha256Hex(canonicalJson(signed)),
    expiresAt,
    signer,
  });
}

/** The keys a start may be signed with: the gateway's, and each owner's own key by name (read only when needed). */
export interface StartSigners {
  gatewayKeys: string[];
  ownerKeys: () => Record<string, string>;
}

/**
 * Why a start must be refused, or undefined. `startedAt` is when the Temporal server started the run (not when a
 * worker got to it), so an incident opened while the workers restart is not refused for the wait.
 */
export function startRefusal(
  input: IncidentInput,
  signers: StartSigners,
  startedAt: number,
): string | undefined {
  const attestation = input.attestation;
  if (
    !attestation ||
    typeof attestation.signature !== 'string' ||
    typeof attestation.expiresAt !== 'string'
  ) {
    return 'attestation: a start must be signed by the gateway (Slack, SIEM) or the local CLI';
  }
  const expiresAt = Date.parse(attestation.expiresAt);
  if (!Number.isFinite(expiresAt) || startedAt >= expiresAt)
    return 'attestation: the signed start had expired';
  const signer = attestation.signer;
  if (signer === undefined) {
    const message = startMessage(input, attestation.expiresAt);
    if (!signers.gatewayKeys.some((key) => verifyEd25519Signature(key, message, attestation.signature))) {
      return 'attestation: not signed by a gateway key this worker trusts (or the start was altered after signing)';
    }
    return undefined;
  }
  if (signer?.via !== 'out-of-band' || typeof signer.name !== 'string') {
    return 'attestation.signer: expected an out-of-band key of the owners file';
  }
  const ownerKeys = signers.ownerKeys();
  const ownerKey = Object.hasOwn(ownerKeys, signer.name) ? ownerKeys[signer.name] : undefined;
  if (!ownerKey) return `attestation.signer: "${signer.name}" has no key in this worker's owners file`;
  const message = startMessage(input, attestation.expiresAt, { via: 'out-of-band', name: signer.name });
  if (!verifyEd25519Signature(ownerKey, message, attestation.signature)) {
    return `attestation: not signed by the key of "${signer.name}" (or the start was altered after signing)`;
  }
  // The requester is who signed: a key cannot start an incident in someone else's name.
  if (input.context?.incident?.requester !== `key:${signer.name}`) {
    return `attestation: a start signed with the key of "${signer.name}" is requested by key:${signer.name}`;
  }
  return undefined;
}
