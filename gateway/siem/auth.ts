import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ReplayCache } from './replay-cache';
import { parseSecretList, type SiemSecrets, type SiemSource } from './sources';

/** Node's `IncomingHttpHeaders` fits: lower-case names, arrays only for repeated headers. */
export type SiemRequestHeaders = Record<string, string | string[] | undefined>;

export type SiemAuthResult = { ok: true } | { ok: false; status: 401; reason: string };

export interface SiemAuthOptions {
  secrets: SiemSecrets;
  /** Clock for the timestamp window; defaults to the current time. */
  now?: Date;
  /** Shared across requests: remembers accepted signatures of timestamped schemes. */
  replayCache: ReplayCache;
  /** Maximum clock difference accepted for timestamped schemes, in seconds. */
  toleranceSeconds?: number;
}

export const GENERIC_TIMESTAMP_HEADER = 'x-tourniquet-timestamp';
export const GENERIC_SIGNATURE_HEADER = 'x-tourniquet-signature';
export const GITHUB_SIGNATURE_HEADER = 'x-hub-signature-256';
export const GITGUARDIAN_SIGNATURE_HEADER = 'gitguardian-signature';
/** GitGuardian still sends the old name, documented as deprecated. */
export const GITGUARDIAN_LEGACY_SIGNATURE_HEADER = 'x-gitguardian-signature';
export const GITGUARDIAN_TIMESTAMP_HEADER = 'timestamp';
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const SHA256_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

function reject(reason: string): SiemAuthResult {
  return { ok: false, status: 401, reason };
}

function headerValue(headers: SiemRequestHeaders, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    const match = Object.keys(headers).find((key) => key.toLowerCase() === name);
    value = match === undefined ? undefined : headers[match];
  }
  // A repeated authentication header is ambiguous; refusing it is safer than guessing which one counts.
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

