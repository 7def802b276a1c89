import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import sodium from 'libsodium-wrappers';
import { isSubset } from './auth';
import type { Credential } from './auth';
import type { MatchedOperation } from './openapi';
import type { Renderer } from './render';
import {
  newId,
  newSealedBoxKeyPair,
  randomToken,
  repositoryKey,
  type PermissionSet,
  type SealedBoxKeyPair,
  type SimRepository,
  type SimRun,
  type SimSecret,
  type SimulatorState,
} from './state';
import { zipStored } from './zip';

export interface RouteRequest {
  match: MatchedOperation;
  query: URLSearchParams;
  // Validated against the operation's schema before it reaches a handler.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  credential: Credential;
  repository?: SimRepository;
  /** `http://127.0.0.1:port` + path prefix: the API root as the client sees it. */
  apiUrl: string;
  /** `http://127.0.0.1:port`: where the simulated storage for log downloads lives. */
  origin: string;
  pathname: string;
}

export interface RouteResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext {
  state: SimulatorState;
  render: Renderer;
  now: () => number;
  logUrlLifetimeMs: number;
  /** How long a token submitted to POST /credentials/revoke keeps working (GitHub may revoke asynchronously). */
  credentialRevocationDelayMs?: number;
}

type Handler = (request: RouteRequest, context: RouteContext) => RouteResponse;

const DOCS = 'https://docs.github.com/rest';

/** The token kinds POST /credentials/revoke accepts (its description); installation tokens (`ghs_`) are not among them. */
const REVOCABLE_PREFIXES = ['ghp_', 'github_pat_', 'gho_', 'ghu_', 'ghr_'];

export function error(status: number, message: string, headers?: Record<string, string>): RouteResponse {
  return { status, body: { message, documentation_url: DOCS, status: String(status) }, headers };
}

const notFound = () => error(404, 'Not Found');

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Slices a list the way GitHub pages it, with the Link header Octokit's paginate follows. */
function paginate<T>(items: T[], request: RouteRequest): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(Number(request.query.get('per_page') ?? 30), 100);
  const page = Math.max(Number(request.query.get('page') ?? 1), 1);
  const lastPage = Math.max(Math.ceil(items.length / perPage), 1);
  const links: string[] = [];
  const linkTo = (target: number, rel: string) => {
    const query = new URLSearchParams(request.query);
    query.set('page', String(target));
    links.push(`<${request.origin}${request.pathname}?${query.toString()}>; rel="${rel}"`);
  };
  if (page < lastPage) {
    linkTo(page + 1, 'next');
    linkTo(lastPage, 'last');
  }
  if (page > 1) {
    linkTo(page - 1, 'prev');
    linkTo(1, 'first');
  }
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length > 0 ? { link: links.join(', ') } : {},
  };
}

function listed<T>(
  request: RouteRequest,
  field: string,
  items: T[],
  render: (item: T) => unknown,
): RouteResponse {
  const page = paginate(items, request);
  return {
    status: 200,
    body: { total_count: items.length, [field]: page.items.map(render) },
    headers: page.headers,
  };
}

function workflowOf(repository: SimRepository, workflowId: string) {
  return repository.workflows.find(
    (workflow) => String(workflow.id) === workflowId || workflow.path.split('/').pop() === workflowId,
  );
}

function runOf(repository: SimRepository, runId: string): SimRun | undefined {
  return repository.runs.find((run) => String(run.id) === runId);
}

/** The `created` filter in GitHub search syntax: `A..B`, `>=A`, `<=A`, `>A`, `<A`, or a bare date. */
export function matchesCreated(filter: string | null, createdAt: string): boolean {
  if (!filter) return true;
  const at = Date.parse(createdAt);
  const range = /^(.+)\.\.(.+)$/.exec(filter);
  if (range) {
    const from = range[1] === '*' ? -Infinity : Date.parse(range[1]);
    const to = range[2] === '*' ? Infinity : Date.parse(range[2]);
    return at >= from && at <= to;
  }
  const comparison = /^(>=|<=|>|<)?(.+)$/.exec(filter)!;
  const bound = Date.parse(comparison[2]);
  switch (comparison[1]) {
    case '>=':
      return at >= bound;
    case '<=':
      return at <= bound;
    case '>':
      return at > bound;
    case '<':
      return at < bound;
    default:
      return new Date(at).toISOString().slice(0, 10) === comparison[2].slice(0, 10);
  }
}

