import { ProviderError, type ActionContext, type ActionResult } from '../types';
import type { GitHubOctokit, Permissions } from './client';
import type { RepositoryRef } from './refs';
import {
  cancelRuns as cancelInFlightRuns,
  captureRunLogs,
  createdFilter,
  listInFlightRuns,
  listRepositoryRuns,
  purgeRunLogs,
  type WorkflowRun,
} from './runs';
import { statusOf, stringList, withRepository, type GitHubDeps, type Summary } from './shared';
import { MAX_WORKFLOW_FILE_BYTES, secretNamesIn, workflowReadsSecret } from './workflow-secrets';

/**
 * The repository as the connector (`github:owner/repo`): an alert said which repository leaked the secret but not
 * which workflow (every GitHub secret-scanning alert). Each action acts on every workflow of the repository that can
 * read the secret: when the incident's credential is stored as an Actions secret of that repository, the workflows
 * whose file mentions it (`secrets.NAME`, `secrets['NAME']`) or hands on every secret (`secrets: inherit`,
 * `toJSON(secrets)`, `secrets.*`, an index computed at run time); when its name is not known, every workflow.
 *
 * The workflow list comes from `GET /repos/{owner}/{repo}/actions/workflows`; only files directly under
 * `.github/workflows/` are read (`GET /repos/{owner}/{repo}/contents/{path}`, default branch), each at most
 * MAX_WORKFLOW_FILE_BYTES, as text. A workflow whose file cannot be read that way (too large, a symlink, missing on
 * the default branch) counts as reading the secret. Workflows outside `.github/workflows/` (GitHub's own dynamic
 * workflows, such as Dependabot's) are never acted on, and reported as skipped.
 */

const WORKFLOWS_DIRECTORY = '.github/workflows/';
/** More than this and the step refuses: a repository-wide switch (`github.disableActions`) is the tool then. */
export const MAX_REPOSITORY_WORKFLOWS = 500;
const CONTENT_READS_AT_ONCE = 6;

interface RepoWorkflow {
  id: number;
  name: string;
  path: string;
  state: string;
}

interface Reader extends RepoWorkflow {
  /** Why it counts as reading the secret. */
  by: string;
}

interface Selection {
  readers: Reader[];
  notReading: RepoWorkflow[];
  /** Not under `.github/workflows/`: never acted on. */
  outside: RepoWorkflow[];
}

/**
 * The incident's credential destinations, when the worker hands them to the step (`credentialDestinations` on the
 * action context): Actions secrets of the repository among them name the secret. Checked here like any input.
 */
export function credentialDestinationsOf(ctx: ActionContext): unknown {
  return (ctx as ActionContext & { credentialDestinations?: unknown }).credentialDestinations;
}

/**
 * `file`: directly under `.github/workflows/`, a YAML file name Tourniquet reads. `odd`: under it, but not a file it
 * reads (nested, `..`, control characters): acted on by id, never fetched. `outside`: not a workflow file at all.
 */
export function workflowPathKind(path: string): 'file' | 'odd' | 'outside' {
  if (!path.startsWith(WORKFLOWS_DIRECTORY)) return 'outside';
  const file = path.slice(WORKFLOWS_DIRECTORY.length);
  const unsafe = [...file].some((char) => char === '/' || char === '\\' || char < ' ' || char === '\u007f');
  return file.length > 255 || unsafe || !/\.ya?ml$/i.test(file) ? 'odd' : 'file';
}

async function listWorkflows(octokit: GitHubOctokit, repository: RepositoryRef): Promise<RepoWorkflow[]> {
  const found: RepoWorkflow[] = [];
  for await (const page of octokit.paginate.iterator(octokit.rest.actions.listRepoWorkflows, {
    owner: repository.owner,
    repo: repository.repo,
    per_page: 100,
  })) {
    for (const workflow of page.data) {
      found.push({ id: workflow.id, name: workflow.name, path: workflow.path, state: workflow.state });
    }
    if (found.length > MAX_REPOSITORY_WORKFLOWS) {
      throw new ProviderError(
        `${repository.fullName} has more than ${MAX_REPOSITORY_WORKFLOWS} workflows: contain it with github.disableActions, or name the workflow in the connector (owner/repo/<workflow>)`,
        false,
        'GitHubTooManyWorkflows',
      );
    }
  }
  return found;
}

