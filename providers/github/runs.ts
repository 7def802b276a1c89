import { setTimeout as sleep } from 'node:timers/promises';
import type { ActionContext } from '../types';
import type { GitHubOctokit } from './client';
import { preserveRedirectedLog } from './evidence';
import type { RepositoryRef, WorkflowRef } from './refs';
import { statusOf } from './shared';

/**
 * Workflow runs: listing them (for one workflow, or for a whole repository), cancelling the ones in flight, and
 * preserving or purging their logs. Shared by the one-workflow and the repository connector.
 */

/** Run statuses that mean "may still be using the secret". */
export const IN_FLIGHT_STATUSES = ['in_progress', 'queued', 'requested', 'waiting', 'pending'] as const;
export type InFlightStatus = (typeof IN_FLIGHT_STATUSES)[number];
const CANCEL_POLL_MS = 1_000;

export interface WorkflowRun {
  id: number;
  workflow_id: number;
  status: string | null;
  created_at: string;
}

export interface RunFilter {
  status?: InFlightStatus;
  created?: string;
}

/** GitHub's `created` filter in search syntax; undefined when the window is open on both sides. */
export function createdFilter(since?: string, until?: string): string | undefined {
  if (since && until) return `${since}..${until}`;
  if (since) return `>=${since}`;
  if (until) return `<=${until}`;
  return undefined;
}

function filterParams(filter: RunFilter) {
  return {
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.created ? { created: filter.created } : {}),
    exclude_pull_requests: true,
    per_page: 100,
  };
}

export function workflowParams(ref: WorkflowRef) {
  return { owner: ref.owner, repo: ref.repo, workflow_id: ref.workflowId };
}

/** The runs of one workflow. */
export async function listWorkflowRuns(
  octokit: GitHubOctokit,
  ref: WorkflowRef,
  filter: RunFilter,
): Promise<WorkflowRun[]> {
  return octokit.paginate(octokit.rest.actions.listWorkflowRuns, {
    ...workflowParams(ref),
    ...filterParams(filter),
  });
}

/** The runs of every workflow of a repository (`GET /repos/{owner}/{repo}/actions/runs`). */
export async function listRepositoryRuns(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  filter: RunFilter,
): Promise<WorkflowRun[]> {
  return octokit.paginate(octokit.rest.actions.listWorkflowRunsForRepo, {
    owner: repository.owner,
    repo: repository.repo,
    ...filterParams(filter),
  });
}

/** Every run in one of the in-flight statuses, once each. */
export async function listInFlightRuns(
  list: (filter: RunFilter) => Promise<WorkflowRun[]>,
): Promise<WorkflowRun[]> {
  const byId = new Map<number, WorkflowRun>();
  for (const status of IN_FLIGHT_STATUSES) {
    for (const run of await list({ status })) byId.set(run.id, run);
  }
  return [...byId.values()];
}

async function currentStatus(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  runId: number,
): Promise<string | null> {
  const { data } = await octokit.rest.actions.getWorkflowRun({
    owner: repository.owner,
    repo: repository.repo,
    run_id: runId,
  });
  return data.status;
}

/** POSTs a cancel; a 409 means the run already finished, which is what was wanted. */
async function requestCancel(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  runId: number,
  kind: 'cancel' | 'force-cancel',
): Promise<'requested' | 'already-finished'> {
  try {
    const params = { owner: repository.owner, repo: repository.repo, run_id: runId };
    if (kind === 'cancel') await octokit.rest.actions.cancelWorkflowRun(params);
    else await octokit.rest.actions.forceCancelWorkflowRun(params);
    return 'requested';
  } catch (error) {
    if (statusOf(error) === 409) return 'already-finished';
    throw error;
  }
}

export interface CancelOutcome {
  cancelledRunIds: string[];
  alreadyFinishedRunIds: string[];
  forceCancelledRunIds: string[];
  stillRunningRunIds: string[];
}

/**
 * Cancels the runs, waits up to `graceMs` for them to stop (cancelling is asynchronous and a run stuck in a step can
 * ignore it), then force-cancels the ones still running when `force`.
 */
