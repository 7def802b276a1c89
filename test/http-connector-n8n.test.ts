import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createHttpConnectorProvider } from '../providers/http-connector/provider';
import { loadConnectorFile, type ConnectorDefinition } from '../providers/http-connector/schema';
import { ProviderError, type ActionContext } from '../providers/types';
import { startN8nSimulator, type N8nSimulator } from './simulators/n8n/server';

const presetPath = join(__dirname, '..', 'runbooks', 'connectors', 'n8n.yaml');
const apiKey = `n8n_api_${randomBytes(16).toString('hex')}`;
const transcript: string[] = [];
const preserved: { name: string; source: string; contentType: string; content: string }[] = [];

let n8n: N8nSimulator;
let preset: ConnectorDefinition[];

function makeContext(): ActionContext {
  return {
    incidentId: 'inc-n8n',
    stepId: 'step',
    idempotencyKey: `key-${randomBytes(4).toString('hex')}`,
    attempt: 1,
    exercise: false,
    signal: new AbortController().signal,
    log: {
      info: (fields, message) => transcript.push(JSON.stringify({ fields, message })),
      warn: (fields, message) => transcript.push(JSON.stringify({ fields, message })),
    },
    heartbeat: () => undefined,
    evidence: {
      preserve: async (input) => {
        const chunks: Buffer[] = [];
        for await (const chunk of input.content) chunks.push(Buffer.from(chunk as Buffer));
        const content = Buffer.concat(chunks);
        preserved.push({
          name: input.name,
          source: input.source,
          contentType: input.contentType,
          content: content.toString(),
        });
        return {
          artifactId: `artifact-${preserved.length}`,
          sha256: createHash('sha256').update(content).digest('hex'),
          bytes: content.length,
        };
      },
    },
    deliverSecret: () => Promise.reject(new Error('no destinations in this test')),
  };
}

function provider(env: Record<string, string | undefined> = {}, connectors = preset) {
  return createHttpConnectorProvider({
    connectors,
    env: { N8N_BASE_URL: n8n.baseUrl, N8N_API_KEY: apiKey, ...env },
  });
}

/** Fast retries for tests: the preset's backoff is for production. */
function withQuickRetry(timeoutMs = 10_000): ConnectorDefinition[] {
  return preset.map((connector) => ({
    ...connector,
    timeoutMs,
    retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
  }));
}

