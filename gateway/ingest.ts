import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  attachAlertsToRunning,
  attachAlertsWithStart,
  signCommand,
  buildIncidentInput,
  incidentIdFor,
  incidentRequestSchema,
  type AttachOutcome,
} from '../client';
import {
  MAX_BATCH_EVENTS,
  MAX_BATCH_LOCATIONS,
  MAX_REVOKED_AT_INGEST,
  SEVERITIES,
  type AlertBatch,
  type AlertDetails,
  type AlertEvent,
  type IncidentLocation,
  type Severity,
  type AlertRef,
  type IncidentInput,
  type RevokedAtIngest,
  type Runbook,
} from '../lib/runbook/types';
import type { CredentialResolver, ResolvedIncidentCredential } from '../client/credentials';
import { PROVIDER_DIRECTORY } from '../providers';
import { AlertBatcher, DEFAULT_BATCHER_OPTIONS } from './alert-batcher';
import type { GatewayMetrics } from './metrics';
import type { NormalizedAlert } from './siem';

export type ParsedIncidentRequest = z.output<typeof incidentRequestSchema>;

/** What every waiting request of one batch is told; `no-incident` only for a batch of resolutions. */
export type IngestOutcome = AttachOutcome | { incidentId: string; status: 'no-incident' };

/** What one alert adds to its incident beyond its id: sealed into its batch's `details`. */
export interface AlertContribution {
  lifecycle: AlertEvent['lifecycle'];
  severity: Severity;
  locations: IncidentLocation[];
  /** The connector the alert leads to, when a real provider takes it (`github:acme/api/deploy.yml`). */
  connector?: string;
  /** The adapter's description of the event (`validity confirmed active`). */
  event?: string;
}

interface PendingAlert {
  ref: AlertRef;
  request: ParsedIncidentRequest;
  contribution: AlertContribution;
}

/** The contribution of a normalized alert: its places and a connector that is not simulated. */
export function contributionOf(
  alert: NormalizedAlert,
  lifecycle: AlertContribution['lifecycle'],
  event?: string,
): AlertContribution {
  const connector = connectorFor(alert);
  return {
    lifecycle,
    severity: alert.severity,
    locations: alert.locations.map(({ url, repository, workflow }) => ({
      url,
      ...(repository ? { repository } : {}),
      ...(workflow ? { workflow } : {}),
    })),
    ...(connector.startsWith('simulated:') ? {} : { connector }),
    ...(event ? { event } : {}),
  };
}

/** As the start's context holds it (`buildIncidentInput`). */
function connectorContext(ref: string): AlertDetails['connector'] {
  const connector = PROVIDER_DIRECTORY.parseRef('connector', ref);
  return { provider: connector.provider, ref: connector.ref, repository: connector.repository ?? '' };
}

/** A batch's contributions summed up: the highest severity, distinct places, the first real connector, the events. */
export function batchDetails(alerts: { ref: AlertRef; contribution: AlertContribution }[]): AlertDetails {
  const severity = alerts
    .map(({ contribution }) => contribution.severity)
    .reduce((highest, next) => (SEVERITIES.indexOf(next) > SEVERITIES.indexOf(highest) ? next : highest));
  const locations = new Map<string, IncidentLocation>();
  for (const { contribution } of alerts) {
    for (const location of contribution.locations) {
      if (locations.size >= MAX_BATCH_LOCATIONS) break;
      if (!locations.has(location.url)) locations.set(location.url, location);
    }
  }
  const connectorRef = alerts.find(({ contribution }) => contribution.connector)?.contribution.connector;
  const events: AlertEvent[] = alerts
    .filter(({ contribution }) => contribution.lifecycle !== 'raised')
    .slice(0, MAX_BATCH_EVENTS)
    .map(({ ref, contribution }) => ({
      alertId: ref.alertId.slice(0, 512),
      source: ref.source,
      lifecycle: contribution.lifecycle,
      ...(contribution.event ? { text: contribution.event.slice(0, 200) } : {}),
    }));
  return {
    severity,
    locations: [...locations.values()],
    ...(connectorRef ? { connector: connectorContext(connectorRef) } : {}),
    events,
  };
}

export interface IncidentIngestOptions {
  client: Client;
  taskQueue: string;
  runbook: Runbook;
  fingerprintKey: Buffer;
  /** Signs each start: the alert's source has been authenticated by then. */
  gatewayKey: KeyObject;
  logger: Logger;
  metrics?: GatewayMetrics;
  windowMs?: number;
  maxBatch?: number;
  maxPending?: number;
  /** Batches that open an incident (a key's first) in flight at once, default 32. */
  maxConcurrentFlushes?: number;
  /** Batches to incidents already open in flight at once, in a pool of their own, default 32. */
  maxConcurrentUpdates?: number;
  /** `attachAlerts` Updates in flight at once for one open incident, default 4 (a new one: always one). */
  maxInFlightPerKey?: number;
  /** An open incident gets another Update beside those in flight once this many alerts wait, default 64. */
  minConcurrentBatch?: number;
  /** How long an alert may wait for its batch to be sent before it is answered 503 (default 4 s). */
  maxWaitMs?: number;
  /**
   * How long one batch's update-with-start may take before its requests are answered 503 (default 5 s). With
   * `maxWaitMs`, every request is answered within about 9 s: GitHub gives up on a webhook after 10 s.
   */
  flushTimeoutMs?: number;
}

