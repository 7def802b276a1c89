import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  authenticateSiemRequest,
  createReplayCache,
  enabledSources,
  isSiemSource,
  signGenericAlert,
  siemSecretsFromEnv,
  type ReplayCache,
} from '../gateway/siem';

/**
 * A stand-in for the lead's gateway route, kept minimal: raw body in, `authenticateSiemRequest` on Node's
 * own header object, so header casing, joining and bytes are exactly what a real server sees.
 */
interface TestGateway {
  url: string;
  server: Server;
  replayCache: ReplayCache;
}

function hex(bytes = 24): string {
  return randomBytes(bytes).toString('hex');
}

const secrets = {
  generic: hex(),
  genericPrevious: hex(),
  github: hex(),
  githubPrevious: hex(),
  gitguardian: hex(),
  splunk: hex(),
  azureUser: 'tourniquet',
  azurePassword: hex(),
  elastic: hex(),
  datadog: hex(),
};

const env: Record<string, string> = {
  SIEM_SECRET_GENERIC: `${secrets.generic}, ${secrets.genericPrevious}`,
  SIEM_SECRET_GITHUB: `${secrets.github},${secrets.githubPrevious}`,
  SIEM_SECRET_GITGUARDIAN: secrets.gitguardian,
  SIEM_SECRET_SPLUNK: secrets.splunk,
  SIEM_SECRET_AZURE_MONITOR: `${secrets.azureUser}:${secrets.azurePassword}`,
  SIEM_SECRET_ELASTIC: secrets.elastic,
  // Datadog is deliberately left unconfigured: its route must not exist.
  UNRELATED: 'x',
};

async function startGateway(): Promise<TestGateway> {
  const replayCache = createReplayCache();
  const configured = siemSecretsFromEnv(env);
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const source = /^\/webhooks\/siem\/([a-z-]+)$/.exec(request.url ?? '')?.[1] ?? '';
      if (!isSiemSource(source) || !enabledSources(env).includes(source)) {
        response.writeHead(404).end();
        return;
      }
      const result = authenticateSiemRequest(source, request.headers, Buffer.concat(chunks), {
        secrets: configured,
        replayCache,
      });
      response.writeHead(result.ok ? 200 : result.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(result));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, replayCache };
}

interface Reply {
  status: number;
  reason?: string;
}

