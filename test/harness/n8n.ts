import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { N8N_API_KEY_SCOPES } from '../../providers/n8n/options';
import { freePort } from './ports';

/** Pinned here and in .ci/install-n8n.sh (and test/fixtures/n8n/package.json): the last n8n line on Node 20. */
export const N8N_VERSION = '1.123.81';

/** Where .ci/install-n8n.sh puts its copy: the user cache, like the Temporal CLI build. */
export function n8nCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tourniquet', `n8n-${N8N_VERSION}`);
}

/**
 * n8n's start script, installed on first use by .ci/install-n8n.sh (about 1.8 GB and three minutes, once). The script
 * builds in a staging directory and renames it into place, so two jest workers installing at once never see half a
 * copy; the marker file is written before the rename, so its presence means the copy is complete.
 */
export function ensureN8n(): string {
  const dir = n8nCacheDir();
  const bin = join(dir, 'node_modules', 'n8n', 'bin', 'n8n');
  if (existsSync(join(dir, 'installed'))) return bin;
  const script = join(__dirname, '..', '..', '.ci', 'install-n8n.sh');
  const install = spawnSync('bash', [script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20 * 60_000,
  });
  if (install.status !== 0 || !existsSync(join(dir, 'installed'))) {
    throw new Error(`installing n8n ${N8N_VERSION} failed (${script}):\n${install.stdout}${install.stderr}`);
  }
  return bin;
}

export interface N8nCredentialRef {
  id: string;
  name: string;
  type: string;
}

export interface N8nWorkflowJson {
  id: string;
  name: string;
  active: boolean;
  nodes: { name: string; type: string; credentials?: Record<string, { id: string; name: string }> }[];
  activeVersion?: { nodes?: N8nWorkflowJson['nodes'] } | null;
  [key: string]: unknown;
}

export interface N8nExecutionJson {
  id: string;
  workflowId: string;
  status: string;
  startedAt: string | null;
  stoppedAt: string | null;
}

export interface N8nServer {
  baseUrl: string;
  port: number;
  /** The provider's key, created with exactly N8N_API_KEY_SCOPES. */
  apiKey: string;
  /** The harness's own key (every scope the owner may grant), for seeding and inspecting. */
  adminApiKey: string;
  owner: { email: string; password: string };
  /** What the server printed, for leak checks. */
  readLog(): string;
  stop(): Promise<void>;
  /** A public API call with the admin key: `{ status, body }` (body parsed when JSON). */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  createCredential(name: string, type: string, data: Record<string, string>): Promise<N8nCredentialRef>;
  createWorkflow(json: Record<string, unknown>): Promise<N8nWorkflowJson>;
  workflow(id: string): Promise<N8nWorkflowJson | undefined>;
  activate(id: string): Promise<void>;
  /**
   * A workflow started by a Webhook trigger at `/webhook/<path>` that checks a header against `auth` (an
   * httpHeaderAuth credential), then runs a Set node; `uses` adds an HTTP Request node (never run) naming more
   * credentials, so that a workflow can use a credential without being reachable with it.
   */
  webhookWorkflow(options: {
    name: string;
    path: string;
    auth?: N8nCredentialRef;
    uses?: N8nCredentialRef[];
    active?: boolean;
  }): Promise<N8nWorkflowJson>;
  /** POSTs to the production webhook URL; the status n8n answered. */
  callWebhook(path: string, headers?: Record<string, string>, body?: unknown): Promise<number>;
  executions(workflowId?: string): Promise<N8nExecutionJson[]>;
  /** Waits until `workflowId` has at least `count` finished executions saved. */
  waitForExecutions(workflowId: string, count: number): Promise<N8nExecutionJson[]>;
}

const OWNER = { email: 'owner@tourniquet.test', firstName: 'Incident', lastName: 'Owner' };
/** n8n asks for 8+ characters with a digit and an upper-case letter. */
const ownerPassword = () => `Tq-${randomBytes(12).toString('hex')}-A1`;

