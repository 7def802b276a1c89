import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { connectorCatalog } from '../roles/connector';
import { ProviderError, type ActionImplementations, type ActionResult } from '../types';
import type { GitHubOctokit } from './client';
import { preserveRedirectedLog } from './evidence';
import { parseWorkflowRef, type WorkflowRef } from './refs';
import { statusOf, withRepository, type GitHubDeps, type Summary } from './shared';

type Params<K extends keyof typeof connectorCatalog> = z.infer<(typeof connectorCatalog)[K]['params']>;

/** Run statuses that mean "may still be using the secret". */
const IN_FLIGHT_STATUSES = ['in_progress', 'queued', 'requested', 'waiting', 'pending'] as const;
const DEFAULT_CANCEL_GRACE_MS = 15_000;
const CANCEL_POLL_MS = 1_000;

interface WorkflowRun {
  id: number;
  status: string | null;
  created_at: string;
}

function workflowParams(ref: WorkflowRef) {
  return { owner: ref.owner, repo: ref.repo, workflow_id: ref.workflowId };
}

/** GitHub's `created` filter in search syntax; undefined when the window is open on both sides. */
export function createdFilter(since?: string, until?: string): string | undefined {
  if (since && until) return `${since}..${until}`;
  if (since) return `>=${since}`;
  if (until) return `<=${until}`;
  return undefined;
}

async function listRuns(
  octokit: GitHubOctokit,
  ref: WorkflowRef,
  filter: { status?: (typeof IN_FLIGHT_STATUSES)[number]; created?: string },
): Promise<WorkflowRun[]> {
  return octokit.paginate(octokit.rest.actions.listWorkflowRuns, {
    ...workflowParams(ref),
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.created ? { created: filter.created } : {}),
    exclude_pull_requests: true,
    per_page: 100,
  });
}

async function listInFlightRuns(octokit: GitHubOctokit, ref: WorkflowRef): Promise<WorkflowRun[]> {
  const byId = new Map<number, WorkflowRun>();
  for (const status of IN_FLIGHT_STATUSES) {
    for (const run of await listRuns(octokit, ref, { status })) byId.set(run.id, run);
  }
  return [...byId.values()];
}

async function currentStatus(
  octokit: GitHubOctokit,
  ref: WorkflowRef,
  runId: number,
): Promise<string | null> {
  const { data } = await octokit.rest.actions.getWorkflowRun({
    owner: ref.owner,
    repo: ref.repo,
    run_id: runId,
  });
  return data.status;
}

/** POSTs a cancel; a 409 means the run already finished, which is what was wanted. */
async function requestCancel(
  octokit: GitHubOctokit,
  ref: WorkflowRef,
  runId: number,
  kind: 'cancel' | 'force-cancel',
): Promise<'requested' | 'already-finished'> {
  try {
    const params = { owner: ref.owner, repo: ref.repo, run_id: runId };
    if (kind === 'cancel') await octokit.rest.actions.cancelWorkflowRun(params);
    else await octokit.rest.actions.forceCancelWorkflowRun(params);
    return 'requested';
  } catch (error) {
    if (statusOf(error) === 409) return 'already-finished';
    throw error;
  }
}

function runLogName(ref: WorkflowRef, runId: number): string {
  return `${ref.fullName}/actions/runs/${runId}/logs.zip`;
}

