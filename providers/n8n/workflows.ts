import { ProviderError, type ActionContext, type ActionResult, type SummaryValue } from '../types';
import type { N8nClient } from './client';
import { connectorRefText, type ConnectorScope } from './refs';

export type Summary = Record<string, SummaryValue>;

export interface NodeCredential {
  id?: string | null;
  name?: string;
}

export interface N8nNode {
  name?: string;
  type?: string;
  credentials?: Record<string, NodeCredential | string>;
  [key: string]: unknown;
}

export interface N8nWorkflow {
  id: string;
  name: string;
  active: boolean;
  nodes?: N8nNode[];
  connections?: unknown;
  settings?: Record<string, unknown>;
  versionId?: string;
  activeVersionId?: string | null;
  activeVersion?: { versionId?: string; nodes?: N8nNode[] } | null;
}

/** More than this and listing refuses rather than hold an unbounded instance in memory. */
export const MAX_WORKFLOWS = 10_000;
const PAGE = 250;

/**
 * What a state-changing action saw before it changed anything, per step execution (idempotency key): a retry after a
 * lost answer would otherwise take its own change for the state before. In memory: across a worker restart a retry
 * falls back to what it reads, which errs on the side of staying contained.
 */
export class StepMemory {
  private readonly entries = new Map<string, string[]>();

  constructor(private readonly capacity = 2000) {}

  recall(action: string, ctx: ActionContext): string[] {
    return this.entries.get(`${action}:${ctx.idempotencyKey}`) ?? [];
  }

