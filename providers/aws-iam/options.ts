import { z } from 'zod';
import type { SecretReader } from '../types';
import { ACCOUNT_ID } from './refs';

export const DEFAULT_REGION = 'us-east-1';
/** What AWS itself attaches to a user whose key it found exposed; revokeGrants attaches it too. */
export const DEFAULT_QUARANTINE_POLICY = 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2';

/** The settings, in the order the README lists them: the first one is what turns the provider on. */
export const AWS_IAM_SETTINGS = [
  'TOURNIQUET_AWS_ACCOUNT_ID',
  'AWS_REGION',
  'TOURNIQUET_AWS_ENDPOINT',
  'TOURNIQUET_AWS_QUARANTINE_POLICY',
  'TOURNIQUET_AWS_PROOF_REFUSALS',
  'TOURNIQUET_AWS_PROOF_WINDOW_MS',
  'TOURNIQUET_AWS_PROOF_DEADLINE_MS',
  // Read by the AWS SDK's default credential chain, never by Tourniquet (listed so deployments may pass them on).
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
] as const;

import type { ProofSettings } from '../proof-of-death';

export type { ProofSettings };

export const DEFAULT_PROOF: ProofSettings = { refusals: 3, windowMs: 60_000, deadlineMs: 300_000 };

/** A static key pair or an SDK credential provider; structurally the SDK's own types (this file loads no SDK). */
export type AwsCredentials =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | (() => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>);

export interface AwsIamProviderOptions {
  /** The only account the worker may act on (TOURNIQUET_AWS_ACCOUNT_ID); its own credentials must belong to it. */
  accountId: string;
  region: string;
  /** An emulator or a VPC endpoint (TOURNIQUET_AWS_ENDPOINT); AWS's own endpoints when absent. */
  endpoint?: string;
  quarantinePolicyArn: string;
  proof: ProofSettings;
  /**
   * Not a setting: for embedding and tests. Absent, the SDK's default chain finds the worker's credentials
   * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, container or instance role) at call time.
   */
  credentials?: AwsCredentials;
  /** Keyed by destination provider name; filled by the provider list (`deps.secretReaders`). */
  secretReaders?: Readonly<Record<string, SecretReader>>;
}

const count = z.coerce.number().int().min(1).max(100);
const ms = z.coerce.number().int().min(0).max(3_600_000);
const envSchema = z.object({
  TOURNIQUET_AWS_ACCOUNT_ID: z
    .string()
    .regex(ACCOUNT_ID, 'expected the 12-digit AWS account id the worker may act on')
    .optional(),
  TOURNIQUET_AWS_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://127.0.0.1:5000' })
    .optional(),
  TOURNIQUET_AWS_QUARANTINE_POLICY: z
    .string()
    .regex(/^arn:aws[\w-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]{1,512}$/, 'expected a managed policy ARN')
    .optional(),
  TOURNIQUET_AWS_PROOF_REFUSALS: count.optional(),
  TOURNIQUET_AWS_PROOF_WINDOW_MS: ms.optional(),
  TOURNIQUET_AWS_PROOF_DEADLINE_MS: ms.min(1).optional(),
});
const regionSchema = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'expected an AWS region, e.g. us-east-1');

function fail(issue: z.core.$ZodIssue | undefined, variable?: string): never {
  const name = variable ?? issue?.path.join('.') ?? 'environment';
  throw new Error(`${name}: ${issue?.message ?? 'invalid'}`);
}

/**
 * Options for the aws-iam provider, or undefined when TOURNIQUET_AWS_ACCOUNT_ID is unset. Reads settings only:
 * no SDK is loaded, no credential is read, nothing is called. Errors name the variable, never a credential.
 */
export function awsIamOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): AwsIamProviderOptions | undefined {
  // An empty variable counts as unset (compose passes `${VAR:-}` through as "").
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([name, value]) => name.startsWith('TOURNIQUET_AWS_') && value !== undefined && value !== '',
    ),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) fail(parsed.error.issues[0]);
  const values = parsed.data;
  if (!values.TOURNIQUET_AWS_ACCOUNT_ID) {
    const stray = Object.keys(present)[0];
    if (stray)
      throw new Error(`${stray} is set but TOURNIQUET_AWS_ACCOUNT_ID is not: set the account id too`);
    return undefined;
  }
  // AWS_REGION is shared with every other AWS tool: it is only checked once this provider is on.
  const region = regionSchema.safeParse(env.AWS_REGION || DEFAULT_REGION);
  if (!region.success) fail(region.error.issues[0], 'AWS_REGION');
  const proof: ProofSettings = {
    refusals: values.TOURNIQUET_AWS_PROOF_REFUSALS ?? DEFAULT_PROOF.refusals,
    windowMs: values.TOURNIQUET_AWS_PROOF_WINDOW_MS ?? DEFAULT_PROOF.windowMs,
    deadlineMs: values.TOURNIQUET_AWS_PROOF_DEADLINE_MS ?? DEFAULT_PROOF.deadlineMs,
  };
  if (proof.deadlineMs <= proof.windowMs) {
    throw new Error(
      `TOURNIQUET_AWS_PROOF_DEADLINE_MS: must exceed TOURNIQUET_AWS_PROOF_WINDOW_MS (${proof.windowMs}), or no proof can ever complete`,
    );
  }
  return {
    accountId: values.TOURNIQUET_AWS_ACCOUNT_ID,
    region: region.data,
    endpoint: values.TOURNIQUET_AWS_ENDPOINT,
    quarantinePolicyArn: values.TOURNIQUET_AWS_QUARANTINE_POLICY ?? DEFAULT_QUARANTINE_POLICY,
    proof,
  };
}
