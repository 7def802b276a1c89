import { z } from 'zod';
import type { ProviderCatalog } from '../types';

/**
 * The `issuer` role: the system that minted the leaked credential (a database, an automation tool's API).
 * The incident's credential reference (`postgres:app_user`, `n8n:prod`) picks the provider.
 */
const credentialRef = z.object({ ref: z.string().min(1) });

/** Where the replacement credential goes; the value itself never leaves the activity that minted it. */
export const secretDestination = z.object({
  provider: z.string().min(1),
  target: z.string().min(1),
  /** Which value of a credential made of several this destination takes (AWS access keys); the secret by default. */
  part: z.enum(['accessKeyId', 'secretAccessKey']).optional(),
});
export type SecretDestinationParams = z.infer<typeof secretDestination>;

export const issuerCatalog = {
  rotateCredential: {
    description: 'Mint a replacement credential and deliver it straight to its consumers',
    params: credentialRef.extend({ destinations: z.array(secretDestination).default([]) }),
    idempotent: false,
    reversible: false,
  },
  terminateSessions: {
    description: 'Kill the live sessions opened with the leaked credential',
    params: credentialRef,
    idempotent: true,
    reversible: false,
    preapprovable: true, // stops sessions; the credential, its grants and its data are unchanged (it can log in again)
  },
  revokeCredential: {
    description: 'Revoke the leaked credential at its issuer',
    params: credentialRef.extend({ fingerprint: z.string().regex(/^[0-9a-f]{64}$/) }),
    idempotent: false,
    reversible: false,
  },
  revokeGrants: {
    description: 'Cut what the leaked identity can reach (grants, login)',
    params: credentialRef,
    idempotent: true,
    reversible: true,
    undo: 'restoreGrants',
  },
  restoreGrants: {
    description: 'Restore the grants cut during containment',
    params: credentialRef,
    idempotent: true,
    reversible: true,
    undo: 'revokeGrants',
  },
  verifyRevoked: {
    description: 'Prove the leaked credential no longer works and the replacement does',
    params: credentialRef,
    idempotent: true,
    reversible: false,
    preapprovable: true, // only reads: tries the logins and inspects the role, changes nothing
  },
} satisfies ProviderCatalog;
