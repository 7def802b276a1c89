import './simulators/github/jest-esm-interop';
import { Octokit } from '@octokit/rest';
import sodium from 'libsodium-wrappers';
import { createAppJwtSigner } from '../providers/github/app-jwt';
import { startGitHubSimulator, type GitHubSimulator } from './simulators/github';
import { OpenApiValidator } from './simulators/github/openapi';

/** The simulator is the yardstick for the provider tests, so it gets tests of its own: real HTTP, real crypto. */

/** Refusals are what these tests provoke; Octokit need not print each one. */
const quietLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

let clockSkewMs = 0;
let sim: GitHubSimulator;
let adminToken: string;

beforeAll(async () => {
  sim = await startGitHubSimulator({ now: () => Date.now() + clockSkewMs });
  sim.addRepository('acme/payments');
  sim.addRepository('acme/other');
  adminToken = sim.issueToken();
});

afterAll(async () => {
  await sim.close();
});

afterEach(() => {
  clockSkewMs = 0;
  sim.clearFaults();
  // Whatever a test provoked from the client side, the simulator's own answers must match the description.
  expect(sim.violations.filter((violation) => violation.kind === 'invalid-response')).toEqual([]);
});

const api = (path: string, init: RequestInit = {}, token: string | null = adminToken) =>
  fetch(`${sim.url}${path}`, {
    ...init,
    headers: {
      ...(token ? { authorization: `token ${token}` } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
  });

function violationsSince(count: number) {
  return sim.violations.slice(count);
}

describe('request validation against the OpenAPI description', () => {
  it('answers 404 to a route GitHub does not have and records a violation', async () => {
    const before = sim.violations.length;
    const response = await api('/repos/acme/payments/actions/workflowz');
    expect(response.status).toBe(404);
    expect(violationsSince(before)).toEqual([
      expect.objectContaining({ kind: 'unknown-route', method: 'GET' }),
    ]);
  });

  it('answers 404 to a known path with a method GitHub does not serve there', async () => {
    const before = sim.violations.length;
    const response = await api('/repos/acme/payments/actions/permissions', { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(violationsSince(before)[0]?.kind).toBe('unknown-route');
  });

  it('rejects a body that breaks the schema, naming the field', async () => {
    const before = sim.violations.length;
    const response = await api('/repos/acme/payments/actions/permissions', {
      method: 'PUT',
      body: JSON.stringify({ enabled: 'yes', allowed_actions: 'everything' }),
    });
    expect(response.status).toBe(422);
    const [violation] = violationsSince(before);
    expect(violation.kind).toBe('invalid-request');
    expect(violation.problems.join('\n')).toMatch(/body\.enabled/);
    expect(violation.problems.join('\n')).toMatch(/body\.allowed_actions/);
  });

  it('rejects a missing required body and an unknown or ill-typed query parameter', async () => {
    const before = sim.violations.length;
    expect((await api('/repos/acme/payments/actions/secrets/X', { method: 'PUT' })).status).toBe(422);
    expect((await api('/repos/acme/payments/hooks?per_page=many')).status).toBe(422);
    expect((await api('/repos/acme/payments/hooks?colour=blue')).status).toBe(422);
    const problems = violationsSince(before).flatMap((violation) => violation.problems);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/request body is required/),
        expect.stringMatching(/query parameter per_page/),
        expect.stringMatching(/query parameter colour is not defined/),
      ]),
    );
  });

  it("accepts GitHub's search syntax for the runs `created` filter and refuses anything else", async () => {
    const before = sim.violations.length;
    const range = encodeURIComponent('2024-01-01T00:00:00Z..2024-01-02T00:00:00Z');
    expect((await api(`/repos/acme/payments/actions/runs?created=${range}`)).status).toBe(200);
    expect(
      (await api(`/repos/acme/payments/actions/runs?created=${encodeURIComponent('>=2024-01-01')}`)).status,
    ).toBe(200);
    expect((await api('/repos/acme/payments/actions/runs?created=yesterday')).status).toBe(422);
    expect(violationsSince(before)).toHaveLength(1);
  });

  it('checks responses against the response schemas', () => {
    const validator = OpenApiValidator.load();
    const match = validator.match('GET', '/repos/acme/payments/hooks')!;
    expect(validator.validateResponse(match, 200, [{ id: 'not-a-number' }])).not.toEqual([]);
    expect(validator.validateResponse(match, 200, validator.example('repos/list-webhooks', 200))).toEqual([]);
  });
});

