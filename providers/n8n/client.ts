import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ProviderError, type ActionContext } from '../types';
import type { N8nProviderOptions } from './options';

const API = '/api/v1';
const DEFAULT_TIMEOUT_MS = 30_000;
/** Lists, workflows, an audit: anything larger is not an answer this provider expects to hold in memory. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Statuses that are an answer rather than a failure (e.g. 404 for "already gone"). */
  accept?: readonly number[];
}

/** What an error may say about a request: the method and the path, never the query (cursors) nor a body. */
function label(method: Method, path: string): string {
  return `${method} ${API}${path}`;
}

/** What n8n's error answer says when its database, not the request, was the problem (SQLite or PostgreSQL). */
const TRANSIENT =
  /SQLITE_BUSY|database is locked|deadlock detected|could not serialize|Connection terminated|timeout/i;

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function statusError(method: Method, path: string, status: number): ProviderError {
  const hint =
    status === 401
      ? ': the API key was refused (check N8N_API_KEY)'
      : status === 403
        ? ': the API key may not do this (its user must be the owner or an admin; see docs/n8n.md for the scopes)'
        : '';
  return new ProviderError(
    `n8n: ${label(method, path)} answered ${status}${hint}`,
    retryableStatus(status),
    status === 401 || status === 403 ? 'N8nForbidden' : `N8nHttp${status}`,
  );
}

function networkError(method: Method, path: string, error: unknown, timeoutMs: number): ProviderError {
  const name = (error as Error | undefined)?.name;
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  const problem =
    name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : `network error (${typeof code === 'string' ? code : (name ?? 'unknown')})`;
  // Whatever kept the answer from arriving (refused, reset, DNS, timeout) may heal: Temporal retries the step.
  return new ProviderError(`n8n: ${label(method, path)} failed: ${problem}`, true, 'N8nUnavailable');
}

export interface N8nResponse {
  status: number;
  body: Readable;
  contentType: string;
}

/**
 * The public REST API (`/api/v1`) with the `X-N8N-API-KEY` header. Redirects are not followed: the key would go
 * wherever the redirect points. Response bodies never reach an error message or a log line: an n8n answer can quote
 * what it was sent, and executions hold whatever their nodes saw.
 */
export class N8nClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: N8nProviderOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  private url(path: string, query: Query | undefined): string {
    const url = new URL(`${this.options.baseUrl}${API}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /** Sends one request; the body of an accepted answer is the caller's to read or drop. */
  async send(
    ctx: Pick<ActionContext, 'signal'>,
    method: Method,
    path: string,
    options: RequestOptions = {},
  ): Promise<N8nResponse> {
    if (ctx.signal.aborted) {
      throw new ProviderError(`n8n: ${label(method, path)}: cancelled`, false, 'Cancelled');
    }
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method,
        headers: {
          accept: 'application/json',
          'x-n8n-api-key': this.options.apiKey,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        redirect: 'manual',
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
    } catch (error) {
      if (ctx.signal.aborted) {
        throw new ProviderError(`n8n: ${label(method, path)}: cancelled`, false, 'Cancelled');
      }
      throw networkError(method, path, error, this.timeoutMs);
    }
    const ok = (response.status >= 200 && response.status < 300) || options.accept?.includes(response.status);
    // n8n's public API answers 400 for any error its handler throws, a locked database included: that one heals.
    if (!ok && response.status === 400 && TRANSIENT.test(await response.text().catch(() => ''))) {
      throw new ProviderError(
        `n8n: ${label(method, path)} answered 400: its database was busy`,
        true,
        'N8nBusy',
      );
    }
    if (!ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      if (ok) return { status: response.status, body: Readable.from([]), contentType: '' };
      if (response.status >= 300 && response.status < 400) {
        throw new ProviderError(
          `n8n: ${label(method, path)} answered ${response.status}: redirects are not followed (check N8N_BASE_URL)`,
          false,
          'N8nRedirect',
        );
      }
      throw statusError(method, path, response.status);
    }
    return {
      status: response.status,
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      contentType: response.headers.get('content-type') ?? 'application/json',
    };
  }

  /** Sends one request and parses the JSON answer (undefined for an accepted non-2xx status). */
  async json<T>(
    ctx: Pick<ActionContext, 'signal'>,
    method: Method,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ status: number; data: T | undefined }> {
    const response = await this.send(ctx, method, path, options);
    if (response.status < 200 || response.status >= 300) {
      response.body.destroy();
      return { status: response.status, data: undefined };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > MAX_JSON_BYTES) {
          throw new ProviderError(
            `n8n: ${label(method, path)}: the answer exceeds ${MAX_JSON_BYTES} bytes`,
            false,
            'N8nBadAnswer',
          );
        }
        chunks.push(buffer);
      }
    } catch (error) {
      response.body.destroy();
      if (error instanceof ProviderError) throw error;
      throw networkError(method, path, error, this.timeoutMs);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.length === 0) return { status: response.status, data: undefined };
    try {
      return { status: response.status, data: JSON.parse(text) as T };
    } catch {
      throw new ProviderError(`n8n: ${label(method, path)}: the answer is not JSON`, false, 'N8nBadAnswer');
    }
  }

  /** Every item of a cursor-paged list (`{ data, nextCursor }`). */
  async *pages<T>(
    ctx: Pick<ActionContext, 'signal'>,
    path: string,
    query: Query,
  ): AsyncGenerator<T[], void, undefined> {
    let cursor: string | undefined;
    const seen = new Set<string>();
    for (;;) {
      const { data } = await this.json<{ data?: T[]; nextCursor?: string | null }>(ctx, 'GET', path, {
        query: { ...query, cursor },
      });
      const items = Array.isArray(data?.data) ? data.data : [];
      yield items;
      const next = data?.nextCursor;
      if (typeof next !== 'string' || next === '' || items.length === 0) return;
      // A cursor that comes back again would page forever.
      if (seen.has(next)) {
        throw new ProviderError(`n8n: GET ${API}${path}: the cursor repeats`, false, 'N8nBadAnswer');
      }
      seen.add(next);
      cursor = next;
    }
  }
}
