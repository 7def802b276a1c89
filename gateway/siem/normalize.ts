import type { z } from 'zod';
import { correlationFingerprint } from '../../lib/fingerprint';
import type { AdapterHeaders, AdapterOutput, SiemAdapter } from './adapter';
import { azureMonitorAdapter } from './adapters/azure-monitor';
import { datadogAdapter } from './adapters/datadog';
import { elasticAdapter } from './adapters/elastic';
import { genericAdapter } from './adapters/generic';
import { githubAdapter } from './adapters/github';
import { gitguardianAdapter } from './adapters/gitguardian';
import { splunkAdapter } from './adapters/splunk';
import { normalizedAlertSchema, type AlertLifecycle, type NormalizedAlert } from './alert';
import { ScrubDepthError, scrubSecrets, type SecretFinding } from '../../lib/scrub';
import type { SiemSource } from './sources';

export interface NormalizeOptions {
  /** The key of `lib/fingerprint.ts`: the same key everywhere, or alerts about one secret do not join. */
  fingerprintKey: Buffer;
  /** Fallback for vendors that send no time (a Splunk row without `_time`). */
  now?: Date;
  /** The request's headers, for sources that name the event in one (GitHub). */
  headers?: AdapterHeaders;
}

export type NormalizeResult =
  | {
      ok: true;
      alert: NormalizedAlert;
      /** The vendor body with every secret replaced by `[REDACTED:<kind>:<last4>]`: the only copy to store. */
      redactedBody: unknown;
      /** What the event means for containment (see ALERT_LIFECYCLES). */
      lifecycle: AlertLifecycle;
      /** The adapter's short, non-secret description of the event, for the timeline. */
      event?: string;
      /** Every distinct secret found: fingerprint, hint and field paths, never a value. */
      findings: SecretFinding[];
      /** Fields outside what Tourniquet reads that break the vendor's published schema (see ConformanceVerdict). */
      drift: string[];
    }
  | { ok: false; field: string; message: string };

const ADAPTERS: { [Source in SiemSource]: SiemAdapter<never> } = {
  generic: genericAdapter as SiemAdapter<never>,
  github: githubAdapter as SiemAdapter<never>,
  gitguardian: gitguardianAdapter as SiemAdapter<never>,
  splunk: splunkAdapter as SiemAdapter<never>,
  'azure-monitor': azureMonitorAdapter as SiemAdapter<never>,
  elastic: elasticAdapter as SiemAdapter<never>,
  datadog: datadogAdapter as SiemAdapter<never>,
};

const FINGERPRINT = /^[0-9a-f]{64}$/;

function fieldOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  // An unknown key is reported on its parent; the key itself is the field to name.
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
  return path.length > 0 ? path.join('.') : '(body)';
}

function invalid(field: string, message: string): NormalizeResult {
  return { ok: false, field, message };
}

/** Normalized paths (`locations.0.url`) back to the vendor field they came from, when the adapter knows it. */
function vendorField(normalisedPath: string, origins: Record<string, string>): string {
  return origins[normalisedPath] ?? origins[normalisedPath.split('.')[0]] ?? normalisedPath;
}

interface ChosenFingerprint {
  fingerprint: string;
  primary?: SecretFinding;
}

/** The value itself when one arrived; else the sender's fingerprint; else the alert's correlation parts. */
function chooseFingerprint(
  output: AdapterOutput,
  findings: SecretFinding[],
  key: Buffer,
): ChosenFingerprint | { error: NormalizeResult } {
  const strongest = findings[0];
  if (strongest?.confidence === 'declared') return { fingerprint: strongest.fingerprint, primary: strongest };
  if (output.declaredFingerprint !== undefined) {
    if (!FINGERPRINT.test(output.declaredFingerprint)) {
      return {
        error: invalid(
          vendorField('declaredFingerprint', output.origins),
          'expected 64 hex digits (a keyed fingerprint)',
        ),
      };
    }
    return { fingerprint: output.declaredFingerprint };
  }
  if (strongest) return { fingerprint: strongest.fingerprint, primary: strongest };
  return { fingerprint: correlationFingerprint(key, output.correlationParts) };
}

