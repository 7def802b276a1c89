import { randomBytes } from 'node:crypto';
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
  /**
   * For a kind that names a credential without being one (`IDENTIFIER_KINDS`): the value, so the incident can act
   * on that key. Redacted from the body like any other finding.
   */
  identifier?: string;
}

/**
 * Kinds that identify a credential and grant nothing alone: an AWS access key id is useless without its secret
 * access key, and it is what IAM, CloudTrail and the inventory call the key by.
 */
export const IDENTIFIER_KINDS: ReadonlySet<string> = new Set(['aws_access_key_id']);

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

/** Reports one secret found in a text: where it is and what kind it is. */
type ReportSpan = (start: number, end: number, kind: string) => void;

interface TokenPattern {
  /**
   * Reports every secret of this pattern in `text`, without overlaps. The work must stay linear in the text's
   * length whatever the text holds: untrusted bodies run up to 1 MiB (see bench/scrub.ts).
   */
  find: (text: string, report: ReportSpan) => void;
  confidence: SecretConfidence;
}

/** ASCII characters allowed in a run, looked up by char code. */
type CharClass = Uint8Array;

function charClass(oneCharacter: RegExp): CharClass {
  const table = new Uint8Array(128);
  for (let code = 0; code < 128; code += 1)
    table[code] = oneCharacter.test(String.fromCharCode(code)) ? 1 : 0;
  return table;
}

const ALPHANUMERIC = charClass(/[A-Za-z0-9]/);
const UPPER_ALPHANUMERIC = charClass(/[A-Z0-9]/);
const WORD = charClass(/\w/);
const BASE64URL = charClass(/[A-Za-z0-9_-]/);
const SLACK_TOKEN = charClass(/[A-Za-z0-9-]/);
const SLACK_WEBHOOK_PATH = charClass(/[A-Za-z0-9/_-]/);

function inClass(chars: CharClass, text: string, index: number): boolean {
  return chars[text.charCodeAt(index)] === 1;
}

/** Where the run of `chars` that starts at `from` ends. */
function runEnd(text: string, chars: CharClass, from: number): number {
  let end = from;
  while (end < text.length && inClass(chars, text, end)) end += 1;
  return end;
}

/**
 * A secret matched by a regex (global, never matching the empty string): `group` is the capture group holding
 * the secret when the match also carries context (e.g. `password=`); it needs the `d` flag. Only for formats
 * where a failed attempt gives up within a few characters or a long run is consumed by the match, so that no run
 * is re-read from every position inside it (see bench/scrub.ts).
 */
function regexPattern(
  regex: RegExp,
  kind: (match: RegExpExecArray) => string,
  confidence: SecretConfidence,
  group?: number,
): TokenPattern {
  return {
    confidence,
    find(text, report) {
      regex.lastIndex = 0;
      for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
        const range =
          group === undefined ? [match.index, match.index + match[0].length] : match.indices?.[group];
        if (range !== undefined) report(range[0], range[1], kind(match));
      }
    },
  };
}

interface PrefixedToken {
  /** The token's own distinctive start (global flag); it is recognised glued to any text before it. */
  prefix: RegExp;
  /** The characters after the prefix, as many as follow... */
  body: CharClass;
  min: number;
  max: number;
  /** ...and then either the token ends with the run (its length within min..max and not followed by these), */
  notFollowedBy?: CharClass;
  /** or, when `open`, the token is the first `max` characters of a run of at least `min`. */
  open?: boolean;
  kind: (prefix: RegExpExecArray) => string;
}

/**
 * A token format with a distinctive prefix, found wherever the prefix is (`backup_ghp_…`, `%3DAKIA…`). The
 * prefixes are searched for in one pass, and a run after them is measured once however many prefixes it holds
 * (`github_pat_github_pat_…`, `AKIAAKIA…`): prefixes are met in order, and the last run measured is remembered.
 */
function prefixedToken(token: PrefixedToken): TokenPattern {
  return {
    confidence: 'pattern',
    find(text, report) {
      // The run measured last (no closure for it: this runs for every string of every alert).
      let runStart = -1;
      let runStop = -1;
      const { prefix } = token;
      prefix.lastIndex = 0;
      for (let match = prefix.exec(text); match !== null; match = prefix.exec(text)) {
        const bodyStart = match.index + match[0].length;
        if (bodyStart < runStart || bodyStart > runStop) {
          runStart = bodyStart;
          runStop = runEnd(text, token.body, bodyStart);
        }
        const length = runStop - bodyStart;
        const found = token.open
          ? length >= token.min
          : length >= token.min &&
            length <= token.max &&
            !(token.notFollowedBy && inClass(token.notFollowedBy, text, bodyStart + length));
        if (found) {
          const end = bodyStart + Math.min(length, token.max);
          report(match.index, end, token.kind(match));
          prefix.lastIndex = end;
        } else {
          prefix.lastIndex = match.index + 1;
        }
      }
    },
  };
}

