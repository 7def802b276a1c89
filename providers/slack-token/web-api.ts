/**
 * The one way Tourniquet calls Slack's Web API with a **leaked** token: as the bearer token of a POST to the
 * configured API base, redirects refused, bounded by a timeout, never retried here. Shared by the slack-token
 * issuer (inside its activities) and the gateway's revocation at ingest (inside the request that carries the value).
 * The token is never returned, logged or put in an error: what comes back is Slack's answer reduced to its code.
 */

/**
 * Slack's answers that say the token no longer authenticates: unknown or revoked (`invalid_auth`, `token_revoked`),
 * its user or workspace deleted (`account_inactive`), or an expiring token past its 12 hours (`token_expired`).
 */
export const SLACK_DEAD_CODES: ReadonlySet<string> = new Set([
  'invalid_auth',
  'token_revoked',
  'account_inactive',
  'token_expired',
]);

/** Answers that may heal by themselves: worth a retry (by Temporal, never inside a request). */
export const SLACK_TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ratelimited',
  'fatal_error',
  'internal_error',
  'service_unavailable',
  'request_timeout',
  'org_login_required',
]);

/** What Slack answered, reduced to what may be recorded: never the request, never a body that is not Slack's JSON. */
export type SlackAnswer =
  | { outcome: 'ok'; body: Record<string, unknown> }
  | { outcome: 'error'; code: string }
  /** `timedOut`: the call's own timeout ended it (the code stays `network` or `HTTP <status>`). */
  | { outcome: 'unavailable'; code: string; timedOut?: true };

/**
 * `auth.revoke` by value, as one word:
 * - `revoked`: Slack answered `{ok: true, revoked: true}`;
 * - `already-dead`: Slack no longer accepts the token (`invalid_auth`, `token_revoked`, …): nothing left to revoke;
 * - `refused`: Slack refused for another reason (`not_bearer_token`, or `ok` without `revoked: true`);
 * - `unavailable`: no answer within the timeout, a network failure, a rate limit, a 5xx or a transient error.
 */
export type SlackRevocationOutcome = 'revoked' | 'already-dead' | 'refused' | 'unavailable';

export interface SlackRevocation {
  outcome: SlackRevocationOutcome;
  /** Slack's code (`ok`, `token_revoked`, …) or ours (`network`, `timeout`, `cancelled`, `HTTP 503`). */
  code: string;
}

export interface SlackWebApiOptions {
  /** The Web API base (`https://slack.com/api/`); a missing trailing `/` is added. */
  apiUrl: string;
  /** How long one call may take, answer included. */
  timeoutMs: number;
}

export interface SlackWebApi {
  /** The base every call goes to, ending with `/`. */
  readonly apiUrl: string;
  /**
   * One Web API call authenticated with `tokenValue`, as a bearer token (never in the body or the URL). Never
   * throws: a network failure, a timeout, a rate limit or a 5xx is `unavailable`.
   */
  call(method: string, tokenValue: string, signal?: AbortSignal): Promise<SlackAnswer>;
  /** `auth.revoke` authenticated with the token itself (never `test=1`): the token ends itself. */
  revokeByValue(value: string, signal?: AbortSignal): Promise<SlackRevocation>;
}

/** Slack error codes are short snake_case words; anything else is not repeated. */
export function safeSlackCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z0-9_.]{1,64}$/.test(value) ? value : 'unexpected_error';
}

export function slackWebApi(options: SlackWebApiOptions): SlackWebApi {
  const apiUrl = options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`;
  const { timeoutMs } = options;

  async function call(method: string, tokenValue: string, signal?: AbortSignal): Promise<SlackAnswer> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const unavailable = (code: string): SlackAnswer =>
      timeout.aborted && !signal?.aborted
        ? { outcome: 'unavailable', code, timedOut: true }
        : { outcome: 'unavailable', code };
    let response: Response;
    try {
      response = await fetch(new URL(method, apiUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tokenValue}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: '',
        // The token goes nowhere but the configured Slack: a redirect fails the call.
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch {
      return unavailable(signal?.aborted ? 'cancelled' : 'network');
    }
    if (response.status === 429) {
      await response.body?.cancel().catch(() => undefined);
      return { outcome: 'unavailable', code: 'ratelimited' };
    }
    let body: unknown;
    try {
      // Bounded by the same signal: a Slack that sends headers and then stalls is cut off at the timeout.
      body = await response.json();
    } catch {
      return unavailable(`HTTP ${response.status}`);
    }
    if (response.status >= 500 || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { outcome: 'unavailable', code: `HTTP ${response.status}` };
    }
    const answer = body as Record<string, unknown>;
    if (answer.ok === true) return { outcome: 'ok', body: answer };
    return { outcome: 'error', code: safeSlackCode(answer.error) };
  }

  async function revokeByValue(value: string, signal?: AbortSignal): Promise<SlackRevocation> {
    const answer = await call('auth.revoke', value, signal);
    if (answer.outcome === 'ok') {
      return answer.body.revoked === true
        ? { outcome: 'revoked', code: 'ok' }
        : { outcome: 'refused', code: 'not_revoked' };
    }
    if (answer.outcome === 'unavailable') {
      return { outcome: 'unavailable', code: answer.timedOut ? 'timeout' : answer.code };
    }
    if (SLACK_DEAD_CODES.has(answer.code)) return { outcome: 'already-dead', code: answer.code };
    if (SLACK_TRANSIENT_CODES.has(answer.code)) return { outcome: 'unavailable', code: answer.code };
    return { outcome: 'refused', code: answer.code };
  }

  return { apiUrl, call, revokeByValue };
}
