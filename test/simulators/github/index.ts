import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import sodium from 'libsodium-wrappers';
import {
  ANONYMOUS_ALLOWED_OPERATIONS,
  ANONYMOUS_ONLY_OPERATIONS,
  APP_JWT_OPERATIONS,
  REQUIRED_PERMISSIONS,
  grants,
  identify,
  type Credential,
} from './auth';
import { OpenApiValidator, type MatchedOperation } from './openapi';
import { Renderer } from './render';
import {
  error,
  findRepository,
  handlerFor,
  installationRepositories,
  type RouteContext,
  type RouteResponse,
} from './routes';
import {
  createApp,
  createState,
  newId,
  newSealedBoxKeyPair,
  randomToken,
  repositoryKey,
  type PermissionSet,
  type SimApp,
  type SimDeployKey,
  type SimEnvironment,
  type SimHook,
  type SimInstallation,
  type SimJob,
  type SimOrganization,
  type SimOrgSecret,
  type SimRepository,
  type SimReviewer,
  type SimRun,
  type SimRunner,
  type SimSecret,
  type SimSecretScanningAlert,
  type SimulatorState,
  type SimWorkflow,
} from './state';

export type * from './state';

export interface RecordedCall {
  method: string;
  /** Path template for GitHub routes (`/repos/{owner}/{repo}/hooks`), `/_blobs/{id}` for log storage. */
  route: string;
  path: string;
  operationId?: string;
  status: number;
  /** Simulator clock, ms since the epoch, when the request arrived. */
  time: number;
  durationMs: number;
  faulted: boolean;
}

export interface Violation {
  kind: 'unknown-route' | 'invalid-request' | 'invalid-response' | 'not-simulated' | 'token-sent-to-storage';
  method: string;
  path: string;
  operationId?: string;
  problems: string[];
}

export interface FaultSpec {
  /** Path template (`/repos/{owner}/{repo}/actions/workflows/{workflow_id}/disable`) or operationId; any route when absent. */
  route?: string;
  method?: string;
  /** Absent with `latencyMs`: delay only, then answer normally. */
  status?: 500 | 403 | 404 | 429;
  /** How many matching requests the fault hits (default 1). */
  times?: number;
  retryAfterSeconds?: number;
  latencyMs?: number;
  /**
   * What a 403/429 means: a secondary rate limit (the default when `retryAfterSeconds` is set or the status is
   * 429), the primary limit (`x-ratelimit-remaining: 0`), or a plain refusal.
   */
  kind?: 'secondary-rate-limit' | 'primary-rate-limit' | 'forbidden';
  /** For a `forbidden` fault: the `x-accepted-github-permissions` header to send. */
  acceptedPermissions?: string;
}

export interface GitHubSimulatorOptions {
  /** The simulator's clock (ms since the epoch); inject one to prove that log URLs expire. */
  now?: () => number;
  /** Serve under a prefix, as GitHub Enterprise Server does under `/api/v3`. */
  pathPrefix?: string;
  /** Check every JSON response against the description's response schema (default true). */
  validateResponses?: boolean;
  /** Lifetime of log download URLs (GitHub: about a minute). */
  logUrlLifetimeMs?: number;
  /**
   * How long a token submitted to `POST /credentials/revoke` keeps authenticating after the 202 (GitHub may process
   * submissions asynchronously); 0 by default.
   */
  credentialRevocationDelayMs?: number;
}

export interface GitHubSimulator {
  /** API root, e.g. `http://127.0.0.1:41234` or `http://127.0.0.1:41234/api/v3`. */
  url: string;
  state: SimulatorState;
  calls: RecordedCall[];
  violations: Violation[];
  /** The GitHub App the simulator registered at start: its id and PKCS#1 private key. */
  app: { appId: number; privateKey: string };
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  close(): Promise<void>;