function hmacSha256(key: string | Buffer, ...parts: Buffer[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/** True when `presented` equals any candidate; every candidate is checked so timing does not tell which. */
function matchesAnyDigest(presented: Buffer, candidates: Buffer[]): boolean {
  let matched = false;
  for (const candidate of candidates) {
    if (candidate.length === presented.length && timingSafeEqual(candidate, presented)) matched = true;
  }
  return matched;
}

function parseSha256Signature(value: string | undefined, headerName: string): Buffer | string {
  if (value === undefined || value === '') return `missing ${headerName} header`;
  const match = SHA256_SIGNATURE.exec(value.trim());
  if (!match) return `malformed ${headerName} header: expected sha256=<64 hex digits>`;
  return Buffer.from(match[1], 'hex');
}

/** Unix seconds from a header; GitGuardian's may carry a fraction. */
function parseTimestamp(
  value: string | undefined,
  headerName: string,
  allowFraction: boolean,
): number | string {
  if (value === undefined || value === '') return `missing ${headerName} header`;
  const pattern = allowFraction ? /^\d{1,12}(\.\d{1,9})?$/ : /^\d{1,12}$/;
  if (!pattern.test(value.trim())) return `malformed ${headerName} header: expected unix seconds`;
  return Number(value.trim());
}

function checkWindow(
  timestampSeconds: number,
  options: SiemAuthOptions,
  headerName: string,
): string | undefined {
  const nowSeconds = (options.now ?? new Date()).getTime() / 1000;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (timestampSeconds < nowSeconds - tolerance)
    return `stale ${headerName}: outside the ${tolerance}s window`;
  if (timestampSeconds > nowSeconds + tolerance)
    return `${headerName} is in the future beyond the ${tolerance}s window`;
  return undefined;
}

function rememberSignature(source: SiemSource, signature: Buffer, options: SiemAuthOptions): SiemAuthResult {
  const nowMs = (options.now ?? new Date()).getTime();
  if (!options.replayCache.checkAndRemember(`${source}:${signature.toString('hex')}`, nowMs)) {
    return reject('replayed request: this signature was already accepted');
  }
  return { ok: true };
}

function authenticateGeneric(
  headers: SiemRequestHeaders,
  rawBody: Buffer,
  secrets: string[],
  options: SiemAuthOptions,
): SiemAuthResult {
  const timestamp = parseTimestamp(
    headerValue(headers, GENERIC_TIMESTAMP_HEADER),
    GENERIC_TIMESTAMP_HEADER,
    false,
  );
  if (typeof timestamp === 'string') return reject(timestamp);
  const signature = parseSha256Signature(
    headerValue(headers, GENERIC_SIGNATURE_HEADER),
    GENERIC_SIGNATURE_HEADER,
  );
  if (typeof signature === 'string') return reject(signature);
  const outsideWindow = checkWindow(timestamp, options, GENERIC_TIMESTAMP_HEADER);
  if (outsideWindow) return reject(outsideWindow);
  const signedPrefix = Buffer.from(`${timestamp}.`, 'utf8');
  const expected = secrets.map((secret) => hmacSha256(secret, signedPrefix, rawBody));
  if (!matchesAnyDigest(signature, expected)) return reject(`${GENERIC_SIGNATURE_HEADER} does not match`);
  return rememberSignature('generic', signature, options);
}

function authenticateGitHub(headers: SiemRequestHeaders, rawBody: Buffer, secrets: string[]): SiemAuthResult {
  const signature = parseSha256Signature(
    headerValue(headers, GITHUB_SIGNATURE_HEADER),
    'X-Hub-Signature-256',
  );
  if (typeof signature === 'string') return reject(signature);
  const expected = secrets.map((secret) => hmacSha256(secret, rawBody));
  if (!matchesAnyDigest(signature, expected)) return reject('X-Hub-Signature-256 does not match');
  // No replay check: GitHub signs no timestamp and legitimately redelivers identical bodies; the alert is
  // idempotent because it joins the incident of its fingerprint.
  return { ok: true };
}

function authenticateGitGuardian(
  headers: SiemRequestHeaders,
  rawBody: Buffer,
  secrets: string[],
  options: SiemAuthOptions,
): SiemAuthResult {
  const rawTimestamp = headerValue(headers, GITGUARDIAN_TIMESTAMP_HEADER);
  const timestamp = parseTimestamp(rawTimestamp, 'Timestamp', true);
  if (typeof timestamp === 'string') return reject(timestamp);
  const signatureHeader =
    headerValue(headers, GITGUARDIAN_SIGNATURE_HEADER) ??
    headerValue(headers, GITGUARDIAN_LEGACY_SIGNATURE_HEADER);
  const signature = parseSha256Signature(signatureHeader, 'Gitguardian-Signature');
  if (typeof signature === 'string') return reject(signature);
  const outsideWindow = checkWindow(timestamp, options, 'Timestamp');
  if (outsideWindow) return reject(outsideWindow);
  // GitGuardian keys the HMAC with the timestamp text followed by the signature token, over the raw body.
  const timestampText = (rawTimestamp ?? '').trim();
  const expected = secrets.map((secret) => hmacSha256(Buffer.from(timestampText + secret, 'utf8'), rawBody));
  if (!matchesAnyDigest(signature, expected)) return reject('Gitguardian-Signature does not match');
  return rememberSignature('gitguardian', signature, options);
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Splunk, Azure Monitor, Elastic and Datadog cannot sign: a bearer token, or basic auth as `user:password`. */
function authenticateToken(headers: SiemRequestHeaders, secrets: string[]): SiemAuthResult {
  const authorization = headerValue(headers, 'authorization');
  if (authorization === undefined || authorization === '') return reject('missing Authorization header');
  const match = /^(\S+)\s+(\S+)$/.exec(authorization.trim());
  if (!match) return reject('malformed Authorization header');
  const scheme = match[1].toLowerCase();
  let presented: string;
  if (scheme === 'bearer') {
    presented = match[2];
  } else if (scheme === 'basic') {
    presented = Buffer.from(match[2], 'base64').toString('utf8');
    if (!presented.includes(':')) return reject('malformed basic credentials');
  } else {
    return reject('unsupported Authorization scheme: expected Bearer or Basic');
  }
  // Hashing first gives equal-length buffers, so timingSafeEqual never leaks the configured length.
  if (!matchesAnyDigest(sha256(presented), secrets.map(sha256))) return reject('credentials do not match');
  return { ok: true };
}

/**
 * Authenticates one webhook request on its exact raw bytes, before anything parses the body. Timestamped
 * schemes (generic, GitGuardian) also refuse stale or replayed requests.
 */
export function authenticateSiemRequest(
  source: SiemSource,
  headers: SiemRequestHeaders,
  rawBody: Buffer,
  options: SiemAuthOptions,
): SiemAuthResult {
  const secrets = parseSecretList(options.secrets[source]);
  if (secrets.length === 0) return reject(`source ${source} is not enabled`);
  switch (source) {
    case 'generic':
      return authenticateGeneric(headers, rawBody, secrets, options);
    case 'github':
      return authenticateGitHub(headers, rawBody, secrets);
    case 'gitguardian':
      return authenticateGitGuardian(headers, rawBody, secrets, options);
    case 'splunk':
    case 'azure-monitor':
    case 'elastic':
    case 'datadog':
      return authenticateToken(headers, secrets);
  }
}

// A type alias (not an interface) so it fits `Record<string, string>` and fetch's `headers`.
export type GenericSignatureHeaders = {
  'x-tourniquet-timestamp': string;
  'x-tourniquet-signature': string;
};

/** Headers for `POST /webhooks/siem/generic`; send `body` byte for byte as signed. */
export function signGenericAlert(
  secret: string,
  body: string | Buffer,
  timestamp: number = Math.floor(Date.now() / 1000),
): GenericSignatureHeaders {
  if (!Number.isInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp: expected unix seconds');
  const rawBody = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const digest = hmacSha256(secret, Buffer.from(`${timestamp}.`, 'utf8'), rawBody).toString('hex');
  return { 'x-tourniquet-timestamp': String(timestamp), 'x-tourniquet-signature': `sha256=${digest}` };
}
