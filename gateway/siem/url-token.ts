import { createHash, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { ConfigError } from '../../lib/config';
import { isSiemSource, parseSecretList, SIEM_SOURCES, siemSecretEnvName, type SiemSource } from './sources';

/**
 * URL-token mode: `POST /webhooks/siem/<source>/t/<token>` for senders that cannot add an `Authorization` header
 * (Splunk's built-in webhook alert action, Azure Monitor action groups' plain webhook). Opt-in per source with
 * `SIEM_URL_TOKEN_<SOURCE>`; an optional `SIEM_URL_TOKEN_<SOURCE>_ALLOW` restricts it to the sender's addresses.
 *
 * A token in a URL is weaker than a header: proxies, load balancers and the sender's own UI record it. So it is
 * offered only to the sources whose senders need it, never to the schemes that sign their bodies, and the token
 * is never kept, compared in a way that leaks, or logged.
 */

/**
 * Sources whose usual senders cannot set a header. The signing sources (generic, GitHub, GitGuardian) are left out
 * on purpose: a URL token would replace a body signature by a weaker bearer secret. Elastic's and Datadog's webhooks
 * can set headers, so they keep header authentication.
 */
export const URL_TOKEN_SOURCES = ['splunk', 'azure-monitor'] as const satisfies readonly SiemSource[];
export type UrlTokenSource = (typeof URL_TOKEN_SOURCES)[number];

/** The path segment between the source and the token: `/webhooks/siem/<source>/t/<token>`. */
export const URL_TOKEN_SEGMENT = 't';
export const URL_TOKEN_MIN_LENGTH = 32;
export const URL_TOKEN_MAX_LENGTH = 256;
/** Two cover a rotation; a few more let several senders of one source move at different times. */
export const URL_TOKEN_MAX_PER_SOURCE = 4;
/**
 * Catches `aaaa…` and short repeated words without refusing generated tokens: 32 random hex digits have fewer than
 * 8 distinct characters with a probability of about 4·10⁻⁸.
 */
const MIN_DISTINCT_CHARACTERS = 8;
const MAX_ALLOW_ENTRIES = 64;
const URL_SAFE = /^[A-Za-z0-9_-]+$/;
/**
 * The deprecated IPv4-compatible form `::a.b.c.d`. `ipaddr.js` reads it as IPv4-mapped (`::ffff:a.b.c.d`), which would
 * let an IPv6 peer at `::10.1.2.3` (Node prints such a peer that way) pass a `10.0.0.0/8` allow-list.
 */
const IPV4_COMPATIBLE = /^::\d{1,3}(\.\d{1,3}){3}(\/\d+)?$/;
const REDACTED = '[REDACTED]';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AllowedRange {
  /** As configured (normalized), for the startup log: an address range is not a secret. */
  readonly cidr: string;
  readonly network: Address;
  readonly prefixLength: number;
}

export interface UrlTokenSourceConfig {
  /** SHA-256 of each accepted token, newest first. The tokens themselves are not kept in memory. */
  readonly tokenDigests: readonly Buffer[];
  /** Absent: any address may present the token. Present: only these (checked before the token). */
  readonly allow?: readonly AllowedRange[];
}

/** Sources in URL-token mode; a source without an entry has no `/t/<token>` route (404). */
export type UrlTokenConfig = Partial<Record<UrlTokenSource, UrlTokenSourceConfig>>;

export type UrlTokenAuthResult =
  /** `rotation` says which token matched, so an operator can see when the previous one stops being used. */
  | { ok: true; rotation: 'newest' | 'older' }
  /** 403: the address is not in the allow-list (decided before, and independently of, the token). */
  | { ok: false; status: 401 | 403; reason: string };

/** `azure-monitor` → `SIEM_URL_TOKEN_AZURE_MONITOR`, the same spelling as `SIEM_SECRET_<SOURCE>`. */
export function urlTokenEnvName(source: SiemSource): string {
  return siemSecretEnvName(source).replace(/^SIEM_SECRET_/, 'SIEM_URL_TOKEN_');
}

/** `SIEM_URL_TOKEN_SPLUNK_ALLOW`. */
export function urlTokenAllowEnvName(source: SiemSource): string {
  return `${urlTokenEnvName(source)}_ALLOW`;
}

export function isUrlTokenSource(source: string): source is UrlTokenSource {
  return (URL_TOKEN_SOURCES as readonly string[]).includes(source);
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Splits like `SIEM_SECRET_*` values do: commas, surrounding spaces trimmed, empty entries dropped. */
const commaList = z.string().transform((value) => parseSecretList(value));

// Messages name the token by its position only: a configuration error must never print the value.
const urlToken = z
  .string()
  .min(URL_TOKEN_MIN_LENGTH, `shorter than ${URL_TOKEN_MIN_LENGTH} characters`)
  .max(URL_TOKEN_MAX_LENGTH, `longer than ${URL_TOKEN_MAX_LENGTH} characters`)
  .regex(URL_SAFE, 'may only contain the URL-safe characters A-Z a-z 0-9 _ -')
  .refine(
    (token) => new Set(token).size >= MIN_DISTINCT_CHARACTERS,
    `fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters: not a random token`,
  );

const urlTokenList = commaList.pipe(
  z
    .array(urlToken)
    .min(1, 'no token listed')
    .max(URL_TOKEN_MAX_PER_SOURCE, `at most ${URL_TOKEN_MAX_PER_SOURCE} tokens (newest first)`)
    .superRefine((tokens, ctx) => {
      tokens.forEach((token, index) => {
        const first = tokens.indexOf(token);
        if (first !== index)
          ctx.addIssue({ code: 'custom', path: [index], message: `repeats token ${first + 1}` });
      });
    }),
);

/** Only text that can be an address is echoed in an error, in case someone pasted a token into the wrong variable. */
function quoteEntry(entry: string): string {
  return /^[0-9A-Fa-f.:/]{1,64}$/.test(entry) ? `"${entry}"` : '(not shown)';
}

/**
 * One allow-list entry: `10.0.0.0/8`, `2001:db8::/32`, or a single address. IPv4 must be written as four decimal
 * parts (`ipaddr.js` alone would also take `10.1` or `0x0a.0.0.1`), and a prefix must not have host bits set:
 * `10.1.2.3/8` is almost always a typo, and guessing which network was meant could open too much.
 */
function parseAllowEntry(entry: string): AllowedRange | string {
  const shown = quoteEntry(entry);
  if (entry.length > 64) return `entry ${shown} is too long for an address range`;
  if (entry.includes('%')) return `entry ${shown}: zone indexes (%) are not allowed`;
  if (IPV4_COMPATIBLE.test(entry))
    return `entry ${shown} uses the deprecated ::a.b.c.d form: write the IPv4 range, or ::ffff:a.b.c.d for a mapped one`;
  let network: Address;
  let prefixLength: number;
  if (entry.includes('/')) {
    const isV4 = ipaddr.IPv4.isValidCIDRFourPartDecimal(entry);
    if (!isV4 && !ipaddr.IPv6.isValidCIDR(entry))
      return `entry ${shown} is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32`;
    [network, prefixLength] = isV4 ? ipaddr.IPv4.parseCIDR(entry) : ipaddr.IPv6.parseCIDR(entry);
    const base = isV4 ? ipaddr.IPv4.networkAddressFromCIDR(entry) : ipaddr.IPv6.networkAddressFromCIDR(entry);
    if (base.toNormalizedString() !== network.toNormalizedString())
      return `entry ${shown} has host bits set: did you mean ${base.toString()}/${prefixLength}?`;
  } else {
    const isV4 = ipaddr.IPv4.isValidFourPartDecimal(entry);
    if (!isV4 && !ipaddr.IPv6.isValid(entry))
      return `entry ${shown} is not an address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32`;
    network = isV4 ? ipaddr.IPv4.parse(entry) : ipaddr.IPv6.parse(entry);
    prefixLength = isV4 ? 32 : 128;
  }
  // `::ffff:10.0.0.0/104` means IPv4 10.0.0.0/8; remote addresses are unmapped the same way before matching.
  if (network.kind() === 'ipv6' && (network as ipaddr.IPv6).isIPv4MappedAddress() && prefixLength >= 96) {
    network = (network as ipaddr.IPv6).toIPv4Address();
    prefixLength -= 96;
  }
  return { cidr: `${network.toString()}/${prefixLength}`, network, prefixLength };
}

const allowList = commaList.pipe(
  z
    .array(z.string())
    .min(1, 'no address range listed')
    .max(MAX_ALLOW_ENTRIES, `at most ${MAX_ALLOW_ENTRIES} address ranges`)
    .transform((entries, ctx) => {
      const ranges: AllowedRange[] = [];
      entries.forEach((entry, index) => {
        const parsed = parseAllowEntry(entry);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [index], message: parsed });
        else ranges.push(parsed);
      });
      return ranges;
    }),
);