describe('sealed-box secrets', () => {
  it('decrypts what was sealed under the repository key and keeps the value for assertions', async () => {
    await sodium.ready;
    const key = (await (await api('/repos/acme/payments/actions/secrets/public-key')).json()) as {
      key: string;
      key_id: string;
    };
    const sealed = sodium.crypto_box_seal(
      sodium.from_string('s3cret-value'),
      sodium.from_base64(key.key, sodium.base64_variants.ORIGINAL),
    );
    const response = await api('/repos/acme/payments/actions/secrets/API_KEY', {
      method: 'PUT',
      body: JSON.stringify({
        encrypted_value: sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL),
        key_id: key.key_id,
      }),
    });
    expect(response.status).toBe(201);
    expect(sim.readSecret('acme/payments', 'API_KEY')).toBe('s3cret-value');
  });

  it('refuses a value sealed under another key, or a stale key id', async () => {
    await sodium.ready;
    const key = (await (await api('/repos/acme/payments/actions/secrets/public-key')).json()) as {
      key: string;
      key_id: string;
    };
    const stranger = sodium.crypto_box_keypair();
    const wrongKey = sodium.to_base64(
      sodium.crypto_box_seal(sodium.from_string('x'), stranger.publicKey),
      sodium.base64_variants.ORIGINAL,
    );
    const put = (encrypted: string, keyId: string) =>
      api('/repos/acme/payments/actions/secrets/OTHER', {
        method: 'PUT',
        body: JSON.stringify({ encrypted_value: encrypted, key_id: keyId }),
      });
    expect((await put(wrongKey, key.key_id)).status).toBe(422);
    const right = sodium.to_base64(
      sodium.crypto_box_seal(
        sodium.from_string('x'),
        sodium.from_base64(key.key, sodium.base64_variants.ORIGINAL),
      ),
      sodium.base64_variants.ORIGINAL,
    );
    expect((await put(right, 'stale-key')).status).toBe(422);
    expect(sim.readSecret('acme/payments', 'OTHER')).toBeUndefined();
  });
});

describe('run log downloads', () => {
  it('redirects to a storage URL that serves the logs without the API token and expires after 60 s', async () => {
    sim.addWorkflow('acme/payments', { path: 'logs.yml' });
    const run = sim.addRun('acme/payments', {
      workflow: 'logs.yml',
      jobs: [{ name: 'deploy', log: 'line one\nline two\n' }],
    });
    const redirect = await api(`/repos/acme/payments/actions/jobs/${run.jobs[0].id}/logs`, {
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location')!;

    const before = sim.violations.length;
    expect((await fetch(location, { headers: { authorization: `token ${adminToken}` } })).status).toBe(400);
    expect(violationsSince(before)).toEqual([expect.objectContaining({ kind: 'token-sent-to-storage' })]);

    const fresh = await fetch(location);
    expect(fresh.status).toBe(200);
    expect(await fresh.text()).toBe('line one\nline two\n');

    clockSkewMs = 61_000;
    const expired = await fetch(location);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/time frame/);
  });

  it('serves the run archive as a ZIP whose entries hold each job log', async () => {
    sim.addWorkflow('acme/payments', { path: 'zip.yml' });
    const run = sim.addRun('acme/payments', {
      workflow: 'zip.yml',
      jobs: [
        { name: 'a', log: 'alpha\n' },
        { name: 'b', log: 'beta\n' },
      ],
    });
    const redirect = await api(`/repos/acme/payments/actions/runs/${run.id}/logs`, { redirect: 'manual' });
    const archive = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
    expect(archive.readUInt32LE(0)).toBe(0x04034b50);
    expect(archive.includes(Buffer.from('0_a.txt'))).toBe(true);
    expect(archive.includes(Buffer.from('beta\n'))).toBe(true);
    expect(archive.readUInt32LE(archive.length - 22)).toBe(0x06054b50);
  });

  it('forgets the logs once they are deleted', async () => {
    sim.addWorkflow('acme/payments', { path: 'purge.yml' });
    const run = sim.addRun('acme/payments', { workflow: 'purge.yml' });
    expect((await api(`/repos/acme/payments/actions/runs/${run.id}/logs`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect(
      (await api(`/repos/acme/payments/actions/runs/${run.id}/logs`, { redirect: 'manual' })).status,
    ).toBe(404);
    expect(run.logsDeleted).toBe(true);
  });
});

describe('authentication and permissions', () => {
  it('mints narrowed installation tokens only for a valid App JWT and enforces them', async () => {
    const installation = sim.installApp({
      account: 'acme',
      permissions: { actions: 'read', secrets: 'write' },
    });
    const appOctokit = new Octokit({ baseUrl: sim.url, log: quietLog });
    await expect(
      appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
        installation_id: installation.id,
        headers: { authorization: 'bearer not.a.jwt' },
      }),
    ).rejects.toMatchObject({ status: 401 });

    const { jwt } = await createAppJwtSigner(sim.app.appId, sim.app.privateKey)(sim.app.appId);
    const repositoryId = sim.repository('acme/payments').id;
    const { data } = await appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
      installation_id: installation.id,
      headers: { authorization: `bearer ${jwt}` },
      repository_ids: [repositoryId],
      permissions: { actions: 'read' },
    });
    expect(data.repositories?.map((repository) => repository.id)).toEqual([repositoryId]);

    const narrowed = new Octokit({ baseUrl: sim.url, auth: data.token, log: quietLog });
    await expect(
      narrowed.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'payments' }),
    ).resolves.toMatchObject({ status: 200 });
    // Another repository is invisible to the token, as GitHub hides what a token cannot reach.
    await expect(
      narrowed.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'other' }),
    ).rejects.toMatchObject({ status: 404 });
    // Secrets were granted to the installation but not asked for: the narrowed token does not carry them.
    const refused = await api('/repos/acme/payments/actions/secrets', {}, data.token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-accepted-github-permissions')).toBe('secrets=read');

    await expect(
      appOctokit.request('POST /app/installations/{installation_id}/access_tokens', {
        installation_id: installation.id,
        headers: { authorization: `bearer ${jwt}` },
        permissions: { administration: 'write' },
      }),
    ).rejects.toMatchObject({ status: 422 });
  });

  it('refuses an expired App JWT', async () => {
    const { jwt } = await createAppJwtSigner(
      sim.app.appId,
      sim.app.privateKey,
      () => Date.now() - 20 * 60_000,
    )(sim.app.appId);
    const response = await fetch(`${sim.url}/app/installations/1/access_tokens`, {
      method: 'POST',
      headers: { authorization: `bearer ${jwt}` },
    });
    expect(response.status).toBe(401);
  });

  it('refuses authenticated calls to the credential revocation API', async () => {
    const body = JSON.stringify({ credentials: ['ghp_abc'] });
    expect((await api('/credentials/revoke', { method: 'POST', body })).status).toBe(403);
    expect((await api('/credentials/revoke', { method: 'POST', body }, null)).status).toBe(202);
    expect(sim.state.revokedCredentials).toContain('ghp_abc');
  });
});

