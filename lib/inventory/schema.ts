import { z } from 'zod';

/**
 * The credential inventory's file format: which credentials exist, who issued them, where their copies live, who
 * owns them and how a detector may name them. Every object is strict: a typo (`consumer:` for `consumers:`)
 * must be an error, never a consumer silently left out of a rotation.
 */

export const CREDENTIAL_KINDS = [
  'aws-access-key',
  'github-pat',
  'github-app-key',
  'slack-bot-token',
  'postgres-password',
  'n8n-api-key',
  'generic',
] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** Which half of a two-part credential a consumer holds (an AWS access key id and its secret access key). */
export const CONSUMER_PARTS = ['accessKeyId', 'secretAccessKey'] as const;
export type ConsumerPart = (typeof CONSUMER_PARTS)[number];

/** The credential kinds whose value comes in parts a consumer may hold one of. */
export const KINDS_WITH_PARTS: readonly CredentialKind[] = ['aws-access-key'];

export const credentialId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a lower-case slug such as aws-ci-deployer');

const providerName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, 'expected a provider name of lower-case letters, digits and dashes');

/** `<provider>:<reference>`; the provider, when this build has it, checks the reference itself. */
export const providerRef = z
  .string()
  .max(512)
  .regex(/^[a-z][a-z0-9-]*:\S/, 'expected <provider>:<reference>, e.g. postgres:app_user@appdb');

const ownerRole = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case role name');

/** `owner/repo` (GitLab-style nested groups allowed: `group/sub/project`). */
export const repositoryName = z
  .string()
  .max(256)
  .regex(/^[\w.-]+(\/[\w.-]+)+$/, 'expected owner/repo');

/** Numbers in YAML (`githubAppId: 123456`) are the same id as strings. */
const idText = (pattern: RegExp, message: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()])
    .transform(String)
    .pipe(z.string().regex(pattern, message));

export const awsAccessKeyId = z
  .string()
  .regex(
    /^(AKIA|ASIA)[A-Z0-9]{12,124}$/,
    'expected an AWS access key id: AKIA or ASIA and 12 to 124 upper-case letters or digits',
  );

export const fingerprintHex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'expected a keyed fingerprint: 64 hex digits')
  .transform((value) => value.toLowerCase());

export const githubSecretIdentifier = z.strictObject({
  repository: repositoryName,
  name: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a GitHub Actions secret name such as DEPLOY_TOKEN'),
});
export type GitHubSecretIdentifier = z.infer<typeof githubSecretIdentifier>;

/**
 * What a detector may report about a secret besides its fingerprint. Each one names exactly one credential of
 * the inventory. The same shape is what an alert hands the resolver.
 */
export const identifiersSchema = z.strictObject({
  /** The public half of an AWS access key (`AKIA…`): secret scanners report it next to the secret. */
  awsAccessKeyId: awsAccessKeyId.optional(),
  /** The GitHub Actions secrets that hold this value: a leak reported by secret name resolves here. */
  githubSecrets: z.array(githubSecretIdentifier).optional(),
  /** The GitHub App whose private key this is. */
  githubAppId: idText(/^\d{1,12}$/, 'expected a numeric GitHub App id').optional(),
  /** The n8n credential object that stores this value. */
  n8nCredentialId: idText(/^[A-Za-z0-9_-]{1,64}$/, 'expected an n8n credential id').optional(),
});
export type CredentialIdentifiers = z.infer<typeof identifiersSchema>;

export const consumerSchema = z.strictObject({
  provider: providerName,
  target: z.string().min(1).max(512),
  part: z.enum(CONSUMER_PARTS).optional(),
});
export type Consumer = z.infer<typeof consumerSchema>;

export const locationSchema = z.strictObject({
  repository: repositoryName,
  /** A workflow file (`deploy.yml` or `.github/workflows/deploy.yml`); absent: every workflow of the repository. */
  workflow: z.string().min(1).max(256).optional(),
});
export type CredentialLocation = z.infer<typeof locationSchema>;

export const credentialSchema = z.strictObject({
  id: credentialId,
  kind: z.enum(CREDENTIAL_KINDS),
  description: z.string().max(500).optional(),
  /** Who minted it and can rotate or revoke it: `aws-iam:<account>/<user>`, `postgres:<role>@<db>`, … */
  issuer: providerRef,
  /** Where copies live: the rotation step's `destinations`. */
  consumers: z.array(consumerSchema).default([]),
  /** Roles of the owners file who answer for it. */
  owners: z.array(ownerRole).min(1, 'expected at least one owner role'),
  /** What it can reach downstream, for segmentation. */
  reaches: z.array(z.string().trim().min(1, 'expected a non-empty name').max(256)).default([]),
  identifiers: identifiersSchema.default({}),
  /** Where runs can read it: an alert seen there may be about it. */
  locations: z.array(locationSchema).default([]),
  /** Keyed fingerprint (`lib/fingerprint.ts`, this data dir's key) of its current value. */
  fingerprint: fingerprintHex.optional(),
});
export type Credential = z.infer<typeof credentialSchema>;

/** The file itself; each credential is checked on its own so one bad entry does not hide another's errors. */
export const inventoryFileSchema = z.preprocess(
  (raw) => (raw === null || raw === undefined ? {} : raw),
  z.strictObject({
    credentials: z.array(z.unknown()).default([]),
  }),
);
