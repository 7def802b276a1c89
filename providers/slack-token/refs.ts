import { looksLikeToken, parseGitHubTokenRef, type GitHubTokenRef } from '../github-token/refs';
import { ProviderError } from '../types';

export const PROVIDER = 'slack-token';

/** Where the leaked Slack token is read from, just in time, inside the activity: a GitHub secret scanning alert. */
export type SlackTokenRef = GitHubTokenRef;

const EXPECTED = 'expected secret-scanning/<owner>/<repo>/<alert-number>, e.g. secret-scanning/acme/app/42';

/**
 * Slack token prefixes (`xoxb-`, `xoxp-`, `xoxa-`, `xoxe-`, `xoxe.xoxp-`, `xoxc-`, `xoxs-`, `xapp-`…) anywhere:
 * no GitHub owner, repository or alert number starts like one, so a reference holding one is refused even when
 * the value is shorter than the shared scrubber's patterns.
 */
const SLACK_TOKEN_LIKE = /xox[a-z](?:-|\.xox)|xapp-/i;

/**
 * `secret-scanning/<owner>/<repo>/<alert-number>`, optionally prefixed `slack-token:` as in an incident's credential
 * reference: the github-token issuer's grammar, parsed by its parser. It never carries the value; one that looks
 * like it holds a Slack (or any other) token is refused, and no error repeats the reference. Throws a
 * ProviderError (an Error) naming what is wrong.
 */
export function parseSlackTokenRef(ref: string): SlackTokenRef {
  const bare = ref.startsWith(`${PROVIDER}:`) ? ref.slice(PROVIDER.length + 1) : ref;
  if (SLACK_TOKEN_LIKE.test(bare) || looksLikeToken(bare)) {
    throw new ProviderError(
      `ref looks like it holds a token value; name the secret scanning alert that holds it instead, and treat the value you pasted as leaked (${EXPECTED})`,
      false,
      'InvalidParams',
    );
  }
  // The github-token parser strips its own prefix: `slack-token:github-token:…` is not a reference.
  if (!bare.startsWith('secret-scanning/')) {
    throw new ProviderError(`ref does not start with secret-scanning/ (${EXPECTED})`, false, 'InvalidParams');
  }
  return parseGitHubTokenRef(bare);
}
