import { setTimeout as sleep } from 'node:timers/promises';
import { deliverMinted } from '../delivery';
import { Readable } from 'node:stream';
import { connectorCatalog } from '../roles/connector';
import { issuerCatalog } from '../roles/issuer';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type Provider,
} from '../types';
import { connectorDefinition, formatIssuePath, type ConnectorDefinition } from './schema';

export const HTTP_CONNECTOR = 'http-connector';

/** The connector role, plus rotation for platforms whose API can mint a replacement of the secret they hold. */
export const httpConnectorCatalog = { ...connectorCatalog, rotateCredential: issuerCatalog.rotateCredential };
export type HttpConnectorProvider = Provider<typeof httpConnectorCatalog>;

type EndpointName = 'disable' | 'enable' | 'verify' | 'rotate' | 'cancelRuns' | 'captureLogs' | 'purgeLogs';
type Endpoint = NonNullable<ConnectorDefinition[EndpointName]>;

export interface HttpConnectorOptions {
  connectors: ConnectorDefinition[];
  /** Where the auth values and base URLs named in the definitions are looked up, at call time. */
  env: Readonly<Record<string, string | undefined>>;
}

interface Target {
  connector: ConnectorDefinition;
  objectId: string;
}

/** A JSON answer larger than this is not a state or a token: refuse rather than buffer it. */
const MAX_JSON_BYTES = 1 << 20;

function transientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

class Requester {
  constructor(
    private readonly target: Target,
    private readonly env: HttpConnectorOptions['env'],
    private readonly ctx: ActionContext,
  ) {}

  private get name(): string {
    return this.target.connector.name;
  }

  private baseUrl(): string {
    const { connector } = this.target;
    const base = connector.baseUrl ?? this.env[connector.baseUrlFromEnv ?? ''];
    if (!base) {
      throw new ProviderError(
        `${this.name}: environment variable ${connector.baseUrlFromEnv} is not set`,
        false,
        'Configuration',
      );
    }
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new ProviderError(
        `${this.name}: ${connector.baseUrlFromEnv} is not a URL`,
        false,
        'Configuration',
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ProviderError(
        `${this.name}: ${connector.baseUrlFromEnv} is not an http(s) URL`,
        false,
        'Configuration',
      );
    }
    return url.toString().replace(/\/$/, '');
  }

  private headers(endpoint: Endpoint): Record<string, string> {
    const { connector } = this.target;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (connector.auth) {
      const value = this.env[connector.auth.valueFromEnv];
      if (!value) {
        throw new ProviderError(
          `${this.name}: environment variable ${connector.auth.valueFromEnv} (the ${connector.auth.header} header) is not set`,
          false,
          'Configuration',
        );
      }
      headers[connector.auth.header] = `${connector.auth.prefix}${value}`;
    }
    if (connector.idempotencyKeyHeader) headers[connector.idempotencyKeyHeader] = this.ctx.idempotencyKey;
    if (endpoint.body !== undefined) headers['content-type'] = 'application/json';
    return headers;
  }

  /** The path with placeholders filled in: what errors and logs name (ids and times are not secret). */
  path(endpoint: Endpoint, values: Record<string, string | undefined> = {}): string {
    const all: Record<string, string | undefined> = { id: this.target.objectId, ...values };
    return endpoint.path.replace(/\{(\w+)\}/g, (_match, key: string) => encodeURIComponent(all[key] ?? ''));
  }