function storeBlob(
  context: RouteContext,
  content: Buffer,
  contentType: string,
  request: RouteRequest,
): RouteResponse {
  const id = randomBytes(18).toString('base64url');
  context.state.blobs.set(id, { content, contentType, expiresAt: context.now() + context.logUrlLifetimeMs });
  // The real URL carries a signature and expiry in its query, as this one pretends to.
  return {
    status: 302,
    headers: {
      location: `${request.origin}/_blobs/${id}?sv=2020-08-04&se=${encodeURIComponent(iso(context.now() + context.logUrlLifetimeMs))}&sig=${id.slice(0, 8)}`,
    },
  };
}

function openSealedBox(encryptedBase64: string, key: SealedBoxKeyPair): string | undefined {
  try {
    const sealed = sodium.from_base64(encryptedBase64, sodium.base64_variants.ORIGINAL);
    return sodium.to_string(sodium.crypto_box_seal_open(sealed, key.publicKey, key.privateKey));
  } catch {
    return undefined;
  }
}

function writeSecret(
  secrets: Map<string, SimSecret>,
  key: SealedBoxKeyPair,
  name: string,
  body: { encrypted_value: string; key_id: string },
  now: number,
): RouteResponse {
  if (body.key_id !== key.keyId)
    return error(422, 'Bad request: key_id does not match the current public key');
  const value = openSealedBox(body.encrypted_value, key);
  if (value === undefined)
    return error(422, 'Bad request: encrypted_value could not be decrypted with the public key');
  const existing = secrets.get(name.toUpperCase());
  const timestamp = iso(now);
  if (existing) {
    existing.value = value;
    existing.updatedAt = timestamp;
    existing.writes += 1;
    return { status: 204 };
  }
  secrets.set(name.toUpperCase(), {
    name: name.toUpperCase(),
    value,
    createdAt: timestamp,
    updatedAt: timestamp,
    writes: 1,
  });
  return { status: 201, body: {} };
}

function cancelRun(run: SimRun, now: number): void {
  run.status = 'completed';
  run.conclusion = 'cancelled';
  run.updatedAt = iso(now);
  for (const job of run.jobs) {
    if (job.status !== 'completed') {
      job.status = 'completed';
      job.conclusion = 'cancelled';
      job.completedAt = iso(now);
    }
  }
}

function installationRepositories(state: SimulatorState, installationId: number): SimRepository[] {
  const installation = state.installations.get(installationId)!;
  return [...state.repositories.values()].filter(
    (repository) =>
      repository.owner.toLowerCase() === installation.account.toLowerCase() &&
      (installation.repositorySelection === 'all' || installation.repositoryIds.includes(repository.id)),
  );
}

function auditPhraseMatches(phrase: string | null, entry: Record<string, unknown>): boolean {
  if (!phrase) return true;
  for (const term of phrase.split(/\s+/).filter(Boolean)) {
    const [qualifier, ...rest] = term.split(':');
    const value = rest.join(':');
    if (qualifier === 'action') {
      const action = typeof entry.action === 'string' ? entry.action : '';
      if (action !== value && !action.startsWith(`${value}.`)) return false;
    } else if (qualifier === 'repo') {
      if (typeof entry.repo !== 'string' || entry.repo.toLowerCase() !== value.toLowerCase()) return false;
    } else if (qualifier === 'created') {
      if (!matchesCreated(value, new Date(Number(entry['@timestamp'])).toISOString())) return false;
    } else if (qualifier === 'actor') {
      if (entry.actor !== value) return false;
    }
  }
  return true;
}

