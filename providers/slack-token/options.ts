import { z } from 'zod';
import { gitHubAppOptionsFromEnv, type GitHubTokenProviderOptions } from '../github-token/options';
import { proofFromEnv, type ProofSettings } from '../proof-of-death';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/**
 * The settings, in the order the README lists them. The GitHub App ones are the `github` provider's own: the same
 * App, granted `secret_scanning_alerts: read`, reads the alerts (as for the github-token issuer). Slack needs no
 * credential of ours: a leaked token is revoked with itself.
 */
export const SLACK_TOKEN_SETTINGS = [
  'SLACK_API_URL',
  'GITHUB_API_URL',
  'GITHUB_APP_ID',
  'GITHUB_APP_INSTALLATION_ID',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_APP_PRIVATE_KEY_FILE',
  'TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS',
  'TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS',
  'TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS',
] as const;

/**
 * How verifyRevoked proves the leaked token dead: `refusals` refusals of `auth.test` in a row spanning `windowMs`,
 * within `deadlineMs`.
 */
export type SlackTokenProofSettings = ProofSettings;

export const DEFAULT_SLACK_TOKEN_PROOF: SlackTokenProofSettings = {
  refusals: 3,
  windowMs: 30_000,
  deadlineMs: 300_000,
};

export interface SlackTokenProviderOptions {
  /** The Slack Web API base, ending with `/` (`https://slack.com/api/`). */
  slackApiUrl: string;
  /** The `github` provider's client options, App auth only: they read the alert. */
  github: GitHubTokenProviderOptions['github'];
  proof: SlackTokenProofSettings;
  /** How long one Slack call may take. */
  requestTimeoutMs?: number;
}

const slackApiUrlSchema = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://slack.com/api/' })
  .optional();

/**
 * Options for the slack-token issuer, or undefined when no GitHub App is configured (nothing could read the alert
 * that holds the token). Reads settings only: nothing is loaded or called. Errors name the variable, never a value.
 */
export function slackTokenOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): SlackTokenProviderOptions | undefined {
  // An empty variable counts as unset (compose passes `${VAR:-}` through as ""). Checked before the proof
  // settings, so that an invalid SLACK_API_URL is the one reported when several are.
  const slackApiUrl = slackApiUrlSchema.safeParse(env.SLACK_API_URL || undefined);
  if (!slackApiUrl.success) {
    throw new Error(`SLACK_API_URL: ${slackApiUrl.error.issues[0]?.message ?? 'invalid'}`);
  }
  const proof = proofFromEnv(env, 'SLACK_TOKEN', DEFAULT_SLACK_TOKEN_PROOF);
  const github = gitHubAppOptionsFromEnv(env);
  if (!github) {
    // SLACK_API_URL also serves the Slack integration: only this issuer's own settings say it was wanted.
    const stray = proof.set[0];
    if (stray) {
      throw new Error(
        `${stray} is set but no GitHub App is configured: the slack-token issuer reads the leaked token from a secret scanning alert and needs GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE)`,
      );
    }
    return undefined;
  }
  const settings = proof.settings();
  const base = slackApiUrl.data ?? DEFAULT_SLACK_API_URL;
  return {
    slackApiUrl: base.endsWith('/') ? base : `${base}/`,
    github,
    proof: settings,
  };
}
