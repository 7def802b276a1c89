import { defineProviderPlugin } from '../plugin';
import { slackTokenCatalog } from './catalog';
import { SLACK_TOKEN_SETTINGS, slackTokenOptionsFromEnv, type SlackTokenProviderOptions } from './options';
import { secretScanningRefOf } from '../github-token/refs';
import { parseSlackTokenRef } from './refs';

/**
 * Leaked Slack tokens as an issuer (`slack-token:secret-scanning/<owner>/<repo>/<alert-number>`): the value is read
 * from the GitHub secret scanning alert inside the activity, revoked with itself through Slack's `auth.revoke`, and
 * proven dead with `auth.test`. See docs/slack-token.md.
 */
export const slackToken = defineProviderPlugin<SlackTokenProviderOptions>({
  name: 'slack-token',
  summary: 'leaked Slack tokens from secret scanning alerts: revoke bot and user tokens, prove them dead',
  roles: ['issuer'],
  catalog: slackTokenCatalog,
  settings: SLACK_TOKEN_SETTINGS,
  enabledBy:
    'GITHUB_APP_ID with GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE), an App granted secret_scanning_alerts: read (SLACK_API_URL defaults to https://slack.com/api/; no Slack credential is needed)',
  examples: { issuer: 'slack-token:secret-scanning/acme/app/42' },
  fromEnv: slackTokenOptionsFromEnv,
  // Octokit loads only in a worker that has GitHub configured, not in the CLI.
  create: (options) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./provider') as typeof import('./provider')).createSlackTokenProvider(options),
  parseRef(ref) {
    return { repository: parseSlackTokenRef(ref).repository };
  },
  // GitHub's secret type for Slack bot, user and app tokens; webhooks (slack_incoming_webhook_url) are not tokens.
  credentialRefForAlert(alert) {
    if (alert.secretKind !== 'slack_api_token') return undefined;
    const ref = secretScanningRefOf(alert);
    return ref && `slack-token:${ref}`;
  },
});
