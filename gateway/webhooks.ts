import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Client, type Connection } from '@temporalio/client';
import type { Express, Request, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../lib/config';
import { gatewaySigningKey } from '../lib/gateway-key';
import { fingerprintKeyOf } from '../lib/keys';
import { findRunbook, formatIssues } from '../runbooks';
import { CredentialResolver } from '../client/credentials';
import { formatInventoryIssues, loadInventory } from '../lib/inventory';
import { PROVIDER_DIRECTORY } from '../providers';
import type { RevokedAtIngest, Runbook } from '../lib/runbook/types';
import { BatcherClosedError, BatcherOverloadedError, BatcherTimeoutError } from './alert-batcher';
import {
  alertRefFor,
  contributionOf,
  IncidentIngest,
  incidentRequestFor,
  type IncidentIngestOptions,
  type IngestOutcome,
} from './ingest';
import { DeliveryLog, deliveryKey } from './siem/deliveries';
import { warmGitHubSchemas } from './siem/adapters/github-webhook-schemas';
import { ingestRevokerFromEnv, type IngestRevoker, type RevokedAtIngestAnswer } from './revoke-at-ingest';
import {
  createGatewayMetrics,
  mountMetrics,
  sourceLabel,
  type GatewayMetrics,
  type RejectReason,
  type SourceLabel,
} from './metrics';
import {
  authenticateSiemRequest,
  authenticateUrlToken,
  createReplayCache,
  deliveryKind,
  describeUrlTokens,
  hasUrlToken,
  normalizeSiemAlert,
  parseSecretList,
  redactUrlTokenPath,
  SIEM_SOURCES,
  siemSecretsFromEnv,
  URL_TOKEN_SEGMENT,
  urlTokenSources,
  urlTokensFromEnv,
  type ReplayCache,
  type SiemSecrets,
  type SiemSource,
  type UrlTokenConfig,
} from './siem';

/** Bodies above this answer 413 before anything parses them. */
export const MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_RUNBOOK = 'leaked-workflow-secret';
export const WEBHOOK_PATH = '/webhooks/siem';

export interface SiemWebhookOptions extends Pick<
  IncidentIngestOptions,
  | 'windowMs'
  | 'maxBatch'
  | 'maxPending'
  | 'maxConcurrentFlushes'
  | 'maxConcurrentUpdates'
  | 'maxInFlightPerKey'
  | 'minConcurrentBatch'
  | 'maxWaitMs'
  | 'flushTimeoutMs'
> {
  client: Client;
  taskQueue: string;
  /** The runbook every SIEM incident runs. */
  runbook: Runbook;
  fingerprintKey: Buffer;
  /** The gateway's key: it signs the start of each incident an authenticated alert opens. */
  gatewayKey: KeyObject;
  /** `SIEM_SECRET_<SOURCE>` values; a source without one answers 404. */
  secrets: SiemSecrets;
  /**
   * `SIEM_URL_TOKEN_<SOURCE>` (and `_ALLOW`): `POST /webhooks/siem/<source>/t/<token>` for senders that cannot set a
   * header. A source without one answers 404 on that path. Absent: no URL-token route.
   */
  urlTokens?: UrlTokenConfig;
  logger: Logger;
  metrics?: GatewayMetrics;
  replayCache?: ReplayCache;
  /** The credential inventory: which credential an alert is about, its issuer and its consumers. */
  credentials?: CredentialResolver;
  /**
   * Revocation at ingest (`TOURNIQUET_REVOKE_AT_INGEST`): a generic alert's `secret` that an enabled issuer revokes by
   * value is revoked inside the request, before it is answered. Absent: off.
   */
  revoker?: IngestRevoker;
}

export interface SiemWebhooks {
  /** Adds `POST /webhooks/siem/:source`, `POST /webhooks/siem/:source/t/:token` and `GET /metrics` to the app. */
  mount: (app: Express) => void;
  metrics: GatewayMetrics;
  ingest: IncidentIngest;
  /** Sources with a header secret or a URL token (or both). */
  enabled: SiemSource[];
  /** Answers what is waiting, then refuses new alerts (503). Call before closing the HTTP server. */
  close: () => Promise<void>;
}

const sourceParam = z.enum(SIEM_SOURCES);

/**
 * Signatures of requests answered 503 (Temporal unreachable) may be presented once more: the sender's retry of
 * the same delivery must not be refused as a replay, since nothing was done with it.
 */
class RetryableReplays {
  private readonly forgiven = new Set<string>();

  constructor(
    private readonly inner: ReplayCache,
    private readonly limit = 10_000,
  ) {}

  forRequest(): { cache: ReplayCache; forgive(): void } {
    let accepted: string | undefined;
    const { inner, forgiven } = this;
    const cache: ReplayCache = {
      checkAndRemember(key, nowMs) {
        if (forgiven.delete(key) || inner.checkAndRemember(key, nowMs)) {
          accepted = key;
          return true;
        }
        return false;
      },
      get size() {
        return inner.size;
      },
      clear: () => inner.clear(),
    };
    return {
      cache,
      forgive: () => {
        if (accepted === undefined) return;
        if (forgiven.size >= this.limit) forgiven.delete(forgiven.values().next().value!);
        forgiven.add(accepted);
      },
    };
  }
}

/** At most `perMinute` warnings per kind and minute: a flood of bad requests must not flood the logs. */
class WarningSampler {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly perMinute = 20,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    let window = this.windows.get(kind);
    if (!window || now - window.start >= 60_000) {
      if (window && window.count > this.perMinute) {
        this.logger.warn(
          { kind, suppressed: window.count - this.perMinute },
          'SIEM webhook warnings suppressed',
        );
      }
      window = { start: now, count: 0 };
      this.windows.set(kind, window);
    }
    window.count += 1;
    if (window.count <= this.perMinute) this.logger.warn(fields, message);
  }
}

