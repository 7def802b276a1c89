import { readFileSync } from 'node:fs';
import { z } from 'zod';

export type GitHubAuthOptions =
  | { token: string }
  | {
      appId: number;
      /** PEM, PKCS#1 (`BEGIN RSA PRIVATE KEY`, what GitHub hands out) or PKCS#8. */
      privateKey: string;
      installationId: number;
    };

export interface GitHubThrottleTuning {
  /**
   * GitHub asks integrators to space mutating requests at least a second apart, and the throttling plugin does so
   * by default. Tests against the simulator may turn the spacing off; production should not.
   */
  writeSpacing?: 'github-recommended' | 'none';
  /** Rate-limit waits honoured per request before failing (retryably) back to the workflow engine. */
  maxRateLimitRetries?: number;
  /** A wait longer than this is not sat out inside the activity; the step fails retryably instead. */
  maxRetryAfterSeconds?: number;
  /** Milliseconds per second of `retry-after`; only tests shrink it. */
  retryAfterBaseValueMs?: number;
}

export interface GitHubRetryTuning {
  /** Retries of 5xx and network failures (rate limits are the throttle's business). */
  retries?: number;
  /** Back-off unit in milliseconds: waits are 1, 4, 9 ... times this. */
  retryAfterBaseValueMs?: number;
}

export interface GitHubProviderOptions {
  /** REST root: `https://api.github.com`, `https://ghe.example.com/api/v3`, or a simulator. */
  baseUrl: string;
  auth: GitHubAuthOptions;
  throttle?: GitHubThrottleTuning;
  retry?: GitHubRetryTuning;
  /**
   * Key of the incident fingerprint (lib/fingerprint.ts). With it, revokeLeakedToken checks that the token it is
   * about to revoke is the leaked one before sending it to GitHub.
   */
  fingerprintKey?: Buffer;
  /** Timeout for downloading one log archive from its short-lived URL. */
  logDownloadTimeoutMs?: number;
  /** How long cancelRuns waits for runs to stop after a cancel before it force-cancels them. */
  cancelGraceMs?: number;
}

const positiveInteger = z.coerce.number().int().positive();
const envSchema = z.object({
  GITHUB_API_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  GITHUB_TOKEN: z.string().min(1).optional(),
  GITHUB_APP_ID: positiveInteger.optional(),
  GITHUB_APP_PRIVATE_KEY: z.string().min(1).optional(),
  GITHUB_APP_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  GITHUB_APP_INSTALLATION_ID: positiveInteger.optional(),
});

const DEFAULT_API_URL = 'https://api.github.com';

function configurationError(field: string, problem: string): Error {
  return new Error(`${field}: ${problem}`);
}

/** A PEM pasted into one env line usually has its newlines escaped as `\n`. */
function normalisePem(pem: string): string {
  return (pem.includes('\\n') && !pem.includes('\n') ? pem.replace(/\\n/g, '\n') : pem).trim();
}

function looksLikePrivateKey(pem: string): boolean {
  return /^-----BEGIN (RSA )?PRIVATE KEY-----\n[\s\S]+\n-----END (RSA )?PRIVATE KEY-----$/.test(pem);
}

/**
 * GitHub provider options from the environment, or undefined when neither a token nor an App is configured.
 * Errors name the variable at fault, never a value.
 */
export function gitHubOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): GitHubProviderOptions | undefined {
  const relevant = Object.fromEntries(
    Object.keys(envSchema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configurationError(issue?.path.join('.') || 'environment', issue?.message ?? 'invalid');
  }
  const values = parsed.data;
  const baseUrl = (values.GITHUB_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const appVariables = [
    values.GITHUB_APP_ID,
    values.GITHUB_APP_PRIVATE_KEY,
    values.GITHUB_APP_PRIVATE_KEY_FILE,
    values.GITHUB_APP_INSTALLATION_ID,
  ];
  const appConfigured = appVariables.some((value) => value !== undefined);

  if (appConfigured) {
    if (values.GITHUB_TOKEN !== undefined) {
      throw configurationError(
        'GITHUB_TOKEN',
        'set together with GITHUB_APP_*: configure one way to authenticate',
      );
    }
    if (values.GITHUB_APP_ID === undefined)
      throw configurationError('GITHUB_APP_ID', 'required for GitHub App auth');
    if (values.GITHUB_APP_INSTALLATION_ID === undefined) {
      throw configurationError('GITHUB_APP_INSTALLATION_ID', 'required for GitHub App auth');
    }
    if (values.GITHUB_APP_PRIVATE_KEY !== undefined && values.GITHUB_APP_PRIVATE_KEY_FILE !== undefined) {
      throw configurationError(
        'GITHUB_APP_PRIVATE_KEY_FILE',
        'set together with GITHUB_APP_PRIVATE_KEY: keep one',
      );
    }
    let privateKey: string;
    let keySource: string;
    if (values.GITHUB_APP_PRIVATE_KEY_FILE !== undefined) {
      keySource = 'GITHUB_APP_PRIVATE_KEY_FILE';
      try {
        privateKey = readFileSync(values.GITHUB_APP_PRIVATE_KEY_FILE, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        throw configurationError(keySource, `cannot read the file (${code})`);
      }
    } else if (values.GITHUB_APP_PRIVATE_KEY !== undefined) {
      keySource = 'GITHUB_APP_PRIVATE_KEY';
      privateKey = values.GITHUB_APP_PRIVATE_KEY;
    } else {
      throw configurationError(
        'GITHUB_APP_PRIVATE_KEY',
        'required for GitHub App auth (or GITHUB_APP_PRIVATE_KEY_FILE)',
      );
    }
    privateKey = normalisePem(privateKey);
    if (!looksLikePrivateKey(privateKey)) throw configurationError(keySource, 'not a PEM private key');
    return {
      baseUrl,
      auth: { appId: values.GITHUB_APP_ID, privateKey, installationId: values.GITHUB_APP_INSTALLATION_ID },
    };
  }
  if (values.GITHUB_TOKEN !== undefined) return { baseUrl, auth: { token: values.GITHUB_TOKEN } };
  return undefined;
}