async function post(gateway: TestGateway, source: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${gateway.url}/webhooks/siem/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  const reply: Reply = { status: response.status };
  if (text) reply.reason = (JSON.parse(text) as { reason?: string }).reason;
  return reply;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function hmacHex(key: string, message: string): string {
  return createHmac('sha256', key).update(message, 'utf8').digest('hex');
}

function genericHeaders(secret: string, body: string, timestamp = nowSeconds()): Record<string, string> {
  return {
    'X-Tourniquet-Timestamp': String(timestamp),
    'X-Tourniquet-Signature': `sha256=${hmacHex(secret, `${timestamp}.${body}`)}`,
  };
}

function uniqueBody(): string {
  return JSON.stringify({ alertId: hex(8), detector: 'test', note: 'ünïcödé bytes' });
}

describe('SIEM authentication over real HTTP', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) =>
      gateway.server.close((error) => (error ? reject(error) : resolve())),
    );
  });

  it('enables exactly the sources whose secret is configured', () => {
    expect(enabledSources(env)).toEqual([
      'generic',
      'github',
      'gitguardian',
      'splunk',
      'azure-monitor',
      'elastic',
    ]);
    expect(enabledSources({ SIEM_SECRET_DATADOG: ' , ' })).toEqual([]);
  });

  it('answers 404 for an unconfigured source, and the authenticator refuses it too', async () => {
    expect(
      (await post(gateway, 'datadog', '{}', { authorization: `Bearer ${secrets.datadog}` })).status,
    ).toBe(404);
    const result = authenticateSiemRequest(
      'datadog',
      { authorization: `Bearer ${secrets.datadog}` },
      Buffer.from('{}'),
      {
        secrets: siemSecretsFromEnv(env),
        replayCache: createReplayCache(),
      },
    );
    expect(result).toEqual({ ok: false, status: 401, reason: 'source datadog is not enabled' });
  });

  describe('generic', () => {
    it('accepts a body signed with HMAC-SHA256 over "<timestamp>.<raw body>"', async () => {
      const body = uniqueBody();
      expect(await post(gateway, 'generic', body, genericHeaders(secrets.generic, body))).toEqual({
        status: 200,
      });
    });

    it('accepts headers made by signGenericAlert, the helper the CLI uses', async () => {
      const body = uniqueBody();
      expect(await post(gateway, 'generic', body, { ...signGenericAlert(secrets.generic, body) })).toEqual({
        status: 200,
      });
    });

    it('accepts the previous secret during rotation', async () => {
      const body = uniqueBody();
      expect(
        (await post(gateway, 'generic', body, genericHeaders(secrets.genericPrevious, body))).status,
      ).toBe(200);
    });

    it.each([
      ['no timestamp', { 'X-Tourniquet-Timestamp': undefined }, /missing x-tourniquet-timestamp/],
      ['no signature', { 'X-Tourniquet-Signature': undefined }, /missing x-tourniquet-signature/],
      ['a non-numeric timestamp', { 'X-Tourniquet-Timestamp': '2024-05-01T12:00:00Z' }, /malformed/],
      ['a signature without sha256=', { 'X-Tourniquet-Signature': 'abc' }, /malformed/],
    ])('refuses a request with %s', async (_case, override, reason) => {
      const body = uniqueBody();
      const headers: Record<string, string | undefined> = {
        ...genericHeaders(secrets.generic, body),
        ...override,
      };
      const sent = Object.fromEntries(
        Object.entries(headers).filter(([, value]) => value !== undefined),
      ) as Record<string, string>;
      const reply = await post(gateway, 'generic', body, sent);
      expect(reply.status).toBe(401);
      expect(reply.reason).toMatch(reason);
    });

    it('refuses a signature made with an unknown secret', async () => {
      const body = uniqueBody();
      const reply = await post(gateway, 'generic', body, genericHeaders(hex(), body));
      expect(reply).toEqual({ status: 401, reason: 'x-tourniquet-signature does not match' });
    });

    it('refuses a body changed after signing, even by one byte', async () => {
      const body = uniqueBody();
      const headers = genericHeaders(secrets.generic, body);
      const reply = await post(gateway, 'generic', body.replace('test', 'tesT'), headers);
      expect(reply.status).toBe(401);
    });

    it('refuses a stale timestamp and one too far in the future', async () => {
      const body = uniqueBody();
      const stale = await post(
        gateway,
        'generic',
        body,
        genericHeaders(secrets.generic, body, nowSeconds() - 301),
      );
      const future = await post(
        gateway,
        'generic',
        body,
        genericHeaders(secrets.generic, body, nowSeconds() + 301),
      );
      expect(stale).toEqual({ status: 401, reason: expect.stringMatching(/^stale x-tourniquet-timestamp/) });
      expect(future).toEqual({ status: 401, reason: expect.stringMatching(/in the future/) });
    });

    it('accepts a timestamp within the 5-minute window', async () => {
      const body = uniqueBody();
      const reply = await post(
        gateway,
        'generic',
        body,
        genericHeaders(secrets.generic, body, nowSeconds() - 290),
      );
      expect(reply.status).toBe(200);
    });

    it('refuses a replay of an accepted request', async () => {
      const body = uniqueBody();
      const headers = genericHeaders(secrets.generic, body);
      expect((await post(gateway, 'generic', body, headers)).status).toBe(200);
      expect(await post(gateway, 'generic', body, headers)).toEqual({
        status: 401,
        reason: 'replayed request: this signature was already accepted',
      });
    });

    it('does not let a forged signature poison the replay cache', async () => {
      const body = uniqueBody();
      const good = genericHeaders(secrets.generic, body);
      const sizeBefore = gateway.replayCache.size;
      await post(gateway, 'generic', body, { ...good, 'X-Tourniquet-Signature': `sha256=${'0'.repeat(64)}` });
      expect(gateway.replayCache.size).toBe(sizeBefore);
      expect((await post(gateway, 'generic', body, good)).status).toBe(200);
    });
  });

  describe('github', () => {
    function githubHeaders(secret: string, body: string) {
      return {
        'X-GitHub-Event': 'secret_scanning_alert',
        'X-Hub-Signature-256': `sha256=${hmacHex(secret, body)}`,
      };
    }

    it('accepts X-Hub-Signature-256 over the raw body', async () => {
      const body = uniqueBody();
      expect(await post(gateway, 'github', body, githubHeaders(secrets.github, body))).toEqual({
        status: 200,
      });
    });

    it('accepts the previous webhook secret during rotation', async () => {
      const body = uniqueBody();
      expect((await post(gateway, 'github', body, githubHeaders(secrets.githubPrevious, body))).status).toBe(
        200,
      );
    });

    it('refuses a missing header, the legacy SHA-1 header alone, and a wrong secret', async () => {
      const body = uniqueBody();
      const sha1 = createHmac('sha1', secrets.github).update(body).digest('hex');
      expect(await post(gateway, 'github', body, {})).toEqual({
        status: 401,
        reason: 'missing X-Hub-Signature-256 header',
      });
      expect((await post(gateway, 'github', body, { 'X-Hub-Signature': `sha1=${sha1}` })).status).toBe(401);
      expect(await post(gateway, 'github', body, githubHeaders(hex(), body))).toEqual({
        status: 401,
        reason: 'X-Hub-Signature-256 does not match',
      });
    });
  });

  describe('gitguardian', () => {
    function gitguardianHeaders(
      token: string,
      body: string,
      timestamp = String(nowSeconds()),
      legacy = false,
    ) {
      const signature = `sha256=${createHmac('sha256', timestamp + token)
        .update(body)
        .digest('hex')}`;
      return {
        Timestamp: timestamp,
        [legacy ? 'X-GitGuardian-Signature' : 'Gitguardian-Signature']: signature,
      };
    }

    it("matches GitGuardian's documented test vector", () => {
      const headers = {
        'gitguardian-signature': 'sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2',
        timestamp: '0',
      };
      const result = authenticateSiemRequest('gitguardian', headers, Buffer.from('bar'), {
        secrets: { gitguardian: 'foo' },
        now: new Date(0),
        replayCache: createReplayCache(),
      });
      expect(result).toEqual({ ok: true });
    });

    it('accepts HMAC keyed by timestamp + token over the body, new and deprecated header names', async () => {
      const body = uniqueBody();
      expect(
        (await post(gateway, 'gitguardian', body, gitguardianHeaders(secrets.gitguardian, body))).status,
      ).toBe(200);
      const other = uniqueBody();
      const legacy = gitguardianHeaders(secrets.gitguardian, other, String(nowSeconds()), true);
      expect((await post(gateway, 'gitguardian', other, legacy)).status).toBe(200);
    });

    it('refuses a stale timestamp, a replay, a wrong token and a missing Timestamp', async () => {
      const body = uniqueBody();
      const stale = gitguardianHeaders(secrets.gitguardian, body, String(nowSeconds() - 600));
      expect((await post(gateway, 'gitguardian', body, stale)).reason).toMatch(/^stale Timestamp/);

      const fresh = gitguardianHeaders(secrets.gitguardian, body);
      expect((await post(gateway, 'gitguardian', body, fresh)).status).toBe(200);
      expect((await post(gateway, 'gitguardian', body, fresh)).reason).toMatch(/^replayed request/);

      const wrong = gitguardianHeaders(hex(), uniqueBody());
      expect((await post(gateway, 'gitguardian', body, wrong)).reason).toBe(
        'Gitguardian-Signature does not match',
      );

      const { Timestamp: _dropped, ...noTimestamp } = gitguardianHeaders(secrets.gitguardian, body);
      expect((await post(gateway, 'gitguardian', body, noTimestamp)).reason).toBe('missing Timestamp header');
    });
  });

  describe('sources that cannot sign', () => {
    it.each([
      ['splunk', `Bearer ${secrets.splunk}`],
      ['elastic', `Bearer ${secrets.elastic}`],
      [
        'azure-monitor',
        `Basic ${Buffer.from(`${secrets.azureUser}:${secrets.azurePassword}`).toString('base64')}`,
      ],
    ])('%s: accepts the configured credential', async (source, authorization) => {
      expect(await post(gateway, source, uniqueBody(), { Authorization: authorization })).toEqual({
        status: 200,
      });
    });

    it.each([
      ['no Authorization header', {}, 'missing Authorization header'],
      ['a wrong bearer token', { Authorization: `Bearer ${hex()}` }, 'credentials do not match'],
      [
        'a token one character short',
        { Authorization: `Bearer ${secrets.splunk.slice(0, -1)}` },
        'credentials do not match',
      ],
      [
        'another scheme',
        { Authorization: `Token ${secrets.splunk}` },
        'unsupported Authorization scheme: expected Bearer or Basic',
      ],
      [
        'basic auth with a wrong password',
        { Authorization: `Basic ${Buffer.from(`splunk:${hex()}`).toString('base64')}` },
        'credentials do not match',
      ],
    ])('splunk: refuses %s', async (_case, headers: Record<string, string>, reason) => {
      expect(await post(gateway, 'splunk', uniqueBody(), headers)).toEqual({ status: 401, reason });
    });

    it("does not accept one source's token for another", async () => {
      const reply = await post(gateway, 'elastic', uniqueBody(), {
        Authorization: `Bearer ${secrets.splunk}`,
      });
      expect(reply.status).toBe(401);
    });

    it('accepts every token of a rotation list', () => {
      const [current, previous] = [hex(), hex()];
      for (const token of [current, previous]) {
        const result = authenticateSiemRequest(
          'datadog',
          { authorization: `Bearer ${token}` },
          Buffer.alloc(0),
          {
            secrets: { datadog: `${current},${previous}` },
            replayCache: createReplayCache(),
          },
        );
        expect(result).toEqual({ ok: true });
      }
    });
  });
});

describe('createReplayCache', () => {
  it('forgets a key after its TTL', () => {
    const cache = createReplayCache({ ttlMs: 1000 });
    expect(cache.checkAndRemember('a', 0)).toBe(true);
    expect(cache.checkAndRemember('a', 999)).toBe(false);
    expect(cache.checkAndRemember('a', 1000)).toBe(true);
  });

  it('stays within its bound, dropping the oldest entries first', () => {
    const cache = createReplayCache({ ttlMs: 60_000, maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) expect(cache.checkAndRemember(key, 0)).toBe(true);
    expect(cache.size).toBe(3);
    expect(cache.checkAndRemember('d', 1)).toBe(false);
    expect(cache.checkAndRemember('a', 1)).toBe(true);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => createReplayCache({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => createReplayCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