/**
 * The exact bytes of the body, for the signature check. A declared or actual length over `limit` stops
 * reading: `too-large`. Nothing parses the body before it is authenticated.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'aborted') => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        chunks.length = 0;
        req.pause();
        return settle('too-large');
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => settle(Buffer.concat(chunks, length)));
    req.once('aborted', () => settle('aborted'));
    req.once('error', () => settle('aborted'));
  });
}

export function createSiemWebhooks(options: SiemWebhookOptions): SiemWebhooks {
  const metrics = options.metrics ?? createGatewayMetrics();
  const enabled = new Set(
    SIEM_SOURCES.filter((source) => parseSecretList(options.secrets[source]).length > 0),
  );
  // Reported, not routed on: `enabled` gates the header route, `hasUrlToken` the URL-token route.
  const enabledEitherWay = new Set([...enabled, ...urlTokenSources(options.urlTokens ?? {})]);
  const urlTokens = options.urlTokens ?? {};
  const replays = new RetryableReplays(options.replayCache ?? createReplayCache());
  const deliveries = new DeliveryLog<IngestOutcome>();
  // About a second of schema compilation, paid at start rather than by the first GitHub alert.
  if (enabled.has('github')) warmGitHubSchemas();
  const warnings = new WarningSampler(options.logger);
  const ingest = new IncidentIngest({
    client: options.client,
    taskQueue: options.taskQueue,
    runbook: options.runbook,
    fingerprintKey: options.fingerprintKey,
    gatewayKey: options.gatewayKey,
    logger: options.logger,
    metrics,
    windowMs: options.windowMs,
    maxBatch: options.maxBatch,
    maxPending: options.maxPending,
    maxConcurrentFlushes: options.maxConcurrentFlushes,
    maxConcurrentUpdates: options.maxConcurrentUpdates,
    maxInFlightPerKey: options.maxInFlightPerKey,
    minConcurrentBatch: options.minConcurrentBatch,
    maxWaitMs: options.maxWaitMs,
    flushTimeoutMs: options.flushTimeoutMs,
  });

  /** One request's context: where it came from and when, for the metrics and the sampled warnings. */
  interface Exchange {
    req: IncomingMessage;
    res: ServerResponse;
    source: SourceLabel;
    startedAt: number;
  }

  function answer(
    exchange: Exchange,
    status: number,
    body: Record<string, unknown>,
    outcome: 'accepted' | 'ignored' | RejectReason,
    headers: Record<string, string> = {},
  ): void {
    const { res, source } = exchange;
    metrics.ackSeconds.observe({ source, outcome }, (performance.now() - exchange.startedAt) / 1000);
    if (outcome !== 'accepted' && outcome !== 'ignored')
      metrics.alertsRejected.inc({ source, reason: outcome });
    if (res.headersSent || res.destroyed) return;
    // Written directly (no ETag, no content negotiation): this path is hot during an alert storm.
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(json)),
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(json);
  }

  function reject(
    exchange: Exchange,
    status: number,
    reason: RejectReason,
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): void {
    const { source } = exchange;
    warnings.warn(
      `${source}:${reason}`,
      { source, reason, status, ...(body.field ? { field: body.field } : {}) },
      'SIEM webhook refused',
    );
    answer(exchange, status, body, reason, headers);
  }

  /**
   * A generic alert's declared `secret`, read from the parsed body in memory, sent to its issuer if it is a value an
   * enabled issuer revokes (a Slack bot or user token), and dropped. Never throws; bounded by the revoker's timeout.
   * Only the record leaves (issuer, token type, outcome, code): never the value.
   */
  async function revokeAtIngest(source: SiemSource, body: unknown): Promise<RevokedAtIngest[]> {
    const { revoker } = options;
    if (!revoker || body === null || typeof body !== 'object' || Array.isArray(body)) return [];
    let revoked: RevokedAtIngest | undefined;
    try {
      revoked = await revoker.revoke((body as { secret?: unknown }).secret);
    } catch {
      return [];
    }
    if (!revoked) return [];
    metrics.revokedAtIngest.inc({ issuer: revoked.issuer, outcome: revoked.outcome });
    const fields = {
      source,
      issuer: revoked.issuer,
      tokenType: revoked.tokenType,
      method: revoked.method,
      outcome: revoked.outcome,
      code: revoked.code,
    };
    if (revoked.outcome === 'revoked' || revoked.outcome === 'already-dead') {
      options.logger.info(fields, 'leaked value revoked at ingest');
    } else {
      warnings.warn(
        `${source}:revoke-at-ingest`,
        fields,
        'leaked value not revoked at ingest: it may still work',
      );
    }
    return [revoked];
  }

  /**
   * `auth`: `header` authenticates on the raw body (signatures, bearer and basic credentials); `url-token` means the
   * route already checked the path's token and the peer address, before reading anything.
   */
  async function handle(exchange: Exchange, source: SiemSource, auth: 'header' | 'url-token'): Promise<void> {
    const { req } = exchange;
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      return reject(
        exchange,
        415,
        'bad_request',
        { error: 'unsupported content-encoding' },
        { connection: 'close' },
      );
    }
    const rawBody = await readBody(req, MAX_BODY_BYTES);
    if (rawBody === 'too-large') {
      // The rest of an oversized body is not read: answer and close the connection.
      return reject(
        exchange,
        413,
        'too_large',
        { error: 'body too large', limit: MAX_BODY_BYTES },
        { connection: 'close' },
      );
    }
    if (rawBody === 'aborted') return answer(exchange, 400, { error: 'request aborted' }, 'bad_request');

    const replay = replays.forRequest();
    if (auth === 'header') {
      const verdict = authenticateSiemRequest(source, req.headers, rawBody, {
        secrets: options.secrets,
        replayCache: replay.cache,
      });
      if (!verdict.ok)
        return reject(exchange, 401, 'unauthorized', { error: 'unauthorized', message: verdict.reason });
    }

    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      // Never echo the parser's message: it quotes the body, which may hold the secret.
      return reject(exchange, 400, 'invalid_json', { error: 'invalid JSON', field: '(body)' });
    }
    const delivery = deliveryKind(source, body, req.headers);
    if (delivery.kind === 'ping') {
      metrics.alertsIgnored.inc({ source, lifecycle: 'ping' });
      return answer(exchange, 200, { status: 'pong' }, 'ignored');
    }
    if (delivery.kind === 'other-event') {
      metrics.alertsIgnored.inc({ source, lifecycle: 'other-event' });
      return answer(exchange, 202, { status: 'ignored', reason: 'not a secret-scanning event' }, 'ignored');
    }
    const normalized = normalizeSiemAlert(source, body, {
      fingerprintKey: options.fingerprintKey,
      headers: req.headers,
    });
    if (!normalized.ok) {
      return reject(exchange, 400, 'invalid_alert', {
        error: 'invalid alert',
        field: normalized.field,
        message: normalized.message,
      });
    }
    const { alert, lifecycle } = normalized;
    if (normalized.drift.length > 0) {
      warnings.warn(
        `${source}:drift`,
        { source, fields: normalized.drift },
        "SIEM body differs from the vendor's published schema outside the fields Tourniquet reads: accepted",
      );
    }
    if (lifecycle === 'not-a-secret') {
      metrics.alertsIgnored.inc({ source, lifecycle });
      return answer(exchange, 202, { status: 'ignored', reason: 'not a secret exposure' }, 'ignored');
    }
    // An escalation opens or joins like a new alert, at its severity; a resolution is recorded on its incident only.
    if (lifecycle === 'updated') {
      metrics.alertsIgnored.inc({ source, lifecycle });
      return answer(exchange, 202, { status: 'ignored', lifecycle }, 'ignored');
    }
    // The only moment the gateway holds the value: revoke it now if its issuer takes it by value, then drop it.
    const revoked =
      source === 'generic' && lifecycle !== 'resolved' ? await revokeAtIngest(source, body) : [];
    const told: Record<string, unknown> =
      revoked.length > 0
        ? {
            revokedAtIngest: revoked.map(({ issuer, tokenType, outcome }): RevokedAtIngestAnswer => ({
              issuer,
              tokenType,
              outcome,
            })),
          }
        : {};
    let request = incidentRequestFor(alert, options.credentials, revoked);
    if (!request.success && revoked.length > 0) {
      // A record the schema refuses must not cost the alert: the incident starts without it (the answer and the
      // gateway's log still say what was revoked).
      const without = incidentRequestFor(alert, options.credentials);
      if (without.success) request = without;
    }
    if (!request.success) {
      const issue = request.error.issues[0];
      return reject(exchange, 400, 'invalid_alert', {
        error: 'invalid alert',
        field: issue.path.join('.') || '(body)',
        message: issue.message,
        ...told,
      });
    }

    const key = deliveryKey(req.headers, rawBody);
    const contribution = contributionOf(alert, lifecycle, normalized.event);
    const submit = () => ingest.submit(alertRefFor(alert), request.data, contribution);
    const submitted = key ? deliveries.once(key, submit) : { outcome: submit(), repeated: false };
    try {
      const outcome = await submitted.outcome;
      if (outcome.status === 'no-incident') {
        metrics.alertsIgnored.inc({ source, lifecycle });
        return answer(
          exchange,
          202,
          { status: 'ignored', lifecycle, reason: 'no open incident for this alert' },
          'ignored',
        );
      }
      if (submitted.repeated) {
        metrics.alertsIgnored.inc({ source, lifecycle: 'redelivery' });
        return answer(
          exchange,
          202,
          { incidentId: outcome.incidentId, status: 'duplicate', ...told },
          'ignored',
        );
      }
      metrics.alertsAccepted.inc({ source });
      if (outcome.status === 'joined')
        metrics.incidentsJoined.inc({ source, closed: String(outcome.closed) });
      return answer(
        exchange,
        202,
        {
          incidentId: outcome.incidentId,
          status: outcome.status,
          ...(outcome.closed ? { closed: true } : {}),
          ...told,
        },
        'accepted',
      );
    } catch (error) {
      replay.forgive();
      const retry = { 'retry-after': '5' };
      if (error instanceof BatcherOverloadedError || error instanceof BatcherTimeoutError) {
        return reject(
          exchange,
          503,
          'overloaded',
          { error: 'overloaded', message: error.message, ...told },
          retry,
        );
      }
      const message =
        error instanceof BatcherClosedError ? error.message : 'Temporal is not answering: try again shortly';
      return reject(exchange, 503, 'unavailable', { error: 'unavailable', message, ...told }, retry);
    }
  }

  function failed(exchange: Exchange, error: unknown): void {
    // Only the error's class and the redacted path: a message could quote request data, the path a URL token.
    options.logger.error(
      {
        source: exchange.source,
        path: redactUrlTokenPath(exchange.req.url ?? ''),
        errorType: error instanceof Error ? error.name : typeof error,
      },
      'SIEM webhook failed',
    );
    answer(exchange, 500, { error: 'internal error' }, 'unavailable');
  }

  /**
   * A request counted as received, with its source when that route takes it; else answered 404. An unknown source is
   * never echoed: the path is attacker-chosen and could hold anything.
   */
  function received(
    req: Request,
    res: Response,
    routed: (source: SiemSource) => boolean,
  ): { exchange: Exchange; source?: SiemSource } {
    const exchange: Exchange = {
      req,
      res,
      source: sourceLabel(req.params.source),
      startedAt: performance.now(),
    };
    metrics.alertsReceived.inc({ source: exchange.source });
    const parsed = sourceParam.safeParse(req.params.source);
    if (parsed.success && routed(parsed.data)) return { exchange, source: parsed.data };
    reject(
      exchange,
      404,
      'unknown_source',
      { error: 'unknown or unconfigured source' },
      { connection: 'close' },
    );
    return { exchange };
  }

  function mount(app: Express): void {
    app.post(`${WEBHOOK_PATH}/:source/${URL_TOKEN_SEGMENT}/:token`, (req: Request, res: Response) => {
      const { exchange, source: parsed } = received(req, res, (source) => hasUrlToken(urlTokens, source));
      if (!parsed) return;
      const { source } = exchange;
      const token = typeof req.params.token === 'string' ? req.params.token : undefined;
      // The TCP peer, never X-Forwarded-For: a client writes that header itself.
      const verdict = authenticateUrlToken(urlTokens, parsed, token, req.socket.remoteAddress);
      if (!verdict.ok) {
        // Refused before the body is read. The detail goes to the sampled log only; it never quotes the token.
        const reason = verdict.status === 403 ? 'forbidden' : 'unauthorized';
        warnings.warn(
          `${source}:${reason}`,
          { source, reason, status: verdict.status, auth: 'url-token', detail: verdict.reason },
          'SIEM webhook refused',
        );
        return answer(exchange, verdict.status, { error: reason }, reason, { connection: 'close' });
      }
      metrics.urlTokenAccepted.inc({ source, rotation: verdict.rotation });
      handle(exchange, parsed, 'url-token').catch((error: unknown) => failed(exchange, error));
    });
    app.post(`${WEBHOOK_PATH}/:source`, (req: Request, res: Response) => {
      const { exchange, source: parsed } = received(req, res, (source) => enabled.has(source));
      if (!parsed) return;
      handle(exchange, parsed, 'header').catch((error: unknown) => failed(exchange, error));
    });
    // Express's default handler prints routing errors with console.error, outside the logger's redaction; a malformed
    // escape in `:token` would print the raw path segment ("Failed to decode param '<token>%'").
    app.use(WEBHOOK_PATH, (error: unknown, req: Request, res: Response, next: (error?: unknown) => void) => {
      if (res.headersSent) return next(error);
      const status = (error as { status?: unknown } | null)?.status;
      const clientError = typeof status === 'number' && status >= 400 && status < 500;
      answer(
        { req, res, source: 'unknown', startedAt: performance.now() },
        clientError ? 400 : 500,
        { error: clientError ? 'bad request' : 'internal error' },
        clientError ? 'bad_request' : 'unavailable',
        { connection: 'close' },
      );
    });
    mountMetrics(app, metrics);
  }

  return {
    mount,
    metrics,
    ingest,
    enabled: SIEM_SOURCES.filter((source) => enabledEitherWay.has(source)),
    close: () => ingest.close(),
  };
}