/** Empty counts as unset, as in lib/config.ts: docker-compose's `${VAR:-}` passes an empty string. */
function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

function fail(variable: string, message: string): never {
  throw new ConfigError(`environment variable ${variable}: ${message}`);
}

function parseOrFail<T>(schema: z.ZodType<T, string>, value: string, variable: string, item: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const position = typeof issue.path[0] === 'number' ? `${item} ${issue.path[0] + 1}: ` : '';
  return fail(variable, `${position}${issue.message}`);
}

/** Every `SIEM_URL_TOKEN_*` name must belong to a URL-token source: a typo in an `_ALLOW` name must not leave it open. */
function checkVariableNames(env: Record<string, string | undefined>): void {
  const known = new Set(
    URL_TOKEN_SOURCES.flatMap((source) => [urlTokenEnvName(source), urlTokenAllowEnvName(source)]),
  );
  const expected = URL_TOKEN_SOURCES.map(urlTokenEnvName).join(', ');
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SIEM_URL_TOKEN_') || known.has(name) || setting(env, name) === undefined) continue;
    const signing = SIEM_SOURCES.find((source) =>
      [urlTokenEnvName(source), urlTokenAllowEnvName(source)].includes(name),
    );
    if (signing)
      fail(
        name,
        `URL tokens are only for senders that cannot set headers (${URL_TOKEN_SOURCES.join(', ')}); ` +
          `${signing} authenticates with ${siemSecretEnvName(signing)} in a header`,
      );
    fail(name, `not a URL-token setting: expected ${expected}, or one of them followed by _ALLOW`);
  }
}

