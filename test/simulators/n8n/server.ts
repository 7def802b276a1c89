import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SimulatedWorkflow {
  id: string;
  name: string;
  active: boolean;
}

export interface SimulatedExecution {
  id: string;
  workflowId: string;
  status: 'success' | 'error' | 'running';
  data: unknown;
}

/** What the simulator saw of a request: never the API key itself. */
export interface RecordedRequest {
  method: string;
  path: string;
  apiKey: 'valid' | 'invalid' | 'missing';
  answered: number;
}

export interface N8nSimulator {
  baseUrl: string;
  requests: RecordedRequest[];
  workflow(id: string): SimulatedWorkflow | undefined;
  /** The next `count` requests answer `status` (e.g. 503) before touching any state. */
  failNext(count: number, status: number): void;
  /** The next `count` requests are answered only after `ms`. */
  delayNext(count: number, ms: number): void;
  stop(): Promise<void>;
}

/**
 * Stands in for the parts of n8n's public REST API (v1) the `n8n` connector preset uses: workflow read,
 * activate, deactivate, and the executions list. Auth is the `X-N8N-API-KEY` header, as in n8n.
 */
export async function startN8nSimulator(options: {
  apiKey: string;
  workflows: SimulatedWorkflow[];
  executions?: SimulatedExecution[];
}): Promise<N8nSimulator> {
  const workflows = new Map(options.workflows.map((workflow) => [workflow.id, { ...workflow }]));
  const executions = options.executions ?? [];
  const requests: RecordedRequest[] = [];
  const expectedKey = Buffer.from(options.apiKey);
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let delays: { count: number; ms: number } = { count: 0, ms: 0 };

  function checkKey(request: IncomingMessage): RecordedRequest['apiKey'] {
    const header = request.headers['x-n8n-api-key'];
    if (typeof header !== 'string') return 'missing';
    const given = Buffer.from(header);
    return given.length === expectedKey.length && timingSafeEqual(given, expectedKey) ? 'valid' : 'invalid';
  }

  function workflowBody(workflow: SimulatedWorkflow) {
    return {
      id: workflow.id,
      name: workflow.name,
      active: workflow.active,
      nodes: [],
      connections: {},
      settings: {},
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: new Date().toISOString(),
    };
  }

  function route(request: IncomingMessage, url: URL): { status: number; body: unknown } {
    const method = request.method ?? 'GET';
    const workflowMatch = /^\/api\/v1\/workflows\/([^/]+)(\/activate|\/deactivate)?$/.exec(url.pathname);
    if (workflowMatch) {
      const workflow = workflows.get(decodeURIComponent(workflowMatch[1] ?? ''));
      const action = workflowMatch[2];
      if (!workflow) return { status: 404, body: { message: 'Not Found' } };
      if (!action && method === 'GET') return { status: 200, body: workflowBody(workflow) };
      if (action && method === 'POST') {
        workflow.active = action === '/activate';
        return { status: 200, body: workflowBody(workflow) };
      }
      return { status: 405, body: { message: 'Method Not Allowed' } };
    }
    if (url.pathname === '/api/v1/workflows' && method === 'GET') {
      return { status: 200, body: { data: [...workflows.values()].map(workflowBody), nextCursor: null } };
    }
    if (url.pathname === '/api/v1/executions' && method === 'GET') {
      const workflowId = url.searchParams.get('workflowId');
      const includeData = url.searchParams.get('includeData') === 'true';
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), 250);
      const data = executions
        .filter((execution) => !workflowId || execution.workflowId === workflowId)
        .slice(0, limit)
        .map((execution) => (includeData ? execution : { ...execution, data: undefined }));
      return { status: 200, body: { data, nextCursor: null } };
    }
    return { status: 404, body: { message: 'Not Found' } };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const record: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname + url.search,
      apiKey: checkKey(request),
      answered: 0,
    };
    requests.push(record);
    for await (const _chunk of request) {
      // Drain the body: the routes used take none.
    }
    if (delays.count > 0) {
      delays.count -= 1;
      await new Promise((resolveDelay) => setTimeout(resolveDelay, delays.ms));
    }
    let answer: { status: number; body: unknown };
    if (failures.count > 0) {
      failures.count -= 1;
      answer = { status: failures.status, body: { message: 'simulated failure' } };
    } else if (record.apiKey === 'missing') {
      answer = { status: 401, body: { message: "'X-N8N-API-KEY' header required" } };
    } else if (record.apiKey === 'invalid') {
      answer = { status: 401, body: { message: 'unauthorized' } };
    } else {
      answer = route(request, url);
    }
    record.answered = answer.status;
    if (!response.destroyed) {
      response.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(answer.body));
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    workflow: (id) => workflows.get(id),
    failNext: (count, status) => {
      failures = { count, status };
    },
    delayNext: (count, ms) => {
      delays = { count, ms };
    },
    stop: () =>
      new Promise<void>((resolveClose, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolveClose()));
      }),
  };
}
