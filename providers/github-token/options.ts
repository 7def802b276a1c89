import { gitHubOptionsFromEnv, type GitHubAuthOptions, type GitHubProviderOptions } from '../github/options';
import { proofFromEnv, type ProofSettings } from '../proof-of-death';

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

/**
 * The `github` provider's options when they authenticate as a GitHub App, the only way to read a secret scanning
 * alert's secret; undefined otherwise.
 */
export function gitHubAppOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): GitHubTokenProviderOptions['github'] | undefined {
  const github = gitHubOptionsFromEnv(env);
  if (!github || !('appId' in github.auth)) return undefined;
  return { ...github, auth: github.auth };
}

/**
 * Options for the github-token issuer, or undefined when no GitHub App is configured. Reads settings only: nothing
 * is loaded or called. Errors name the variable, never a value.
 */
export function gitHubTokenOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): GitHubTokenProviderOptions | undefined {
  const proof = proofFromEnv(env, 'GITHUB_TOKEN', DEFAULT_TOKEN_PROOF);
  const github = gitHubAppOptionsFromEnv(env);
  if (!github) {
    const stray = proof.set[0];
    if (stray) {
      throw new Error(
        `${stray} is set but no GitHub App is configured: the github-token issuer needs GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE)`,
      );
    }
    return undefined;
  }
  return { github, proof: proof.settings() };
}
