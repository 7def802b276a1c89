import { z } from 'zod';
import { SIEM_SOURCES } from './sources';

import { SEVERITIES, type Severity } from '../../lib/runbook/types';

export { SEVERITIES, type Severity };

/** A leaked secret is an emergency until a detector says otherwise. */
export const DEFAULT_SEVERITY: Severity = 'high';

/**
 * What a vendor event means for containment:
 * - `raised`: a leak, or a new place of a known one: opens an incident or joins it;
 * - `escalated`: a known leak got worse (validity confirmed active, made public, severity raised): opens or joins,
 *   with its severity, and its `event` is recorded;
 * - `updated`: nothing containment acts on (an assignee changed): answered 202 `ignored`;
 * - `resolved`: the detector closed it on its side (resolved, recovered): recorded on the open incident, never
 *   undoes anything;
 * - `not-a-secret`: the sender's alert is not about an exposed secret: answered 202 `ignored`, counted.
 */
export const ALERT_LIFECYCLES = ['raised', 'escalated', 'updated', 'resolved', 'not-a-secret'] as const;
export type AlertLifecycle = (typeof ALERT_LIFECYCLES)[number];

/** A link a responder may click in Slack or the report: http(s) only (`javascript:` parses as a URL too). */
const absoluteUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((value) => /^https?:\/\//i.test(value) && URL.canParse(value), 'expected an absolute http(s) URL');

export const alertLocationSchema = z.strictObject({
  url: absoluteUrl,
  repository: z.string().min(1).max(256).optional(),
  workflow: z.string().min(1).max(256).optional(),
  runId: z.string().min(1).max(64).optional(),
});

export type AlertLocation = z.infer<typeof alertLocationSchema>;

export const redactedHintSchema = z.strictObject({
  kind: z.string().min(1).max(128),
  length: z.number().int().nonnegative(),
  last4: z.string().max(4),
});

/** The one shape every SIEM adapter produces; it never holds a secret value. */
export const normalizedAlertSchema = z.strictObject({
  source: z.enum(SIEM_SOURCES),
  alertId: z.string().min(1).max(512),
  detector: z.string().min(1).max(256),
  secretKind: z.string().min(1).max(128),
  locations: z.array(alertLocationSchema).min(1).max(100),
  severity: z.enum(SEVERITIES),
  observedAt: z.iso.datetime(),
  /** Keyed fingerprint of the secret (or of its correlation parts when no value arrived); the incident key. */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
  hint: redactedHintSchema.nullable(),
  connector: z.string().min(1).max(256).optional(),
  /** What names the leaked credential without being secret: the inventory resolves it, the issuer acts on it. */
  identifiers: z
    .strictObject({ awsAccessKeyId: z.string().regex(/^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}$/) })
    .optional(),
  /** Non-secret keys other alerts may share, e.g. `github:acme/api#42` or `fingerprint:<hex>` of another value. */
  correlation: z.array(z.string().min(1).max(512)).max(100),
});

export type NormalizedAlert = z.infer<typeof normalizedAlertSchema>;

export { absoluteUrl as absoluteUrlSchema };
