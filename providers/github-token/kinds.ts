/**
 * The GitHub token kinds this issuer can revoke, told apart by their prefix. What is not listed here is not sent to
 * GitHub at all: an alert may hold another vendor's secret, and GitHub is not where to revoke (or test) it.
 */
export type RevocationMethod =
  /** `POST /credentials/revoke`, unauthenticated: for tokens the caller does not own. */
  | 'credential-revocation-api'
  /** `DELETE /installation/token`, authenticated with the leaked installation token itself. */
  | 'installation-token-delete';

export interface TokenKind {
  /** The prefix without its underscore, as summaries and evidence name it: `ghp`, `github_pat`. */
  type: string;
  label: string;
  revocation: RevocationMethod;
  /**
   * Whether the token authenticates API calls, so a probe (`GET /rate_limit` with it) shows whether it still works.
   * A refresh token (`ghr_`) only buys new user tokens: GitHub answers 401 to it everywhere, revoked or not.
   */
  probeable: boolean;
}

const KINDS: ReadonlyArray<TokenKind & { prefix: string }> = [
  {
    prefix: 'github_pat_',
    type: 'github_pat',
    label: 'fine-grained personal access token',
    revocation: 'credential-revocation-api',
    probeable: true,
  },
  {
    prefix: 'ghp_',
    type: 'ghp',
    label: 'personal access token (classic)',
    revocation: 'credential-revocation-api',
    probeable: true,
  },
  {
    prefix: 'gho_',
    type: 'gho',
    label: 'OAuth app access token',
    revocation: 'credential-revocation-api',
    probeable: true,
  },
  {
    prefix: 'ghu_',
    type: 'ghu',
    label: 'GitHub App user access token',
    revocation: 'credential-revocation-api',
    probeable: true,
  },
  {
    prefix: 'ghr_',
    type: 'ghr',
    label: 'GitHub App refresh token',
    revocation: 'credential-revocation-api',
    probeable: false,
  },
  {
    prefix: 'ghs_',
    type: 'ghs',
    label: 'GitHub App installation access token',
    revocation: 'installation-token-delete',
    probeable: true,
  },
];

export function tokenKindOf(value: string): TokenKind | undefined {
  const found = KINDS.find((kind) => value.startsWith(kind.prefix));
  return found
    ? { type: found.type, label: found.label, revocation: found.revocation, probeable: found.probeable }
    : undefined;
}