  remember(action: string, ctx: ActionContext, ids: Iterable<string>): void {
    const key = `${action}:${ctx.idempotencyKey}`;
    this.entries.delete(key);
    this.entries.set(key, [...new Set(ids)]);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}

export async function listWorkflows(
  client: N8nClient,
  ctx: ActionContext,
  filter: { active?: boolean } = {},
): Promise<N8nWorkflow[]> {
  const found: N8nWorkflow[] = [];
  // Pinned data is test data pasted into the editor: large, and as likely as anything to hold a secret.
  for await (const page of client.pages<N8nWorkflow>(ctx, '/workflows', {
    limit: PAGE,
    excludePinnedData: true,
    active: filter.active,
  })) {
    found.push(...page.filter((workflow) => typeof workflow?.id === 'string'));
    if (found.length > MAX_WORKFLOWS) {
      throw new ProviderError(
        `n8n: more than ${MAX_WORKFLOWS} workflows; name the workflow or credential in the reference`,
        false,
        'N8nTooManyWorkflows',
      );
    }
    ctx.heartbeat({ workflowsListed: found.length });
  }
  return found;
}

export async function getWorkflow(
  client: N8nClient,
  ctx: ActionContext,
  id: string,
): Promise<N8nWorkflow | undefined> {
  const { data } = await client.json<N8nWorkflow>(ctx, 'GET', `/workflows/${encodeURIComponent(id)}`, {
    query: { excludePinnedData: true },
    accept: [404],
  });
  return data;
}

function nodeCredentials(node: N8nNode): { type: string; id: string; name?: string }[] {
  if (!node || typeof node.credentials !== 'object' || node.credentials === null) return [];
  return Object.entries(node.credentials).flatMap(([type, value]) =>
    typeof value === 'object' && value !== null && typeof value.id === 'string'
      ? [{ type, id: value.id, name: typeof value.name === 'string' ? value.name : undefined }]
      : [],
  );
}

/** Every credential a workflow's nodes name, in its saved version and in the version that runs. */
export function credentialsOf(workflow: N8nWorkflow): { type: string; id: string; name?: string }[] {
  const nodes = [...(workflow.nodes ?? []), ...(workflow.activeVersion?.nodes ?? [])];
  return nodes.flatMap(nodeCredentials);
}

export function usesCredential(workflow: N8nWorkflow, credentialIds: ReadonlySet<string>): boolean {
  return credentialsOf(workflow).some((credential) => credentialIds.has(credential.id));
}

/** The workflows a connector reference names; a missing single workflow is an error that will not heal. */
export async function workflowsIn(
  client: N8nClient,
  ctx: ActionContext,
  scope: ConnectorScope,
): Promise<N8nWorkflow[]> {
  if (scope.kind === 'workflow') {
    const workflow = await getWorkflow(client, ctx, scope.workflowId);
    if (!workflow) {
      throw new ProviderError(`n8n: workflow ${scope.workflowId} not found`, false, 'N8nNotFound');
    }
    return [workflow];
  }
  const all = await listWorkflows(client, ctx);
  if (scope.kind === 'platform') return all;
  return all.filter((workflow) => usesCredential(workflow, new Set([scope.credentialId])));
}

function selectionText(scope: ConnectorScope): string {
  if (scope.kind === 'platform') return 'every active workflow (platform freeze)';
  if (scope.kind === 'credential') return `the workflows whose nodes use credential ${scope.credentialId}`;
  return `workflow ${scope.workflowId}`;
}

/** `POST /workflows/{id}/(de)activate`; undefined when the workflow is gone. */
async function switchWorkflow(
  client: N8nClient,
  ctx: ActionContext,
  id: string,
  to: 'activate' | 'deactivate',
): Promise<N8nWorkflow | undefined> {
  const { data } = await client.json<N8nWorkflow>(ctx, 'POST', `/workflows/${encodeURIComponent(id)}/${to}`, {
    accept: [404],
  });
  return data;
}

/** Ids as a summary carries them; anything that is not an id is dropped. */
export function idList(value: SummaryValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((id) => /^[A-Za-z0-9_-]{1,64}$/.test(id)) : [];
}

export function workflowActions(client: N8nClient, memory: StepMemory) {
  /** Deactivates exactly the workflows an earlier recovery reactivated (this call undoes that recovery). */
  async function deactivateWhatRecoveryActivated(
    ctx: ActionContext,
    scope: ConnectorScope,
    ids: string[],
  ): Promise<ActionResult> {
    const deactivated: string[] = [];
    const alreadyInactive: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const before = await getWorkflow(client, ctx, id);
      if (!before) missing.push(id);
      else if (!before.active) alreadyInactive.push(id);
      else if (await switchWorkflow(client, ctx, id, 'deactivate')) deactivated.push(id);
      else missing.push(id);
    }
    ctx.log.info(
      { ref: connectorRefText(scope), deactivated: deactivated.length },
      'n8n workflows deactivated again (undoing their recovery)',
    );
    return {
      summary: {
        ref: connectorRefText(scope),
        scope: scope.kind,
        selection: 'the workflows the recovery reactivated',
        deactivatedWorkflowIds: deactivated,
        alreadyInactiveWorkflowIds: alreadyInactive,
        missingWorkflowIds: missing,
        note: `deactivated ${deactivated.length} of the ${ids.length} workflows the recovery reactivated`,
      },
    };
  }

