import { z } from 'zod';
import { issuerCatalog } from '../roles/issuer';
import type { ProviderCatalog } from '../types';

const credentialRef = z.object({ ref: z.string().min(1) });

/** GitHub-token-specific actions beyond the issuer role. */
export const gitHubTokenActions = {
  revokeInstallationToken: {
    description:
      'Revoke a leaked GitHub App installation token (ghs_) by calling DELETE /installation/token with it',
    params: credentialRef,
    idempotent: true,
    reversible: false,
  },
} satisfies ProviderCatalog;

/**
 * Everything the `github-token` provider offers. Of the issuer role only what GitHub allows for a token someone
 * else owns: revoke it and prove it dead. There is no API to mint a personal access token (rotateCredential), a
 * token has no sessions apart from itself (terminateSessions), and its scopes cannot be cut or restored by a third
 * party (revokeGrants, restoreGrants): those steps are "not applicable" for this issuer.
 */
export const gitHubTokenCatalog = {
  revokeCredential: issuerCatalog.revokeCredential,
  verifyRevoked: issuerCatalog.verifyRevoked,
  ...gitHubTokenActions,
};
export type GitHubTokenCatalog = typeof gitHubTokenCatalog;
