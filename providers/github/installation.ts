import type { z } from 'zod';
import type { githubCatalog } from './catalog';
import { ProviderError, type ActionContext, type ActionResult } from '../types';
import { toProviderError } from './client';
import type { GitHubDeps } from './shared';

type Catalog = typeof githubCatalog;
type Params<K extends keyof Catalog> = z.infer<Catalog[K]['params']>;

function installationIdOf(deps: GitHubDeps, action: string, requested: number | undefined): number {
  const installationId = requested ?? deps.clients.installationId;
  if (installationId === undefined) {
    throw new ProviderError(
      `github.${action}: no installationId given and no GitHub App configured`,
      false,
      'Configuration',
    );
  }
  return installationId;
}

/**
 * Suspension goes through `/app/installations/{id}/suspended`, which GitHub only serves to the App itself (JWT):
 * these actions reach installations of the App Tourniquet is configured as.
 */
export function installationActions(deps: GitHubDeps) {
  async function readSuspended(action: string, ctx: ActionContext, installationId: number) {
    const octokit = await deps.clients.asApp(ctx, action);
    try {
      const { data } = await octokit.rest.apps.getInstallation({ installation_id: installationId });
      return {
        octokit,
        suspended: data.suspended_at !== null && data.suspended_at !== undefined,
        account: data.account,
      };
    } catch (error) {
      throw toProviderError(error, action);
    }
  }

  return {
    async suspendInstallation(
      { installationId }: Params<'suspendInstallation'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const id = installationIdOf(deps, 'suspendInstallation', installationId);
      const { octokit, suspended } = await readSuspended('suspendInstallation', ctx, id);
      const remembered = deps.memory.recall('suspendInstallation', ctx);
      const wasSuspended =
        typeof remembered?.wasSuspended === 'boolean' ? remembered.wasSuspended : suspended;
      deps.memory.remember('suspendInstallation', ctx, { wasSuspended });
      try {
        if (!suspended) await octokit.rest.apps.suspendInstallation({ installation_id: id });
      } catch (error) {
        throw toProviderError(error, 'suspendInstallation');
      }
      ctx.log.info({ installationId: id, alreadySuspended: suspended }, 'GitHub App installation suspended');
      return { summary: { installationId: id, wasSuspended, suspended: true, alreadySuspended: suspended } };
    },

    async unsuspendInstallation(
      { installationId }: Params<'unsuspendInstallation'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const id = installationIdOf(deps, 'unsuspendInstallation', installationId);
      if (ctx.undoOf?.wasSuspended === true) {
        // Suspended before the incident: recovery leaves it the way its owner had it.
        return { summary: { installationId: id, suspended: true, leftAsBefore: true } };
      }
      const { octokit, suspended } = await readSuspended('unsuspendInstallation', ctx, id);
      try {
        if (suspended) await octokit.rest.apps.unsuspendInstallation({ installation_id: id });
      } catch (error) {
        throw toProviderError(error, 'unsuspendInstallation');
      }
      ctx.log.info({ installationId: id, alreadyActive: !suspended }, 'GitHub App installation unsuspended');
      return { summary: { installationId: id, suspended: false, alreadyActive: !suspended } };
    },
  };
}
