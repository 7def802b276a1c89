import type { Express } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SIEM_SOURCES, type SiemSource } from './siem';

/** Why a webhook was refused. A fixed set: no label ever carries request data, a secret or a fingerprint. */
export const REJECT_REASONS = [
  'unknown_source',
  'unauthorized',
  'forbidden',
  'too_large',
  'bad_request',
  'invalid_json',
  'invalid_alert',
  'overloaded',
  'unavailable',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** `unknown` stands for any path segment that is not a known source, so an attacker cannot mint label values. */
export type SourceLabel = SiemSource | 'unknown';

export function sourceLabel(value: unknown): SourceLabel {
  return typeof value === 'string' && (SIEM_SOURCES as readonly string[]).includes(value)
    ? (value as SiemSource)
    : 'unknown';
}

export interface GatewayMetrics {
  /** The gateway's own registry (not prom-client's global one), so several gateways in a process stay apart. */
  registry: Registry;
  alertsReceived: Counter<'source'>;
  alertsAccepted: Counter<'source'>;
  alertsRejected: Counter<'source' | 'reason'>;
  alertsIgnored: Counter<'source' | 'lifecycle'>;
  incidentsCreated: Counter<'source'>;
  incidentsJoined: Counter<'source' | 'closed'>;
  ackSeconds: Histogram<'source' | 'outcome'>;
  batches: Counter<'outcome'>;
  batchAlerts: Histogram;
  pendingAlerts: Gauge;
  slackRequestsRefused: Counter<'reason'>;
  revokedAtIngest: Counter<'issuer' | 'outcome'>;
  urlTokenAccepted: Counter<'source' | 'rotation'>;
}

/**
 * The gateway's Prometheus metrics. Labels are bounded enums only (source, reason, outcome, lifecycle):
 * never an incident id, a fingerprint, an alert id or anything else taken from a request.
 */
export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'tourniquet_gateway_' });
  const registers = [registry];
  const metrics: GatewayMetrics = {
    registry,
    alertsReceived: new Counter({
      name: 'tourniquet_siem_alerts_received_total',
      help: 'SIEM webhook requests received, by source (unknown for any other path segment)',
      labelNames: ['source'],
      registers,
    }),
    alertsAccepted: new Counter({
      name: 'tourniquet_siem_alerts_accepted_total',
      help: 'Raised alerts attached to an incident (answered 202 created or joined)',
      labelNames: ['source'],
      registers,
    }),
    alertsRejected: new Counter({
      name: 'tourniquet_siem_alerts_rejected_total',
      help: 'SIEM webhook requests refused, by reason',
      labelNames: ['source', 'reason'],
      registers,
    }),
    alertsIgnored: new Counter({
      name: 'tourniquet_siem_alerts_ignored_total',
      help: 'Authenticated requests that start nothing, by why: ping, other-event, redelivery, not-a-secret, updated, resolved (no open incident)',
      labelNames: ['source', 'lifecycle'],
      registers,
    }),
    incidentsCreated: new Counter({
      name: 'tourniquet_siem_incidents_created_total',
      help: 'Incidents created by SIEM alerts (one per incident, whatever the number of alerts in its first batch)',
      labelNames: ['source'],
      registers,
    }),
    incidentsJoined: new Counter({
      name: 'tourniquet_siem_incidents_joined_total',
      help: 'Alerts that joined an incident that already existed; closed="true" when it was closed and contained',
      labelNames: ['source', 'closed'],
      registers,
    }),
    ackSeconds: new Histogram({
      name: 'tourniquet_siem_ack_seconds',
      help: 'Time from request to answer, including the batch window and the Temporal round trip',
      labelNames: ['source', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
      registers,
    }),
    batches: new Counter({
      name: 'tourniquet_siem_batches_total',
      help: 'attachAlerts updates sent to Temporal (update-with-start), by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    batchAlerts: new Histogram({
      name: 'tourniquet_siem_batch_alerts',
      help: 'Alerts per attachAlerts update',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    pendingAlerts: new Gauge({
      name: 'tourniquet_siem_pending_alerts',
      help: 'Alerts waiting in the batcher for their update',
      registers,
    }),
    slackRequestsRefused: new Counter({
      name: 'tourniquet_slack_requests_refused_total',
      help: 'Slack requests refused before any listener ran (unsigned, stale or bad signature); nothing was written',
      labelNames: ['reason'],
      registers,
    }),
    revokedAtIngest: new Counter({
      name: 'tourniquet_siem_revoked_at_ingest_total',
      help: 'Leaked values the gateway sent to their issuer for revocation before answering, by issuer and outcome',
      labelNames: ['issuer', 'outcome'],
      registers,
    }),
    urlTokenAccepted: new Counter({
      name: 'tourniquet_siem_url_token_accepted_total',
      help: 'Requests authenticated by a URL token, by which listed token matched (older: the sender has not moved yet)',
      labelNames: ['source', 'rotation'],
      registers,
    }),
  };
  return metrics;
}

/** `GET /metrics` in the Prometheus text format. */
export function mountMetrics(app: Express, metrics: GatewayMetrics): void {
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
}
