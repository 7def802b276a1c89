import { holdsSecret } from '../../lib/scrub';
import { ProviderError } from '../types';

export const PROVIDER = 'github-token';

/** Where the leaked token is read from, just in time, inside the activity: a secret scanning alert. */
export interface GitHubTokenRef {
  source: 'secret-scanning';
  owner: string;
  repo: string;
  /** `owner/repo`. */
  repository: string;
  alertNumber: number;
}

const EXPECTED = 'expected secret-scanning/<owner>/<repo>/<alert-number>, e.g. secret-scanning/acme/app/42';

/** A GitHub login: letters, digits, `-` (and `_` for managed users), at most 39, not starting with `-` or `_`. */
const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$/;
/** A repository name: letters, digits, `.`, `_`, `-`, at most 100. */
const REPO = /^[A-Za-z0-9_.-]{1,100}$/;
/** Alert numbers count from 1 per repository. */
const ALERT_NUMBER = /^[1-9]\d{0,9}$/;

/**
 * GitHub's token prefixes (`ghp_` classic PAT, `github_pat_` fine-grained PAT, `gho_` OAuth, `ghu_` App user,
 * `ghs_` App installation, `ghr_` App refresh) followed by enough token characters to be one.
 */
const TOKEN_LIKE = /(^|[^A-Za-z0-9])(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})/;

/** Whether `text` carries something that looks like a token value rather than where to find one. */
export function looksLikeToken(text: string): boolean {
  return TOKEN_LIKE.test(text) || holdsSecret(text);
}

/**
 * The reference is never echoed: whoever starts an incident about a leaked token has the token at hand, and one
 * pasted in place of the reference would otherwise travel into the CLI output, the history and the timeline.
 */
function refuse(why: string): never {
  throw new ProviderError(`ref ${why} (${EXPECTED})`, false, 'InvalidParams');
}

/**
 * `secret-scanning/<owner>/<repo>/<alert-number>`, optionally prefixed `github-token:` as in an incident's
 * credential reference. The reference says where the leaked value can be read; it never carries the value. Throws
 * a ProviderError (an Error) naming what is wrong, without repeating the reference.
 */
export function parseGitHubTokenRef(ref: string): GitHubTokenRef {
  const bare = ref.startsWith(`${PROVIDER}:`) ? ref.slice(PROVIDER.length + 1) : ref;
  // The prefix is left out of the check: `github-token:secret…` reads like a `token: <value>` assignment.
  if (looksLikeToken(bare)) {
    refuse(
      'looks like it holds a token value; name the secret scanning alert that holds it instead, and treat the value you pasted as leaked',
    );
  }
  const segments = bare.split('/');
  if (segments[0] !== 'secret-scanning') refuse('does not start with secret-scanning/');
  if (segments.length !== 4) refuse('does not have four segments');
  const [, owner, repo, alertNumber] = segments as [string, string, string, string];
  if (!OWNER.test(owner)) refuse('does not name a GitHub owner (a user or organization login)');
  if (!REPO.test(repo) || repo === '.' || repo === '..') refuse('does not name a repository');
  if (!ALERT_NUMBER.test(alertNumber) || Number(alertNumber) > 2_147_483_647) {
    refuse('does not end with an alert number (a positive integer)');
  }
  return {
    source: 'secret-scanning',
    owner,
    repo,
    repository: `${owner}/${repo}`,
    alertNumber: Number(alertNumber),
  };
}

export function describeRef(target: GitHubTokenRef): string {
  return `secret scanning alert ${target.alertNumber} in ${target.repository}`;
}

/**
 * The `secret-scanning/<owner>/<repo>/<n>` reference of a GitHub secret-scanning alert as the gateway knows it (source
 * `github`, id `<owner>/<repo>#<n>`), checked like any reference; undefined for any other alert.
 */
export function secretScanningRefOf(alert: { source: string; alertId: string }): string | undefined {
  if (alert.source !== 'github') return undefined;
  const match = /^([^/#\s]+)\/([^/#\s]+)#(\d+)$/.exec(alert.alertId);
  if (!match) return undefined;
  const ref = `secret-scanning/${match[1]}/${match[2]}/${match[3]}`;
  try {
    parseGitHubTokenRef(ref);
    return ref;
  } catch {
    return undefined;
  }
}