  private backoff(attempt: number, retryAfter: string | null): number {
    const { initialDelayMs, maxDelayMs } = this.target.connector.retry;
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
    if (seconds !== undefined) return Math.min(seconds * 1000, maxDelayMs);
    // Full jitter: concurrent incidents hitting one platform do not retry in lockstep.
    return Math.round(Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1)));
  }

  /**
   * Sends one request, retrying 5xx, 408, 429, timeouts and network failures with backoff. Any other status
   * outside `expectStatus` fails at once and non-retryably. Redirects are refused: following one would hand the
   * auth header to whatever host the redirect names.
   */
  async send(
    endpointName: EndpointName,
    endpoint: Endpoint,
    values: Record<string, string | undefined> = {},
  ): Promise<Response> {
    const path = this.path(endpoint, values);
    const label = `${this.name}: ${endpoint.method} ${path}`;
    const url = `${this.baseUrl()}${path}`;
    const headers = this.headers(endpoint);
    const timeoutMs = endpoint.timeoutMs ?? this.target.connector.timeoutMs;
    const { attempts } = this.target.connector.retry;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (this.ctx.signal.aborted) throw new ProviderError(`${label}: cancelled`, false, 'Cancelled');
      let response: Response;
      try {
        response = await fetch(url, {
          method: endpoint.method,
          headers,
          body: endpoint.body === undefined ? undefined : JSON.stringify(endpoint.body),
          redirect: 'manual',
          signal: AbortSignal.any([this.ctx.signal, AbortSignal.timeout(timeoutMs)]),
        });
      } catch (error) {
        if (this.ctx.signal.aborted) throw new ProviderError(`${label}: cancelled`, false, 'Cancelled');
        const name = (error as Error).name;
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        lastProblem =
          name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : `network error (${cause ?? name ?? 'unknown'})`;
        this.ctx.log.warn(
          { connector: this.name, endpoint: endpointName, path, attempt, problem: lastProblem },
          'request failed',
        );
        if (attempt < attempts)
          await sleep(this.backoff(attempt, null), undefined, { signal: this.ctx.signal }).catch(
            () => undefined,
          );
        continue;
      }
      if (endpoint.expectStatus.includes(response.status)) {
        this.ctx.log.info(
          { connector: this.name, endpoint: endpointName, path, status: response.status, attempt },
          'request done',
        );
        return response;
      }
      await response.body?.cancel().catch(() => undefined);
      const expected = endpoint.expectStatus.join(' or ');
      if (!transientStatus(response.status)) {
        const hint =
          response.status === 401 || response.status === 403
            ? this.target.connector.auth
              ? `; check the credential in ${this.target.connector.auth.valueFromEnv}`
              : '; the connector has no auth configured'
            : response.status >= 300 && response.status < 400
              ? '; redirects are not followed'
              : '';
        throw new ProviderError(
          `${label} answered ${response.status} (expected ${expected})${hint}`,
          false,
          `HTTP_${response.status}`,
        );
      }
      lastProblem = `answered ${response.status}`;
      this.ctx.log.warn(
        { connector: this.name, endpoint: endpointName, path, attempt, status: response.status },
        'request failed',
      );
      if (attempt < attempts) {
        const delay = this.backoff(attempt, response.headers.get('retry-after'));
        await sleep(delay, undefined, { signal: this.ctx.signal }).catch(() => undefined);
      }
      this.ctx.heartbeat({ attempt });
    }
    throw new ProviderError(
      `${label} failed after ${attempts} attempt(s): ${lastProblem}`,
      true,
      'Unavailable',
    );
  }

  async json(endpointName: EndpointName, endpoint: Endpoint, label: string): Promise<unknown> {
    const response = await this.send(endpointName, endpoint);
    const text = await readLimited(response, MAX_JSON_BYTES);
    if (text === undefined)
      throw new ProviderError(`${label}: the answer exceeds ${MAX_JSON_BYTES} bytes`, false, 'BadAnswer');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // The body is not quoted back: it may be a rotated token or an echo of our headers.
      throw new ProviderError(`${label}: the answer is not JSON`, false, 'BadAnswer');
    }
  }
}