/**
 * `<header>.<payload>.<signature>`: header and payload start with `eyJ` (`{"` in base64url), each segment is
 * base64url of at least 8 characters (past the `eyJ`), and further `.<segment>`s glued after it are taken too,
 * so that no part of a token is left behind when a longer chain was cut wrong. The header starts at the first
 * `eyJ` of its run: every later `eyJ` of that run would have the same payload and signature after it, so after
 * looking at one the search moves past the run, and each run is read a bounded number of times.
 */
function findJwts(text: string, report: ReportSpan): void {
  let from = 0;
  for (let start = text.indexOf('eyJ'); start !== -1; start = text.indexOf('eyJ', from)) {
    const headerEnd = runEnd(text, BASE64URL, start + 3);
    from = headerEnd;
    if (headerEnd - start < 11 || !text.startsWith('.eyJ', headerEnd)) continue;
    const payloadEnd = runEnd(text, BASE64URL, headerEnd + 4);
    if (payloadEnd - headerEnd < 12 || text[payloadEnd] !== '.') continue;
    let end = runEnd(text, BASE64URL, payloadEnd + 1);
    if (end - payloadEnd < 9) continue;
    while (text[end] === '.' && inClass(BASE64URL, text, end + 1)) end = runEnd(text, BASE64URL, end + 1);
    report(start, end, jwtKind(text.slice(start, end)));
    from = end;
  }
}

const TOKEN_PATTERNS: TokenPattern[] = [
  regexPattern(
    // An unterminated block (a truncated log line) is redacted to the end of the string.
    /-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    () => 'private_key',
    'pattern',
  ),
  prefixedToken({
    prefix: /(gh[pousr])_/g,
    body: ALPHANUMERIC,
    min: 36,
    max: 251,
    kind: (prefix) => GITHUB_PREFIX_KINDS[prefix[1]] ?? 'github_token',
  }),
  prefixedToken({
    prefix: /github_pat_/g,
    body: WORD,
    min: 22,
    max: 255,
    kind: () => 'github_fine_grained_personal_access_token',
  }),
  prefixedToken({
    // Exactly 16 after the prefix, so `ASIAN` or a longer upper-case run is not a key id.
    prefix: /AKIA|ASIA|ABIA|ACCA/g,
    body: UPPER_ALPHANUMERIC,
    min: 16,
    max: 16,
    notFollowedBy: ALPHANUMERIC,
    kind: () => 'aws_access_key_id',
  }),
  prefixedToken({
    prefix: /xox[abposre]-/g,
    body: SLACK_TOKEN,
    min: 10,
    max: 250,
    open: true,
    kind: () => 'slack_token',
  }),
  prefixedToken({
    prefix: /xapp-\d-/g,
    body: SLACK_TOKEN,
    min: 10,
    max: 250,
    open: true,
    kind: () => 'slack_app_token',
  }),
  prefixedToken({
    prefix: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\//g,
    body: SLACK_WEBHOOK_PATH,
    min: 8,
    max: 250,
    open: true,
    kind: () => 'slack_webhook_url',
  }),
  { find: findJwts, confidence: 'pattern' },
  prefixedToken({ prefix: /n8n_api_/g, body: ALPHANUMERIC, min: 20, max: 128, kind: () => 'n8n_api_key' }),
  regexPattern(
    // postgres://user:password@host: only the password is the secret.
    /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:/@[\]]{1,256}:([^\s@/[\]]{1,256})@/dg,
    () => 'connection_string_password',
    'pattern',
    1,
  ),
  regexPattern(
    // A bare `token` after a dash is a name's tail (`github-token:secret-scanning/…`, a provider reference), not a key.
    /(?<![A-Za-z0-9_])(password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key|aws_secret_access_key|private[_-]?key|(?<!-)token)(["']?\s{0,8}[:=]\s{0,8}["']?)([^\s"'&,;{}[\]<>]{4,512})/dgi,
    (match) => (PASSWORD_NAMES.has(match[1].toLowerCase()) ? 'password' : 'generic_secret'),
    'assignment',
    3,
  ),
];