/**
 * `SIEM_URL_TOKEN_<SOURCE>` (comma-separated tokens, newest first) and `SIEM_URL_TOKEN_<SOURCE>_ALLOW`
 * (comma-separated CIDR ranges) → the URL-token configuration. Throws `ConfigError` naming the variable, and never
 * quoting a token, for a weak or malformed value.
 */
export function urlTokensFromEnv(env: Record<string, string | undefined>): UrlTokenConfig {
  checkVariableNames(env);
  const headerSecrets = SIEM_SOURCES.flatMap((source) =>
    parseSecretList(env[siemSecretEnvName(source)]).map((secret) => ({
      secret,
      variable: siemSecretEnvName(source),
    })),
  );
  const config: UrlTokenConfig = {};
  const tokenOwners = new Map<string, string>();
  for (const source of URL_TOKEN_SOURCES) {
    const variable = urlTokenEnvName(source);
    const allowVariable = urlTokenAllowEnvName(source);
    const rawTokens = setting(env, variable);
    const rawAllow = setting(env, allowVariable);
    if (rawTokens === undefined) {
      if (rawAllow !== undefined)
        fail(allowVariable, `set without ${variable}: there is no URL token to restrict`);
      continue;
    }
    const tokens = parseOrFail(urlTokenList, rawTokens, variable, 'token');
    tokens.forEach((token, index) => {
      // A header secret in a URL would leak into the same logs the header was chosen to stay out of.
      const reused = headerSecrets.find(({ secret }) => secret === token);
      if (reused)
        fail(
          variable,
          `token ${index + 1} is also a ${reused.variable} value: URL tokens end up in logs, use a separate one`,
        );
      const owner = tokenOwners.get(token);
      if (owner)
        fail(variable, `token ${index + 1} is also listed in ${owner}: give each sender its own token`);
      tokenOwners.set(token, variable);
    });
    const allow =
      rawAllow === undefined ? undefined : parseOrFail(allowList, rawAllow, allowVariable, 'entry');
    config[source] = { tokenDigests: tokens.map(sha256), ...(allow ? { allow } : {}) };
  }
  return config;
}

/** The sources whose `/t/<token>` route exists. */
export function urlTokenSources(config: UrlTokenConfig): UrlTokenSource[] {
  return URL_TOKEN_SOURCES.filter((source) => config[source] !== undefined);
}

export function hasUrlToken(config: UrlTokenConfig, source: string): source is UrlTokenSource {
  return isUrlTokenSource(source) && config[source] !== undefined;
}