async function failure(call: Promise<unknown>): Promise<ProviderError> {
  try {
    await call;
  } catch (error) {
    transcript.push(String(error));
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected the action to fail');
}

beforeAll(async () => {
  n8n = await startN8nSimulator({
    apiKey,
    workflows: [
      { id: '42', name: 'sync CRM', active: true },
      { id: '7', name: 'nightly export', active: false },
    ],
    executions: [
      {
        id: '1001',
        workflowId: '42',
        status: 'success',
        data: { resultData: { lastNodeExecuted: 'HTTP Request' } },
      },
      { id: '1002', workflowId: '7', status: 'error', data: {} },
    ],
  });
  preset = await loadConnectorFile(presetPath);
});

afterAll(async () => {
  await n8n?.stop();
});

beforeEach(() => {
  n8n.requests.length = 0;
});

describe('http-connector with the n8n preset against an n8n API simulator', () => {
  test('disable reads the state, deactivates, proves it; a second disable sends nothing', async () => {
    const n8nProvider = provider();
    const disabled = await n8nProvider.actions.disableConnector({ ref: 'n8n/42' }, makeContext());
    transcript.push(JSON.stringify(disabled));
    expect(disabled.summary).toEqual({
      connector: 'n8n',
      objectId: '42',
      previousState: 'enabled',
      state: 'disabled',
      changed: true,
    });
    expect(n8n.workflow('42')?.active).toBe(false);
    expect(n8n.requests.map((request) => `${request.method} ${request.path} ${request.apiKey}`)).toEqual([
      'GET /api/v1/workflows/42 valid',
      'POST /api/v1/workflows/42/deactivate valid',
      'GET /api/v1/workflows/42 valid',
    ]);

    n8n.requests.length = 0;
    const again = await n8nProvider.actions.disableConnector({ ref: 'n8n/42' }, makeContext());
    expect(again.summary).toMatchObject({ previousState: 'disabled', state: 'disabled', changed: false });
    expect(n8n.requests.map((request) => request.method)).toEqual(['GET']);

    const enabled = await n8nProvider.actions.enableConnector({ ref: 'n8n/42' }, makeContext());
    transcript.push(JSON.stringify(enabled));
    expect(enabled.summary).toMatchObject({ previousState: 'disabled', state: 'enabled', changed: true });
    expect(n8n.workflow('42')?.active).toBe(true);
  });

  test('5xx answers and timeouts are retried with backoff; exhaustion is retryable for Temporal', async () => {
    n8n.failNext(2, 503);
    const disabled = await provider({}, withQuickRetry()).actions.disableConnector(
      { ref: 'n8n/42' },
      makeContext(),
    );
    expect(disabled.summary.state).toBe('disabled');
    expect(n8n.requests.slice(0, 3).map((request) => request.answered)).toEqual([503, 503, 200]);

    n8n.requests.length = 0;
    n8n.delayNext(1, 1_000);
    const enabled = await provider({}, withQuickRetry(200)).actions.enableConnector(
      { ref: 'n8n/42' },
      makeContext(),
    );
    expect(enabled.summary.state).toBe('enabled');
    expect(n8n.workflow('42')?.active).toBe(true);
    expect(transcript.some((line) => line.includes('no answer within 200 ms'))).toBe(true);

    n8n.failNext(10, 500);
    const exhausted = await failure(
      provider({}, withQuickRetry()).actions.disableConnector({ ref: 'n8n/42' }, makeContext()),
    );
    expect(exhausted.retryable).toBe(true);
    expect(exhausted.message).toBe('n8n: GET /api/v1/workflows/42 failed after 3 attempt(s): answered 500');
    n8n.failNext(0, 500);
  });

  test('a 4xx fails at once, non-retryably, naming connector, endpoint and status but never the key', async () => {
    const wrongKey = `wrong_${randomBytes(8).toString('hex')}`;
    const unauthorised = await failure(
      provider({ N8N_API_KEY: wrongKey }).actions.disableConnector({ ref: 'n8n/42' }, makeContext()),
    );
    expect(unauthorised.retryable).toBe(false);
    expect(unauthorised.message).toBe(
      'n8n: GET /api/v1/workflows/42 answered 401 (expected 200); check the credential in N8N_API_KEY',
    );
    expect(n8n.requests).toHaveLength(1);

    const unknown = await failure(provider().actions.disableConnector({ ref: 'n8n/999' }, makeContext()));
    expect(unknown).toMatchObject({
      retryable: false,
      message: 'n8n: GET /api/v1/workflows/999 answered 404 (expected 200)',
    });

    const unset = await failure(
      provider({ N8N_API_KEY: undefined }).actions.disableConnector({ ref: 'n8n/42' }, makeContext()),
    );
    expect(unset).toMatchObject({
      retryable: false,
      message: 'n8n: environment variable N8N_API_KEY (the X-N8N-API-KEY header) is not set',
    });

    const badRef = await failure(provider().actions.disableConnector({ ref: 'zapier/42' }, makeContext()));
    expect(badRef.message).toBe('ref: no connector named "zapier" (configured: n8n)');
    expect(unauthorised.message.includes(wrongKey)).toBe(false);
  });

  test('what n8n cannot do fails non-retryably as not supported', async () => {
    const n8nProvider = provider();
    for (const call of [
      n8nProvider.actions.cancelRuns({ ref: 'n8n/42', force: true }, makeContext()),
      n8nProvider.actions.purgeLogs({ ref: 'n8n/42' }, makeContext()),
      n8nProvider.actions.rotateCredential({ ref: 'n8n/42', destinations: [] }, makeContext()),
    ]) {
      const error = await failure(call);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/^(cancelRuns|purgeLogs|rotateCredential) is not supported by n8n$/);
    }
    expect(n8n.requests).toHaveLength(0);
  });

  test('captureLogs streams the workflow executions into the evidence sink', async () => {
    const captured = await provider().actions.captureLogs({ ref: 'n8n/42' }, makeContext());
    const artifact = preserved.at(-1)!;
    expect(artifact).toMatchObject({ name: 'n8n-42-logs', source: 'http-connector:n8n' });
    expect(artifact.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(artifact.content) as {
      data: { id: string; data: { resultData: { lastNodeExecuted: string } } }[];
    };
    expect(body.data.map((execution) => execution.id)).toEqual(['1001']);
    expect(body.data[0]?.data.resultData.lastNodeExecuted).toBe('HTTP Request');
    expect(captured.summary).toMatchObject({
      connector: 'n8n',
      objectId: '42',
      bytes: Buffer.byteLength(artifact.content),
      sha256: createHash('sha256').update(artifact.content).digest('hex'),
    });
  });

  test('the API key never appears in anything the provider logged, returned or threw', () => {
    expect(transcript.length).toBeGreaterThan(10);
    expect(transcript.join('\n').includes(apiKey)).toBe(false);
  });
});
