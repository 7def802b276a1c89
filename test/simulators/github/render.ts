import { createHash } from 'node:crypto';
import type { OpenApiValidator } from './openapi';
import type {
  SimDeployKey,
  SimEnvironment,
  SimHook,
  SimInstallation,
  SimJob,
  SimOrgSecret,
  SimRepository,
  SimRun,
  SimRunner,
  SimSecret,
  SimSecretScanningAlert,
  SimWorkflow,
} from './state';

/**
 * Response bodies, built from the examples in GitHub's own description with the simulator's state written over
 * them, so every field a client may read is present and shaped as GitHub shapes it.
 */

type JsonObject = Record<string, unknown>;

/** The git blob id of `content`, as the contents API reports it. */
function blobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export class Renderer {
  constructor(
    private readonly spec: OpenApiValidator,
    private readonly apiUrl: () => string,
  ) {}

  private example(operationId: string, status: number): JsonObject {
    return this.spec.example(operationId, status) as JsonObject;
  }

  private firstOf(operationId: string, field: string): JsonObject {
    const page = this.example(operationId, 200);
    return (page[field] as JsonObject[])[0];
  }

  simpleUser(id: number, login: string): JsonObject {
    const base = this.apiUrl();
    const path = encodeURIComponent(login);
    return {
      login,
      id,
      node_id: Buffer.from(`04:User${id}`).toString('base64'),
      avatar_url: `https://avatars.example.test/u/${id}`,
      gravatar_id: '',
      url: `${base}/users/${path}`,
      html_url: `https://github.example.test/${path}`,
      followers_url: `${base}/users/${path}/followers`,
      following_url: `${base}/users/${path}/following{/other_user}`,
      gists_url: `${base}/users/${path}/gists{/gist_id}`,
      starred_url: `${base}/users/${path}/starred{/owner}{/repo}`,
      subscriptions_url: `${base}/users/${path}/subscriptions`,
      organizations_url: `${base}/users/${path}/orgs`,
      repos_url: `${base}/users/${path}/repos`,
      events_url: `${base}/users/${path}/events{/privacy}`,
      received_events_url: `${base}/users/${path}/received_events`,
      type: 'User',
      site_admin: false,
    };
  }

  team(id: number): JsonObject {
    const base = this.apiUrl();
    return {
      id,
      node_id: Buffer.from(`04:Team${id}`).toString('base64'),
      url: `${base}/teams/${id}`,
      html_url: `https://github.example.test/orgs/teams/team-${id}`,
      name: `team-${id}`,
      slug: `team-${id}`,
      description: null,
      privacy: 'closed',
      notification_setting: 'notifications_enabled',
      permission: 'pull',
      members_url: `${base}/teams/${id}/members{/member}`,
      repositories_url: `${base}/teams/${id}/repos`,
      parent: null,
    };
  }

  private repositoryUrls(repository: SimRepository): JsonObject {
    return {
      id: repository.id,
      node_id: Buffer.from(`010:Repository${repository.id}`).toString('base64'),
      name: repository.name,
      full_name: repository.fullName,
      private: repository.private,
      url: `${this.apiUrl()}/repos/${repository.fullName}`,
      html_url: `https://github.example.test/${repository.fullName}`,
    };
  }

  fullRepository(repository: SimRepository): JsonObject {
    const body = this.example('repos/get', 200);
    delete body.source;
    delete body.parent;
    Object.assign(body, this.repositoryUrls(repository), {
      owner: this.simpleUser(repository.id + 1, repository.owner),
      language: null,
      visibility: repository.private ? 'private' : 'public',
      fork: false,
    });
    return body;
  }

  minimalRepository(repository: SimRepository): JsonObject {
    const run = this.firstOf('actions/list-workflow-runs-for-repo', 'workflow_runs');
    const body = structuredClone(run.repository) as JsonObject;
    Object.assign(body, this.repositoryUrls(repository), {
      owner: this.simpleUser(repository.id + 1, repository.owner),
    });
    return body;
  }

  tokenRepository(repository: SimRepository): JsonObject {
    const token = this.example('apps/create-installation-access-token', 201);
    const body = structuredClone((token.repositories as JsonObject[])[0]);
    Object.assign(body, this.repositoryUrls(repository), {
      owner: this.simpleUser(repository.id + 1, repository.owner),
    });
    return body;
  }

  workflow(repository: SimRepository, workflow: SimWorkflow): JsonObject {
    return {
      ...this.example('actions/get-workflow', 200),
      id: workflow.id,
      node_id: Buffer.from(`010:Workflow${workflow.id}`).toString('base64'),
      name: workflow.name,
      path: workflow.path,
      state: workflow.state,
      created_at: workflow.createdAt,
      updated_at: workflow.updatedAt,
      url: `${this.apiUrl()}/repos/${repository.fullName}/actions/workflows/${workflow.id}`,
      html_url: `https://github.example.test/${repository.fullName}/blob/main/${workflow.path}`,
      badge_url: `https://github.example.test/${repository.fullName}/workflows/${encodeURIComponent(workflow.name)}/badge.svg`,
    };
  }

  workflowRun(repository: SimRepository, run: SimRun): JsonObject {
    const workflow = repository.workflows.find((candidate) => candidate.id === run.workflowId);
    const base = `${this.apiUrl()}/repos/${repository.fullName}/actions/runs/${run.id}`;
    const minimal = this.minimalRepository(repository);
    return {
      ...this.firstOf('actions/list-workflow-runs-for-repo', 'workflow_runs'),
      id: run.id,
      name: workflow?.name ?? 'workflow',
      node_id: Buffer.from(`010:WorkflowRun${run.id}`).toString('base64'),
      head_branch: run.headBranch,
      head_sha: run.headSha,
      path: workflow?.path ?? '',
      run_number: run.id % 10_000,
      run_attempt: run.runAttempt,
      event: run.event,
      status: run.status,
      conclusion: run.conclusion,
      workflow_id: run.workflowId,
      url: base,
      html_url: `https://github.example.test/${repository.fullName}/actions/runs/${run.id}`,
      jobs_url: `${base}/jobs`,
      logs_url: `${base}/logs`,
      cancel_url: `${base}/cancel`,
      rerun_url: `${base}/rerun`,
      workflow_url: `${this.apiUrl()}/repos/${repository.fullName}/actions/workflows/${run.workflowId}`,
      created_at: run.createdAt,
      updated_at: run.updatedAt,
      run_started_at: run.createdAt,
      pull_requests: [],
      repository: minimal,
      head_repository: minimal,
    };
  }

  job(repository: SimRepository, run: SimRun, job: SimJob): JsonObject {
    return {
      ...this.firstOf('actions/list-jobs-for-workflow-run', 'jobs'),
      id: job.id,
      run_id: run.id,
      run_url: `${this.apiUrl()}/repos/${repository.fullName}/actions/runs/${run.id}`,
      run_attempt: run.runAttempt,
      node_id: Buffer.from(`08:CheckRun${job.id}`).toString('base64'),
      head_sha: run.headSha,
      head_branch: run.headBranch,
      url: `${this.apiUrl()}/repos/${repository.fullName}/actions/jobs/${job.id}`,
      html_url: `https://github.example.test/${repository.fullName}/actions/runs/${run.id}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: job.startedAt,
      started_at: job.startedAt,
      completed_at: job.completedAt,
      name: job.name,
      workflow_name: repository.workflows.find((workflow) => workflow.id === run.workflowId)?.name ?? null,
      steps: [],
    };
  }

  hook(repository: SimRepository, hook: SimHook): JsonObject {
    const url = `${this.apiUrl()}/repos/${repository.fullName}/hooks/${hook.id}`;
    const config: JsonObject = {
      url: hook.config.url,
      content_type: hook.config.content_type,
      insecure_ssl: hook.config.insecure_ssl,
    };
    // GitHub never returns a webhook secret, only that one is set.
    if (hook.config.secret !== undefined) config.secret = '********';
    return {
      type: 'Repository',
      id: hook.id,
      name: 'web',
      active: hook.active,
      events: hook.events,
      config,
      updated_at: hook.updatedAt,
      created_at: hook.createdAt,
      url,
      test_url: `${url}/test`,
      ping_url: `${url}/pings`,
      deliveries_url: `${url}/deliveries`,
      last_response: { code: null, status: 'unused', message: null },
    };
  }

  deployKey(repository: SimRepository, key: SimDeployKey): JsonObject {
    return {
      id: key.id,
      key: key.key,
      url: `${this.apiUrl()}/repos/${repository.fullName}/keys/${key.id}`,
      title: key.title,
      verified: true,
      created_at: key.createdAt,
      read_only: key.readOnly,
      added_by: repository.owner,
      last_used: null,
      enabled: true,
    };
  }

  runner(runner: SimRunner): JsonObject {
    return {
      id: runner.id,
      runner_group_id: 1,
      name: runner.name,
      os: runner.os,
      status: runner.status,
      busy: runner.busy,
      ephemeral: false,
      labels: runner.labels.map((name, index) => ({ id: index + 1, name, type: 'custom' })),
    };
  }

  environment(repository: SimRepository, environment: SimEnvironment): JsonObject {
    const rules: JsonObject[] = [];
    if (environment.waitTimer > 0) {
      rules.push({
        id: environment.id + 1,
        node_id: 'R1',
        type: 'wait_timer',
        wait_timer: environment.waitTimer,
      });
    }
    if (environment.reviewers.length > 0) {
      rules.push({
        id: environment.id + 2,
        node_id: 'R2',
        type: 'required_reviewers',
        prevent_self_review: environment.preventSelfReview,
        reviewers: environment.reviewers.map((reviewer) => ({
          type: reviewer.type,
          reviewer:
            reviewer.type === 'User'
              ? this.simpleUser(reviewer.id, `user-${reviewer.id}`)
              : this.team(reviewer.id),
        })),
      });
    }
    if (environment.deploymentBranchPolicy) {
      rules.push({ id: environment.id + 3, node_id: 'R3', type: 'branch_policy' });
    }
    return {
      id: environment.id,
      node_id: Buffer.from(`011:Environment${environment.id}`).toString('base64'),
      name: environment.name,
      url: `${this.apiUrl()}/repos/${repository.fullName}/environments/${encodeURIComponent(environment.name)}`,
      html_url: `https://github.example.test/${repository.fullName}/deployments/activity_log?environments_filter=${encodeURIComponent(environment.name)}`,
      created_at: environment.createdAt,
      updated_at: environment.updatedAt,
      protection_rules: rules,
      deployment_branch_policy: environment.deploymentBranchPolicy,
    };
  }

  /** The fields every item of `GET …/contents/{path}` carries, as GitHub builds them for the default branch. */
  private contentItem(repository: SimRepository, path: string, sha: string, size: number): JsonObject {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    const url = `${this.apiUrl()}/repos/${repository.fullName}/contents/${encoded}?ref=main`;
    const gitUrl = `${this.apiUrl()}/repos/${repository.fullName}/git/blobs/${sha}`;
    const htmlUrl = `https://github.example.test/${repository.fullName}/blob/main/${encoded}`;
    return {
      name: path.split('/').pop()!,
      path,
      sha,
      size,
      url,
      git_url: gitUrl,
      html_url: htmlUrl,
      download_url: `https://raw.example.test/${repository.fullName}/main/${encoded}`,
      _links: { self: url, git: gitUrl, html: htmlUrl },
    };
  }

  /** A file: base64 in lines of 60 characters, as GitHub sends it. */
  contentFile(repository: SimRepository, path: string, content: Buffer): JsonObject {
    const base64 = content.toString('base64');
    const lines = base64.match(/.{1,60}/g) ?? [];
    return {
      type: 'file',
      encoding: 'base64',
      ...this.contentItem(repository, path, blobSha(content), content.length),
      content: lines.length > 0 ? `${lines.join('\n')}\n` : '',
    };
  }

  contentSymlink(repository: SimRepository, path: string, target: string): JsonObject {
    const bytes = Buffer.from(target);
    return { type: 'symlink', target, ...this.contentItem(repository, path, blobSha(bytes), bytes.length) };
  }

  contentSubmodule(repository: SimRepository, path: string, url: string): JsonObject {
    return {
      type: 'submodule',
      submodule_git_url: url,
      ...this.contentItem(repository, path, createHash('sha1').update(url).digest('hex'), 0),
      download_url: null,
    };
  }

  contentDirectoryEntry(
    repository: SimRepository,
    path: string,
    type: 'dir' | 'file' | 'symlink' | 'submodule',
    size: number,
  ): JsonObject {
    const sha = createHash('sha1').update(`${type}:${path}`).digest('hex');
    const item = this.contentItem(repository, path, sha, size);
    return { type, ...item, ...(type === 'dir' ? { download_url: null } : {}) };
  }

  secret(secret: SimSecret): JsonObject {
    return { name: secret.name, created_at: secret.createdAt, updated_at: secret.updatedAt };
  }

  organizationSecret(org: string, secret: SimOrgSecret): JsonObject {
    return {
      name: secret.name,
      created_at: secret.createdAt,
      updated_at: secret.updatedAt,
      visibility: secret.visibility,
      ...(secret.visibility === 'selected'
        ? {
            selected_repositories_url: `${this.apiUrl()}/orgs/${org}/actions/secrets/${secret.name}/repositories`,
          }
        : {}),
    };
  }

  installation(installation: SimInstallation, accountId: number, slug: string): JsonObject {
    const url = `${this.apiUrl()}/app/installations/${installation.id}`;
    return {
      ...this.example('apps/get-installation', 200),
      id: installation.id,
      account: { ...this.simpleUser(accountId, installation.account), type: 'Organization' },
      repository_selection: installation.repositorySelection,
      access_tokens_url: `${url}/access_tokens`,
      repositories_url: `${this.apiUrl()}/installation/repositories`,
      html_url: `https://github.example.test/organizations/${installation.account}/settings/installations/${installation.id}`,
      app_id: installation.appId,
      app_slug: slug,
      target_id: accountId,
      target_type: 'Organization',
      permissions: installation.permissions,
      suspended_at: installation.suspendedAt,
      suspended_by: installation.suspendedAt ? this.simpleUser(1, `${slug}[bot]`) : null,
      created_at: installation.createdAt,
      updated_at: installation.createdAt,
    };
  }

  /** `GET /rate_limit`: the description's example with the simulator's clock in the reset times. */
  rateLimit(nowMs: number): JsonObject {
    const body = this.example('rate-limit/get', 200);
    const reset = Math.floor(nowMs / 1000) + 3600;
    const resources = body.resources as Record<string, JsonObject>;
    for (const resource of Object.values(resources)) resource.reset = reset;
    (body.rate as JsonObject).reset = reset;
    return body;
  }

  /** `GET /user` for a personal token: the description's private-user example as `login`. */
  authenticatedUser(login: string): JsonObject {
    const id = Number.parseInt(createHash('sha256').update(login).digest('hex').slice(0, 7), 16);
    const user = this.simpleUser(id, login);
    return { ...this.example('users/get-authenticated', 200), ...user, name: login };
  }

  secretScanningAlert(
    repository: SimRepository,
    alert: SimSecretScanningAlert,
    hideSecret: boolean,
  ): JsonObject {
    const url = `${this.apiUrl()}/repos/${repository.fullName}/secret-scanning/alerts/${alert.number}`;
    const body: JsonObject = {
      ...this.example('secret-scanning/get-alert', 200),
      number: alert.number,
      created_at: alert.createdAt,
      updated_at: alert.createdAt,
      url,
      html_url: `https://github.example.test/${repository.fullName}/security/secret-scanning/${alert.number}`,
      locations_url: `${url}/locations`,
      state: alert.state,
      resolution: null,
      resolved_at: null,
      resolved_by: null,
      secret_type: alert.secretType,
      secret_type_display_name: alert.secretTypeDisplayName,
      secret: alert.secret,
    };
    if (hideSecret) delete body.secret;
    return body;
  }
}