async function readLimited(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function pick(document: unknown, path: string): unknown {
  let value: unknown = document;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

type State = 'enabled' | 'disabled' | 'unknown';

function unsupported(connector: ConnectorDefinition, action: string): ProviderError {
  return new ProviderError(`${action} is not supported by ${connector.name}`, false, 'NotSupported');
}

export function createHttpConnectorProvider(options: HttpConnectorOptions): HttpConnectorProvider {
  const connectors = new Map<string, ConnectorDefinition>();
  options.connectors.forEach((definition, index) => {
    const parsed = connectorDefinition.safeParse(definition);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `connectors[${index}]${issue ? `.${formatIssuePath(issue.path)}: ${issue.message}` : ''}`,
      );
    }
    if (connectors.has(parsed.data.name))
      throw new Error(`connectors[${index}].name: duplicate "${parsed.data.name}"`);
    connectors.set(parsed.data.name, parsed.data);
  });

  function resolve(ref: string): Target {
    const bare = ref.startsWith(`${HTTP_CONNECTOR}:`) ? ref.slice(HTTP_CONNECTOR.length + 1) : ref;
    const slash = bare.indexOf('/');
    if (slash <= 0 || slash === bare.length - 1) {
      throw new ProviderError(`ref: "${ref}" is not <connector>/<object id>`, false, 'InvalidParams');
    }
    const name = bare.slice(0, slash);
    const connector = connectors.get(name);
    if (!connector) {
      throw new ProviderError(
        `ref: no connector named "${name}" (configured: ${[...connectors.keys()].join(', ') || 'none'})`,
        false,
        'InvalidParams',
      );
    }
    return { connector, objectId: bare.slice(slash + 1) };
  }

  async function readState(requester: Requester, target: Target): Promise<State | undefined> {
    const verify = target.connector.verify;
    if (!verify) return undefined;
    const document = await requester.json(
      'verify',
      verify,
      `${target.connector.name}: ${verify.method} ${requester.path(verify)}`,
    );
    const value = pick(document, verify.stateField);
    if (value === verify.enabledValue) return 'enabled';
    if (value === verify.disabledValue) return 'disabled';
    return 'unknown';
  }

  /** Reads the state first (nothing to do when already there), acts, then reads again as proof. */
  async function switchTo(
    desired: 'enabled' | 'disabled',
    ref: string,
    ctx: ActionContext,
  ): Promise<ActionResult> {
    const target = resolve(ref);
    const endpointName = desired === 'disabled' ? 'disable' : 'enable';
    const endpoint = target.connector[endpointName];
    if (!endpoint)
      throw unsupported(target.connector, desired === 'disabled' ? 'disableConnector' : 'enableConnector');
    const requester = new Requester(target, options.env, ctx);
    const before = await readState(requester, target);
    const base = {
      connector: target.connector.name,
      objectId: target.objectId,
      previousState: before ?? 'unverified',
    };
    if (before === desired) {
      ctx.log.info({ ...base, state: desired }, `already ${desired}; nothing to do`);
      return { summary: { ...base, state: desired, changed: false } };
    }
    const response = await requester.send(endpointName, endpoint);
    await response.body?.cancel().catch(() => undefined);
    const after = await readState(requester, target);
    if (after !== undefined && after !== desired) {
      // Some platforms apply the switch asynchronously: a retry re-reads and, if needed, re-sends.
      throw new ProviderError(
        `${target.connector.name}: ${target.objectId} is ${after} after the ${endpointName} request`,
        true,
        'NotApplied',
      );
    }
    ctx.log.info({ ...base, state: after ?? 'unverified' }, `connector ${desired}`);
    return { summary: { ...base, state: after ?? 'unverified', changed: true } };
  }

  async function simpleCall(
    action: 'cancelRuns' | 'purgeLogs',
    params: { ref: string; since?: string; until?: string },
    ctx: ActionContext,
  ): Promise<ActionResult> {
    const target = resolve(params.ref);
    const endpoint = target.connector[action];
    if (!endpoint) throw unsupported(target.connector, action);
    const requester = new Requester(target, options.env, ctx);
    const response = await requester.send(action, endpoint, { since: params.since, until: params.until });
    await response.body?.cancel().catch(() => undefined);
    return {
      summary: { connector: target.connector.name, objectId: target.objectId, status: response.status },
    };
  }

  return defineProvider(HTTP_CONNECTOR, httpConnectorCatalog, {
    disableConnector: (params, ctx) => switchTo('disabled', params.ref, ctx),
    enableConnector: (params, ctx) => switchTo('enabled', params.ref, ctx),
    cancelRuns: (params, ctx) => simpleCall('cancelRuns', params, ctx),
    purgeLogs: (params, ctx) => simpleCall('purgeLogs', params, ctx),
    captureLogs: async (params, ctx) => {
      const target = resolve(params.ref);
      const endpoint = target.connector.captureLogs;
      if (!endpoint) throw unsupported(target.connector, 'captureLogs');
      const requester = new Requester(target, options.env, ctx);
      const response = await requester.send('captureLogs', endpoint, {
        since: params.since,
        until: params.until,
      });
      const content = response.body ? Readable.fromWeb(response.body) : Readable.from([]);
      const artifact = await ctx.evidence.preserve({
        incidentId: ctx.incidentId,
        stepId: ctx.stepId,
        source: `${HTTP_CONNECTOR}:${target.connector.name}`,
        name: `${target.connector.name}-${target.objectId}-logs`,
        contentType: response.headers.get('content-type') ?? 'application/octet-stream',
        content,
      });
      ctx.log.info(
        { connector: target.connector.name, objectId: target.objectId, ...artifact },
        'logs preserved',
      );
      return {
        summary: {
          connector: target.connector.name,
          objectId: target.objectId,
          artifactId: artifact.artifactId,
          sha256: artifact.sha256,
          bytes: artifact.bytes,
        },
      };
    },
    rotateCredential: async (params, ctx) => {
      const target = resolve(params.ref);
      const endpoint = target.connector.rotate;
      if (!endpoint) throw unsupported(target.connector, 'rotateCredential');
      if (params.destinations.length === 0) {
        throw new ProviderError(
          `${target.connector.name}: rotateCredential without a destination would lose the new credential`,
          false,
          'InvalidParams',
        );
      }
      const requester = new Requester(target, options.env, ctx);
      const label = `${target.connector.name}: ${endpoint.method} ${requester.path(endpoint)}`;
      const document = await requester.json('rotate', endpoint, label);
      const secret = pick(document, endpoint.secretField);
      if (typeof secret !== 'string' || secret.length === 0) {
        throw new ProviderError(
          `${label}: the answer has no string at "${endpoint.secretField}"`,
          false,
          'BadAnswer',
        );
      }
      const delivered: string[] = [];
      for (const destination of params.destinations) {
        await deliverMinted(target.connector.name, destination, secret, ctx);
        delivered.push(`${destination.provider}:${destination.target}`);
      }
      ctx.log.info(
        { connector: target.connector.name, objectId: target.objectId, destinations: delivered },
        'credential rotated',
      );
      return {
        summary: { connector: target.connector.name, objectId: target.objectId, destinations: delivered },
      };
    },
  });
}
