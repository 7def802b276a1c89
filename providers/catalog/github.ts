import { z } from 'zod';
import type { ProviderCatalog } from '../types';

/** GitHub-specific actions beyond the connector role (segmentation, secrets, audit). */
const repository = z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name');
const repo = z.object({ repository });

export const githubCatalog = {
  deactivateWebhooks: {
    description: 'Deactivate the repository webhooks (their secrets are kept)',
    params: repo,
    idempotent: true,
    reversible: true,
    undo: 'reactivateWebhooks',
  },
  reactivateWebhooks: {
    description: 'Reactivate the webhooks deactivated during containment',
    params: repo,
    idempotent: true,
    reversible: true,
    undo: 'deactivateWebhooks',
  },
  removeDeployKeys: {
    description: 'Remove the repository deploy keys',
    params: repo,
    idempotent: true,
    reversible: false,
  },
  restrictActions: {
    description: 'Restrict the repository to selected, SHA-pinned actions (previous settings remembered)',
    params: repo.extend({ allowed: z.array(z.string()).default([]) }),
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
} satisfies ProviderCatalog;
