import { z } from 'zod';
import { gitHubOptionsFromEnv } from '../github/options';
import type { GitHubTokenProviderOptions } from '../github-token/options';
import type { ProofSettings } from '../proof-of-death';

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

const count = z.coerce.number().int().min(1).max(100);
const ms = z.coerce.number().int().min(0).max(3_600_000);
const envSchema = z.object({
  SLACK_API_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://slack.com/api/' })
    .optional(),
  TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS: count.optional(),
  TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS: ms.optional(),
  TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS: ms.min(1).optional(),
});
const OWN_PROOF_SETTINGS = [
  'TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS',
  'TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS',
  'TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS',
] as const;

/**
 * Options for the slack-token issuer, or undefined when no GitHub App is configured (nothing could read the alert
 * that holds the token). Reads settings only: nothing is loaded or called. Errors name the variable, never a value.
 */
export function slackTokenOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): SlackTokenProviderOptions | undefined {
  // An empty variable counts as unset (compose passes `${VAR:-}` through as "").
  const own = Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  );
  const parsed = envSchema.safeParse(own);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') || 'environment'}: ${issue?.message ?? 'invalid'}`);
  }
  const github = gitHubOptionsFromEnv(env);
  if (!github || !('appId' in github.auth)) {
    // SLACK_API_URL also serves the Slack integration: only this issuer's own settings say it was wanted.
    const stray = OWN_PROOF_SETTINGS.find((name) => name in own);
    if (stray) {
      throw new Error(
        `${stray} is set but no GitHub App is configured: the slack-token issuer reads the leaked token from a secret scanning alert and needs GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE)`,
      );
    }
    return undefined;
  }
  const values = parsed.data;
  const proof: SlackTokenProofSettings = {
    refusals: values.TOURNIQUET_SLACK_TOKEN_PROOF_REFUSALS ?? DEFAULT_SLACK_TOKEN_PROOF.refusals,
    windowMs: values.TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS ?? DEFAULT_SLACK_TOKEN_PROOF.windowMs,
    deadlineMs: values.TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS ?? DEFAULT_SLACK_TOKEN_PROOF.deadlineMs,
  };
  if (proof.deadlineMs <= proof.windowMs) {
    throw new Error(
      `TOURNIQUET_SLACK_TOKEN_PROOF_DEADLINE_MS: must exceed TOURNIQUET_SLACK_TOKEN_PROOF_WINDOW_MS (${proof.windowMs}), or no proof can ever complete`,
    );
  }
  const base = values.SLACK_API_URL ?? DEFAULT_SLACK_API_URL;
  return {
    slackApiUrl: base.endsWith('/') ? base : `${base}/`,
    github: { ...github, auth: github.auth },
    proof,
  };
}