  return {
    async disableConnector(scope: ConnectorScope, ctx: ActionContext): Promise<ActionResult> {
      const undoingRecovery = ctx.undoOf?.reactivatedWorkflowIds;
      if (undoingRecovery !== undefined) {
        return deactivateWhatRecoveryActivated(ctx, scope, idList(undoingRecovery));
      }
      const workflows = await workflowsIn(client, ctx, scope);
      // A retry must not take what its first attempt deactivated for "inactive before the incident".
      const ours = new Set(memory.recall('disableConnector', ctx));
      const active = workflows.filter((workflow) => workflow.active);
      memory.remember('disableConnector', ctx, [...ours, ...active.map((workflow) => workflow.id)]);

      const deactivated = workflows.filter((workflow) => ours.has(workflow.id) && !workflow.active);
      const vanished: string[] = [];
      for (const workflow of active) {
        if (await switchWorkflow(client, ctx, workflow.id, 'deactivate')) deactivated.push(workflow);
        else vanished.push(workflow.id);
        ctx.heartbeat({ workflowsDeactivated: deactivated.length, of: active.length });
      }
      const deactivatedIds = new Set(deactivated.map((workflow) => workflow.id));
      const alreadyInactive = workflows
        .filter((workflow) => !workflow.active && !deactivatedIds.has(workflow.id))
        .map((workflow) => workflow.id);
      const note =
        workflows.length === 0
          ? `nothing to deactivate: no workflow matches (${selectionText(scope)})`
          : deactivated.length === 0
            ? `nothing to deactivate: ${selectionText(scope)} were already inactive`
            : `deactivated ${deactivated.length} of ${workflows.length} workflows: ${selectionText(scope)}`;
      ctx.log.info(
        { ref: connectorRefText(scope), workflows: workflows.length, deactivated: deactivated.length },
        'n8n workflows deactivated',
      );
      return {
        summary: {
          ref: connectorRefText(scope),
          scope: scope.kind,
          selection: selectionText(scope),
          workflowCount: workflows.length,
          deactivatedWorkflowIds: [...deactivatedIds],
          alreadyInactiveWorkflowIds: alreadyInactive,
          vanishedWorkflowIds: vanished,
          note,
        },
      };
    },

    async enableConnector(scope: ConnectorScope, ctx: ActionContext): Promise<ActionResult> {
      const undo = ctx.undoOf;
      let ids: string[];
      if (undo && Array.isArray(undo.deactivatedWorkflowIds)) {
        if (undo.ref !== connectorRefText(scope)) {
          throw new ProviderError(
            `n8n.enableConnector: the step it undoes acted on ${String(undo.ref)}, not ${connectorRefText(scope)}`,
            false,
            'N8nNothingToRestore',
          );
        }
        ids = idList(undo.deactivatedWorkflowIds);
      } else if (scope.kind === 'workflow') {
        ids = [scope.workflowId];
      } else {
        // Reactivating "everything" would switch on workflows their owners had switched off before the incident.
        throw new ProviderError(
          `n8n.enableConnector: ${connectorRefText(scope)} names several workflows: reactivating needs the summary of the step that deactivated them (ctx.undoOf.deactivatedWorkflowIds; a recovery step says \`undoes: <that step>\`)`,
          false,
          'N8nNothingToRestore',
        );
      }
      const reactivated: string[] = [];
      const alreadyActive: string[] = [];
      const missing: string[] = [];
      const failed: string[] = [];
      for (const id of ids) {
        const before = await getWorkflow(client, ctx, id);
        if (!before) {
          missing.push(id);
          continue;
        }
        if (before.active) {
          alreadyActive.push(id);
          continue;
        }
        try {
          if (await switchWorkflow(client, ctx, id, 'activate')) reactivated.push(id);
          else missing.push(id);
        } catch (error) {
          // n8n refuses to activate a workflow it cannot run (no trigger, a credential gone): say which, go on.
          if (!(error instanceof ProviderError) || error.retryable) throw error;
          failed.push(`${id}: ${error.message}`);
        }
        ctx.heartbeat({ workflowsReactivated: reactivated.length, of: ids.length });
      }
      ctx.log.info(
        { ref: connectorRefText(scope), reactivated: reactivated.length, of: ids.length },
        'n8n workflows reactivated',
      );
      if (failed.length > 0) {
        throw new ProviderError(
          `n8n.enableConnector: reactivated ${reactivated.length} of ${ids.length}; n8n refused ${failed.join('; ')}`,
          false,
          'N8nActivationRefused',
        );
      }
      return {
        summary: {
          ref: connectorRefText(scope),
          scope: scope.kind,
          reactivatedWorkflowIds: reactivated,
          alreadyActiveWorkflowIds: alreadyActive,
          missingWorkflowIds: missing,
          // Inactive before the incident: their owners switched them off, recovery leaves them off.
          leftAsBefore: idList(undo?.alreadyInactiveWorkflowIds),
          note:
            ids.length === 0
              ? 'nothing to reactivate: the containment deactivated no workflow'
              : `reactivated ${reactivated.length} of the ${ids.length} workflows the containment deactivated`,
        },
      };
    },
  };
}
