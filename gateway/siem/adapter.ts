import type { z } from 'zod';
import type { AlertLifecycle, AlertLocation, Severity } from './alert';
import type { JsonPath, SecretFinding } from '../../lib/scrub';

/** What an adapter reads from its vendor's body; `normalizeSiemAlert` turns it into a NormalizedAlert. */
export interface AdapterOutput {
  alertId: string;
  detector: string;
  /** Undefined when the vendor does not say: the kind of the strongest secret found, else `unknown`. */
  secretKind?: string;
  locations: AlertLocation[];
  severity: Severity;
  observedAt: Date;
  connector?: string;
  /** A fingerprint the sender computed with Tourniquet's key (generic `secretFingerprint`). */
  declaredFingerprint?: string;
  /** The secret's identity when no value arrived: the same parts always give the same incident. */
  correlationParts: string[];
  /** Human-readable, non-secret join keys, e.g. `github:acme/api#42`. */
  correlation: string[];
  lifecycle: AlertLifecycle;
  /**
   * What happened, for the incident's timeline when it is not a plain new alert: `validity confirmed active`,
   * `detector marked resolved`. Short, and never a secret (it is built from the scrubbed body).
   */
  event?: string;
  /** Normalized field path (`locations.0.url`) → vendor field it came from, so errors name the vendor's field. */
  origins: Record<string, string>;
}

export interface AdapterContext {
  findings: SecretFinding[];
  /** Fallback time when the vendor sends none. */
  now: Date;
  /** The request's headers (GitHub names its event in `X-GitHub-Event`); empty when normalizing a stored body. */
  headers: AdapterHeaders;
}

/** A check of the raw body against the vendor's published schema, before anything is read from it. */
export interface ConformanceVerdict {
  /** A violation in what Tourniquet reads: refused with 400 naming the field. */
  refusal?: { field: string; message: string };
  /** Violations in what it does not read: accepted, and reported so drift in the vendor's format is seen. */
  drift: string[];
}

export interface SiemAdapter<Body> {
  /** Validates the scrubbed vendor body; field paths in its errors are reported as-is. */
  schema: z.ZodType<Body>;
  /** Vendor fields documented to hold the raw secret, given the raw (unvalidated) body. */
  declaredSecretKind?: (rawBody: unknown) => (path: JsonPath) => string | undefined;
  /** Vendor fields holding an unkeyed hash of the secret. */
  derivedSecretKind?: (path: JsonPath) => string | undefined;
  map(body: Body, context: AdapterContext): AdapterOutput;
  /**
   * A delivery that only checks the hook works (GitHub's `ping`, GitGuardian's test message): answered 200 once
   * authenticated, and never an alert. Given the parsed, unscrubbed body and the request headers; it must only
   * recognise, never read values out.
   */
  isPing?: (rawBody: unknown, headers: AdapterHeaders) => boolean;
  /**
   * A delivery of an event the source sends but Tourniquet does not read (a GitHub hook subscribed to more events):
   * its name, answered 202 `ignored`. Must be a short word from a fixed vocabulary, never a value from the body.
   */
  otherEvent?: (rawBody: unknown, headers: AdapterHeaders) => string | undefined;
  /** Checks the parsed, unscrubbed body against the vendor's published schema; only reads, never copies. */
  conformance?: (rawBody: unknown, headers: AdapterHeaders) => ConformanceVerdict;
}

/** Request headers as Node gives them, lower-case names. */
export type AdapterHeaders = Readonly<Record<string, string | string[] | undefined>>;

export function defineAdapter<Body>(adapter: SiemAdapter<Body>): SiemAdapter<Body> {
  return adapter;
}

/** `'*'` in `expected` matches any one segment. */
export function pathIs(path: JsonPath, ...expected: (string | number)[]): boolean {
  return (
    path.length === expected.length &&
    expected.every((segment, index) => segment === '*' || segment === path[index])
  );
}