export class IngestUnavailableError extends Error {}

/**
 * The containment target of an alert: its connector, else a connector that runs where it leaked (a GitHub
 * workflow), else simulated. Every candidate is checked by the provider that would act on it.
 */
export function connectorFor(alert: NormalizedAlert): string {
  // Asked twice per alert (its incident request and its contribution): parsed once.
  let connector = connectors.get(alert);
  if (connector === undefined) {
    connector = findConnector(alert);
    connectors.set(alert, connector);
  }
  return connector;
}

const connectors = new WeakMap<NormalizedAlert, string>();

function findConnector(alert: NormalizedAlert): string {
  const candidates = [
    alert.connector,
    ...alert.locations.map((location) => PROVIDER_DIRECTORY.connectorRefFor(location)),
  ];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    try {
      PROVIDER_DIRECTORY.parseRef('connector', candidate);
      return candidate;
    } catch {
      continue;
    }
  }
  return `simulated:${alert.source}`;
}

function hintText(alert: NormalizedAlert): string {
  if (!alert.hint) return '';
  const last4 = alert.hint.last4 ? ` ending …${alert.hint.last4}` : '';
  return `${alert.hint.kind}${last4} (${alert.hint.length} chars)`.slice(0, 200);
}

/**
 * The incident's credential: the inventory's, else an issuer that revokes the value the alert itself holds (a GitHub
 * secret-scanning alert about a GitHub or Slack token), else unresolved.
 */
export function credentialFor(
  alert: NormalizedAlert,
  credentials?: CredentialResolver,
): ResolvedIncidentCredential | undefined {
  const found = credentials?.resolve({
    fingerprint: alert.fingerprint,
    identifiers: alert.identifiers,
    locations: alert.locations,
  });
  if (found && found.resolution.by !== 'unresolved') return found;
  const ref = PROVIDER_DIRECTORY.credentialRefForAlert(alert);
  if (ref === undefined) return found;
  return {
    credential: ref,
    destinations: [],
    resolution: {
      by: 'alert',
      reason:
        `the ${alert.source} alert ${alert.alertId} holds the leaked ${alert.secretKind}: its issuer revokes it by the value read back from the alert`.slice(
          0,
          1_000,
        ),
    },
  };
}

/** The incident request a raised alert stands for. The alert has been scrubbed: nothing here is a secret. */
export function incidentRequestFor(
  alert: NormalizedAlert,
  credentials?: CredentialResolver,
  revokedAtIngest: RevokedAtIngest[] = [],
): z.ZodSafeParseResult<ParsedIncidentRequest> {
  const found = credentialFor(alert, credentials);
  return incidentRequestSchema.safeParse({
    secretKind: alert.secretKind.slice(0, 64),
    connector: connectorFor(alert),
    ...(found
      ? {
          ...(found.credential ? { credential: found.credential } : {}),
          destinations: found.destinations,
          credentialResolution: found.resolution,
        }
      : {}),
    severity: alert.severity,
    requester: `siem:${alert.source}`,
    source: `siem:${alert.source}`,
    secretFingerprint: alert.fingerprint,
    hint: hintText(alert),
    exposureStart: alert.observedAt,
    ...(revokedAtIngest.length > 0 ? { revokedAtIngest } : {}),
  });
}

export function alertRefFor(alert: NormalizedAlert): AlertRef {
  return {
    alertId: alert.alertId,
    source: alert.source,
    detector: alert.detector,
    observedAt: alert.observedAt,
  };
}

/**
 * Turns raised alerts into incidents: one incident per fingerprint (the workflow id), one `attachAlerts`
 * Update per batch sent with update-with-start, so concurrent alerts can never start two incidents and a storm
 * of duplicates costs a bounded number of history events.
 */
export class IncidentIngest {
  private readonly batcher: AlertBatcher<PendingAlert, IngestOutcome>;
  private readonly flushTimeoutMs: number;

