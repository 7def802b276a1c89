import { defineProviderPlugin } from '../plugin';
import { gitHubTokenCatalog } from './catalog';
import { GITHUB_TOKEN_SETTINGS, gitHubTokenOptionsFromEnv, type GitHubTokenProviderOptions } from './options';
import { parseGitHubTokenRef, secretScanningRefOf } from './refs';

/**
 * Leaked GitHub tokens as an issuer (`github-token:secret-scanning/<owner>/<repo>/<alert-number>`): the value is
 * read from the secret scanning alert inside the activity, revoked through GitHub's credential revocation API (or
 * `DELETE /installation/token` for an installation token), and proven dead. See docs/github-permissions.md.
 */
export const githubToken = defineProviderPlugin<GitHubTokenProviderOptions>({
  name: 'github-token',
  summary:
    'leaked GitHub tokens from secret scanning alerts: revoke (PATs, OAuth, App tokens), prove them dead',
  roles: ['issuer'],
  catalog: gitHubTokenCatalog,
  settings: GITHUB_TOKEN_SETTINGS,
  enabledBy:
    'GITHUB_APP_ID with GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE), an App granted secret_scanning_alerts: read (a GITHUB_TOKEN alone does not turn it on)',
  examples: { issuer: 'github-token:secret-scanning/acme/app/42' },
  fromEnv: gitHubTokenOptionsFromEnv,
  // Octokit loads only in a worker that has GitHub configured, not in the CLI.
  create: (options) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./provider') as typeof import('./provider')).createGitHubTokenProvider(options),
  parseRef(ref) {
    return { repository: parseGitHubTokenRef(ref).repository };
  },
  // GitHub's secret types for its own tokens: github_personal_access_token, github_oauth_access_token, …
  credentialRefForAlert(alert) {
    if (!/^github_[a-z_]*token$/.test(alert.secretKind)) return undefined;
    const ref = secretScanningRefOf(alert);
    return ref && `github-token:${ref}`;
  },
});
