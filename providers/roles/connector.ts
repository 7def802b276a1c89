import { z } from 'zod';
import type { ProviderCatalog } from '../types';

/**
 * The `connector` role: the workflow / integration that holds the leaked secret. A runbook says
 * `connector.disableConnector`; the incident's connector reference (`github:owner/repo/.github/workflows/ci.yml`,
 * `n8n:prod/42`) picks the provider that carries it out.
 */
const connectorRef = z.object({ ref: z.string().min(1) });
const timeWindow = connectorRef.extend({
  since: z.string().datetime({ offset: true }).optional(),
  until: z.string().datetime({ offset: true }).optional(),
});

export const connectorCatalog = {
  disableConnector: {
    description: 'Disable the workflow / integration that holds the secret',
    params: connectorRef,
    idempotent: true,
    reversible: true,
    undo: 'enableConnector',
  },
  enableConnector: {
    description: 'Re-enable the workflow / integration',
    params: connectorRef,
    idempotent: true,
    reversible: true,
    undo: 'disableConnector',
  },
  cancelRuns: {
    description: 'Cancel (and force-cancel) the in-flight runs of the connector',
    params: connectorRef.extend({ force: z.boolean().default(true) }),
    idempotent: true,
    reversible: false,
    preapprovable: true, // stops runs: the connector, its secrets and its logs stay as they are
  },
  captureLogs: {
    description: 'Copy the run logs of the exposure window into the evidence vault',
    params: timeWindow,
    idempotent: true,
    reversible: false,
    preservesEvidence: true,
    preapprovable: true, // only copies the logs into the evidence vault; the source is left untouched
  },
  purgeLogs: {
    description: 'Delete the run logs that exposed the secret (after evidence was captured)',
    params: timeWindow,
    idempotent: true,
    reversible: false,
    destructive: 'log-purge',
  },
} satisfies ProviderCatalog;
