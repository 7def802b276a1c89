import type { ProofSettings } from '../proof-of-death';
import { z } from 'zod';
import { gitHubOptionsFromEnv, type GitHubAuthOptions, type GitHubProviderOptions } from '../github/options';

/**
 * The settings, in the order the README lists them. The GitHub App ones are the `github` provider's own: the same
 * App (with `secret_scanning_alerts: read` added) reads the alerts. A GITHUB_TOKEN alone does not turn this issuer
 * on (see docs/github-permissions.md).
 */
export const GITHUB_TOKEN_SETTINGS = [
  'GITHUB_API_URL',
  'GITHUB_APP_ID',
  'GITHUB_APP_INSTALLATION_ID',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_APP_PRIVATE_KEY_FILE',
  'TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS',
  'TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS',
  'TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS',
] as const;

/**
 * How verifyRevoked proves the leaked token dead: `refusals` refusals (401) in a row spanning `windowMs`, within
 * `deadlineMs`. GitHub may process a revocation asynchronously: the token may still work for a moment after the 202.
 */
export type TokenProofSettings = ProofSettings;

export const DEFAULT_TOKEN_PROOF: TokenProofSettings = { refusals: 3, windowMs: 30_000, deadlineMs: 300_000 };

export type GitHubAppAuth = Extract<GitHubAuthOptions, { appId: number }>;

export interface GitHubTokenProviderOptions {
  /** The `github` provider's client options, App auth only. */
  github: GitHubProviderOptions & { auth: GitHubAppAuth };
  proof: TokenProofSettings;
}

const count = z.coerce.number().int().min(1).max(100);
const ms = z.coerce.number().int().min(0).max(3_600_000);
const envSchema = z.object({
  TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS: count.optional(),
  TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS: ms.optional(),
  TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS: ms.min(1).optional(),
});

/**
 * Options for the github-token issuer, or undefined when no GitHub App is configured. Reads settings only: nothing
 * is loaded or called. Errors name the variable, never a value.
 */
export function gitHubTokenOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): GitHubTokenProviderOptions | undefined {
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
    const stray = Object.keys(own)[0];
    if (stray) {
      throw new Error(
        `${stray} is set but no GitHub App is configured: the github-token issuer needs GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE)`,
      );
    }
    return undefined;
  }
  const values = parsed.data;
  const proof: TokenProofSettings = {
    refusals: values.TOURNIQUET_GITHUB_TOKEN_PROOF_REFUSALS ?? DEFAULT_TOKEN_PROOF.refusals,
    windowMs: values.TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS ?? DEFAULT_TOKEN_PROOF.windowMs,
    deadlineMs: values.TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS ?? DEFAULT_TOKEN_PROOF.deadlineMs,
  };
  if (proof.deadlineMs <= proof.windowMs) {
    throw new Error(
      `TOURNIQUET_GITHUB_TOKEN_PROOF_DEADLINE_MS: must exceed TOURNIQUET_GITHUB_TOKEN_PROOF_WINDOW_MS (${proof.windowMs}), or no proof can ever complete`,
    );
  }
  return { github: { ...github, auth: github.auth }, proof };
}