/** Under load (2 cores, other suites) n8n can take a while to migrate its SQLite schema. */
const START_DEADLINE_MS = 180_000;

async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

function parse(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return text;
  }
}

/**
 * `/healthz` answers before the migrations have run, and `/healthz/readiness` before the REST and public API routes
 * are mounted: ready means the public API refuses a request without a key (401, not 404).
 */
async function waitUntilReady(baseUrl: string, exited: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exited()) throw new Error(`n8n exited before answering:\n${log().slice(-4000)}`);
    try {
      const settings = await fetch(`${baseUrl}/rest/settings`, { signal: AbortSignal.timeout(2_000) });
      await settings.body?.cancel();
      const api = await fetch(`${baseUrl}/api/v1/workflows`, { signal: AbortSignal.timeout(2_000) });
      await api.body?.cancel();
      if (settings.ok && api.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `n8n did not answer at ${baseUrl} within ${START_DEADLINE_MS / 1000} s:\n${log().slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function cookieFrom(headers: Headers): string {
  const cookie = headers.getSetCookie().find((value) => value.startsWith('n8n-auth='));
  if (!cookie) throw new Error('n8n set no n8n-auth cookie');
  return cookie.split(';')[0];
}

/**
 * What n8n's docs describe for a new instance: the owner account (`POST /rest/owner/setup`), a login
 * (`POST /rest/login`), then API keys from Settings > n8n API (`POST /rest/api-keys` with a label, scopes and no
 * expiry). The public API is then checked to refuse a request without a key and accept one with it.
 */
async function bootstrap(
  baseUrl: string,
  password: string,
): Promise<{ apiKey: string; adminApiKey: string }> {
  const setup = await request(`${baseUrl}/rest/owner/setup`, {
    method: 'POST',
    body: { ...OWNER, password },
  });
  if (setup.status !== 200)
    throw new Error(`owner setup answered ${setup.status}: ${setup.text.slice(0, 300)}`);
  const login = await request(`${baseUrl}/rest/login`, {
    method: 'POST',
    body: { emailOrLdapLoginId: OWNER.email, password },
  });
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  const cookie = cookieFrom(login.headers);

  const scopes = await request(`${baseUrl}/rest/api-keys/scopes`, { headers: { cookie } });
  const ownerScopes = (parse(scopes.text) as { data?: string[] } | undefined)?.data ?? [];
  const missing = N8N_API_KEY_SCOPES.filter((scope) => !ownerScopes.includes(scope));
  if (missing.length > 0) throw new Error(`n8n ${N8N_VERSION} has no API key scope ${missing.join(', ')}`);

  const createKey = async (
    label: string,
    keyScopes: readonly string[],
    expiresAt: number | null,
  ): Promise<string> => {
    const created = await request(`${baseUrl}/rest/api-keys`, {
      method: 'POST',
      headers: { cookie },
      body: { label, scopes: keyScopes, expiresAt },
    });
    const key = (parse(created.text) as { data?: { rawApiKey?: string } } | undefined)?.data?.rawApiKey;
    if (created.status !== 200 || !key)
      throw new Error(`creating the ${label} API key answered ${created.status}`);
    return key;
  };
  const apiKey = await createKey('tourniquet', N8N_API_KEY_SCOPES, null);
  // A key is a JWT of the user and the second it was issued: a second key in the same second would be the same
  // token (n8n answers 500 on the duplicate). An expiry makes it another token.
  const adminApiKey = await createKey('test-harness', ownerScopes, Math.floor(Date.now() / 1000) + 86_400);

  const without = await request(`${baseUrl}/api/v1/workflows`);
  if (without.status !== 401) throw new Error(`the public API answered ${without.status} without an API key`);
  const wrong = await request(`${baseUrl}/api/v1/workflows`, { headers: { 'x-n8n-api-key': 'not-a-key' } });
  if (wrong.status !== 401) throw new Error(`the public API answered ${wrong.status} to a wrong API key`);
  for (const key of [apiKey, adminApiKey]) {
    const accepted = await request(`${baseUrl}/api/v1/workflows`, { headers: { 'x-n8n-api-key': key } });
    if (accepted.status !== 200)
      throw new Error(`the public API answered ${accepted.status} to a key it issued`);
  }
  return { apiKey, adminApiKey };
}

function serverEnv(port: number, userFolder: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: userFolder,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    GENERIC_TIMEZONE: 'UTC',
    NODE_ENV: 'production',
    N8N_USER_FOLDER: userFolder,
    N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
    N8N_PORT: String(port),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    N8N_PROTOCOL: 'http',
    WEBHOOK_URL: `http://127.0.0.1:${port}/`,
    DB_TYPE: 'sqlite',
    // The pooled SQLite driver (WAL): the legacy single connection interleaves concurrent transactions
    // ("no such savepoint", "cannot commit - no transaction is active") as soon as rotations run side by side.
    DB_SQLITE_POOL_SIZE: '4',
    // Test fixture only: the legacy engine evaluates expressions without isolated-vm, which does not build on
    // Node 20 (see .ci/install-n8n.sh). It runs expressions unisolated, which no production n8n should do.
    N8N_EXPRESSION_ENGINE: 'legacy',
    // Task runners would start a broker on a fixed port (5679) per instance; the Code node is not used here.
    N8N_RUNNERS_ENABLED: 'false',
    N8N_SECURE_COOKIE: 'false',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    N8N_PUBLIC_API_SWAGGERUI_DISABLED: 'true',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
    N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '3',
    EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'all',
    EXECUTIONS_DATA_SAVE_ON_ERROR: 'all',
    EXECUTIONS_DATA_PRUNE: 'false',
  };
}