  addRepository(fullName: string, options?: { private?: boolean }): SimRepository;
  repository(fullName: string): SimRepository;
  /**
   * A workflow and, under `.github/workflows/`, its file on the default branch (`content`, or a minimal workflow that
   * reads no secret). A path starting `dynamic/` is one of GitHub's own workflows (Dependabot, CodeQL): no file.
   */
  addWorkflow(
    fullName: string,
    workflow: { path: string; name?: string; state?: SimWorkflow['state']; content?: string | Buffer },
  ): SimWorkflow;
  /** A path on the default branch: a file, a symlink (`{ symlink: target }`) or a submodule (`{ submodule: url }`). */
  addFile(
    fullName: string,
    path: string,
    file: string | Buffer | { symlink: string } | { submodule: string },
  ): void;
  addRun(
    fullName: string,
    run: {
      workflow: string | number;
      status?: SimRun['status'];
      conclusion?: string | null;
      createdAt?: string;
      jobs?: Array<{ name: string; log: string }>;
      stuck?: boolean;
    },
  ): SimRun;
  addHook(
    fullName: string,
    hook: { url: string; secret?: string; active?: boolean; events?: string[] },
  ): SimHook;
  addDeployKey(fullName: string, key: { title: string; readOnly?: boolean }): SimDeployKey;
  addRunner(fullName: string, runner: { name: string; busy?: boolean }): SimRunner;
  addEnvironment(
    fullName: string,
    environment: { name: string; reviewers?: SimReviewer[]; waitTimer?: number; preventSelfReview?: boolean },
  ): SimEnvironment;
  seedSecret(fullName: string, name: string, value: string, environment?: string): SimSecret;
  /** The decrypted value GitHub holds, or undefined. */
  readSecret(fullName: string, name: string, environment?: string): string | undefined;
  addOrganizationSecret(
    org: string,
    name: string,
    options?: { visibility?: SimOrgSecret['visibility']; repositories?: string[] },
  ): SimOrgSecret;
  addSecretScanningAlert(
    fullName: string,
    alert: { secret: string; secretType: string; displayName?: string },
  ): SimSecretScanningAlert;
  addAuditEntry(org: string, entry: Record<string, unknown> & { action: string; '@timestamp': number }): void;
  organization(login: string): SimOrganization;
  installApp(installation: {
    account: string;
    permissions: PermissionSet;
    repositories?: 'all' | string[];
  }): SimInstallation;
  /** A fine-grained personal access token; `all` acts like a classic token with every scope. */
  issueToken(options?: { permissions?: PermissionSet | 'all'; repositories?: string[] }): string;
  /**
   * A personal access token of `user` (classic `ghp_` unless `fineGrained`), authenticating as that user
   * (`GET /user`) until it is revoked through `POST /credentials/revoke`.
   */
  issuePersonalToken(
    user: string,
    options?: { fineGrained?: boolean; permissions?: PermissionSet | 'all'; repositories?: string[] },
  ): string;
  /** Whether GitHub would still accept `token` now (known, not expired, not revoked). */
  tokenWorks(token: string): boolean;
}

const MAX_BODY_BYTES = 1024 * 1024;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface ActiveFault extends FaultSpec {
  remaining: number;
}