const handlers: Record<string, Handler> = {
  'repos/get': ({ repository }, { render }) => ({ status: 200, body: render.fullRepository(repository!) }),

  'actions/list-repo-workflows': (request, { render }) =>
    listed(request, 'workflows', request.repository!.workflows, (workflow) =>
      render.workflow(request.repository!, workflow),
    ),
  'repos/get-content': (request, { render }) => getContent(request, render),
  'actions/get-workflow': ({ repository, match }, { render }) => {
    const workflow = workflowOf(repository!, match.pathParams.workflow_id);
    return workflow ? { status: 200, body: render.workflow(repository!, workflow) } : notFound();
  },
  'actions/disable-workflow': ({ repository, match }, { now }) => {
    const workflow = workflowOf(repository!, match.pathParams.workflow_id);
    if (!workflow) return notFound();
    workflow.state = 'disabled_manually';
    workflow.updatedAt = iso(now());
    return { status: 204 };
  },
  'actions/enable-workflow': ({ repository, match }, { now }) => {
    const workflow = workflowOf(repository!, match.pathParams.workflow_id);
    if (!workflow || workflow.state === 'deleted') return notFound();
    workflow.state = 'active';
    workflow.updatedAt = iso(now());
    return { status: 204 };
  },
  'actions/list-workflow-runs': (request, { render }) => {
    const repository = request.repository!;
    const workflow = workflowOf(repository, request.match.pathParams.workflow_id);
    if (!workflow) return notFound();
    return listRuns(
      request,
      render,
      repository.runs.filter((run) => run.workflowId === workflow.id),
    );
  },
  'actions/list-workflow-runs-for-repo': (request, { render }) =>
    listRuns(request, render, request.repository!.runs),
  'actions/get-workflow-run': ({ repository, match }, { render }) => {
    const run = runOf(repository!, match.pathParams.run_id);
    return run ? { status: 200, body: render.workflowRun(repository!, run) } : notFound();
  },
  'actions/list-jobs-for-workflow-run': (request, { render }) => {
    const repository = request.repository!;
    const run = runOf(repository, request.match.pathParams.run_id);
    if (!run) return notFound();
    return listed(request, 'jobs', run.jobs, (job) => render.job(repository, run, job));
  },
  'actions/cancel-workflow-run': ({ repository, match }, { now }) => {
    const run = runOf(repository!, match.pathParams.run_id);
    if (!run) return notFound();
    if (run.status === 'completed') return error(409, 'Cannot cancel a workflow run that is completed.');
    if (!run.stuck) cancelRun(run, now());
    return { status: 202, body: {} };
  },
  'actions/force-cancel-workflow-run': ({ repository, match }, { now }) => {
    const run = runOf(repository!, match.pathParams.run_id);
    if (!run) return notFound();
    if (run.status === 'completed') return error(409, 'Cannot cancel a workflow run that is completed.');
    cancelRun(run, now());
    return { status: 202, body: {} };
  },
  'actions/download-workflow-run-logs': (request, context) => {
    const run = runOf(request.repository!, request.match.pathParams.run_id);
    if (!run || run.logsDeleted) return notFound();
    const archive = zipStored(
      run.jobs.map((job, index) => ({
        name: `${index}_${job.name}.txt`,
        content: Buffer.from(job.log, 'utf8'),
      })),
    );
    return storeBlob(context, archive, 'application/zip', request);
  },
  'actions/download-job-logs-for-workflow-run': (request, context) => {
    for (const run of request.repository!.runs) {
      const job = run.jobs.find((candidate) => String(candidate.id) === request.match.pathParams.job_id);
      if (!job) continue;
      if (run.logsDeleted) return notFound();
      return storeBlob(context, Buffer.from(job.log, 'utf8'), 'text/plain; charset=utf-8', request);
    }
    return notFound();
  },
  'actions/delete-workflow-run-logs': ({ repository, match }) => {
    const run = runOf(repository!, match.pathParams.run_id);
    if (!run || run.logsDeleted) return notFound();
    if (run.status !== 'completed')
      return error(409, 'Cannot delete logs of a workflow run that is in progress.');
    run.logsDeleted = true;
    for (const job of run.jobs) job.log = '';
    return { status: 204 };
  },

  'actions/get-github-actions-permissions-repository': ({ repository, apiUrl }) => {
    const settings = repository!.actionsPermissions;
    return {
      status: 200,
      body: {
        enabled: settings.enabled,
        ...(settings.enabled ? { allowed_actions: settings.allowedActions } : {}),
        ...(settings.enabled && settings.allowedActions === 'selected'
          ? {
              selected_actions_url: `${apiUrl}/repos/${repository!.fullName}/actions/permissions/selected-actions`,
            }
          : {}),
        sha_pinning_required: settings.shaPinningRequired,
      },
    };
  },
  'actions/set-github-actions-permissions-repository': ({ repository, body }) => {
    const settings = repository!.actionsPermissions;
    settings.enabled = body.enabled;
    if (body.allowed_actions !== undefined) settings.allowedActions = body.allowed_actions;
    if (body.sha_pinning_required !== undefined) settings.shaPinningRequired = body.sha_pinning_required;
    return { status: 204 };
  },
  'actions/get-allowed-actions-repository': ({ repository }) => {
    const { actionsPermissions, selectedActions } = repository!;
    if (!actionsPermissions.enabled || actionsPermissions.allowedActions !== 'selected') {
      return error(409, 'Allowed actions is not set to selected for this repository.');
    }
    return {
      status: 200,
      body: {
        github_owned_allowed: selectedActions.githubOwnedAllowed,
        verified_allowed: selectedActions.verifiedAllowed,
        patterns_allowed: selectedActions.patternsAllowed,
      },
    };
  },
  'actions/set-allowed-actions-repository': ({ repository, body }) => {
    const { actionsPermissions, selectedActions } = repository!;
    if (!actionsPermissions.enabled || actionsPermissions.allowedActions !== 'selected') {
      return error(409, 'Allowed actions is not set to selected for this repository.');
    }
    if (body.github_owned_allowed !== undefined)
      selectedActions.githubOwnedAllowed = body.github_owned_allowed;
    if (body.verified_allowed !== undefined) selectedActions.verifiedAllowed = body.verified_allowed;
    if (body.patterns_allowed !== undefined) selectedActions.patternsAllowed = [...body.patterns_allowed];
    return { status: 204 };
  },

  'repos/list-webhooks': (request, { render }) => {
    const page = paginate(request.repository!.hooks, request);
    return {
      status: 200,
      body: page.items.map((hook) => render.hook(request.repository!, hook)),
      headers: page.headers,
    };
  },
  'repos/get-webhook': ({ repository, match }, { render }) => {
    const hook = repository!.hooks.find((candidate) => String(candidate.id) === match.pathParams.hook_id);
    return hook ? { status: 200, body: render.hook(repository!, hook) } : notFound();
  },
  'repos/update-webhook': ({ repository, match, body }, { render, now }) => {
    const hook = repository!.hooks.find((candidate) => String(candidate.id) === match.pathParams.hook_id);
    if (!hook) return notFound();
    if (body.active !== undefined) hook.active = body.active;
    if (body.events !== undefined) hook.events = [...body.events];
    if (body.add_events) hook.events = [...new Set([...hook.events, ...body.add_events])];
    if (body.remove_events) {
      const removed = new Set(body.remove_events as string[]);
      hook.events = hook.events.filter((event) => !removed.has(event));
    }
    // `config` replaces the whole configuration: a PATCH without `config.secret` drops the secret.
    if (body.config !== undefined) {
      hook.config = {
        url: body.config.url ?? hook.config.url,
        content_type: body.config.content_type ?? 'form',
        insecure_ssl: String(body.config.insecure_ssl ?? '0'),
        ...(body.config.secret !== undefined ? { secret: body.config.secret } : {}),
      };
    }
    hook.updatedAt = iso(now());
    return { status: 200, body: render.hook(repository!, hook) };
  },

  'repos/list-deploy-keys': (request, { render }) => {
    const page = paginate(request.repository!.deployKeys, request);
    return {
      status: 200,
      body: page.items.map((key) => render.deployKey(request.repository!, key)),
      headers: page.headers,
    };
  },
  'repos/delete-deploy-key': ({ repository, match }) => {
    const index = repository!.deployKeys.findIndex((key) => String(key.id) === match.pathParams.key_id);
    if (index < 0) return notFound();
    repository!.deployKeys.splice(index, 1);
    return { status: 204 };
  },

  'actions/list-self-hosted-runners-for-repo': (request, { render }) =>
    listed(request, 'runners', request.repository!.runners, (runner) => render.runner(runner)),
  'actions/delete-self-hosted-runner-from-repo': ({ repository, match }) => {
    const index = repository!.runners.findIndex((runner) => String(runner.id) === match.pathParams.runner_id);
    if (index < 0) return notFound();
    repository!.runners.splice(index, 1);
    return { status: 204 };
  },

  'repos/get-all-environments': (request, { render }) =>
    listed(request, 'environments', [...request.repository!.environments.values()], (environment) =>
      render.environment(request.repository!, environment),
    ),
  'repos/get-environment': ({ repository, match }, { render }) => {
    const environment = repository!.environments.get(match.pathParams.environment_name);
    return environment ? { status: 200, body: render.environment(repository!, environment) } : notFound();
  },
  'repos/create-or-update-environment': ({ repository, match, body }, { render, now }) => {
    const name = match.pathParams.environment_name;
    let environment = repository!.environments.get(name);
    if (!environment) {
      environment = {
        id: newId(),
        name,
        createdAt: iso(now()),
        updatedAt: iso(now()),
        reviewers: [],
        waitTimer: 0,
        preventSelfReview: false,
        deploymentBranchPolicy: null,
        secrets: new Map(),
        secretsKey: newSealedBoxKeyPair(),
      };
      repository!.environments.set(name, environment);
    }
    const settings = body ?? {};
    // Only what the request names changes; omitted settings stay as they were.
    if (settings.reviewers !== undefined) {
      const reviewers = (settings.reviewers ?? []) as Array<{ type?: 'User' | 'Team'; id?: number }>;
      if (reviewers.some((reviewer) => !reviewer.type || !reviewer.id))
        return error(422, 'Each reviewer needs a type and an id.');
      environment.reviewers = reviewers.map((reviewer) => ({ type: reviewer.type!, id: reviewer.id! }));
    }
    if (settings.wait_timer !== undefined) environment.waitTimer = settings.wait_timer;
    if (settings.prevent_self_review !== undefined)
      environment.preventSelfReview = settings.prevent_self_review;
    if (settings.deployment_branch_policy !== undefined)
      environment.deploymentBranchPolicy = settings.deployment_branch_policy;
    environment.updatedAt = iso(now());
    return { status: 200, body: render.environment(repository!, environment) };
  },

  'actions/list-repo-secrets': (request, { render }) =>
    listed(request, 'secrets', [...request.repository!.secrets.values()], (secret) => render.secret(secret)),
  'actions/get-repo-public-key': ({ repository }) => ({
    status: 200,
    body: {
      key_id: repository!.secretsKey.keyId,
      key: Buffer.from(repository!.secretsKey.publicKey).toString('base64'),
    },
  }),
  'actions/get-repo-secret': ({ repository, match }, { render }) => {
    const secret = repository!.secrets.get(match.pathParams.secret_name.toUpperCase());
    return secret ? { status: 200, body: render.secret(secret) } : notFound();
  },
  'actions/create-or-update-repo-secret': ({ repository, match, body }, { now }) =>
    writeSecret(repository!.secrets, repository!.secretsKey, match.pathParams.secret_name, body, now()),
  'actions/delete-repo-secret': ({ repository, match }) =>
    repository!.secrets.delete(match.pathParams.secret_name.toUpperCase()) ? { status: 204 } : notFound(),
  'actions/list-repo-organization-secrets': (request, { state, render }) => {
    const repository = request.repository!;
    const organization = state.organizations.get(repository.owner.toLowerCase());
    const visible = [...(organization?.secrets.values() ?? [])].filter(
      (secret) =>
        secret.visibility === 'all' ||
        (secret.visibility === 'private' && repository.private) ||
        (secret.visibility === 'selected' && secret.selectedRepositoryIds.includes(repository.id)),
    );
    return listed(request, 'secrets', visible, (secret) =>
      render.secret({ ...secret, value: '', writes: 0 }),
    );
  },
  'actions/list-environment-secrets': (request, { render }) => {
    const environment = request.repository!.environments.get(request.match.pathParams.environment_name);
    if (!environment) return notFound();
    return listed(request, 'secrets', [...environment.secrets.values()], (secret) => render.secret(secret));
  },
  'actions/get-environment-public-key': ({ repository, match }) => {
    const environment = repository!.environments.get(match.pathParams.environment_name);
    if (!environment) return notFound();
    return {
      status: 200,
      body: {
        key_id: environment.secretsKey.keyId,
        key: Buffer.from(environment.secretsKey.publicKey).toString('base64'),
      },
    };
  },
  'actions/get-environment-secret': ({ repository, match }, { render }) => {
    const secret = repository!.environments
      .get(match.pathParams.environment_name)
      ?.secrets.get(match.pathParams.secret_name.toUpperCase());
    return secret ? { status: 200, body: render.secret(secret) } : notFound();
  },
  'actions/create-or-update-environment-secret': ({ repository, match, body }, { now }) => {
    const environment = repository!.environments.get(match.pathParams.environment_name);
    if (!environment) return notFound();
    return writeSecret(
      environment.secrets,
      environment.secretsKey,
      match.pathParams.secret_name,
      body,
      now(),
    );
  },
  'actions/delete-environment-secret': ({ repository, match }) => {
    const environment = repository!.environments.get(match.pathParams.environment_name);
    return environment?.secrets.delete(match.pathParams.secret_name.toUpperCase())
      ? { status: 204 }
      : notFound();
  },
  'actions/list-org-secrets': (request, { state, render }) => {
    const organization = state.organizations.get(request.match.pathParams.org.toLowerCase());
    if (!organization) return notFound();
    return listed(request, 'secrets', [...organization.secrets.values()], (secret) =>
      render.organizationSecret(organization.login, secret),
    );
  },

  'secret-scanning/get-alert': ({ repository, match, query }, { render }) => {
    const alert = repository!.secretScanningAlerts.find(
      (candidate) => String(candidate.number) === match.pathParams.alert_number,
    );
    if (!alert) return notFound();
    return {
      status: 200,
      body: render.secretScanningAlert(repository!, alert, query.get('hide_secret') === 'true'),
    };
  },
  'credentials/revoke': ({ body }, { state, now, credentialRevocationDelayMs }) => {
    state.revokedCredentials.push(...(body.credentials as string[]));
    // Tokens the simulator issued stop working; the answer is 202 whatever was sent (known, unknown, already
    // revoked): GitHub does not tell the caller whether a submitted string was a live token.
    for (const credential of body.credentials as string[]) {
      const grant = state.tokens.get(credential);
      if (!grant || !REVOCABLE_PREFIXES.some((prefix) => credential.startsWith(prefix))) continue;
      grant.revokedAt ??= now() + (credentialRevocationDelayMs ?? 0);
    }
    return { status: 202, body: {} };
  },
  'apps/revoke-installation-access-token': ({ credential }, { now }) => {
    // "Revokes the installation token you're using to authenticate": only an installation token can call it.
    if (credential.kind !== 'token' || credential.grant.kind !== 'installation') {
      return error(403, 'Resource not accessible by personal access token');
    }
    credential.grant.revokedAt = now();
    return { status: 204 };
  },

  'rate-limit/get': (_request, { render, now }) => ({ status: 200, body: render.rateLimit(now()) }),
  'users/get-authenticated': ({ credential }, { render }) => {
    if (credential.kind !== 'token') return error(401, 'Requires authentication');
    if (credential.grant.kind === 'installation') return error(403, 'Resource not accessible by integration');
    return { status: 200, body: render.authenticatedUser(credential.grant.user ?? 'sim-admin') };
  },

  'orgs/get-audit-log': (request, { state }) => {
    const organization = state.organizations.get(request.match.pathParams.org.toLowerCase());
    if (!organization || !organization.auditLogAvailable) return notFound();
    const phrase = request.query.get('phrase');
    const order = request.query.get('order') ?? 'desc';
    const entries = organization.auditLog
      .filter((entry) => auditPhraseMatches(phrase, entry))
      .sort((a, b) => (Number(a['@timestamp']) - Number(b['@timestamp'])) * (order === 'asc' ? 1 : -1));
    // GHEC pages the audit log with an opaque `after` cursor.
    const perPage = Math.min(Number(request.query.get('per_page') ?? 30), 100);
    const start = Number(request.query.get('after') ?? 0);
    const items = entries.slice(start, start + perPage);
    const headers: Record<string, string> = {};
    if (start + perPage < entries.length) {
      const next = new URLSearchParams(request.query);
      next.set('after', String(start + perPage));
      headers.link = `<${request.origin}${request.pathname}?${next.toString()}>; rel="next"`;
    }
    return { status: 200, body: items, headers };
  },

  'apps/get-installation': ({ match, credential }, { state, render }) => {
    const installation = state.installations.get(Number(match.pathParams.installation_id));
    if (!installation || credential.kind !== 'app' || installation.appId !== credential.app.id)
      return notFound();
    return {
      status: 200,
      body: render.installation(installation, accountId(state, installation.account), credential.app.slug),
    };
  },
  'apps/suspend-installation': ({ match, credential }, { state, now }) => {
    const installation = state.installations.get(Number(match.pathParams.installation_id));
    if (!installation || credential.kind !== 'app' || installation.appId !== credential.app.id)
      return notFound();
    installation.suspendedAt ??= iso(now());
    return { status: 204 };
  },
  'apps/unsuspend-installation': ({ match, credential }, { state }) => {
    const installation = state.installations.get(Number(match.pathParams.installation_id));
    if (!installation || credential.kind !== 'app' || installation.appId !== credential.app.id)
      return notFound();
    installation.suspendedAt = null;
    return { status: 204 };
  },
  'apps/create-installation-access-token': ({ match, credential, body }, { state, render, now }) => {
    const installation = state.installations.get(Number(match.pathParams.installation_id));
    if (!installation || credential.kind !== 'app' || installation.appId !== credential.app.id)
      return notFound();
    if (installation.suspendedAt) return error(403, 'This installation has been suspended');
    const requested = (body?.permissions ?? undefined) as PermissionSet | undefined;
    if (requested && !isSubset(requested, installation.permissions)) {
      return error(422, 'The permissions requested are not granted to this installation.');
    }
    const reachable = installationRepositories(state, installation.id);
    let repositories: SimRepository[] | undefined;
    if (body?.repository_ids || body?.repositories) {
      const ids = (body.repository_ids ?? []) as number[];
      const names = ((body.repositories ?? []) as string[]).map((name) => name.toLowerCase());
      repositories = reachable.filter(
        (repository) => ids.includes(repository.id) || names.includes(repository.name.toLowerCase()),
      );
      if (repositories.length !== ids.length + names.length) {
        return error(
          422,
          'There is at least one repository that does not exist or is not accessible to the parent installation.',
        );
      }
    }
    const token = randomToken('ghs_');
    const expiresAt = now() + 60 * 60 * 1000;
    const permissions = requested ?? installation.permissions;
    state.tokens.set(token, {
      kind: 'installation',
      installationId: installation.id,
      permissions,
      repositoryIds: repositories?.map((repository) => repository.id),
      expiresAt,
    });
    return {
      status: 201,
      body: {
        token,
        expires_at: iso(expiresAt),
        permissions,
        repository_selection: repositories ? 'selected' : installation.repositorySelection,
        ...(repositories
          ? { repositories: repositories.map((repository) => render.tokenRepository(repository)) }
          : {}),
      },
    };
  },
};

