import { z } from 'zod';
import { connectorCatalog } from '../roles/connector';
import { issuerCatalog } from '../roles/issuer';
import type { ProviderCatalog } from '../types';

/**
 * The connector role without `cancelRuns`: n8n's public API has no way to stop an execution (only its internal,
 * session-authenticated API does), so a `connector.cancelRuns` step on n8n ends `unsupported` rather than pretend.
 * The issuer role's `rotateCredential`, for credentials n8n itself checks (a webhook's header auth).
 */
export const AUDIT_CATEGORIES = ['credentials', 'database', 'nodes', 'filesystem', 'instance'] as const;

const { disableConnector, enableConnector, captureLogs, purgeLogs } = connectorCatalog;

export const n8nCatalog = {
  disableConnector,
  enableConnector,
  captureLogs,
  purgeLogs,
  rotateCredential: issuerCatalog.rotateCredential,
  listCredentials: {
    description: 'List every credential n8n holds (ids only: those workflows use, and those none uses)',
    params: z.object({}),
    idempotent: true,
    reversible: false,
    preapprovable: true, // only reads ids and types; n8n's API never returns credential data
    lists: ['credentials', 'usedByWorkflows', 'notUsedByAnyWorkflow'],
  },
  listWorkflows: {
    description: 'List the workflows, and which of them are active',
    params: z.object({}),
    idempotent: true,
    reversible: false,
    preapprovable: true, // only reads workflow ids
    lists: ['workflows', 'active'],
  },
  audit: {
    description: "Run n8n's security audit and preserve its report in the evidence vault",
    params: z.object({
      categories: z.array(z.enum(AUDIT_CATEGORIES)).min(1).optional(),
      daysAbandonedWorkflow: z.number().int().positive().max(3650).optional(),
    }),
    idempotent: true,
    reversible: false,
    preservesEvidence: true,
    preapprovable: true, // n8n reads its own configuration; the report goes into the vault, nothing changes
  },
} satisfies ProviderCatalog;

export type N8nCatalog = typeof n8nCatalog;
