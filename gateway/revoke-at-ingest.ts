import { z } from 'zod';
import { REVOKED_AT_INGEST_ISSUERS, type RevokedAtIngest } from '../lib/runbook/types';
import { slackTokenKindOf } from '../providers/slack-token/kinds';
import { DEFAULT_SLACK_API_URL } from '../providers/slack-token/options';
import { slackWebApi, type SlackWebApi } from '../providers/slack-token/web-api';

/**
 * Revocation at ingest: an alert that carries the leaked value itself (a generic SIEM alert's `secret`) is the only
 * moment the gateway holds it; it drops it right after fingerprinting. When the value is a token its issuer revokes
 * by value (a Slack bot or user token: `auth.revoke` authenticated with the token), the gateway revokes it inside the
 * request, before answering, bounded by a short timeout and never retried, and records that it did (never the value).
 * A failure never loses the alert: the incident starts either way and says the token may still work.
 */

export const REVOKE_AT_INGEST_SETTING = 'TOURNIQUET_REVOKE_AT_INGEST';
export const REVOKE_AT_INGEST_TIMEOUT_SETTING = 'TOURNIQUET_REVOKE_AT_INGEST_TIMEOUT_MS';
/** The sender is answered well within GitHub-like 10 s webhook limits, with room left for Temporal. */
export const MAX_REVOKE_AT_INGEST_TIMEOUT_MS = 3_000;
export const DEFAULT_REVOKE_AT_INGEST_TIMEOUT_MS = 2_500;
/** Revocations in flight at once; beyond, an alert is not held for Slack (`unavailable`, code `busy`). */
export const DEFAULT_MAX_IN_FLIGHT = 64;

export type RevokeAtIngestIssuer = (typeof REVOKED_AT_INGEST_ISSUERS)[number];

export interface RevokeAtIngestOptions {
  /** Issuers that revoke at ingest; empty: off. */
  issuers: RevokeAtIngestIssuer[];
  /** The Slack Web API base the slack-token revocation goes to (and nowhere else). */
  slackApiUrl: string;
  /** How long one revocation may hold the request (at most 3 s). */
  timeoutMs: number;
  maxInFlight?: number;
}

/** What the sender is told of a revocation at ingest: no code, no time, never the value. */
export type RevokedAtIngestAnswer = Pick<RevokedAtIngest, 'issuer' | 'tokenType' | 'outcome'>;

export interface IngestRevoker {
  readonly issuers: readonly RevokeAtIngestIssuer[];
  /**
   * Revokes `value` if it is a token an enabled issuer revokes by value; undefined (nothing sent anywhere) for
   * anything else. Never throws, never takes longer than the timeout, never returns or logs the value.
   */
  revoke(value: unknown): Promise<RevokedAtIngest | undefined>;
}

/**
 * A value worth sending to Slack: a revocable kind by prefix, and nothing but the characters Slack tokens are made
 * of (letters, digits, `-`, `_`, `.`), at a sane length. Whitespace, control characters or anything that could
 * bend a header is never sent.
 */
const SLACK_TOKEN_SHAPE = /^[A-Za-z0-9._-]{16,512}$/;

export function revocableSlackToken(value: unknown): { type: string; label: string } | undefined {
  if (typeof value !== 'string' || !SLACK_TOKEN_SHAPE.test(value)) return undefined;
  const kind = slackTokenKindOf(value);
  return kind?.revocable ? { type: kind.type, label: kind.label } : undefined;
}

export function createIngestRevoker(options: RevokeAtIngestOptions): IngestRevoker {
  const timeoutMs = Math.min(options.timeoutMs, MAX_REVOKE_AT_INGEST_TIMEOUT_MS);
  const slack: SlackWebApi = slackWebApi({ apiUrl: options.slackApiUrl, timeoutMs });
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const issuers = [...new Set(options.issuers)];
  let inFlight = 0;

  async function revoke(value: unknown): Promise<RevokedAtIngest | undefined> {
    if (!issuers.includes('slack-token')) return undefined;
    const kind = revocableSlackToken(value);
    if (!kind) return undefined;
    const record = (outcome: RevokedAtIngest['outcome'], code: string): RevokedAtIngest => ({
      issuer: 'slack-token',
      tokenType: kind.type,
      tokenKind: kind.label,
      method: 'auth.revoke',
      outcome,
      code,
      at: new Date().toISOString(),
      by: 'gateway',
    });
    if (inFlight >= maxInFlight) return record('unavailable', 'busy');
    inFlight += 1;
    try {
      // Never retried here: a sender waits for this answer. The incident says when it may still work.
      const revocation = await slack.revokeByValue(value as string);
      return record(revocation.outcome, revocation.code);
    } catch {
      return record('unavailable', 'unexpected_error');
    } finally {
      inFlight -= 1;
    }
  }

  return { issuers, revoke };
}

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const envSchema = z.object({
  [REVOKE_AT_INGEST_SETTING]: optional(
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
      )
      .pipe(
        z.array(
          z.enum(REVOKED_AT_INGEST_ISSUERS, {
            error: `expected a comma-separated list of issuers that revoke by value at ingest: ${REVOKED_AT_INGEST_ISSUERS.join(', ')}`,
          }),
        ),
      ),
  ),
  [REVOKE_AT_INGEST_TIMEOUT_SETTING]: optional(
    z.coerce
      .number({ error: `expected milliseconds, at most ${MAX_REVOKE_AT_INGEST_TIMEOUT_MS}` })
      .int(`expected whole milliseconds, at most ${MAX_REVOKE_AT_INGEST_TIMEOUT_MS}`)
      .min(100, 'expected at least 100 ms')
      .max(
        MAX_REVOKE_AT_INGEST_TIMEOUT_MS,
        `expected at most ${MAX_REVOKE_AT_INGEST_TIMEOUT_MS} ms: the sender waits for the revocation`,
      ),
  ),
});

/** Read only when revocation at ingest is on: the Slack integration validates it its own way. */
const slackSchema = z.object({
  SLACK_API_URL: optional(
    z.url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://slack.com/api/' }),
  ),
});

function check<T>(result: z.ZodSafeParseResult<T>): T {
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // The variable's name only: the value could be anything, a secret pasted in the wrong place included.
  throw new Error(`environment variable ${String(issue.path[0])}: ${issue.message}`);
}

/**
 * The revocation at ingest `TOURNIQUET_REVOKE_AT_INGEST` asks for (`slack-token`), or undefined when it is unset or
 * empty (the default: the gateway only fingerprints). Errors name the variable, never its value.
 */
export function ingestRevokerFromEnv(env: NodeJS.ProcessEnv): IngestRevoker | undefined {
  const settings = check(envSchema.safeParse(env));
  const issuers = settings[REVOKE_AT_INGEST_SETTING] ?? [];
  if (issuers.length === 0) {
    if (settings[REVOKE_AT_INGEST_TIMEOUT_SETTING] !== undefined) {
      throw new Error(
        `environment variable ${REVOKE_AT_INGEST_TIMEOUT_SETTING}: set, but ${REVOKE_AT_INGEST_SETTING} is not (e.g. ${REVOKE_AT_INGEST_SETTING}=slack-token)`,
      );
    }
    return undefined;
  }
  return createIngestRevoker({
    issuers,
    slackApiUrl: check(slackSchema.safeParse(env)).SLACK_API_URL ?? DEFAULT_SLACK_API_URL,
    timeoutMs: settings[REVOKE_AT_INGEST_TIMEOUT_SETTING] ?? DEFAULT_REVOKE_AT_INGEST_TIMEOUT_MS,
  });
}