type WorkflowText = { text: string } | { unreadable: string };

/**
 * The file's text from the default branch, or why it was not read. Only the answer to this one request is used:
 * `download_url`, `git_url` and `_links` are never followed, and an answer about another path (GitHub resolves a
 * symlink inside the repository) or anything but a file is not read.
 */
async function readWorkflowFile(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  path: string,
): Promise<WorkflowText> {
  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.getContent({
      owner: repository.owner,
      repo: repository.repo,
      path,
    }));
  } catch (error) {
    if (statusOf(error) === 404) return { unreadable: 'no such file on the default branch' };
    // Blobs over 1 MB are not served here (403 `too_large`): not a missing permission.
    if (statusOf(error) === 403 && isTooLarge(error)) return { unreadable: 'larger than 1 MB' };
    throw error;
  }
  if (Array.isArray(data) || !data || typeof data !== 'object') return { unreadable: 'a directory' };
  const item = data as {
    type?: unknown;
    path?: unknown;
    size?: unknown;
    encoding?: unknown;
    content?: unknown;
  };
  if (item.type !== 'file') {
    const kind =
      item.type === 'symlink' || item.type === 'submodule' || item.type === 'dir' ? item.type : 'thing';
    return { unreadable: `a ${kind}, not a file` };
  }
  if (item.path !== path) return { unreadable: 'a link to another file' };
  if (typeof item.size !== 'number' || item.size > MAX_WORKFLOW_FILE_BYTES) {
    return { unreadable: `larger than ${MAX_WORKFLOW_FILE_BYTES / 1024} KiB` };
  }
  if (item.encoding !== 'base64' || typeof item.content !== 'string') return { unreadable: 'not base64' };
  // Base64 with line breaks: at most 4/3 of the size plus a newline every 60 characters.
  if (item.content.length > Math.ceil(item.size / 3) * 4 * 1.1 + 16)
    return { unreadable: 'content larger than its size' };
  const bytes = Buffer.from(item.content, 'base64');
  if (bytes.length !== item.size) return { unreadable: 'content does not match its size' };
  return { text: bytes.toString('utf8') };
}