/** GitHub serves file contents through this API up to 1 MB; larger blobs need the Git Data API. */
const MAX_CONTENTS_API_BYTES = 1024 * 1024;

/**
 * `GET /repos/{owner}/{repo}/contents/{path}` on the default branch, as GitHub answers with the JSON media type: a
 * file (base64), a directory listing, a submodule, or a symlink. A symlink whose target is a file of the repository
 * is answered with that file (its own path); any other symlink with the link itself.
 */
function getContent(request: RouteRequest, render: Renderer): RouteResponse {
  const repository = request.repository!;
  const ref = request.query.get('ref');
  if (ref !== null && ref !== 'main' && ref !== 'refs/heads/main') {
    return error(404, `No commit found for the ref ${ref}`);
  }
  const path = request.match.pathParams.path.replace(/^\/+|\/+$/g, '');
  const fileAnswer = (filePath: string, content: Buffer): RouteResponse =>
    content.length > MAX_CONTENTS_API_BYTES
      ? {
          status: 403,
          body: {
            message:
              'This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, but you can use the Git Data API to request blobs up to 100 MB in size.',
            errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }],
            documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content',
            status: '403',
          },
        }
      : { status: 200, body: render.contentFile(repository, filePath, content) };
  const entry = repository.files.get(path);
  if (entry?.type === 'file') return fileAnswer(path, entry.content);
  if (entry?.type === 'submodule') {
    return { status: 200, body: render.contentSubmodule(repository, path, entry.url) };
  }
  if (entry?.type === 'symlink') {
    const resolved = entry.target.startsWith('/')
      ? undefined
      : posix.normalize(posix.join(posix.dirname(path), entry.target));
    const target =
      resolved && resolved !== '..' && !resolved.startsWith('../')
        ? repository.files.get(resolved)
        : undefined;
    if (resolved && target?.type === 'file') return fileAnswer(resolved, target.content);
    return { status: 200, body: render.contentSymlink(repository, path, entry.target) };
  }
  const prefix = path === '' ? '' : `${path}/`;
  const children = new Map<string, unknown>();
  for (const [candidate, file] of repository.files) {
    if (!candidate.startsWith(prefix)) continue;
    const [name, ...deeper] = candidate.slice(prefix.length).split('/');
    const childPath = `${prefix}${name}`;
    if (deeper.length > 0) {
      children.set(childPath, render.contentDirectoryEntry(repository, childPath, 'dir', 0));
    } else {
      const size =
        file.type === 'file' ? file.content.length : file.type === 'symlink' ? file.target.length : 0;
      children.set(childPath, render.contentDirectoryEntry(repository, childPath, file.type, size));
    }
  }
  if (children.size === 0) return notFound();
  return { status: 200, body: [...children.values()] };
}

function listRuns(request: RouteRequest, render: Renderer, runs: SimRun[]): RouteResponse {
  const status = request.query.get('status');
  const created = request.query.get('created');
  const conclusions = [
    'success',
    'failure',
    'cancelled',
    'neutral',
    'skipped',
    'stale',
    'timed_out',
    'action_required',
  ];
  const filtered = runs
    .filter(
      (run) =>
        !status || run.status === status || (conclusions.includes(status) && run.conclusion === status),
    )
    .filter((run) => matchesCreated(created, run.createdAt))
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return listed(request, 'workflow_runs', filtered, (run) => render.workflowRun(request.repository!, run));
}

function accountId(state: SimulatorState, login: string): number {
  return state.organizations.get(login.toLowerCase())?.id ?? 1;
}

export function handlerFor(operationId: string): Handler | undefined {
  return handlers[operationId];
}

export function findRepository(
  state: SimulatorState,
  owner: string,
  repo: string,
): SimRepository | undefined {
  return state.repositories.get(repositoryKey(owner, repo));
}

export { installationRepositories };
