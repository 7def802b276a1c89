import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpConnectorProvider } from '../providers/http-connector/provider';
import {
  loadConnectorFile,
  parseConnectorConfig,
  type ConnectorDefinition,
} from '../providers/http-connector/schema';
import { createFileDestinationProvider, type FileDestinationProvider } from '../providers/file/destination';
import { ProviderError, type ActionContext } from '../providers/types';

const validConnector = `
connectors:
  - name: example
    baseUrl: https://automation.example.com
    auth: { header: Authorization, prefix: 'Bearer ', valueFromEnv: EXAMPLE_TOKEN }
    disable: { method: POST, path: '/v1/integrations/{id}/disable' }
`;

describe('connector YAML is validated with errors that name the field', () => {
  test.each([
    [
      'an unknown method',
      validConnector.replace('method: POST', 'method: FETCH'),
      /connectors\[0\]\.disable\.method: Invalid option: expected one of "GET"\|"POST"/,
    ],
    [
      'a secret value instead of a variable name',
      validConnector.replace('valueFromEnv: EXAMPLE_TOKEN', 'value: s3cr3t'),
      /connectors\[0\]\.auth: Unrecognized key: "value"/,
    ],
    [
      'a lower-case env var name',
      validConnector.replace('EXAMPLE_TOKEN', 'example-token'),
      /connectors\[0\]\.auth\.valueFromEnv: expected the NAME of an environment variable/,
    ],
    [
      'an unknown placeholder',
      validConnector.replace('{id}', '{workflow}'),
      /connectors\[0\]\.disable\.path: only the placeholders \{id\} are known here/,
    ],
    [
      'no base URL',
      validConnector.replace('baseUrl: https://automation.example.com', 'description: none'),
      /connectors\[0\]\.baseUrl: set exactly one of baseUrl and baseUrlFromEnv/,
    ],
    [
      'a non-http base URL',
      validConnector.replace('https://automation', 'ftp://automation'),
      /connectors\[0\]\.baseUrl: /,
    ],
    [
      'a status outside HTTP',
      validConnector.replace("/disable' }", "/disable', expectStatus: [999] }"),
      /connectors\[0\]\.disable\.expectStatus\[0\]: /,
    ],
    [
      'an unknown endpoint',
      validConnector.replace('disable:', 'shutdown:'),
      /connectors\[0\]: Unrecognized key: "shutdown"/,
    ],
    [
      'two connectors with one name',
      `${validConnector}  - name: example\n    baseUrl: https://b.example.com\n`,
      /connectors\[1\]\.name: duplicate connector name "example"/,
    ],
    ['no connectors', 'connectors: []', /connectors: Too small/],
    ['broken YAML', 'connectors:\n  - name: [unclosed', /test\.yaml: not valid YAML/],
  ])('%s', (_label, text, expected) => {
    expect(() => parseConnectorConfig(text, 'test.yaml')).toThrow(expected);
  });

  test('the shipped presets load', async () => {
    const root = join(__dirname, '..', 'runbooks', 'connectors');
    await expect(loadConnectorFile(join(root, 'n8n.yaml'))).resolves.toHaveLength(1);
    const [generic] = await loadConnectorFile(join(root, 'example-generic.yaml'));
    expect(generic).toMatchObject({ name: 'example-platform', rotate: { secretField: 'secret.value' } });
    await expect(loadConnectorFile(join(root, 'missing.yaml'))).rejects.toThrow(
      /missing\.yaml: cannot read \(ENOENT\)/,
    );
  });
});

interface Platform {
  server: Server;
  url: string;
  seen: { method: string; path: string; authorization?: string; idempotencyKey?: string }[];
}

