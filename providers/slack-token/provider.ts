import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { redactSecrets } from '../../lib/scrub';
import { GitHubClients, toProviderError } from '../github/client';
import { readSecretScanningAlert, type AlertSecret, type LeakedToken } from '../github-token/provider';
import { describeRef } from '../github-token/refs';
import { proveDead, type ProbeResult, type ProofOutcome } from '../proof-of-death';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type EvidenceJson,
  type PreservedArtifact,
  type Provider,
  type SummaryValue,
} from '../types';
import { slackTokenCatalog, type SlackTokenCatalog } from './catalog';
import { slackTokenKindOf, type SlackTokenKind } from './kinds';
import type { SlackTokenProofSettings, SlackTokenProviderOptions } from './options';
import { parseSlackTokenRef, PROVIDER, type SlackTokenRef } from './refs';

/**
 * Slack's answers that say the token no longer authenticates: unknown or revoked (`invalid_auth`, `token_revoked`),
 * its user or workspace deleted (`account_inactive`), or an expiring token past its 12 hours (`token_expired`).
 */
const DEAD = new Set(['invalid_auth', 'token_revoked', 'account_inactive', 'token_expired']);
/** Answers that may heal by themselves: worth a Temporal retry. */
const TRANSIENT = new Set([
  'ratelimited',
  'fatal_error',
  'internal_error',
  'service_unavailable',
  'request_timeout',
  'org_login_required',
]);

const PROBE_METHOD =
  'POST auth.test authenticated with the leaked token: ok = accepted (Slack knows it), invalid_auth / token_revoked / account_inactive / token_expired = refused, anything else (network, rate limit, 5xx) = inconclusive';

const WORKER = { host: hostname(), pid: process.pid };

/** What Slack answered, reduced to what may be recorded: never the request, never a body that is not Slack's JSON. */
type SlackAnswer =
  | { outcome: 'ok'; body: Record<string, unknown> }
  | { outcome: 'error'; code: string }
  | { outcome: 'unavailable'; code: string };

interface Identity {
  teamId: string | null;
  userId: string | null;
  botId: string | null;
}

/** Slack error codes are short snake_case words; anything else is not repeated. */
function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z0-9_.]{1,64}$/.test(value) ? value : 'unexpected_error';
}

function identifier(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Z0-9]{2,32}$/.test(value) ? value : null;
}

function withheld(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) if (secret) clean = clean.split(secret).join('[REDACTED]');
  return redactSecrets(clean);
}

/**
 * Every failure leaves an action as a ProviderError whose message names this provider and holds no secret. The
 * GitHub client's messages say `github.<action>`: they are renamed so the timeline says which provider failed.
 */
function outgoing(error: unknown, action: string, secrets: readonly string[]): ProviderError {
  const failure = error instanceof ProviderError ? error : toProviderError(error, action);
  const message = withheld(failure.message, secrets).replace(/^github(-token)?\./, `${PROVIDER}.`);
  return new ProviderError(message, failure.retryable, failure.code);
}

function json(value: EvidenceJson): Readable {
  return Readable.from([JSON.stringify(value, null, 2)]);
}

/**
 * The `slack-token` issuer: revokes a leaked Slack token that a GitHub secret scanning alert reported, and proves it
 * dead. The token is read from the alert inside each activity, sent only to Slack's `auth.revoke` and `auth.test`
 * (as the bearer token of the request), and never returned, logged, recorded or put in an error. See
 * docs/slack-token.md.
 */
