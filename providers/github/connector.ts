import type { z } from 'zod';
import type { connectorCatalog } from '../roles/connector';
import { ProviderError, type ActionImplementations, type ActionResult } from '../types';
import { parseConnectorRef, type WorkflowRef } from './refs';
import { repositoryConnectorActions } from './repository-connector';
import {
  cancelRuns,
  captureRunLogs,
  createdFilter,
  listInFlightRuns,
  listWorkflowRuns,
  purgeRunLogs,
  workflowParams,
} from './runs';
import { withRepository, type GitHubDeps, type Summary } from './shared';

export { createdFilter } from './runs';

type Params<K extends keyof typeof connectorCatalog> = z.infer<(typeof connectorCatalog)[K]['params']>;

const DEFAULT_CANCEL_GRACE_MS = 15_000;

/**
 * The connector role on GitHub. The reference is one workflow (`owner/repo/<workflow file or id>`) or a repository
 * (`owner/repo`): then every workflow of it that can read the leaked secret (repository-connector.ts).
 */
export function connectorActions(deps: GitHubDeps): ActionImplementations<typeof connectorCatalog> {
  const repository = repositoryConnectorActions(deps);
  const workflowSummary = (ref: WorkflowRef, workflow: { id: number; path: string }): Summary => ({
    repository: ref.fullName,
    workflowId: workflow.id,
    workflowPath: workflow.path,
  });

  return {
    async disableConnector({ ref }: Params<'disableConnector'>, ctx): Promise<ActionResult> {
      const connector = parseConnectorRef(ref);
      if (connector.scope === 'repository') return repository.disableConnector(connector, ctx);
      const workflowRef: WorkflowRef = connector;
      return withRepository(
        deps,
        ctx,
        'disableConnector',
        workflowRef,
        { actions: 'write' },
        async (octokit) => {
          const { data: workflow } = await octokit.rest.actions.getWorkflow(workflowParams(workflowRef));
          const remembered = deps.memory.recall('disableConnector', ctx);
          const previousState = (remembered?.previousState as string | undefined) ?? workflow.state;
          deps.memory.remember('disableConnector', ctx, { previousState });
          if (workflow.state === 'deleted') {
            throw new ProviderError(
              `github.disableConnector: workflow ${workflow.path} in ${workflowRef.fullName} is deleted`,
              false,
              'GitHubWorkflowDeleted',
            );
          }
          const alreadyDisabled = workflow.state !== 'active';
          if (!alreadyDisabled) await octokit.rest.actions.disableWorkflow(workflowParams(workflowRef));
          ctx.log.info(
            { repository: workflowRef.fullName, workflowId: workflow.id, alreadyDisabled },
            'workflow disabled',
          );
          return {
            summary: {
              ...workflowSummary(workflowRef, workflow),
              previousState,
              state: alreadyDisabled ? workflow.state : 'disabled_manually',
              alreadyDisabled,
            },
          };
        },
      );
    },

    async enableConnector({ ref }: Params<'enableConnector'>, ctx): Promise<ActionResult> {
      const connector = parseConnectorRef(ref);
      if (connector.scope === 'repository') return repository.enableConnector(connector, ctx);
      const workflowRef: WorkflowRef = connector;
      return withRepository(
        deps,
        ctx,
        'enableConnector',
        workflowRef,
        { actions: 'write' },
        async (octokit) => {
          const { data: workflow } = await octokit.rest.actions.getWorkflow(workflowParams(workflowRef));
          const stateBeforeContainment = ctx.undoOf?.previousState;
          if (typeof stateBeforeContainment === 'string' && stateBeforeContainment !== 'active') {
            // It was off before the incident; recovery must not switch on what its owner had switched off.
            return {
              summary: {
                ...workflowSummary(workflowRef, workflow),
                state: workflow.state,
                leftAsBefore: stateBeforeContainment,
              },
            };
          }
          if (workflow.state === 'deleted') {
            throw new ProviderError(
              `github.enableConnector: workflow ${workflow.path} in ${workflowRef.fullName} is deleted`,
              false,
              'GitHubWorkflowDeleted',
            );
          }
          const alreadyEnabled = workflow.state === 'active';
          if (!alreadyEnabled) await octokit.rest.actions.enableWorkflow(workflowParams(workflowRef));
          ctx.log.info(
            { repository: workflowRef.fullName, workflowId: workflow.id, alreadyEnabled },
            'workflow enabled',
          );
          return {
            summary: {
              ...workflowSummary(workflowRef, workflow),
              previousState: workflow.state,
              state: 'active',
              alreadyEnabled,
            },
          };
        },
      );
    },

    async cancelRuns({ ref, force }: Params<'cancelRuns'>, ctx): Promise<ActionResult> {
      const connector = parseConnectorRef(ref);
      if (connector.scope === 'repository') return repository.cancelRuns(connector, force, ctx);
      const workflowRef: WorkflowRef = connector;
      const graceMs = deps.options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
      return withRepository(deps, ctx, 'cancelRuns', workflowRef, { actions: 'write' }, async (octokit) => {
        const inFlight = await listInFlightRuns((filter) => listWorkflowRuns(octokit, workflowRef, filter));
        const outcome = await cancelRuns(octokit, ctx, workflowRef, inFlight, { force, graceMs });
        ctx.log.info(
          {
            repository: workflowRef.fullName,
            inFlight: inFlight.length,
            forceCancelled: outcome.forceCancelledRunIds.length,
          },
          'workflow runs cancelled',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            inFlight: inFlight.length,
            ...outcome,
          },
        };
      });
    },

    async captureLogs({ ref, since, until }: Params<'captureLogs'>, ctx): Promise<ActionResult> {
      const connector = parseConnectorRef(ref);
      if (connector.scope === 'repository') return repository.captureLogs(connector, { since, until }, ctx);
      const workflowRef: WorkflowRef = connector;
      return withRepository(deps, ctx, 'captureLogs', workflowRef, { actions: 'read' }, async (octokit) => {
        const runs = await listWorkflowRuns(octokit, workflowRef, { created: createdFilter(since, until) });
        const outcome = await captureRunLogs(
          octokit,
          ctx,
          workflowRef,
          runs,
          deps.options.logDownloadTimeoutMs,
        );
        ctx.log.info(
          {
            repository: workflowRef.fullName,
            runs: runs.length,
            artifacts: outcome.artifactIds.length,
            bytes: outcome.bytes,
          },
          'run logs preserved',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            runs: runs.length,
            ...outcome,
          },
        };
      });
    },

    async purgeLogs({ ref, since, until }: Params<'purgeLogs'>, ctx): Promise<ActionResult> {
      const connector = parseConnectorRef(ref);
      if (connector.scope === 'repository') return repository.purgeLogs(connector, { since, until }, ctx);
      const workflowRef: WorkflowRef = connector;
      return withRepository(deps, ctx, 'purgeLogs', workflowRef, { actions: 'write' }, async (octokit) => {
        const runs = await listWorkflowRuns(octokit, workflowRef, { created: createdFilter(since, until) });
        const outcome = await purgeRunLogs(
          octokit,
          ctx,
          workflowRef,
          runs,
          deps.options.logDownloadTimeoutMs,
        );
        ctx.log.info(
          {
            repository: workflowRef.fullName,
            purged: outcome.purgedRunIds.length,
            skippedInProgress: outcome.skippedInProgressRunIds.length,
          },
          'run logs purged after preservation',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            ...outcome,
          },
        };
      });
    },
  };
}
