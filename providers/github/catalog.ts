import { z } from 'zod';
import { connectorCatalog } from '../roles/connector';
import type { ProviderCatalog } from '../types';

/** GitHub-specific actions beyond the connector role (segmentation, secrets, audit). */
const repository = z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name');
const repo = z.object({ repository });
const ids = z.array(z.number().int().positive()).min(1);
const environment = z.string().min(1).max(255);
const secretName = z
  .string()
  .regex(
    /^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$/i,
    'expected a secret name: letters, digits, _; not starting with GITHUB_',
  );
/** `owner/repo[/path]@<40-hex commit SHA>`: a tag or branch can be moved under the pin, a commit cannot. */
const shaPinnedAction = z
  .string()
  .regex(
    /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/,
    'expected owner/repo[/path]@<40-character commit SHA>',
  );
const organization = z.string().regex(/^[\w.-]+$/, 'expected an organization login');
const instant = z.string().datetime({ offset: true });

export const githubCatalog = {
  deactivateWebhooks: {
    description: 'Deactivate the repository webhooks (their secrets are kept)',
    params: repo.extend({ hookIds: ids.optional() }),
    idempotent: true,
    reversible: true,
    undo: 'reactivateWebhooks',
  },
  reactivateWebhooks: {
    description: 'Reactivate the webhooks deactivated during containment',
    params: repo.extend({ hookIds: ids.optional() }),
    idempotent: true,
    reversible: true,
    undo: 'deactivateWebhooks',
  },
  removeDeployKeys: {
    description: 'Remove the repository deploy keys',
    params: repo.extend({ keyIds: ids.optional() }),
    idempotent: true,
    reversible: false,
  },
  restrictActions: {
    description: 'Restrict the repository to selected, SHA-pinned actions (previous settings remembered)',
    params: repo.extend({
      allowed: z.array(shaPinnedAction).default([]),
      githubOwnedAllowed: z.boolean().default(false),
    }),
    idempotent: true,
    reversible: true,
    undo: 'restoreActionsSettings',
  },
  restoreActionsSettings: {
    description: 'Restore the Actions settings that were in force before containment',
    params: repo,
    idempotent: true,
    reversible: true,
    undo: 'restrictActions',
  },
  disableActions: {
    description: 'Turn GitHub Actions off for the repository (previous settings remembered)',
    params: repo,
    idempotent: true,
    reversible: true,
    undo: 'restoreActionsSettings',
  },
  removeRunners: {
    description: 'Remove the self-hosted runners registered to the repository',
    params: repo.extend({ runnerIds: ids.optional() }),
    idempotent: true,
    reversible: false,
  },
  requireEnvironmentReviewers: {
    description:
      'Require approval by the given reviewers before jobs may use the environment (and its secrets)',
    params: repo.extend({
      environment,
      reviewers: z
        .array(z.object({ type: z.enum(['User', 'Team']), id: z.number().int().positive() }))
        .min(1)
        .max(6),
    }),
    idempotent: true,
    reversible: true,
    undo: 'restoreEnvironmentReviewers',
  },
  restoreEnvironmentReviewers: {
    description: 'Restore the environment reviewers that were in force before containment',
    params: repo.extend({ environment }),
    idempotent: true,
    reversible: true,
    undo: 'requireEnvironmentReviewers',
  },
  suspendInstallation: {
    description: "Suspend the connector's GitHub App installation (blocks its API access and webhooks)",
    params: z.object({ installationId: z.number().int().positive().optional() }),
    idempotent: true,
    reversible: true,
    undo: 'unsuspendInstallation',
  },
  unsuspendInstallation: {
    description: 'Lift the suspension of the GitHub App installation',
    params: z.object({ installationId: z.number().int().positive().optional() }),
    idempotent: true,
    reversible: true,
    undo: 'suspendInstallation',
  },
  listSecrets: {
    description: 'List the repository, environment and organization Actions secrets the repository can read',
    params: repo.extend({ environments: z.array(environment).optional() }),
    idempotent: true,
    reversible: false,
    preapprovable: true, // only reads secret names (never values)
  },
  deleteSecret: {
    description: 'Delete an Actions secret from the repository or one of its environments',
    params: repo.extend({ name: secretName, environment: environment.optional() }),
    idempotent: true,
    reversible: false,
  },
  revokeLeakedToken: {
    description:
      'Revoke a GitHub-issued token reported by a secret scanning alert (credential revocation API)',
    params: repo.extend({
      alertNumber: z.number().int().positive(),
      fingerprint: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
    }),
    idempotent: true,
    reversible: false,
  },
  captureAuditLog: {
    description: 'Copy the organization audit log of the exposure window into the evidence vault',
    params: z.object({
      organization,
      since: instant.optional(),
      until: instant.optional(),
      repository: repository.optional(),
    }),
    idempotent: true,
    reversible: false,
    preservesEvidence: true,
    preapprovable: true, // only copies the audit log into the evidence vault
  },
} satisfies ProviderCatalog;

/** Everything the `github` provider offers: the connector role plus the GitHub-specific actions. */
export const gitHubProviderCatalog = { ...connectorCatalog, ...githubCatalog };
export type GitHubProviderCatalog = typeof gitHubProviderCatalog;