  constructor(private readonly options: IncidentIngestOptions) {
    this.flushTimeoutMs = options.flushTimeoutMs ?? 5_000;
    this.batcher = new AlertBatcher<PendingAlert, IngestOutcome>({
      windowMs: options.windowMs ?? DEFAULT_BATCHER_OPTIONS.windowMs,
      maxBatch: options.maxBatch ?? DEFAULT_BATCHER_OPTIONS.maxBatch,
      maxPending: options.maxPending ?? DEFAULT_BATCHER_OPTIONS.maxPending,
      maxConcurrentFlushes: options.maxConcurrentFlushes ?? DEFAULT_BATCHER_OPTIONS.maxConcurrentFlushes,
      maxConcurrentUpdates: options.maxConcurrentUpdates ?? DEFAULT_BATCHER_OPTIONS.maxConcurrentUpdates,
      maxInFlightPerKey: options.maxInFlightPerKey ?? DEFAULT_BATCHER_OPTIONS.maxInFlightPerKey,
      minConcurrentBatch: options.minConcurrentBatch ?? DEFAULT_BATCHER_OPTIONS.minConcurrentBatch,
      // Several Updates at once only to a running incident this gateway has seen accept one: a key's first
      // batch (update-with-start) returns before the next is sent, so one incident per secret, as before.
      established: (outcome) => outcome.status !== 'no-incident' && !outcome.closed,
      maxWaitMs: options.maxWaitMs ?? 4_000,
      flush: (incidentId, items) => this.flush(incidentId, items),
      onPendingChange: (pending) => options.metrics?.pendingAlerts.set(pending),
    });
  }

  get pending(): number {
    return this.batcher.pending;
  }

  submit(
    ref: AlertRef,
    request: ParsedIncidentRequest,
    contribution: AlertContribution,
  ): Promise<IngestOutcome> {
    // buildIncidentInput keys the incident the same way; every request here carries the alert's fingerprint.
    const incidentId = incidentIdFor(request.secretFingerprint!);
    return this.batcher.submit(incidentId, { ref, request, contribution });
  }

  /** Sends what is waiting, then resolves; later submits are refused. */
  close(): Promise<void> {
    return this.batcher.close();
  }

  private async flush(incidentId: string, items: PendingAlert[]): Promise<IngestOutcome> {
    const { client, metrics, logger } = this.options;
    const batch: AlertBatch = {
      token: randomUUID(),
      alerts: items.map((item) => item.ref),
      // Sealed: only what the gateway authenticated may raise the severity or name the connector.
      details: signCommand(incidentId, 'alert-details', batchDetails(items), this.options.gatewayKey),
    };
    // A detector closing its alert is recorded on the incident it belongs to, and never opens one.
    if (items.every((item) => item.contribution.lifecycle === 'resolved')) {
      try {
        return await client.withDeadline(Date.now() + this.flushTimeoutMs, () =>
          attachAlertsToRunning(client, incidentId, batch),
        );
      } catch (error) {
        throw this.unavailable(incidentId, items.length, error);
      }
    }
    metrics?.batchAlerts.observe(items.length);
    // The first alert of the batch describes the incident if this batch is the one that opens it; what the gateway
    // revoked at ingest for any alert of the batch is recorded with it.
    const revokedAtIngest = items
      .flatMap((item) => item.request.revokedAtIngest ?? [])
      .slice(0, MAX_REVOKED_AT_INGEST);
    const first = revokedAtIngest.length > 0 ? { ...items[0].request, revokedAtIngest } : items[0].request;
    const input: IncidentInput = {
      ...buildIncidentInput(this.options.runbook, first, this.options.fingerprintKey),
      startToken: batch.token,
    };
    const startedAt = Date.now();
    try {
      const outcome = await client.withDeadline(Date.now() + this.flushTimeoutMs, () =>
        attachAlertsWithStart(client, {
          incidentId,
          taskQueue: this.options.taskQueue,
          batch,
          input,
          gatewayKey: this.options.gatewayKey,
        }),
      );
      metrics?.batches.inc({ outcome: outcome.closed ? 'closed' : outcome.status });
      if (outcome.status === 'created') {
        metrics?.incidentsCreated.inc({ source: items[0].ref.source });
        logger.info(
          {
            incidentId,
            alerts: items.length,
            source: items[0].ref.source,
            severity: input.context.incident.severity,
            ms: Date.now() - startedAt,
          },
          'incident created from SIEM alerts',
        );
      } else {
        logger.debug(
          { incidentId, alerts: items.length, closed: outcome.closed, ms: Date.now() - startedAt },
          'SIEM alerts joined incident',
        );
      }
      return outcome;
    } catch (error) {
      throw this.unavailable(incidentId, items.length, error);
    }
  }

  /** A batch Temporal did not take: counted, logged, and what its waiting requests are told (503). */
  private unavailable(incidentId: string, alerts: number, error: unknown): IngestUnavailableError {
    this.options.metrics?.batches.inc({ outcome: 'failed' });
    this.options.logger.warn(
      { incidentId, alerts, error: error instanceof Error ? error.message : String(error) },
      'SIEM alerts not attached: Temporal did not answer',
    );
    return new IngestUnavailableError('Temporal is not answering: try again shortly');
  }
}