export function createSlackTokenProvider(options: SlackTokenProviderOptions): Provider<SlackTokenCatalog> {
  const clients = new GitHubClients({
    ...options.github,
    baseUrl: options.github.baseUrl.replace(/\/+$/, ''),
  });
  const slackApiUrl = options.slackApiUrl.endsWith('/') ? options.slackApiUrl : `${options.slackApiUrl}/`;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const proof: SlackTokenProofSettings = options.proof;

  /** Runs an action with the values it reads collected, so any failure leaves without them. */
  async function guarded<T>(action: string, work: (secrets: string[]) => Promise<T>): Promise<T> {
    const secrets: string[] = [];
    try {
      return await work(secrets);
    } catch (error) {
      throw outgoing(error, action, secrets);
    } finally {
      secrets.length = 0;
    }
  }

  function parse(ref: string, action: string): SlackTokenRef {
    try {
      return parseSlackTokenRef(ref);
    } catch (error) {
      throw new ProviderError(`${PROVIDER}.${action}: ${(error as Error).message}`, false, 'InvalidParams');
    }
  }

  /** The token's kind, or a refusal: what Slack cannot revoke by value is never sent to Slack. */
  function requireRevocable(alert: AlertSecret, target: SlackTokenRef, action: string): SlackTokenKind {
    const kind = slackTokenKindOf(alert.token.reveal());
    if (!kind) {
      throw new ProviderError(
        `${PROVIDER}.${action}: ${describeRef(target)} holds a ${alert.secretType ?? 'secret'} that is not a Slack token; revoke it at its issuer (it was not sent to Slack)`,
        false,
        'NotASlackToken',
      );
    }
    if (!kind.revocable) {
      throw new ProviderError(
        `${PROVIDER}.${action}: ${describeRef(target)} holds a Slack ${kind.label} (${kind.type}), which this issuer cannot revoke by its value: ${kind.instead ?? "revoke it in the owner's Slack settings"} (it was not sent to Slack)`,
        false,
        'SlackNotRevocable',
      );
    }
    return kind;
  }

  /**
   * One Web API call authenticated with the leaked token, as a bearer token (never in the body or the URL). Never
   * throws: a network failure, a rate limit or a 5xx is `unavailable`. Redirects are refused, so the token goes
   * nowhere but the configured Slack.
   */
  async function callSlack(method: string, token: LeakedToken, ctx: ActionContext): Promise<SlackAnswer> {
    let response: Response;
    try {
      response = await fetch(new URL(method, slackApiUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token.reveal()}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: '',
        redirect: 'error',
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch {
      return { outcome: 'unavailable', code: ctx.signal.aborted ? 'cancelled' : 'network' };
    }
    if (response.status === 429) {
      await response.body?.cancel();
      return { outcome: 'unavailable', code: 'ratelimited' };
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return { outcome: 'unavailable', code: `HTTP ${response.status}` };
    }
    if (response.status >= 500 || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { outcome: 'unavailable', code: `HTTP ${response.status}` };
    }
    const answer = body as Record<string, unknown>;
    if (answer.ok === true) return { outcome: 'ok', body: answer };
    return { outcome: 'error', code: safeCode(answer.error) };
  }

  /** One probe: does Slack still accept the token? Never retried inside (the proof loop probes again). */
  async function probe(token: LeakedToken, ctx: ActionContext): Promise<ProbeResult> {
    const answer = await callSlack('auth.test', token, ctx);
    if (answer.outcome === 'ok') return { answer: 'accepted', code: 'ok' };
    if (answer.outcome === 'error' && DEAD.has(answer.code)) return { answer: 'refused', code: answer.code };
    return { answer: 'inconclusive', code: answer.code };
  }

  /** Whose token it was (workspace, user, bot ids; never names or the value), when Slack still says. */
  async function identify(token: LeakedToken, ctx: ActionContext): Promise<Identity | null> {
    const answer = await callSlack('auth.test', token, ctx);
    if (answer.outcome !== 'ok') return null;
    return {
      teamId: identifier(answer.body.team_id),
      userId: identifier(answer.body.user_id),
      botId: identifier(answer.body.bot_id),
    };
  }

  async function preserve(
    ctx: ActionContext,
    action: string,
    name: string,
    content: EvidenceJson,
  ): Promise<PreservedArtifact> {
    try {
      return await ctx.evidence.preserve({
        incidentId: ctx.incidentId,
        stepId: ctx.stepId,
        source: PROVIDER,
        name,
        contentType: 'application/json',
        content: json(content),
      });
    } catch (error) {
      throw new ProviderError(
        `${PROVIDER}.${action}: the evidence vault did not take ${name} (${error instanceof Error ? error.message : String(error)})`,
        true,
        'EvidenceFailed',
      );
    }
  }

  /**
   * `auth.revoke` revokes the token the request authenticates with. Slack answers `{ok: true, revoked: true}`; a
   * token it no longer accepts (revoked by an earlier attempt, by its owner, or expired) answers `invalid_auth`,
   * `token_revoked`, `account_inactive` or `token_expired`: nothing is left to revoke, and the step succeeds
   * (verifyRevoked is the proof either way).
   */
  async function revokeWithItself(
    token: LeakedToken,
    kind: SlackTokenKind,
    action: string,
    ctx: ActionContext,
  ): Promise<{ slackAnswer: string; alreadyRevoked: boolean }> {
    const answer = await callSlack('auth.revoke', token, ctx);
    if (answer.outcome === 'ok') {
      if (answer.body.revoked === true) return { slackAnswer: 'ok', alreadyRevoked: false };
      throw new ProviderError(
        `${PROVIDER}.${action}: Slack answered auth.revoke with ok but not revoked: true; the ${kind.label} was not shown to be revoked, retrying`,
        true,
        'SlackNotRevoked',
      );
    }
    if (answer.outcome === 'error' && DEAD.has(answer.code)) {
      return { slackAnswer: answer.code, alreadyRevoked: true };
    }
    if (answer.outcome === 'error' && answer.code === 'not_bearer_token') {
      throw new ProviderError(
        `${PROVIDER}.${action}: Slack refused auth.revoke with not_bearer_token: it does not take this ${kind.label} as a bearer token; revoke it in the owner's app settings`,
        false,
        'SlackNotRevocable',
      );
    }
    if (answer.outcome === 'unavailable' || TRANSIENT.has(answer.code)) {
      throw new ProviderError(
        `${PROVIDER}.${action}: auth.revoke failed (${answer.code}); the ${kind.label} may still work, retrying`,
        true,
        'SlackUnavailable',
      );
    }
    throw new ProviderError(
      `${PROVIDER}.${action}: Slack refused auth.revoke with ${answer.code}; the ${kind.label} may still work: revoke it in the owner's Slack settings`,
      false,
      'SlackRefused',
    );
  }

  async function revokeCredential(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const action = 'revokeCredential';
    const target = parse(params.ref, action);
    return guarded(action, async (secrets) => {
      const alert = await readSecretScanningAlert(clients, target, action, ctx, secrets, PROVIDER);
      const kind = requireRevocable(alert, target, action);
      const identity = await identify(alert.token, ctx);
      const revocation = await revokeWithItself(alert.token, kind, action, ctx);
      const at = new Date().toISOString();
      // The vault records that the revocation was done, when, of which alert's token and by which worker.
      const artifact = await preserve(ctx, action, 'revocation.json', {
        provider: PROVIDER,
        action,
        at,
        incidentId: ctx.incidentId,
        stepId: ctx.stepId,
        attempt: ctx.attempt,
        worker: WORKER,
        repository: target.repository,
        alertNumber: target.alertNumber,
        secretType: alert.secretType,
        tokenType: kind.type,
        tokenKind: kind.label,
        alertStateBefore: alert.alertState,
        validityBefore: alert.validity,
        identity: identity ? { ...identity } : null,
        method: 'auth.revoke',
        slackAnswer: revocation.slackAnswer,
        alreadyRevoked: revocation.alreadyRevoked,
      });
      const summary: Record<string, SummaryValue> = {
        repository: target.repository,
        alertNumber: target.alertNumber,
        secretType: alert.secretType,
        tokenType: kind.type,
        tokenKind: kind.label,
        slackTeamId: identity?.teamId ?? null,
        slackUserId: identity?.userId ?? null,
        slackBotId: identity?.botId ?? null,
        method: 'auth.revoke',
        slackAnswer: revocation.slackAnswer,
        revoked: true,
        alreadyRevoked: revocation.alreadyRevoked,
        revokedAt: at,
        evidenceArtifactId: artifact.artifactId,
      };
      ctx.log.info(summary, 'leaked Slack token revoked');
      return { summary };
    });
  }

  async function verifyRevoked(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const action = 'verifyRevoked';
    const target = parse(params.ref, action);
    return guarded(action, async (secrets) => {
      // Read again, just in time: no step hands the value to another.
      const alert = await readSecretScanningAlert(clients, target, action, ctx, secrets, PROVIDER);
      const kind = requireRevocable(alert, target, action);
      const startedAt = new Date().toISOString();
      const outcome: ProofOutcome = await proveDead(() => probe(alert.token, ctx), proof, {
        signal: ctx.signal,
        heartbeat: (details) => ctx.heartbeat(details),
      });
      const accepted = outcome.probes.filter((entry) => entry.answer === 'accepted').length;
      const failure =
        outcome.verdict === 'alive-again'
          ? `Slack refused the leaked ${kind.label} and then accepted it again: it is NOT dead; investigate before trusting any earlier refusal`
          : outcome.verdict === 'not-proven'
            ? `the leaked ${kind.label} was not refused ${proof.refusals} times in a row over ${proof.windowMs} ms within ${proof.deadlineMs} ms (${accepted} probes saw it work)`
            : undefined;
      const artifact = await preserve(ctx, action, 'proof-of-death.json', {
        provider: PROVIDER,
        incidentId: ctx.incidentId,
        stepId: ctx.stepId,
        attempt: ctx.attempt,
        worker: WORKER,
        repository: target.repository,
        alertNumber: target.alertNumber,
        secretType: alert.secretType,
        tokenType: kind.type,
        tokenKind: kind.label,
        method: PROBE_METHOD,
        required: { ...proof },
        startedAt,
        finishedAt: new Date().toISOString(),
        verdict: outcome.verdict,
        refusalsInARow: outcome.refusals,
        streakMs: outcome.streakMs,
        probes: outcome.probes.map((entry) => ({ ...entry })),
        failure: failure ?? null,
      });
      const summary: Record<string, SummaryValue> = {
        repository: target.repository,
        alertNumber: target.alertNumber,
        secretType: alert.secretType,
        tokenType: kind.type,
        verdict: outcome.verdict,
        probes: outcome.probes.length,
        refusalsInARow: outcome.refusals,
        windowMs: outcome.streakMs,
        evidenceArtifactId: artifact.artifactId,
        oldCredentialDead: failure === undefined,
      };
      if (failure !== undefined) {
        ctx.log.warn(summary, 'leaked Slack token not proven dead');
        throw new ProviderError(
          `${PROVIDER}.${action}: ${describeRef(target)}: ${failure} (probes in evidence artifact ${artifact.artifactId})`,
          // Seen alive after a refusal: waiting will not make that untrue. Not yet refused: Slack may still be at it.
          outcome.verdict !== 'alive-again',
          outcome.verdict === 'alive-again' ? 'AliveAgain' : 'VerificationFailed',
        );
      }
      ctx.log.info(summary, 'leaked Slack token proven dead');
      return { summary };
    });
  }

  return defineProvider(PROVIDER, slackTokenCatalog, { revokeCredential, verifyRevoked });
}
