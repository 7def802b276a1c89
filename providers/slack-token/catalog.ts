import { issuerCatalog } from '../roles/issuer';

/**
 * Everything the `slack-token` provider offers. Of the issuer role only what Slack allows for a token someone else
 * holds: revoke it (with itself, `auth.revoke`) and prove it dead (`auth.test`). A bot or user token cannot be
 * minted by API without the app's client secret and token rotation turned on (rotateCredential), a token has no
 * sessions apart from itself (terminateSessions), and its scopes cannot be cut by a third party (revokeGrants,
 * restoreGrants): those steps are "not applicable" for this issuer.
 */
export const slackTokenCatalog = {
  revokeCredential: issuerCatalog.revokeCredential,
  verifyRevoked: issuerCatalog.verifyRevoked,
};
export type SlackTokenCatalog = typeof slackTokenCatalog;
