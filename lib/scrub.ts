import { fingerprintSecret, redactedHint, type RedactedHint } from './fingerprint';

/** How sure the scrubber is that a value is a secret, strongest first; the strongest finding keys the incident. */
export const SECRET_CONFIDENCE = ['declared', 'pattern', 'field', 'assignment'] as const;
export type SecretConfidence = (typeof SECRET_CONFIDENCE)[number];

export type JsonPath = readonly (string | number)[];

export interface SecretFinding {
  kind: string;
  fingerprint: string;
  hint: RedactedHint;
  confidence: SecretConfidence;
  /** Where the value appeared, e.g. `alert.secret` or `result.message`; never the value itself. */
  paths: string[];
}

export interface ScrubOptions {
  /** A vendor field documented to hold a raw secret: return the kind to report for it, else undefined. */
  declaredSecretKind?: (path: JsonPath) => string | undefined;
  /**
   * A vendor field derived from the secret without a key (e.g. a plain SHA-256): it would let anyone test
   * guesses offline, so it is replaced by `[REDACTED:<kind>:]` but does not identify the secret.
   */
  derivedSecretKind?: (path: JsonPath) => string | undefined;
  /** Nesting beyond this is refused rather than walked: deep recursion would overflow the stack. */
  maxDepth?: number;
}

export interface ScrubResult {
  /** A copy of the input with every secret replaced by `[REDACTED:<kind>:<last4>]`. */
  redacted: unknown;
  /** One entry per distinct secret, strongest first, then in order of appearance. */
  findings: SecretFinding[];
}

export class ScrubDepthError extends Error {
  constructor(
    readonly path: string,
    maxDepth: number,
  ) {
    super(`nested deeper than ${maxDepth} levels`);
  }
}

export const DEFAULT_SCRUB_MAX_DEPTH = 64;

interface TokenPattern {
  regex: RegExp;
  kind: (match: RegExpExecArray) => string;
  /** The capture group holding the secret when the match also carries context (e.g. `password=`); needs the `d` flag. */
  group?: number;
  confidence: SecretConfidence;
}

const GITHUB_PREFIX_KINDS: Record<string, string> = {
  ghp: 'github_personal_access_token',
  gho: 'github_oauth_access_token',
  ghu: 'github_user_to_server_token',
  ghs: 'github_app_installation_access_token',
  ghr: 'github_refresh_token',
};

const PASSWORD_NAMES = new Set(['password', 'passwd', 'pwd', 'dbpassword']);
/** Object keys whose string value is a credential whatever it looks like. Compared without case, `-` or `_`. */
const SECRET_FIELD_NAMES = new Set([
  ...PASSWORD_NAMES,
  'secret',
  'secretvalue',
  'clientsecret',
  'apikey',
  'apitoken',
  'accesstoken',
  'authtoken',
  'token',
  'secretkey',
  'secretaccesskey',
  'awssecretaccesskey',
  'privatekey',
]);

/** Values that follow `password=` in prose or config without being secrets. */
const NOT_A_SECRET = new Set([
  'null',
  'none',
  'true',
  'false',
  'undefined',
  'redacted',
  '****',
  '*****',
  '******',
]);
/** Scrubbing a scrubbed body must change nothing: a marker is not a secret. */
const REDACTION_MARKER = /^\[REDACTED:[A-Za-z0-9_.-]*:[^\]]{0,4}\]$/;

function isNotASecret(value: string): boolean {
  return NOT_A_SECRET.has(value.toLowerCase()) || REDACTION_MARKER.test(value);
}

function base64UrlJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** n8n public API keys are JWTs issued by n8n for the `public-api` audience. */
function jwtKind(token: string): string {
  const claims = base64UrlJson(token.split('.')[1] ?? '');
  if (claims && typeof claims === 'object') {
    const { iss, aud } = claims as { iss?: unknown; aud?: unknown };
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (iss === 'n8n' || audiences.includes('public-api')) return 'n8n_api_key';
  }
  return 'jwt';
}