export async function startGitHubSimulator(options: GitHubSimulatorOptions = {}): Promise<GitHubSimulator> {
  await sodium.ready;
  const spec = OpenApiValidator.load();
  const now = options.now ?? Date.now;
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const validateResponses = options.validateResponses ?? true;
  const state = createState();
  const calls: RecordedCall[] = [];
  const violations: Violation[] = [];
  const faults: ActiveFault[] = [];
  let origin = '';
  const apiUrl = () => `${origin}${prefix}`;
  const render = new Renderer(spec, apiUrl);
  const routeContext: RouteContext = {
    state,
    render,
    now,
    logUrlLifetimeMs: options.logUrlLifetimeMs ?? 60_000,
    credentialRevocationDelayMs: options.credentialRevocationDelayMs ?? 0,
  };
  const app: SimApp = createApp(state);

  function takeFault(
    method: string,
    match: { route: string; operationId?: string },
  ): ActiveFault | undefined {
    const fault = faults.find(
      (candidate) =>
        candidate.remaining > 0 &&
        (!candidate.method || candidate.method.toUpperCase() === method) &&
        (!candidate.route || candidate.route === match.route || candidate.route === match.operationId),
    );
    if (fault) fault.remaining -= 1;
    return fault;
  }

  function rateLimitHeaders(
    remaining = 4990,
    resetAt = Math.floor(now() / 1000) + 3600,
  ): Record<string, string> {
    return {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-used': String(5000 - remaining),
      'x-ratelimit-reset': String(resetAt),
      'x-ratelimit-resource': 'core',
    };
  }

  function faultResponse(fault: ActiveFault): RouteResponse {
    const status = fault.status!;
    if (status === 403 || status === 429) {
      const kind =
        fault.kind ??
        (fault.retryAfterSeconds !== undefined || status === 429 ? 'secondary-rate-limit' : 'forbidden');
      if (kind === 'primary-rate-limit') {
        const resetAt = Math.floor(now() / 1000) + (fault.retryAfterSeconds ?? 1);
        return error(status, 'API rate limit exceeded for installation ID 1.', rateLimitHeaders(0, resetAt));
      }
      if (kind === 'secondary-rate-limit') {
        return error(
          status,
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
        );
      }
      return error(
        403,
        'Resource not accessible by integration',
        fault.acceptedPermissions ? { 'x-accepted-github-permissions': fault.acceptedPermissions } : {},
      );
    }
    return error(status, status === 404 ? 'Not Found' : 'Server Error');
  }

  function tokenRepositories(credential: Credential & { kind: 'token' }): number[] | undefined {
    const grant = credential.grant;
    if (grant.repositoryIds) return grant.repositoryIds;
    if (grant.installationId !== undefined) {
      return installationRepositories(state, grant.installationId).map((repository) => repository.id);
    }
    return undefined;
  }

  /** GitHub's answer when the credential may not do this; undefined when it may. */
  function authorize(
    match: MatchedOperation,
    credential: Credential,
    repository: SimRepository | undefined,
  ): RouteResponse | undefined {
    if (ANONYMOUS_ONLY_OPERATIONS.has(match.operationId)) {
      return credential.kind === 'none'
        ? undefined
        : error(403, 'This endpoint does not accept authenticated requests.');
    }
    if (credential.kind === 'none' && ANONYMOUS_ALLOWED_OPERATIONS.has(match.operationId)) return undefined;
    if (credential.kind === 'none') return error(401, 'Requires authentication');
    if (credential.kind === 'invalid') return error(401, credential.reason);
    if (APP_JWT_OPERATIONS.has(match.operationId)) {
      return credential.kind === 'app'
        ? undefined
        : error(401, 'A JSON web token could not be decoded', { 'www-authenticate': 'Bearer' });
    }
    if (credential.kind === 'app')
      return error(401, 'Bad credentials: this endpoint needs an installation token');
    const grant = credential.grant;
    if (grant.installationId !== undefined && state.installations.get(grant.installationId)?.suspendedAt) {
      return error(403, 'This installation has been suspended');
    }
    if ('owner' in match.pathParams && 'repo' in match.pathParams) {
      const reachable = tokenRepositories(credential);
      if (!repository || (reachable && !reachable.includes(repository.id))) return error(404, 'Not Found');
    } else if ('org' in match.pathParams && grant.installationId !== undefined) {
      const installation = state.installations.get(grant.installationId)!;
      if (installation.account.toLowerCase() !== match.pathParams.org.toLowerCase())
        return error(404, 'Not Found');
    }
    const required = REQUIRED_PERMISSIONS[match.operationId];
    if (required && !grants(grant.permissions, required[0], required[1])) {
      const subject = grant.kind === 'installation' ? 'integration' : 'personal access token';
      return error(403, `Resource not accessible by ${subject}`, {
        'x-accepted-github-permissions': `${required[0]}=${required[1]}`,
      });
    }
    return undefined;
  }

  async function serveBlob(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    started: number,
  ): Promise<void> {
    const id = path.slice('/_blobs/'.length);
    const record = (status: number, faulted = false) =>
      calls.push({
        method: request.method ?? 'GET',
        route: '/_blobs/{id}',
        path,
        status,
        time: started,
        durationMs: now() - started,
        faulted,
      });
    const fault = takeFault(request.method ?? 'GET', { route: '/_blobs/{id}' });
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.status) {
      response.writeHead(fault.status, { 'content-type': 'text/plain' }).end('fault injected');
      record(fault.status, true);
      return;
    }
    if (request.headers.authorization) {
      violations.push({
        kind: 'token-sent-to-storage',
        method: request.method ?? 'GET',
        path,
        problems: ['Authorization header sent to log storage'],
      });
      response
        .writeHead(400, { 'content-type': 'text/plain' })
        .end('Authentication information is not given in the correct format.');
      record(400);
      return;
    }
    const blob = state.blobs.get(id);
    if (!blob) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('The specified blob does not exist.');
      record(404);
      return;
    }
    if (now() > blob.expiresAt) {
      response
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('AuthenticationFailed: Signature not valid in the specified time frame.');
      record(403);
      return;
    }
    response.writeHead(200, {
      'content-type': blob.contentType,
      'content-length': String(blob.content.length),
    });
    // Sent in slices so a client that buffers instead of streaming is not accidentally rewarded.
    for (let offset = 0; offset < blob.content.length; offset += 64 * 1024) {
      if (!response.write(blob.content.subarray(offset, offset + 64 * 1024))) {
        await new Promise((resolve) => response.once('drain', resolve));
      }
    }
    response.end();
    record(200);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = now();
    const method = (request.method ?? 'GET').toUpperCase();
    const url = new URL(request.url ?? '/', origin);
    const rawBody = await readBody(request);

    if (url.pathname.startsWith('/_blobs/')) return serveBlob(request, response, url.pathname, started);

    const send = (result: RouteResponse, match: MatchedOperation | undefined, faulted: boolean) => {
      const headers: Record<string, string> = { ...rateLimitHeaders(), ...result.headers };
      let payload: string | undefined;
      if (result.body !== undefined) {
        headers['content-type'] = 'application/json; charset=utf-8';
        payload = JSON.stringify(result.body);
      }
      if (validateResponses && match && !faulted && result.status < 400) {
        const problems = spec.validateResponse(match, result.status, result.body);
        if (problems.length > 0) {
          violations.push({
            kind: 'invalid-response',
            method,
            path: url.pathname,
            operationId: match.operationId,
            problems,
          });
        }
      }
      response.writeHead(result.status, headers).end(payload);
      calls.push({
        method,
        route: match?.route ?? url.pathname,
        path: url.pathname,
        operationId: match?.operationId,
        status: result.status,
        time: started,
        durationMs: now() - started,
        faulted,
      });
    };

    if (prefix && !url.pathname.startsWith(`${prefix}/`)) {
      violations.push({ kind: 'unknown-route', method, path: url.pathname, problems: [`outside ${prefix}`] });
      return send(error(404, 'Not Found'), undefined, false);
    }
    const apiPath = url.pathname.slice(prefix.length);
    const match = spec.match(method, apiPath);
    if (!match) {
      violations.push({
        kind: 'unknown-route',
        method,
        path: url.pathname,
        problems: [`no ${method} ${apiPath} in the description`],
      });
      return send(error(404, 'Not Found'), undefined, false);
    }

    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        violations.push({
          kind: 'invalid-request',
          method,
          path: url.pathname,
          operationId: match.operationId,
          problems: ['body is not JSON'],
        });
        return send(error(400, 'Problems parsing JSON'), match, false);
      }
    }
    const problems = spec.validateRequest(match, {
      query: url.searchParams,
      body,
      contentType: request.headers['content-type'],
    });
    if (problems.length > 0) {
      violations.push({
        kind: 'invalid-request',
        method,
        path: url.pathname,
        operationId: match.operationId,
        problems,
      });
      return send(error(422, `Invalid request.\n\n${problems.join('\n')}`), match, false);
    }

    const fault = takeFault(method, match);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.status) return send(faultResponse(fault), match, true);

    const handler = handlerFor(match.operationId);
    if (!handler) {
      violations.push({
        kind: 'not-simulated',
        method,
        path: url.pathname,
        operationId: match.operationId,
        problems: ['valid, but not simulated'],
      });
      return send(error(501, `${match.operationId} is not simulated`), match, false);
    }
    const credential = identify(state, request.headers.authorization, now());
    const repository =
      match.pathParams.owner && match.pathParams.repo
        ? findRepository(state, match.pathParams.owner, match.pathParams.repo)
        : undefined;
    const refusal = authorize(match, credential, repository);
    if (refusal) return send(refusal, match, false);
    const result = handler(
      {
        match,
        query: url.searchParams,
        body,
        credential,
        repository,
        apiUrl: apiUrl(),
        origin,
        pathname: url.pathname,
      },
      routeContext,
    );
    return send(result, match, false);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((failure: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: `simulator failure: ${String(failure)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const organization = (login: string): SimOrganization => {
    let found = state.organizations.get(login.toLowerCase());
    if (!found) {
      found = { login, id: newId(), secrets: new Map(), auditLog: [], auditLogAvailable: true };
      state.organizations.set(login.toLowerCase(), found);
    }
    return found;
  };
  const repository = (fullName: string): SimRepository => {
    const [owner, name] = fullName.split('/');
    const found = state.repositories.get(repositoryKey(owner, name));
    if (!found) throw new Error(`simulator: no repository ${fullName}`);
    return found;
  };
  const environmentOf = (fullName: string, name: string): SimEnvironment => {
    const found = repository(fullName).environments.get(name);
    if (!found) throw new Error(`simulator: no environment ${name} in ${fullName}`);
    return found;
  };

  const simulator: GitHubSimulator = {
    url: apiUrl(),
    state,
    calls,
    violations,
    app: { appId: app.id, privateKey: app.privateKeyPem },
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((failure) => (failure ? reject(failure) : resolve())),
      );
    },

    addRepository(fullName, repositoryOptions = {}) {
      const [owner, name] = fullName.split('/');
      organization(owner);
      const created: SimRepository = {
        id: newId(),
        owner,
        name,
        fullName,
        private: repositoryOptions.private ?? true,
        workflows: [],
        runs: [],
        secrets: new Map(),
        secretsKey: newSealedBoxKeyPair(),
        environments: new Map(),
        hooks: [],
        deployKeys: [],
        runners: [],
        actionsPermissions: { enabled: true, allowedActions: 'all', shaPinningRequired: false },
        selectedActions: { githubOwnedAllowed: true, verifiedAllowed: true, patternsAllowed: [] },
        secretScanningAlerts: [],
        files: new Map(),
      };
      state.repositories.set(repositoryKey(owner, name), created);
      return created;
    },
    repository,
    addWorkflow(fullName, workflow) {
      const timestamp = iso(now() - 86_400_000);
      const created: SimWorkflow = {
        id: newId(),
        name:
          workflow.name ??
          workflow.path
            .split('/')
            .pop()!
            .replace(/\.ya?ml$/, ''),
        path:
          workflow.path.startsWith('.github/') || workflow.path.startsWith('dynamic/')
            ? workflow.path
            : `.github/workflows/${workflow.path}`,
        state: workflow.state ?? 'active',
        createdAt: timestamp,
        updatedAt: timestamp,
      };
      repository(fullName).workflows.push(created);
      if (!created.path.startsWith('dynamic/')) {
        const content =
          workflow.content ??
          `name: ${created.name}\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo build\n`;
        repository(fullName).files.set(created.path, {
          type: 'file',
          content: Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'),
        });
      }
      return created;
    },
    addFile(fullName, path, file) {
      const files = repository(fullName).files;
      if (typeof file === 'string' || Buffer.isBuffer(file)) {
        files.set(path, { type: 'file', content: Buffer.isBuffer(file) ? file : Buffer.from(file, 'utf8') });
      } else if ('symlink' in file) {
        files.set(path, { type: 'symlink', target: file.symlink });
      } else {
        files.set(path, { type: 'submodule', url: file.submodule });
      }
    },
    addRun(fullName, run) {
      const target = repository(fullName);
      const workflow = target.workflows.find(
        (candidate) =>
          candidate.id === run.workflow ||
          candidate.path.split('/').pop() === run.workflow ||
          candidate.path === run.workflow,
      );
      if (!workflow) throw new Error(`simulator: no workflow ${String(run.workflow)} in ${fullName}`);
      const status = run.status ?? 'completed';
      const createdAt = run.createdAt ?? iso(now());
      const jobs: SimJob[] = (run.jobs ?? [{ name: 'build', log: 'build output\n' }]).map((job) => ({
        id: newId(),
        name: job.name,
        status: status === 'completed' ? 'completed' : 'in_progress',
        conclusion: status === 'completed' ? 'success' : null,
        log: job.log,
        startedAt: createdAt,
        completedAt: status === 'completed' ? createdAt : null,
      }));
      const created: SimRun = {
        id: newId(),
        workflowId: workflow.id,
        status,
        conclusion: run.conclusion ?? (status === 'completed' ? 'success' : null),
        event: 'push',
        headSha: 'a'.repeat(40),
        headBranch: 'main',
        createdAt,
        updatedAt: createdAt,
        runAttempt: 1,
        stuck: run.stuck ?? false,
        jobs,
        logsDeleted: false,
      };
      target.runs.push(created);
      return created;
    },
    addHook(fullName, hook) {
      const timestamp = iso(now());
      const created: SimHook = {
        id: newId(),
        active: hook.active ?? true,
        events: hook.events ?? ['push'],
        config: {
          url: hook.url,
          content_type: 'json',
          insecure_ssl: '0',
          ...(hook.secret !== undefined ? { secret: hook.secret } : {}),
        },
        createdAt: timestamp,
        updatedAt: timestamp,
      };
      repository(fullName).hooks.push(created);
      return created;
    },
    addDeployKey(fullName, key) {
      const created: SimDeployKey = {
        id: newId(),
        title: key.title,
        key: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${Buffer.from(key.title).toString('base64').slice(0, 20)}`,
        readOnly: key.readOnly ?? true,
        createdAt: iso(now()),
      };
      repository(fullName).deployKeys.push(created);
      return created;
    },
    addRunner(fullName, runner) {
      const created: SimRunner = {
        id: newId(),
        name: runner.name,
        os: 'linux',
        status: 'online',
        busy: runner.busy ?? false,
        labels: ['self-hosted', 'linux'],
      };
      repository(fullName).runners.push(created);
      return created;
    },
    addEnvironment(fullName, environment) {
      const timestamp = iso(now());
      const created: SimEnvironment = {
        id: newId(),
        name: environment.name,
        createdAt: timestamp,
        updatedAt: timestamp,
        reviewers: environment.reviewers ?? [],
        waitTimer: environment.waitTimer ?? 0,
        preventSelfReview: environment.preventSelfReview ?? false,
        deploymentBranchPolicy: null,
        secrets: new Map(),
        secretsKey: newSealedBoxKeyPair(),
      };
      repository(fullName).environments.set(environment.name, created);
      return created;
    },
    seedSecret(fullName, name, value, environment) {
      const secrets = environment
        ? environmentOf(fullName, environment).secrets
        : repository(fullName).secrets;
      const timestamp = iso(now() - 3_600_000);
      const created: SimSecret = {
        name: name.toUpperCase(),
        value,
        createdAt: timestamp,
        updatedAt: timestamp,
        writes: 0,
      };
      secrets.set(created.name, created);
      return created;
    },
    readSecret(fullName, name, environment) {
      const secrets = environment
        ? environmentOf(fullName, environment).secrets
        : repository(fullName).secrets;
      return secrets.get(name.toUpperCase())?.value;
    },
    addOrganizationSecret(org, name, secretOptions = {}) {
      const timestamp = iso(now() - 3_600_000);
      const created: SimOrgSecret = {
        name: name.toUpperCase(),
        visibility: secretOptions.visibility ?? 'all',
        selectedRepositoryIds: (secretOptions.repositories ?? []).map((fullName) => repository(fullName).id),
        createdAt: timestamp,
        updatedAt: timestamp,
      };
      organization(org).secrets.set(created.name, created);
      return created;
    },
    addSecretScanningAlert(fullName, alert) {
      const target = repository(fullName);
      const created: SimSecretScanningAlert = {
        number: target.secretScanningAlerts.length + 1,
        secretType: alert.secretType,
        secretTypeDisplayName: alert.displayName ?? alert.secretType,
        secret: alert.secret,
        state: 'open',
        createdAt: iso(now()),
      };
      target.secretScanningAlerts.push(created);
      return created;
    },
    addAuditEntry(org, entry) {
      organization(org).auditLog.push({
        created_at: entry['@timestamp'],
        _document_id: randomToken('doc-'),
        ...entry,
      });
    },
    organization,
    installApp(installation) {
      organization(installation.account);
      const created: SimInstallation = {
        id: newId(),
        appId: app.id,
        account: installation.account,
        permissions: installation.permissions,
        repositorySelection:
          !installation.repositories || installation.repositories === 'all' ? 'all' : 'selected',
        repositoryIds:
          !installation.repositories || installation.repositories === 'all'
            ? []
            : installation.repositories.map((fullName) => repository(fullName).id),
        suspendedAt: null,
        createdAt: iso(now()),
      };
      state.installations.set(created.id, created);
      return created;
    },
    issueToken(tokenOptions = {}) {
      const token = randomToken('github_pat_');
      state.tokens.set(token, {
        kind: 'personal',
        permissions: tokenOptions.permissions ?? 'all',
        repositoryIds: tokenOptions.repositories?.map((fullName) => repository(fullName).id),
        expiresAt: Number.MAX_SAFE_INTEGER,
      });
      return token;
    },
    issuePersonalToken(user, tokenOptions = {}) {
      const token = randomToken(tokenOptions.fineGrained ? 'github_pat_' : 'ghp_');
      state.tokens.set(token, {
        kind: 'personal',
        user,
        permissions: tokenOptions.permissions ?? 'all',
        repositoryIds: tokenOptions.repositories?.map((fullName) => repository(fullName).id),
        expiresAt: Number.MAX_SAFE_INTEGER,
      });
      return token;
    },
    tokenWorks(token) {
      return identify(state, `token ${token}`, now()).kind === 'token';
    },
  };
  return simulator;
}