export function connectorActions(deps: GitHubDeps): ActionImplementations<typeof connectorCatalog> {
  const workflowSummary = (ref: WorkflowRef, workflow: { id: number; path: string }): Summary => ({
    repository: ref.fullName,
    workflowId: workflow.id,
    workflowPath: workflow.path,
  });

  return {
    async disableConnector({ ref }: Params<'disableConnector'>, ctx): Promise<ActionResult> {
      const workflowRef = parseWorkflowRef(ref);
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
      const workflowRef = parseWorkflowRef(ref);
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
      const workflowRef = parseWorkflowRef(ref);
      const graceMs = deps.options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
      return withRepository(deps, ctx, 'cancelRuns', workflowRef, { actions: 'write' }, async (octokit) => {
        const inFlight = await listInFlightRuns(octokit, workflowRef);
        const cancelled: string[] = [];
        const alreadyFinished: string[] = [];
        for (const run of inFlight) {
          const outcome = await requestCancel(octokit, workflowRef, run.id, 'cancel');
          (outcome === 'requested' ? cancelled : alreadyFinished).push(String(run.id));
        }

        // Cancelling is asynchronous and a run stuck in a step can ignore it: wait a little, then force.
        let stillRunning = cancelled.map(Number);
        const deadline = Date.now() + graceMs;
        while (stillRunning.length > 0) {
          const statuses = await Promise.all(
            stillRunning.map((id) => currentStatus(octokit, workflowRef, id)),
          );
          stillRunning = stillRunning.filter((_, index) => statuses[index] !== 'completed');
          if (stillRunning.length === 0 || Date.now() >= deadline) break;
          ctx.heartbeat({ waitingForCancellation: stillRunning.length });
          await sleep(Math.min(CANCEL_POLL_MS, Math.max(0, deadline - Date.now())), undefined, {
            signal: ctx.signal,
          });
        }
        const forceCancelled: string[] = [];
        if (force) {
          for (const runId of stillRunning) {
            if ((await requestCancel(octokit, workflowRef, runId, 'force-cancel')) === 'requested') {
              forceCancelled.push(String(runId));
            }
          }
        }
        ctx.log.info(
          {
            repository: workflowRef.fullName,
            inFlight: inFlight.length,
            forceCancelled: forceCancelled.length,
          },
          'workflow runs cancelled',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            inFlight: inFlight.length,
            cancelledRunIds: cancelled,
            alreadyFinishedRunIds: alreadyFinished,
            forceCancelledRunIds: forceCancelled,
            stillRunningRunIds: force ? [] : stillRunning.map(String),
          },
        };
      });
    },

    async captureLogs({ ref, since, until }: Params<'captureLogs'>, ctx): Promise<ActionResult> {
      const workflowRef = parseWorkflowRef(ref);
      return withRepository(deps, ctx, 'captureLogs', workflowRef, { actions: 'read' }, async (octokit) => {
        const runs = await listRuns(octokit, workflowRef, { created: createdFilter(since, until) });
        const artifactIds: string[] = [];
        const capturedRunIds: string[] = [];
        const unavailable: string[] = [];
        let bytes = 0;
        for (const run of runs) {
          const archive = await preserveRedirectedLog(
            octokit,
            ctx,
            {
              route: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs',
              params: { owner: workflowRef.owner, repo: workflowRef.repo, run_id: run.id },
              name: runLogName(workflowRef, run.id),
              fallbackContentType: 'application/zip',
            },
            deps.options.logDownloadTimeoutMs,
          );
          if (archive) {
            artifactIds.push(archive.artifactId);
            bytes += archive.bytes;
            capturedRunIds.push(String(run.id));
          } else {
            unavailable.push(`run:${run.id}`);
          }
          // Job logs are plain text and readable without unpacking; the archive alone would do, both are cheap.
          const jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRun, {
            owner: workflowRef.owner,
            repo: workflowRef.repo,
            run_id: run.id,
            filter: 'all',
            per_page: 100,
          });
          for (const job of jobs) {
            const jobLog = await preserveRedirectedLog(
              octokit,
              ctx,
              {
                route: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs',
                params: { owner: workflowRef.owner, repo: workflowRef.repo, job_id: job.id },
                name: `${workflowRef.fullName}/actions/runs/${run.id}/jobs/${job.id}.log`,
                fallbackContentType: 'text/plain',
              },
              deps.options.logDownloadTimeoutMs,
            );
            if (jobLog) {
              artifactIds.push(jobLog.artifactId);
              bytes += jobLog.bytes;
            } else {
              unavailable.push(`job:${job.id}`);
            }
          }
          ctx.heartbeat({ capturedRuns: capturedRunIds.length, of: runs.length });
        }
        ctx.log.info(
          { repository: workflowRef.fullName, runs: runs.length, artifacts: artifactIds.length, bytes },
          'run logs preserved',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            runs: runs.length,
            capturedRunIds,
            artifactIds,
            bytes,
            unavailable,
          },
        };
      });
    },

    async purgeLogs({ ref, since, until }: Params<'purgeLogs'>, ctx): Promise<ActionResult> {
      const workflowRef = parseWorkflowRef(ref);
      return withRepository(deps, ctx, 'purgeLogs', workflowRef, { actions: 'write' }, async (octokit) => {
        const runs = await listRuns(octokit, workflowRef, { created: createdFilter(since, until) });
        const purged: string[] = [];
        const alreadyPurged: string[] = [];
        const skippedInProgress: string[] = [];
        const artifactIds: string[] = [];
        for (const run of runs) {
          if (run.status !== 'completed') {
            skippedInProgress.push(String(run.id));
            continue;
          }
          // A run that finished after captureLogs ran has never been preserved: no log is deleted unseen.
          const preserved = await preserveRedirectedLog(
            octokit,
            ctx,
            {
              route: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs',
              params: { owner: workflowRef.owner, repo: workflowRef.repo, run_id: run.id },
              name: runLogName(workflowRef, run.id),
              fallbackContentType: 'application/zip',
            },
            deps.options.logDownloadTimeoutMs,
          );
          if (!preserved) {
            alreadyPurged.push(String(run.id));
            continue;
          }
          artifactIds.push(preserved.artifactId);
          try {
            await octokit.rest.actions.deleteWorkflowRunLogs({
              owner: workflowRef.owner,
              repo: workflowRef.repo,
              run_id: run.id,
            });
            purged.push(String(run.id));
          } catch (error) {
            if (statusOf(error) !== 404 && statusOf(error) !== 410) throw error;
            alreadyPurged.push(String(run.id));
          }
          ctx.heartbeat({ purgedRuns: purged.length, of: runs.length });
        }
        ctx.log.info(
          {
            repository: workflowRef.fullName,
            purged: purged.length,
            skippedInProgress: skippedInProgress.length,
          },
          'run logs purged after preservation',
        );
        return {
          summary: {
            repository: workflowRef.fullName,
            workflow: String(workflowRef.workflowId),
            purgedRunIds: purged,
            alreadyPurgedRunIds: alreadyPurged,
            skippedInProgressRunIds: skippedInProgress,
            preservedArtifactIds: artifactIds,
          },
        };
      });
    },
  };
}