const TOKEN_PATTERNS: TokenPattern[] = [
  {
    // An unterminated block (a truncated log line) is redacted to the end of the string.
    regex:
      /-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    kind: () => 'private_key',
    confidence: 'pattern',
  },
  {
    regex: /\b(gh[pousr])_[A-Za-z0-9]{36,251}\b/g,
    kind: (match) => GITHUB_PREFIX_KINDS[match[1]] ?? 'github_token',
    confidence: 'pattern',
  },
  {
    regex: /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g,
    kind: () => 'github_fine_grained_personal_access_token',
    confidence: 'pattern',
  },
  {
    regex: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g,
    kind: () => 'aws_access_key_id',
    confidence: 'pattern',
  },
  { regex: /\bxox[abposre]-[A-Za-z0-9-]{10,250}/g, kind: () => 'slack_token', confidence: 'pattern' },
  { regex: /\bxapp-\d-[A-Za-z0-9-]{10,250}/g, kind: () => 'slack_app_token', confidence: 'pattern' },
  {
    regex: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{8,250}/g,
    kind: () => 'slack_webhook_url',
    confidence: 'pattern',
  },
  {
    regex: /\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,1024}/g,
    kind: (match) => jwtKind(match[0]),
    confidence: 'pattern',
  },
  { regex: /\bn8n_api_[A-Za-z0-9]{20,128}\b/g, kind: () => 'n8n_api_key', confidence: 'pattern' },
  {
    // postgres://user:password@host: only the password is the secret.
    regex: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:/@[\]]{1,256}:([^\s@/[\]]{1,256})@/dg,
    kind: () => 'connection_string_password',
    group: 1,
    confidence: 'pattern',
  },
  {
    regex:
      /(?<![A-Za-z0-9_])(password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key|aws_secret_access_key|private[_-]?key|token)(["']?\s{0,8}[:=]\s{0,8}["']?)([^\s"'&,;{}[\]<>]{4,512})/dgi,
    kind: (match) => (PASSWORD_NAMES.has(match[1].toLowerCase()) ? 'password' : 'generic_secret'),
    group: 3,
    confidence: 'assignment',
  },
];

function normaliseFieldName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

function formatPath(path: JsonPath): string {
  let text = '';
  for (const segment of path)
    text += typeof segment === 'number' ? `[${segment}]` : text ? `.${segment}` : segment;
  return text || '(body)';
}

function confidenceRank(confidence: SecretConfidence): number {
  return SECRET_CONFIDENCE.length - SECRET_CONFIDENCE.indexOf(confidence);
}

/** Marker kinds come from vendor input: keep them to a safe, short alphabet. */
function markerKind(kind: string): string {
  const cleaned = kind.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return cleaned || 'secret';
}

export function redactionMarker(kind: string, hint: RedactedHint): string {
  return `[REDACTED:${markerKind(kind)}:${hint.last4}]`;
}

interface Span {
  start: number;
  end: number;
  kind: string;
  confidence: SecretConfidence;
}

const MARKERS_IN_TEXT = /\[REDACTED:[A-Za-z0-9_.-]*:[^\]]{0,4}\]/g;