/** What names the leaked credential without being secret (`IDENTIFIER_KINDS`), for the inventory and the issuer. */
function identifiersOf(findings: SecretFinding[]): Pick<NormalizedAlert, 'identifiers'> {
  const awsAccessKeyIds = findings
    .filter((finding) => finding.kind === 'aws_access_key_id' && finding.identifier !== undefined)
    .map((finding) => finding.identifier!);
  // Two key ids in one alert: which one leaked is not known, so neither is acted on by id.
  return awsAccessKeyIds.length === 1 ? { identifiers: { awsAccessKeyId: awsAccessKeyIds[0] } } : {};
}

/**
 * Maps one vendor body to the normalized alert. The body is scrubbed first and only the scrubbed copy is
 * read, so no secret can reach the alert, an error message, or `redactedBody`. Errors name the vendor field.
 */
export function normalizeSiemAlert(
  source: SiemSource,
  body: unknown,
  options: NormalizeOptions,
): NormalizeResult {
  if (!Buffer.isBuffer(options.fingerprintKey) || options.fingerprintKey.length < 16) {
    throw new TypeError('fingerprintKey: expected a Buffer of at least 16 bytes');
  }
  const adapter = ADAPTERS[source];
  if (!adapter) return invalid('source', `unknown SIEM source`);
  const headers = options.headers ?? {};
  const conformance = adapter.conformance?.(body, headers) ?? { drift: [] };
  if (conformance.refusal) return invalid(conformance.refusal.field, conformance.refusal.message);

  let scrubbed: ReturnType<typeof scrubSecrets>;
  try {
    scrubbed = scrubSecrets(body, options.fingerprintKey, {
      declaredSecretKind: adapter.declaredSecretKind?.(body),
      derivedSecretKind: adapter.derivedSecretKind,
    });
  } catch (error) {
    if (error instanceof ScrubDepthError) return invalid(error.path, error.message);
    throw error;
  }

  const parsed = adapter.schema.safeParse(scrubbed.redacted);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return invalid(fieldOf(issue), issue.message);
  }

  const output = adapter.map(parsed.data, {
    findings: scrubbed.findings,
    now: options.now ?? new Date(),
    headers,
  });
  if (Number.isNaN(output.observedAt.getTime())) {
    return invalid(vendorField('observedAt', output.origins), 'expected a valid time');
  }
  const chosen = chooseFingerprint(output, scrubbed.findings, options.fingerprintKey);
  if ('error' in chosen) return chosen.error;

  const otherSecrets = scrubbed.findings
    .filter((finding) => finding.fingerprint !== chosen.fingerprint)
    .map((finding) => `fingerprint:${finding.fingerprint}`);
  const candidate = {
    source,
    alertId: output.alertId,
    detector: output.detector,
    secretKind: output.secretKind ?? chosen.primary?.kind ?? 'unknown',
    locations: output.locations,
    severity: output.severity,
    observedAt: output.observedAt.toISOString(),
    fingerprint: chosen.fingerprint,
    hint: chosen.primary?.hint ?? null,
    ...(output.connector === undefined ? {} : { connector: output.connector }),
    ...identifiersOf(scrubbed.findings),
    correlation: [...new Set([...output.correlation, ...otherSecrets])].slice(0, 100),
  };
  const alert = normalizedAlertSchema.safeParse(candidate);
  if (!alert.success) {
    const issue = alert.error.issues[0];
    return invalid(vendorField(fieldOf(issue), output.origins), issue.message);
  }
  return {
    ok: true,
    alert: alert.data,
    redactedBody: scrubbed.redacted,
    lifecycle: output.lifecycle,
    ...(output.event ? { event: output.event.slice(0, 200) } : {}),
    findings: scrubbed.findings,
    drift: conformance.drift,
  };
}

/**
 * What an authenticated delivery is before it is read as an alert: a ping (answered 200), an event the source sends
 * that Tourniquet does not read (202 ignored, by name), or an alert.
 */
export function deliveryKind(
  source: SiemSource,
  rawBody: unknown,
  headers: AdapterHeaders,
): { kind: 'ping' } | { kind: 'other-event'; event: string } | { kind: 'alert' } {
  const adapter = ADAPTERS[source];
  if (adapter?.isPing?.(rawBody, headers)) return { kind: 'ping' };
  const event = adapter?.otherEvent?.(rawBody, headers);
  return event === undefined ? { kind: 'alert' } : { kind: 'other-event', event };
}
