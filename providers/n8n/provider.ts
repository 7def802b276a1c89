import { defineProvider, ProviderError, type Provider } from '../types';
import { auditActions } from './audit';
import { n8nCatalog, type N8nCatalog } from './catalog';
import { N8nClient } from './client';
import { credentialActions } from './credentials';
import { executionActions } from './executions';
import type { N8nProviderOptions } from './options';
import { N8N, parseConnectorRef, parseCredentialTarget, parseIssuerRef } from './refs';
import { listWorkflows, StepMemory, workflowActions } from './workflows';

export { n8nCatalog, type N8nCatalog } from './catalog';
export type N8nProvider = Provider<N8nCatalog>;

/**
 * The `n8n` provider, on n8n's public REST API (`/api/v1`, `X-N8N-API-KEY`): workflows as connectors (`<workflowId>`,
 * `*`, `credential/<credentialId>`), their executions as logs, n8n credentials as a destination and, for the ones
 * n8n itself checks, as an issuer. docs/n8n.md lists the endpoints and the API key scopes.
 */
export function createN8nProvider(options: N8nProviderOptions): N8nProvider {
  const client = new N8nClient(options);
  const memory = new StepMemory();
  const workflows = workflowActions(client, memory);
  const executions = executionActions(client);
  const credentials = credentialActions(client, memory);
  const audit = auditActions(client);
  return defineProvider(
    N8N,
    n8nCatalog,
    {
      disableConnector: async (params, ctx) => workflows.disableConnector(parseConnectorRef(params.ref), ctx),
      enableConnector: async (params, ctx) => workflows.enableConnector(parseConnectorRef(params.ref), ctx),
      captureLogs: async (params, ctx) =>
        executions.captureLogs(
          parseConnectorRef(params.ref),
          { since: params.since, until: params.until },
          ctx,
        ),
      purgeLogs: async (params, ctx) =>
        executions.purgeLogs(
          parseConnectorRef(params.ref),
          { since: params.since, until: params.until },
          ctx,
        ),
      async rotateCredential(params, ctx) {
        const issuer = parseIssuerRef(params.ref);
        if (issuer.kind === 'api-key') {
          throw new ProviderError(
            `n8n.rotateCredential: ${params.ref} is an n8n API key: n8n's public API cannot create, rotate or delete API keys (only the signed-in user can, in Settings > n8n API)`,
            false,
            'N8nNotSupported',
          );
        }
        return credentials.rotateCredential(issuer, params.destinations, ctx);
      },
      listCredentials: async (_params, ctx) => credentials.listCredentials(ctx),
      async listWorkflows(_params, ctx) {
        const all = await listWorkflows(client, ctx);
        const ids = all.map((workflow) => workflow.id).sort();
        const active = all
          .filter((workflow) => workflow.active)
          .map((workflow) => workflow.id)
          .sort();
        ctx.log.info({ workflows: ids.length, active: active.length }, 'n8n workflows listed');
        return {
          summary: {
            workflows: ids,
            active,
            count: ids.length,
            note: `${ids.length} workflows, ${active.length} active`,
          },
        };
      },
      audit: async (params, ctx) => audit.audit(params, ctx),
    },
    {
      storeSecret: async (target, value, ctx) =>
        credentials.storeSecret(parseCredentialTarget(target), value, ctx),
    },
  );
}