export async function cancelRuns(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  runs: WorkflowRun[],
  options: { force: boolean; graceMs: number },
): Promise<CancelOutcome> {
  const cancelled: string[] = [];
  const alreadyFinished: string[] = [];
  for (const run of runs) {
    const outcome = await requestCancel(octokit, repository, run.id, 'cancel');
    (outcome === 'requested' ? cancelled : alreadyFinished).push(String(run.id));
  }

  let stillRunning = cancelled.map(Number);
  const deadline = Date.now() + options.graceMs;
  while (stillRunning.length > 0) {
    const statuses = await Promise.all(stillRunning.map((id) => currentStatus(octokit, repository, id)));
    stillRunning = stillRunning.filter((_, index) => statuses[index] !== 'completed');
    if (stillRunning.length === 0 || Date.now() >= deadline) break;
    ctx.heartbeat({ waitingForCancellation: stillRunning.length });
    await sleep(Math.min(CANCEL_POLL_MS, Math.max(0, deadline - Date.now())), undefined, {
      signal: ctx.signal,
    });
  }
  const forceCancelled: string[] = [];
  if (options.force) {
    for (const runId of stillRunning) {
      if ((await requestCancel(octokit, repository, runId, 'force-cancel')) === 'requested') {
        forceCancelled.push(String(runId));
      }
    }
  }
  return {
    cancelledRunIds: cancelled,
    alreadyFinishedRunIds: alreadyFinished,
    forceCancelledRunIds: forceCancelled,
    stillRunningRunIds: options.force ? [] : stillRunning.map(String),
  };
}

function runLogName(repository: RepositoryRef, runId: number): string {
  return `${repository.fullName}/actions/runs/${runId}/logs.zip`;
}

function runLogDownload(repository: RepositoryRef, runId: number) {
  return {
    route: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs',
    params: { owner: repository.owner, repo: repository.repo, run_id: runId },
    name: runLogName(repository, runId),
    fallbackContentType: 'application/zip',
  };
}

export interface CaptureOutcome {
  capturedRunIds: string[];
  artifactIds: string[];
  bytes: number;
  unavailable: string[];
}

/** Copies each run's log archive and every job's plain-text log into the evidence vault. */
export async function captureRunLogs(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  runs: WorkflowRun[],
  timeoutMs: number | undefined,
): Promise<CaptureOutcome> {
  const artifactIds: string[] = [];
  const capturedRunIds: string[] = [];
  const unavailable: string[] = [];
  let bytes = 0;
  for (const run of runs) {
    const archive = await preserveRedirectedLog(octokit, ctx, runLogDownload(repository, run.id), timeoutMs);
    if (archive) {
      artifactIds.push(archive.artifactId);
      bytes += archive.bytes;
      capturedRunIds.push(String(run.id));
    } else {
      unavailable.push(`run:${run.id}`);
    }
    // Job logs are plain text and readable without unpacking; the archive alone would do, both are cheap.
    const jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRun, {
      owner: repository.owner,
      repo: repository.repo,
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
          params: { owner: repository.owner, repo: repository.repo, job_id: job.id },
          name: `${repository.fullName}/actions/runs/${run.id}/jobs/${job.id}.log`,
          fallbackContentType: 'text/plain',
        },
        timeoutMs,
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
  return { capturedRunIds, artifactIds, bytes, unavailable };
}

export interface PurgeOutcome {
  purgedRunIds: string[];
  alreadyPurgedRunIds: string[];
  skippedInProgressRunIds: string[];
  preservedArtifactIds: string[];
}

/** Deletes the logs of the completed runs, each preserved again just before (a run that finished late is kept). */
export async function purgeRunLogs(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  runs: WorkflowRun[],
  timeoutMs: number | undefined,
): Promise<PurgeOutcome> {
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
      runLogDownload(repository, run.id),
      timeoutMs,
    );
    if (!preserved) {
      alreadyPurged.push(String(run.id));
      continue;
    }
    artifactIds.push(preserved.artifactId);
    try {
      await octokit.rest.actions.deleteWorkflowRunLogs({
        owner: repository.owner,
        repo: repository.repo,
        run_id: run.id,
      });
      purged.push(String(run.id));
    } catch (error) {
      if (statusOf(error) !== 404 && statusOf(error) !== 410) throw error;
      alreadyPurged.push(String(run.id));
    }
    ctx.heartbeat({ purgedRuns: purged.length, of: runs.length });
  }
  return {
    purgedRunIds: purged,
    alreadyPurgedRunIds: alreadyPurged,
    skippedInProgressRunIds: skippedInProgress,
    preservedArtifactIds: artifactIds,
  };
}