async function startPlatform(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Platform> {
  const seen: Platform['seen'] = [];
  const server = createServer((request, response) => {
    seen.push({
      method: request.method ?? '',
      path: request.url ?? '',
      authorization: request.headers.authorization,
      idempotencyKey: request.headers['idempotency-key'] as string | undefined,
    });
    handler(request, response);
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function stopPlatform(platform: Platform): Promise<void> {
  platform.server.closeAllConnections();
  await new Promise((resolveClose) => platform.server.close(resolveClose));
}

describe('a generic HTTP connector', () => {
  const token = `tok_${randomBytes(12).toString('hex')}`;
  const rotated: string[] = [];
  const transcript: string[] = [];
  let platform: Platform;
  let elsewhere: Platform;
  let sinkDir: string;
  /** Confined to sinkDir, as the worker's is to its secrets directory. */
  let fileDestination: FileDestinationProvider;
  let connectors: ConnectorDefinition[];

  function makeContext(): ActionContext {
    const ctx: ActionContext = {
      incidentId: 'inc-generic',
      stepId: 'rotate',
      idempotencyKey: 'inc-generic/rotate',
      attempt: 1,
      exercise: false,
      signal: new AbortController().signal,
      log: {
        info: (fields, message) => transcript.push(JSON.stringify({ fields, message })),
        warn: (fields, message) => transcript.push(JSON.stringify({ fields, message })),
      },
      heartbeat: () => undefined,
      evidence: { preserve: () => Promise.reject(new Error('unused')) },
      deliverSecret: (destination, value) =>
        fileDestination.destination.storeSecret(destination.target, value, ctx),
    };
    return ctx;
  }

  beforeAll(async () => {
    sinkDir = await mkdtemp(join(tmpdir(), 'tourniquet-http-sink-'));
    fileDestination = createFileDestinationProvider({ baseDirectory: sinkDir });
    elsewhere = await startPlatform((_request, response) => response.end('{}'));
    platform = await startPlatform((request, response) => {
      if (request.headers.authorization !== `Bearer ${token}`) {
        response.writeHead(401).end(JSON.stringify({ echo: request.headers.authorization }));
      } else if (request.url === '/v1/integrations/abc/rotate-secret' && request.method === 'POST') {
        const secret = `new_${randomBytes(16).toString('hex')}`;
        rotated.push(secret);
        response
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ secret: { value: secret } }));
      } else if (request.url === '/v1/integrations/abc/disable') {
        response.writeHead(302, { location: `${elsewhere.url}/steal` }).end();
      } else {
        response.writeHead(404).end('{}');
      }
    });
    connectors = parseConnectorConfig(
      `
connectors:
  - name: example
    baseUrlFromEnv: EXAMPLE_URL
    auth: { header: Authorization, prefix: 'Bearer ', valueFromEnv: EXAMPLE_TOKEN }
    idempotencyKeyHeader: Idempotency-Key
    retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 }
    disable: { method: POST, path: '/v1/integrations/{id}/disable' }
    rotate: { method: POST, path: '/v1/integrations/{id}/rotate-secret', secretField: secret.value }
`,
      'inline.yaml',
    );
  });

  afterAll(async () => {
    if (platform) await stopPlatform(platform);
    if (elsewhere) await stopPlatform(elsewhere);
    if (sinkDir) await rm(sinkDir, { recursive: true, force: true });
  });

  test('rotate delivers the minted secret to the destination and returns none of it', async () => {
    const provider = createHttpConnectorProvider({
      connectors,
      env: { EXAMPLE_URL: platform.url, EXAMPLE_TOKEN: token },
    });
    const target = 'example.token';
    const result = await provider.actions.rotateCredential(
      { ref: 'example/abc', destinations: [{ provider: 'file', target }] },
      makeContext(),
    );
    transcript.push(JSON.stringify(result));
    expect(result.summary).toEqual({
      connector: 'example',
      objectId: 'abc',
      destinations: [`file:${target}`],
    });
    expect(rotated).toHaveLength(1);
    expect(await fileDestination.destination.readSecret(target)).toBe(rotated[0]);
    expect((await stat(join(sinkDir, target))).mode & 0o777).toBe(0o600);
    expect(platform.seen.at(-1)).toMatchObject({ idempotencyKey: 'inc-generic/rotate' });
  });

  test('a redirect is refused and the auth header never reaches the other host', async () => {
    const provider = createHttpConnectorProvider({
      connectors,
      env: { EXAMPLE_URL: platform.url, EXAMPLE_TOKEN: token },
    });
    let error: unknown;
    await provider.actions
      .disableConnector({ ref: 'example/abc' }, makeContext())
      .catch((caught: unknown) => (error = caught));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      retryable: false,
      message:
        'example: POST /v1/integrations/abc/disable answered 302 (expected 200 or 204); redirects are not followed',
    });
    expect(elsewhere.seen).toHaveLength(0);
    transcript.push(String(error));
  });

  test('a rejected token is named by its variable, and its value is in no message', async () => {
    const provider = createHttpConnectorProvider({
      connectors,
      env: { EXAMPLE_URL: platform.url, EXAMPLE_TOKEN: 'nope' },
    });
    let error: unknown;
    await provider.actions
      .rotateCredential(
        { ref: 'example/abc', destinations: [{ provider: 'file', target: 'x' }] },
        makeContext(),
      )
      .catch((caught: unknown) => (error = caught));
    expect(error).toMatchObject({
      retryable: false,
      message:
        'example: POST /v1/integrations/abc/rotate-secret answered 401 (expected 200 or 201); check the credential in EXAMPLE_TOKEN',
    });
    transcript.push(String(error));

    const noUrl = createHttpConnectorProvider({ connectors, env: { EXAMPLE_TOKEN: token } });
    await expect(noUrl.actions.disableConnector({ ref: 'example/abc' }, makeContext())).rejects.toThrow(
      'example: environment variable EXAMPLE_URL is not set',
    );
  });

  test('connector definitions passed in code are validated too', () => {
    const [definition] = connectors;
    expect(() =>
      createHttpConnectorProvider({
        connectors: [{ ...definition, disable: { ...definition.disable!, method: 'FETCH' as 'GET' } }],
        env: {},
      }),
    ).toThrow(/^connectors\[0\]\.disable\.method: Invalid option/);
  });

  test('neither the platform token nor the rotated secret appears in logs, summaries or errors', () => {
    const everything = transcript.join('\n');
    expect(everything.length).toBeGreaterThan(100);
    for (const secret of [token, ...rotated]) expect(everything.includes(secret)).toBe(false);
  });
});