function normaliseFieldName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/**
 * The kind of secret a field of this name holds whatever its value looks like (`password`, `generic_secret`), or
 * undefined. Also for names that are not keys: a table column or a dimension names the cell beside it.
 */
export function secretKindOfFieldName(name: string): 'password' | 'generic_secret' | undefined {
  const normalised = normaliseFieldName(name);
  if (!SECRET_FIELD_NAMES.has(normalised)) return undefined;
  return PASSWORD_NAMES.has(normalised) ? 'password' : 'generic_secret';
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

/** Whether [start, end) lies within one of the markers (sorted by start, not overlapping one another). */
function insideMarker(
  markers: readonly { start: number; end: number }[],
  start: number,
  end: number,
): boolean {
  let low = 0;
  let high = markers.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (markers[middle].start > start) high = middle - 1;
    else if (markers[middle].end < end) low = middle + 1;
    else return true;
  }
  return false;
}

function findSpans(text: string): Span[] {
  if (!MIGHT_HOLD_A_SECRET.test(text)) return [];
  // Markers from an earlier scrub are never secrets, even when they read like `secret:abcd`; a secret that
  // merely contains one (a private key block) is still one.
  const markers = [...text.matchAll(MARKERS_IN_TEXT)].map((match) => ({
    start: match.index,
    end: match.index + match[0].length,
  }));
  const spans: Span[] = [];
  // One report function for every pattern, not one per pattern per string.
  let confidence: SecretConfidence = 'pattern';
  const report: ReportSpan = (start, end, kind) => {
    if (!insideMarker(markers, start, end) && !isNotASecret(text.slice(start, end))) {
      spans.push({ start, end, kind, confidence });
    }
  };
  for (const pattern of TOKEN_PATTERNS) {
    confidence = pattern.confidence;
    pattern.find(text, report);
  }
  return resolveOverlaps(spans, text.length);
}

function strongerFirst(a: Span, b: Span): number {
  return (
    confidenceRank(b.confidence) - confidenceRank(a.confidence) ||
    b.end - b.start - (a.end - a.start) ||
    a.start - b.start
  );
}

/**
 * Overlapping spans (a token after `token=`) keep the strongest, then the longest, then the earliest; the kept
 * ones come back in text order. The characters of kept spans are marked, so checking a span costs its length:
 * no pattern reports overlapping spans of its own, so that is at most a few passes over the text, however many
 * spans overlap one another.
 */
function resolveOverlaps(spans: Span[], textLength: number): Span[] {
  if (spans.length < 2) return spans;
  const taken = new Uint8Array(textLength);
  const kept = spans.sort(strongerFirst).filter((span) => {
    for (let index = span.start; index < span.end; index += 1) if (taken[index] === 1) return false;
    taken.fill(1, span.start, span.end);
    return true;
  });
  return kept.sort((a, b) => a.start - b.start);
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
      this.findingsByFingerprint.set(fingerprint, {
        kind,
        fingerprint,
        hint,
        confidence,
        paths: [pathText],
        ...(IDENTIFIER_KINDS.has(kind) ? { identifier: value } : {}),
      });
    } else {
      if (!existing.paths.includes(pathText)) existing.paths.push(pathText);
      if (confidenceRank(confidence) > confidenceRank(existing.confidence)) {
        existing.confidence = confidence;
        existing.kind = kind;
        existing.hint = hint;
        if (IDENTIFIER_KINDS.has(kind)) existing.identifier = value;
        else delete existing.identifier;
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
      return this.record(value, secretKindOfFieldName(fieldName)!, 'field', path);
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
      const cleaned = this.walk(child, [...path, safeName], safeName);
      // `__proto__` (an own key of parsed JSON) is defined: assigning it would set the copy's prototype instead.
      if (safeName === '__proto__') {
        Object.defineProperty(copy, safeName, {
          value: cleaned,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        copy[safeName] = cleaned;
      }
    }
    return copy;
  }
}

/** Whether a text holds anything the scrubber would redact; nothing is fingerprinted, so no key is needed. */
export function holdsSecret(text: string): boolean {
  return findSpans(text).length > 0;
}

/** A key for scrubbing whose fingerprints nobody keeps: only the redacted text is wanted. */
const THROWAWAY_KEY = randomBytes(32);

/**
 * The text with every secret replaced by its marker, for text that is about to be stored or shown and whose
 * findings nobody needs (an error message): the markers are the same whatever the key.
 */
export function redactSecrets(text: string): string {
  return holdsSecret(text) ? String(scrubSecrets(text, THROWAWAY_KEY).redacted) : text;
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