describe('fault injection and the call log', () => {
  it('fails the given route the given number of times with retry-after, then answers normally', async () => {
    sim.injectFault({ route: '/repos/{owner}/{repo}/hooks', status: 429, times: 2, retryAfterSeconds: 7 });
    const first = await api('/repos/acme/payments/hooks');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(((await first.json()) as { message: string }).message).toMatch(/secondary rate limit/);
    expect((await api('/repos/acme/payments/hooks')).status).toBe(429);
    expect((await api('/repos/acme/payments/hooks')).status).toBe(200);
    const recorded = sim.calls.filter((call) => call.route === '/repos/{owner}/{repo}/hooks').slice(-3);
    expect(recorded.map((call) => [call.status, call.faulted])).toEqual([
      [429, true],
      [429, true],
      [200, false],
    ]);
    expect(recorded.every((call) => typeof call.time === 'number' && call.method === 'GET')).toBe(true);
  });

  it('signals a primary rate limit with x-ratelimit-remaining 0 and the reset time', async () => {
    sim.injectFault({
      route: 'repos/list-deploy-keys',
      status: 403,
      kind: 'primary-rate-limit',
      retryAfterSeconds: 30,
    });
    const response = await api('/repos/acme/payments/keys');
    expect(response.status).toBe(403);
    expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 + 20);
  });

  it('adds latency without failing', async () => {
    sim.injectFault({ route: '/repos/{owner}/{repo}/keys', latencyMs: 150 });
    const started = Date.now();
    expect((await api('/repos/acme/payments/keys')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('pagination and GitHub Enterprise Server paths', () => {
  it('pages lists with Link headers Octokit follows, under an /api/v3 prefix', async () => {
    const enterprise = await startGitHubSimulator({ pathPrefix: '/api/v3' });
    try {
      enterprise.addRepository('corp/app');
      for (let index = 0; index < 130; index += 1)
        enterprise.addDeployKey('corp/app', { title: `key-${index}` });
      const octokit = new Octokit({ baseUrl: enterprise.url, auth: enterprise.issueToken(), log: quietLog });
      const keys = await octokit.paginate(octokit.rest.repos.listDeployKeys, {
        owner: 'corp',
        repo: 'app',
        per_page: 50,
      });
      expect(keys.map((key) => key.title)).toEqual(Array.from({ length: 130 }, (_, index) => `key-${index}`));
      expect(enterprise.calls.filter((call) => call.operationId === 'repos/list-deploy-keys')).toHaveLength(
        3,
      );
      expect((await fetch(`${enterprise.url.replace('/api/v3', '')}/repos/corp/app/keys`)).status).toBe(404);
      expect(enterprise.violations.map((violation) => violation.kind)).toEqual(['unknown-route']);
    } finally {
      await enterprise.close();
    }
  });
});