/** For the startup log: how many tokens and which ranges, never a token or a digest. */
export function describeUrlTokens(
  config: UrlTokenConfig,
): { source: UrlTokenSource; tokenCount: number; allow: string[] | 'any' }[] {
  return urlTokenSources(config).map((source) => {
    const entry = config[source]!;
    return {
      source,
      tokenCount: entry.tokenDigests.length,
      allow: entry.allow ? entry.allow.map((range) => range.cidr) : 'any',
    };
  });
}

/**
 * The peer address as Node reports it (`req.socket.remoteAddress`), IPv4-mapped IPv6 (`::ffff:10.1.2.3`) turned
 * back into IPv4 so it meets IPv4 ranges. Undefined when missing (a destroyed socket) or unparseable.
 */
function parseRemoteAddress(remoteAddress: string | undefined): Address | undefined {
  if (remoteAddress === undefined || remoteAddress === '') return undefined;
  if (IPV4_COMPATIBLE.test(remoteAddress.replace(/%.*$/, ''))) return undefined;
  try {
    return ipaddr.process(remoteAddress);
  } catch {
    return undefined;
  }
}

/** True when `remoteAddress` falls in one of `ranges`. A missing or unreadable address is never allowed. */
export function addressAllowed(ranges: readonly AllowedRange[], remoteAddress: string | undefined): boolean {
  const address = parseRemoteAddress(remoteAddress);
  if (!address) return false;
  return ranges.some(
    (range) => range.network.kind() === address.kind() && address.match(range.network, range.prefixLength),
  );
}

/**
 * Authenticates `POST /webhooks/siem/<source>/t/<presentedToken>` from `remoteAddress` (the TCP peer, never a
 * forwarded-for header a client can write). The address is checked first, so a refused address learns nothing
 * about the token. Every configured token is compared, on SHA-256 digests with `timingSafeEqual`, with no early
 * exit: neither the configured tokens' lengths nor which of them matched show in the time taken. No reason ever
 * quotes the presented token.
 */
export function authenticateUrlToken(
  config: UrlTokenConfig,
  source: SiemSource,
  presentedToken: string | undefined,
  remoteAddress: string | undefined,
): UrlTokenAuthResult {
  const entry = isUrlTokenSource(source) ? config[source] : undefined;
  if (!entry) return { ok: false, status: 401, reason: `URL tokens are not enabled for source ${source}` };
  if (entry.allow && !addressAllowed(entry.allow, remoteAddress))
    return {
      ok: false,
      status: 403,
      reason:
        remoteAddress === undefined || remoteAddress === ''
          ? `no peer address to check against ${urlTokenAllowEnvName(source)}`
          : `address not in ${urlTokenAllowEnvName(source)}`,
    };
  const presented = sha256(presentedToken ?? '');
  let matched = -1;
  entry.tokenDigests.forEach((digest, index) => {
    if (timingSafeEqual(digest, presented) && matched < 0) matched = index;
  });
  if (matched < 0) return { ok: false, status: 401, reason: 'URL token does not match' };
  return { ok: true, rotation: matched === 0 ? 'newest' : 'older' };
}

/**
 * A request path or URL as it may be logged: whatever follows the source segment of a webhook path is replaced,
 * `/webhooks/siem/splunk/t/<token>` → `/webhooks/siem/splunk/t/[REDACTED]`. Case-insensitive and tolerant of
 * repeated slashes, like Express's routing; a query string is redacted too (a sender may have put the token there),
 * and a source segment that is not a known source is not repeated (it is attacker-chosen, or a misplaced token).
 * Any other path is returned unchanged.
 */
export function redactUrlTokenPath(path: string): string {
  const match = /^(.*?\/webhooks\/+siem)(?:\/+([^/?#]*))?(.*)$/is.exec(path);
  if (!match) return path;
  const [, prefix, segment, rest] = match;
  if (segment === undefined) return rest === '' ? path : `${prefix}/${REDACTED}`;
  const source = isSiemSource(segment) ? segment : '[unknown]';
  if (rest === '' || rest === '/') return `${prefix}/${source}${rest}`;
  if (new RegExp(`^/+${URL_TOKEN_SEGMENT}(?:/|$)`, 'i').test(rest))
    return `${prefix}/${source}/${URL_TOKEN_SEGMENT}/${REDACTED}`;
  return `${prefix}/${source}/${REDACTED}`;
}
