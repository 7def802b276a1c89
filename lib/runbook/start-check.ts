import { verifyEd25519Signature } from './approval-check';
import { canonicalJson, sha256Hex } from './canonical';
import type { IncidentInput } from './types';

/** The bytes the gateway signs for a start: the incident's id and the hash of everything else the start says. */
export function startMessage(input: IncidentInput, expiresAt: string): string {
  const { attestation: _attestation, ...signed } = input;
  return canonicalJson({
    purpose: 'tourniquet-start-v1',
    incidentId: input.context?.incident?.id ?? '',
    inputSha256: sha256Hex(canonicalJson(signed)),
    expiresAt,
  });
}

/**
 * Why a start must be refused, or undefined. `startedAt` is when the Temporal server started the run (not when a
 * worker got to it), so an incident opened while the workers restart is not refused for the wait.
 */
export function startRefusal(
  input: IncidentInput,
  gatewayKeys: string[],
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
  const message = startMessage(input, attestation.expiresAt);
  if (!gatewayKeys.some((key) => verifyEd25519Signature(key, message, attestation.signature))) {
    return 'attestation: not signed by a gateway key this worker trusts (or the start was altered after signing)';
  }
  return undefined;
}