const envSchema = z.object({ TOURNIQUET_DEFAULT_RUNBOOK: z.string().min(1).default(DEFAULT_RUNBOOK) });

/**
 * The SIEM webhooks as `tourniquet up` and `tourniquet gateway` run them: secrets from `SIEM_SECRET_<SOURCE>`,
 * the fingerprint key shared with the CLI, the runbook from `TOURNIQUET_DEFAULT_RUNBOOK`.
 */
export function siemWebhooksFromEnv(options: {
  config: Config;
  connection: Connection;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}): SiemWebhooks {
  const env = options.env ?? process.env;
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`environment variable TOURNIQUET_DEFAULT_RUNBOOK: ${parsed.error.issues[0].message}`);
  }
  const revoker = ingestRevokerFromEnv(env);
  // Validated at startup like every other setting: a weak token or a bad range stops the gateway, naming the variable.
  const urlTokens = urlTokensFromEnv(env);
  const found = findRunbook(parsed.data.TOURNIQUET_DEFAULT_RUNBOOK, options.config.TOURNIQUET_RUNBOOKS_DIR);
  if (!found.ok) {
    throw new Error(`TOURNIQUET_DEFAULT_RUNBOOK: ${formatIssues(found).join('; ')}`);
  }
  const fingerprintKey = fingerprintKeyOf(options.config);
  const inventory = loadInventory(undefined, { providers: PROVIDER_DIRECTORY, env });
  if (!inventory.ok) {
    throw new Error(`credential inventory: ${formatInventoryIssues(inventory).join('; ')}`);
  }
  const webhooks = createSiemWebhooks({
    client: new Client({ connection: options.connection, namespace: options.config.TEMPORAL_NAMESPACE }),
    taskQueue: options.config.TEMPORAL_TASK_QUEUE,
    runbook: found.runbook,
    fingerprintKey,
    gatewayKey: gatewaySigningKey(options.config),
    secrets: siemSecretsFromEnv(env),
    urlTokens,
    logger: options.logger,
    credentials: new CredentialResolver(inventory.inventory, options.config.dataDir),
    revoker,
  });
  options.logger.info(
    {
      sources: webhooks.enabled,
      urlTokens: describeUrlTokens(urlTokens),
      runbook: found.runbook.id,
      revokeAtIngest: revoker?.issuers ?? [],
    },
    webhooks.enabled.length > 0 ? 'SIEM webhooks enabled' : 'SIEM webhooks: no source configured',
  );
  return webhooks;
}