/**
 * A private n8n for one test file: SQLite in a temporary user folder, its own port on 127.0.0.1, an owner and two API
 * keys. The first start after a fresh checkout installs n8n (minutes); later ones take 5–15 s.
 */
export async function startN8n(): Promise<N8nServer> {
  const bin = ensureN8n();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const userFolder = await mkdtemp(join(tmpdir(), 'tourniquet-n8n-'));
    const server = spawn(process.execPath, [bin, 'start'], {
      env: serverEnv(port, userFolder),
      cwd: userFolder,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    server.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    server.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const readLog = () => Buffer.concat(chunks).toString('utf8');
    const exited = new Promise<void>((resolve) => {
      if (server.exitCode !== null || server.signalCode !== null) resolve();
      else server.once('exit', () => resolve());
    });
    const gone = () => server.exitCode !== null || server.signalCode !== null;
    // If the test process dies without stop(), the server must not outlive it.
    const killOnExit = () => server.kill('SIGKILL');
    process.once('exit', killOnExit);
    const stop = async () => {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      await rm(userFolder, { recursive: true, force: true });
    };
    try {
      await waitUntilReady(baseUrl, gone, readLog);
      const password = ownerPassword();
      const { apiKey, adminApiKey } = await bootstrap(baseUrl, password);
      return harness({
        baseUrl,
        port,
        apiKey,
        adminApiKey,
        owner: { email: OWNER.email, password },
        readLog,
        stop,
      });
    } catch (error) {
      // Most often another process took the port between freePort() and n8n's listen: try another one.
      lastError = error;
      await stop();
    }
  }
  throw lastError instanceof Error ? lastError : new Error('n8n did not start');
}

function harness(
  base: Pick<N8nServer, 'baseUrl' | 'port' | 'apiKey' | 'adminApiKey' | 'owner' | 'readLog' | 'stop'>,
): N8nServer {
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const answer = await request(`${base.baseUrl}/api/v1${path}`, {
      method,
      headers: { 'x-n8n-api-key': base.adminApiKey },
      body,
    });
    return { status: answer.status, body: parse(answer.text) as T };
  };
  const must = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const answer = await api<T>(method, path, body);
    if (answer.status !== 200) {
      throw new Error(`${method} /api/v1${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  };

  const server: N8nServer = {
    ...base,
    api,
    async createCredential(name, type, data) {
      const created = await must<{ id: string }>('POST', '/credentials', { name, type, data });
      return { id: created.id, name, type };
    },
    createWorkflow: (json) => must<N8nWorkflowJson>('POST', '/workflows', json),
    async workflow(id) {
      const answer = await api<N8nWorkflowJson>('GET', `/workflows/${id}`);
      return answer.status === 200 ? answer.body : undefined;
    },
    async activate(id) {
      await must('POST', `/workflows/${id}/activate`);
    },
    async webhookWorkflow({ name, path, auth, uses = [], active = true }) {
      const nodes: Record<string, unknown>[] = [
        {
          id: randomUUID(),
          name: 'Webhook',
          type: 'n8n-nodes-base.webhook',
          typeVersion: 2,
          position: [0, 0],
          webhookId: randomUUID(),
          parameters: {
            httpMethod: 'POST',
            path,
            authentication: auth ? 'headerAuth' : 'none',
            responseMode: 'onReceived',
            options: {},
          },
          ...(auth ? { credentials: { httpHeaderAuth: { id: auth.id, name: auth.name } } } : {}),
        },
        {
          id: randomUUID(),
          name: 'Remember',
          type: 'n8n-nodes-base.set',
          typeVersion: 3.4,
          position: [220, 0],
          parameters: {
            assignments: {
              assignments: [
                { id: randomUUID(), name: 'seen', value: '={{ $json.body.msg }}', type: 'string' },
              ],
            },
            options: {},
          },
        },
      ];
      const connections: Record<string, unknown> = {
        Webhook: { main: [[{ node: 'Remember', type: 'main', index: 0 }]] },
      };
      if (uses.length > 0) {
        // Disabled: it names the credentials (what the provider looks for) but never calls anything.
        nodes.push({
          id: randomUUID(),
          name: 'Call out',
          type: 'n8n-nodes-base.httpRequest',
          typeVersion: 4.2,
          position: [440, 0],
          disabled: true,
          parameters: {
            url: 'http://127.0.0.1:9/never',
            authentication: 'genericCredentialType',
            genericAuthType: uses[0].type,
            options: {},
          },
          credentials: Object.fromEntries(
            uses.map((credential) => [credential.type, { id: credential.id, name: credential.name }]),
          ),
        });
      }
      const created = await must<N8nWorkflowJson>('POST', '/workflows', {
        name,
        nodes,
        connections,
        settings: { saveDataSuccessExecution: 'all', saveDataErrorExecution: 'all', executionOrder: 'v1' },
      });
      if (active) await server.activate(created.id);
      return (await server.workflow(created.id))!;
    },
    async callWebhook(path, headers = {}, body = { msg: 'hello' }) {
      const answer = await request(`${base.baseUrl}/webhook/${path}`, { method: 'POST', headers, body });
      return answer.status;
    },
    async executions(workflowId) {
      const found: N8nExecutionJson[] = [];
      let cursor: string | undefined;
      for (;;) {
        const query = new URLSearchParams({ limit: '250' });
        if (workflowId) query.set('workflowId', workflowId);
        if (cursor) query.set('cursor', cursor);
        const page = await must<{ data: N8nExecutionJson[]; nextCursor: string | null }>(
          'GET',
          `/executions?${query.toString()}`,
        );
        found.push(...page.data.map((execution) => ({ ...execution, id: String(execution.id) })));
        if (!page.nextCursor || page.data.length === 0) return found;
        cursor = page.nextCursor;
      }
    },
    async waitForExecutions(workflowId, count) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const found = (await server.executions(workflowId)).filter((execution) => execution.stoppedAt);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          throw new Error(`workflow ${workflowId} has ${found.length} of ${count} executions after 60 s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
  return server;
}