function isTooLarge(error: unknown): boolean {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  if (!data || typeof data !== 'object') return false;
  const errors = (data as { errors?: unknown }).errors;
  return (
    Array.isArray(errors) &&
    errors.some((entry) => (entry as { code?: unknown } | null)?.code === 'too_large')
  );
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Which of `candidates` can read one of `names` (every one, when no name is known). */
async function selectReaders(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  candidates: RepoWorkflow[],
  names: string[],
): Promise<Selection> {
  const selection: Selection = { readers: [], notReading: [], outside: [] };
  const wanted = new Set(names);
  let read = 0;
  const verdicts = await mapLimit(candidates, CONTENT_READS_AT_ONCE, async (workflow) => {
    const kind = workflowPathKind(workflow.path);
    if (kind === 'outside') return { workflow, kind } as const;
    if (names.length === 0) return { workflow, kind, by: 'the secret name is not known' } as const;
    if (kind === 'odd')
      return { workflow, kind, by: 'not read: not a file directly under .github/workflows/' };
    const file = await readWorkflowFile(octokit, repository, workflow.path);
    read += 1;
    ctx.heartbeat({ workflowFilesRead: read, of: candidates.length });
    if ('unreadable' in file) return { workflow, kind, by: `not read: ${file.unreadable}` };
    const use = workflowReadsSecret(file.text, wanted);
    return { workflow, kind, by: use.reads ? use.by : undefined };
  });
  for (const verdict of verdicts) {
    if (verdict.kind === 'outside') selection.outside.push(verdict.workflow);
    else if (verdict.by !== undefined) selection.readers.push({ ...verdict.workflow, by: verdict.by });
    else selection.notReading.push(verdict.workflow);
  }
  return selection;
}

/** A path as summaries, logs and Slack show it: whoever names the files chooses it, so no control characters. */
function shown(path: string): string {
  const printable = [...path].map((char) => (char < ' ' || char === '\u007f' ? '?' : char)).join('');
  return printable.length > 300 ? `${printable.slice(0, 299)}…` : printable;
}
const paths = (workflows: RepoWorkflow[]) => workflows.map((workflow) => shown(workflow.path));
const becauseOf = (readers: Reader[]) => readers.map((reader) => `${shown(reader.path)}: ${reader.by}`);

function selectionText(names: string[]): string {
  return names.length > 0
    ? `workflows that can read ${names.join(', ')}`
    : 'every workflow (the secret name is not known)';
}

/** Reading workflow files takes Contents: read, and only when there is a name to look for. */
function permissionsFor(actions: 'read' | 'write', names: string[]): Permissions {
  return names.length > 0 ? { actions, contents: 'read' } : { actions };
}

function workflowIdParams(repository: RepositoryRef, id: number) {
  return { owner: repository.owner, repo: repository.repo, workflow_id: id };
}

/** Ids as a summary carries them: decimal strings; anything else is dropped. */
function workflowIds(value: unknown): number[] {
  if (!Array.isArray(value)) return [];
  return value.filter((id): id is string => typeof id === 'string' && /^\d{1,15}$/.test(id)).map(Number);
}

/** The runs of the workflows that read the secret, and what was left out. */
async function runsOfReaders(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  runs: WorkflowRun[],
  names: string[],
): Promise<{ runs: WorkflowRun[]; selection: Selection; unlistedRunIds: string[] }> {
  const empty: Selection = { readers: [], notReading: [], outside: [] };
  if (runs.length === 0) return { runs, selection: empty, unlistedRunIds: [] };
  const workflows = await listWorkflows(octokit, repository);
  const withRuns = new Set(runs.map((run) => run.workflow_id));
  const selection = await selectReaders(
    octokit,
    ctx,
    repository,
    workflows.filter((workflow) => withRuns.has(workflow.id)),
    names,
  );
  const readerIds = new Set(selection.readers.map((reader) => reader.id));
  const listed = new Set(workflows.map((workflow) => workflow.id));
  return {
    runs: runs.filter((run) => readerIds.has(run.workflow_id)),
    selection,
    unlistedRunIds: runs.filter((run) => !listed.has(run.workflow_id)).map((run) => String(run.id)),
  };
}

/** The runs created in the window whose workflows read the secret: what capturing and purging logs act on. */
async function readerRunsIn(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  repository: RepositoryRef,
  window: { since?: string; until?: string },
  names: string[],
): Promise<{ runs: WorkflowRun[]; selection: Selection; unlistedRunIds: string[] }> {
  const runs = await listRepositoryRuns(octokit, repository, {
    created: createdFilter(window.since, window.until),
  });
  return runsOfReaders(octokit, ctx, repository, runs, names);
}

function selectionSummary(repository: RepositoryRef, names: string[], selection: Selection): Summary {
  return {
    scope: 'repository',
    repository: repository.fullName,
    secretNames: names,
    selection: selectionText(names),
    workflows: paths(selection.readers),
    readsSecretBecause: becauseOf(selection.readers),
    leftWorkflows: paths(selection.notReading),
    skippedWorkflows: paths(selection.outside),
  };
}

/**
 * Runs `act` with the secret names the incident knows for the repository. An installation (or token) that may not
 * read the workflow files (Contents: read) does not stop containment: the action then acts on every workflow,
 * more than needed rather than nothing, and says so.
 */
async function withSecretNames(
  action: string,
  repository: RepositoryRef,
  ctx: ActionContext,
  act: (names: string[]) => Promise<ActionResult>,
): Promise<ActionResult> {
  const names = secretNamesIn(repository, credentialDestinationsOf(ctx));
  if (names.length === 0) return act([]);
  try {
    return await act(names);
  } catch (error) {
    if (!(error instanceof ProviderError) || error.code !== 'GitHubMissingPermission') throw error;
    ctx.log.warn(
      { repository: repository.fullName, action, error: error.message },
      'workflow files not readable: acting on every workflow of the repository',
    );
    const result = await act([]);
    return {
      summary: {
        ...result.summary,
        secretNames: names,
        selection:
          `every workflow: the files that read ${names.join(', ')} could not be told apart (${error.message})`.slice(
            0,
            1_000,
          ),
      },
    };
  }
}

export function repositoryConnectorActions(deps: GitHubDeps) {
  /** Disables exactly the workflows an earlier recovery re-enabled (this call undoes that recovery). */
  async function disableWhatRecoveryEnabled(
    octokit: GitHubOctokit,
    ctx: ActionContext,
    repository: RepositoryRef,
    ids: number[],
  ): Promise<ActionResult> {
    const disabled: RepoWorkflow[] = [];
    const alreadyOff: RepoWorkflow[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      let workflow: RepoWorkflow;
      try {
        ({ data: workflow } = await octokit.rest.actions.getWorkflow(workflowIdParams(repository, id)));
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        missing.push(String(id));
        continue;
      }
      if (workflow.state === 'deleted') missing.push(String(id));
      else if (workflow.state !== 'active') alreadyOff.push(workflow);
      else {
        await octokit.rest.actions.disableWorkflow(workflowIdParams(repository, id));
        disabled.push(workflow);
      }
    }
    ctx.log.info(
      { repository: repository.fullName, disabled: disabled.length },
      'repository workflows disabled again (undoing their recovery)',
    );
    return {
      summary: {
        scope: 'repository',
        repository: repository.fullName,
        selection: 'the workflows the recovery re-enabled',
        disabledWorkflowIds: disabled.map((workflow) => String(workflow.id)),
        disabledWorkflows: paths(disabled),
        alreadyOffWorkflows: paths(alreadyOff),
        missingWorkflowIds: missing,
        note: `disabled ${disabled.length} of the ${ids.length} workflows the recovery re-enabled`,
      },
    };
  }

  const impl = {
    async disableConnector(
      repository: RepositoryRef,
      ctx: ActionContext,
      names: string[],
    ): Promise<ActionResult> {
      const undoingRecovery = ctx.undoOf?.enabledWorkflowIds;
      return withRepository(
        deps,
        ctx,
        'disableConnector',
        repository,
        permissionsFor('write', names),
        async (octokit) => {
          if (undoingRecovery !== undefined) {
            return disableWhatRecoveryEnabled(octokit, ctx, repository, workflowIds(undoingRecovery));
          }
          const workflows = await listWorkflows(octokit, repository);
          // A retry of this step must not take what its first attempt disabled for "already off before".
          const remembered = new Set(
            stringList(deps.memory.recall('disableConnector', ctx)?.disablingWorkflowIds),
          );
          const ours = workflows.filter(
            (workflow) =>
              remembered.has(String(workflow.id)) &&
              workflow.state !== 'active' &&
              workflow.state !== 'deleted',
          );
          const active = workflows.filter((workflow) => workflow.state === 'active');
          const selection = await selectReaders(octokit, ctx, repository, active, names);
          deps.memory.remember('disableConnector', ctx, {
            disablingWorkflowIds: [
              ...new Set([...remembered, ...selection.readers.map((reader) => String(reader.id))]),
            ],
          });

          const disabled: Array<RepoWorkflow & { by?: string }> = [...ours];
          const vanished: string[] = [];
          for (const reader of selection.readers) {
            try {
              await octokit.rest.actions.disableWorkflow(workflowIdParams(repository, reader.id));
              disabled.push(reader);
            } catch (error) {
              if (statusOf(error) !== 404) throw error;
              vanished.push(shown(reader.path));
            }
            ctx.heartbeat({ workflowsDisabled: disabled.length, of: selection.readers.length + ours.length });
          }
          const oursIds = new Set(disabled.map((workflow) => workflow.id));
          const alreadyOff = workflows.filter(
            (workflow) =>
              workflow.state !== 'active' &&
              workflow.state !== 'deleted' &&
              !oursIds.has(workflow.id) &&
              workflowPathKind(workflow.path) !== 'outside',
          );
          const note =
            workflows.length === 0
              ? `nothing to disable: ${repository.fullName} has no workflows`
              : disabled.length === 0
                ? names.length > 0
                  ? `nothing to disable: no active workflow of ${repository.fullName} reads ${names.join(', ')}`
                  : `nothing to disable: ${repository.fullName} has no active workflow`
                : `disabled ${disabled.length} of the ${workflows.length} workflows of ${repository.fullName}`;
          ctx.log.info(
            {
              repository: repository.fullName,
              workflows: workflows.length,
              disabled: disabled.length,
              secretNames: names,
            },
            'repository workflows disabled',
          );
          return {
            summary: {
              scope: 'repository',
              repository: repository.fullName,
              secretNames: names,
              selection: selectionText(names),
              workflowCount: workflows.length,
              disabledWorkflowIds: disabled.map((workflow) => String(workflow.id)),
              disabledWorkflows: paths(disabled),
              readsSecretBecause: becauseOf(selection.readers),
              leftActiveWorkflows: paths(selection.notReading),
              alreadyOffWorkflows: paths(alreadyOff),
              skippedWorkflows: paths(selection.outside),
              vanishedWorkflows: vanished,
              note,
            },
          };
        },
      );
    },

    async enableConnector(repository: RepositoryRef, ctx: ActionContext): Promise<ActionResult> {
      const undo = ctx.undoOf;
      if (!undo || !Array.isArray(undo.disabledWorkflowIds)) {
        throw new ProviderError(
          `github.enableConnector: ${repository.fullName} is a repository connector: re-enabling needs the summary of the step that disabled its workflows (ctx.undoOf.disabledWorkflowIds; a recovery step says \`undoes: <that step>\`), so that workflows that were off before the incident stay off`,
          false,
          'GitHubNothingToRestore',
        );
      }
      if (
        typeof undo.repository !== 'string' ||
        undo.repository.toLowerCase() !== repository.fullName.toLowerCase()
      ) {
        throw new ProviderError(
          `github.enableConnector: the step it undoes acted on ${String(undo.repository)}, not ${repository.fullName}`,
          false,
          'GitHubNothingToRestore',
        );
      }
      const ids = workflowIds(undo.disabledWorkflowIds);
      return withRepository(
        deps,
        ctx,
        'enableConnector',
        repository,
        { actions: 'write' },
        async (octokit) => {
          const enabled: RepoWorkflow[] = [];
          const alreadyEnabled: RepoWorkflow[] = [];
          const missing: string[] = [];
          for (const id of ids) {
            let workflow: RepoWorkflow;
            try {
              ({ data: workflow } = await octokit.rest.actions.getWorkflow(workflowIdParams(repository, id)));
            } catch (error) {
              if (statusOf(error) !== 404) throw error;
              missing.push(String(id));
              continue;
            }
            if (workflow.state === 'deleted') missing.push(String(id));
            else if (workflow.state === 'active') alreadyEnabled.push(workflow);
            else {
              await octokit.rest.actions.enableWorkflow(workflowIdParams(repository, id));
              enabled.push(workflow);
            }
          }
          ctx.log.info(
            { repository: repository.fullName, enabled: enabled.length, of: ids.length },
            'repository workflows re-enabled',
          );
          return {
            summary: {
              scope: 'repository',
              repository: repository.fullName,
              enabledWorkflowIds: enabled.map((workflow) => String(workflow.id)),
              enabledWorkflows: paths(enabled),
              alreadyEnabledWorkflows: paths(alreadyEnabled),
              missingWorkflowIds: missing,
              // Off before the incident: their owners switched them off, recovery does not switch them on.
              leftAsBefore: stringList(undo.alreadyOffWorkflows),
              note:
                ids.length === 0
                  ? `nothing to re-enable: the containment disabled no workflow of ${repository.fullName}`
                  : `re-enabled ${enabled.length} of the ${ids.length} workflows the containment disabled`,
            },
          };
        },
      );
    },

    async cancelRuns(
      repository: RepositoryRef,
      force: boolean,
      ctx: ActionContext,
      names: string[],
    ): Promise<ActionResult> {
      const graceMs = deps.options.cancelGraceMs ?? 15_000;
      return withRepository(
        deps,
        ctx,
        'cancelRuns',
        repository,
        permissionsFor('write', names),
        async (octokit) => {
          const inFlight = await listInFlightRuns((filter) =>
            listRepositoryRuns(octokit, repository, filter),
          );
          const chosen = await runsOfReaders(octokit, ctx, repository, inFlight, names);
          const outcome = await cancelInFlightRuns(octokit, ctx, repository, chosen.runs, { force, graceMs });
          ctx.log.info(
            {
              repository: repository.fullName,
              inFlight: chosen.runs.length,
              forceCancelled: outcome.forceCancelledRunIds.length,
            },
            'repository workflow runs cancelled',
          );
          return {
            summary: {
              ...selectionSummary(repository, names, chosen.selection),
              inFlight: chosen.runs.length,
              ...outcome,
              skippedRunIds: chosen.unlistedRunIds,
              note:
                chosen.runs.length === 0
                  ? `nothing to cancel: no run in flight in ${repository.fullName} reads the secret`
                  : `cancelled ${chosen.runs.length} runs in ${repository.fullName}`,
            },
          };
        },
      );
    },

    async captureLogs(
      repository: RepositoryRef,
      window: { since?: string; until?: string },
      ctx: ActionContext,
      names: string[],
    ): Promise<ActionResult> {
      return withRepository(
        deps,
        ctx,
        'captureLogs',
        repository,
        permissionsFor('read', names),
        async (octokit) => {
          const chosen = await readerRunsIn(octokit, ctx, repository, window, names);
          const outcome = await captureRunLogs(
            octokit,
            ctx,
            repository,
            chosen.runs,
            deps.options.logDownloadTimeoutMs,
          );
          ctx.log.info(
            {
              repository: repository.fullName,
              runs: chosen.runs.length,
              artifacts: outcome.artifactIds.length,
              bytes: outcome.bytes,
            },
            'repository run logs preserved',
          );
          return {
            summary: {
              ...selectionSummary(repository, names, chosen.selection),
              runs: chosen.runs.length,
              ...outcome,
            },
          };
        },
      );
    },

    async purgeLogs(
      repository: RepositoryRef,
      window: { since?: string; until?: string },
      ctx: ActionContext,
      names: string[],
    ): Promise<ActionResult> {
      return withRepository(
        deps,
        ctx,
        'purgeLogs',
        repository,
        permissionsFor('write', names),
        async (octokit) => {
          const chosen = await readerRunsIn(octokit, ctx, repository, window, names);
          const outcome = await purgeRunLogs(
            octokit,
            ctx,
            repository,
            chosen.runs,
            deps.options.logDownloadTimeoutMs,
          );
          ctx.log.info(
            {
              repository: repository.fullName,
              purged: outcome.purgedRunIds.length,
              skippedInProgress: outcome.skippedInProgressRunIds.length,
            },
            'repository run logs purged after preservation',
          );
          return { summary: { ...selectionSummary(repository, names, chosen.selection), ...outcome } };
        },
      );
    },
  };

  return {
    disableConnector(repository: RepositoryRef, ctx: ActionContext): Promise<ActionResult> {
      // Undoing a recovery disables what the recovery re-enabled: no names, no files.
      if (ctx.undoOf?.enabledWorkflowIds !== undefined) return impl.disableConnector(repository, ctx, []);
      return withSecretNames('disableConnector', repository, ctx, (names) =>
        impl.disableConnector(repository, ctx, names),
      );
    },
    enableConnector: (repository: RepositoryRef, ctx: ActionContext) => impl.enableConnector(repository, ctx),
    cancelRuns(repository: RepositoryRef, force: boolean, ctx: ActionContext): Promise<ActionResult> {
      return withSecretNames('cancelRuns', repository, ctx, (names) =>
        impl.cancelRuns(repository, force, ctx, names),
      );
    },
    captureLogs(
      repository: RepositoryRef,
      window: { since?: string; until?: string },
      ctx: ActionContext,
    ): Promise<ActionResult> {
      return withSecretNames('captureLogs', repository, ctx, (names) =>
        impl.captureLogs(repository, window, ctx, names),
      );
    },
    purgeLogs(
      repository: RepositoryRef,
      window: { since?: string; until?: string },
      ctx: ActionContext,
    ): Promise<ActionResult> {
      return withSecretNames('purgeLogs', repository, ctx, (names) =>
        impl.purgeLogs(repository, window, ctx, names),
      );
    },
  };
}