/** One cheap pass that rules out most strings before the full patterns run. */
const MIGHT_HOLD_A_SECRET =
  /gh[pousr]_|github_pat_|A[KS]IA|ABIA|ACCA|xox[abposre]-|xapp-|hooks\.slack\.com|eyJ|n8n_api_|:\/\/|PRIVATE KEY|private[_-]?key|passw|pwd|secret|api[_-]?key|token|\[REDACTED:/i;

function findSpans(text: string): Span[] {
  if (!MIGHT_HOLD_A_SECRET.test(text)) return [];
  // Markers from an earlier scrub are never secrets, even when they read like `secret:abcd`.
  const spans: Span[] = [...text.matchAll(MARKERS_IN_TEXT)].map((match) => ({
    start: match.index,
    end: match.index + match[0].length,
    kind: '',
    confidence: 'declared' as const,
  }));
  for (const pattern of TOKEN_PATTERNS) {
    pattern.regex.lastIndex = 0;
    for (let match = pattern.regex.exec(text); match !== null; match = pattern.regex.exec(text)) {
      if (match[0].length === 0) {
        pattern.regex.lastIndex += 1;
        continue;
      }
      const range =
        pattern.group === undefined
          ? [match.index, match.index + match[0].length]
          : match.indices?.[pattern.group];
      if (range === undefined) continue;
      const [start, end] = range;
      if (isNotASecret(text.slice(start, end))) continue;
      spans.push({ start, end, kind: pattern.kind(match), confidence: pattern.confidence });
    }
  }
  return resolveOverlaps(spans)
    .filter((span) => span.kind !== '')
    .sort((a, b) => a.start - b.start);
}

function strongerFirst(a: Span, b: Span): number {
  return (
    confidenceRank(b.confidence) - confidenceRank(a.confidence) ||
    b.end - b.start - (a.end - a.start) ||
    a.start - b.start
  );
}

/**
 * Overlapping spans (a token after `token=`) keep the strongest, then the longest, then the earliest.
 * Spans are grouped into runs that overlap one another first, so a body with thousands of separate
 * matches costs a sort, not a comparison of every pair.
 */
function resolveOverlaps(spans: Span[]): Span[] {
  const byStart = [...spans].sort((a, b) => a.start - b.start);
  const kept: Span[] = [];
  let cluster: Span[] = [];
  let clusterEnd = -1;
  const flush = () => {
    const chosen: Span[] = [];
    for (const span of cluster.sort(strongerFirst)) {
      if (chosen.every((other) => span.end <= other.start || span.start >= other.end)) chosen.push(span);
    }
    kept.push(...chosen);
    cluster = [];
  };
  for (const span of byStart) {
    if (span.start >= clusterEnd) flush();
    cluster.push(span);
    clusterEnd = Math.max(clusterEnd, span.end);
  }
  flush();
  return kept;
}

/** The whole string is one known token (used to name the kind of a secret-named field). */
function wholeValueKind(value: string): string | undefined {
  const spans = findSpans(value);
  const only = spans.length === 1 ? spans[0] : undefined;
  return only && only.start === 0 && only.end === value.length && only.confidence === 'pattern'
    ? only.kind
    : undefined;
}

class Scrubber {
  private readonly findingsByFingerprint = new Map<string, SecretFinding>();
  private readonly maxDepth: number;

  constructor(
    private readonly key: Buffer,
    private readonly options: ScrubOptions,
  ) {
    this.maxDepth = options.maxDepth ?? DEFAULT_SCRUB_MAX_DEPTH;
  }

  findings(): SecretFinding[] {
    return [...this.findingsByFingerprint.values()]
      .map((finding, order) => ({ finding, order }))
      .sort(
        (a, b) =>
          confidenceRank(b.finding.confidence) - confidenceRank(a.finding.confidence) || a.order - b.order,
      )
      .map(({ finding }) => finding);
  }

  private record(value: string, kind: string, confidence: SecretConfidence, path: JsonPath): string {
    const fingerprint = fingerprintSecret(this.key, value);
    const hint = redactedHint(kind, value);
    const existing = this.findingsByFingerprint.get(fingerprint);
    const pathText = formatPath(path);
    if (!existing) {
      this.findingsByFingerprint.set(fingerprint, { kind, fingerprint, hint, confidence, paths: [pathText] });
    } else {
      if (!existing.paths.includes(pathText)) existing.paths.push(pathText);
      if (confidenceRank(confidence) > confidenceRank(existing.confidence)) {
        existing.confidence = confidence;
        existing.kind = kind;
        existing.hint = hint;
      }
    }
    return redactionMarker(kind, hint);
  }

  private scrubText(text: string, path: JsonPath): string {
    const spans = findSpans(text);
    if (spans.length === 0) return text;
    let result = '';
    let cursor = 0;
    for (const span of spans) {
      result += text.slice(cursor, span.start);
      result += this.record(text.slice(span.start, span.end), span.kind, span.confidence, path);
      cursor = span.end;
    }
    return result + text.slice(cursor);
  }

  private scrubString(value: string, path: JsonPath, fieldName: string | undefined): string {
    const derivedKind = this.options.derivedSecretKind?.(path);
    if (derivedKind !== undefined) return `[REDACTED:${markerKind(derivedKind)}:]`;
    const declaredKind = this.options.declaredSecretKind?.(path);
    if (declaredKind !== undefined && value.length > 0 && !REDACTION_MARKER.test(value)) {
      return this.record(value, declaredKind, 'declared', path);
    }
    if (
      fieldName !== undefined &&
      SECRET_FIELD_NAMES.has(normaliseFieldName(fieldName)) &&
      value.length > 0 &&
      !isNotASecret(value)
    ) {
      const patternKind = wholeValueKind(value);
      if (patternKind) return this.record(value, patternKind, 'pattern', path);
      const kind = PASSWORD_NAMES.has(normaliseFieldName(fieldName)) ? 'password' : 'generic_secret';
      return this.record(value, kind, 'field', path);
    }
    return this.scrubText(value, path);
  }

  private mayHoldSecret(path: JsonPath, fieldName: string | undefined): boolean {
    if (this.options.declaredSecretKind?.(path) !== undefined) return true;
    return fieldName !== undefined && SECRET_FIELD_NAMES.has(normaliseFieldName(fieldName));
  }

  walk(value: unknown, path: (string | number)[], fieldName: string | undefined): unknown {
    if (typeof value === 'string') return this.scrubString(value, path, fieldName);
    // A numeric PIN or password is as secret as a string one.
    if (typeof value === 'number' && this.mayHoldSecret(path, fieldName)) {
      return this.scrubString(String(value), path, fieldName);
    }
    if (value === null || typeof value !== 'object') return value;
    if (path.length >= this.maxDepth) throw new ScrubDepthError(formatPath(path), this.maxDepth);
    if (Array.isArray(value)) {
      return value.map((item, index) => this.walk(item, [...path, index], fieldName));
    }
    const copy: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
      // A secret used as a key would survive a value-only scrub.
      const safeName = this.scrubText(name, [...path, '(key)']);
      copy[safeName] = this.walk(child, [...path, safeName], safeName);
    }
    return copy;
  }
}

/**
 * Finds raw secrets anywhere in a parsed body (declared vendor fields, known token formats, secret-named
 * fields, `password=`-style assignments, even object keys), fingerprints each with the keyed hash and
 * returns a copy with each one replaced by a marker. The caller keeps only the copy and the findings.
 */
export function scrubSecrets(value: unknown, key: Buffer, options: ScrubOptions = {}): ScrubResult {
  const scrubber = new Scrubber(key, options);
  const redacted = scrubber.walk(value, [], undefined);
  return { redacted, findings: scrubber.findings() };
}
