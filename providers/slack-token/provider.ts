import { GitHubClients } from '../github/client';
import { readSecretScanningAlert, type AlertSecret, type LeakedToken } from '../github-token/provider';
import { describeRef } from '../github-token/refs';
import type { ProbeResult } from '../proof-of-death';
import {
  alertEvidence,
  alertSummary,
  guarded,
  preserveEvidence,
  proveLeakedTokenDead,
} from '../secret-scanning/issuer';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type Provider,
  type SummaryValue,
} from '../types';
import { slackTokenCatalog, type SlackTokenCatalog } from './catalog';
import { slackTokenKindOf, type SlackTokenKind } from './kinds';
import type { SlackTokenProofSettings, SlackTokenProviderOptions } from './options';
import { parseSlackTokenRef, PROVIDER, type SlackTokenRef } from './refs';
import {
  SLACK_DEAD_CODES as DEAD,
  SLACK_TRANSIENT_CODES as TRANSIENT,
  slackWebApi,
  type SlackAnswer,
} from './web-api';

const PROBE_METHOD =
  'POST auth.test authenticated with the leaked token: ok = accepted (Slack knows it), invalid_auth / token_revoked / account_inactive / token_expired = refused, anything else (network, rate limit, 5xx) = inconclusive';

interface Identity {
  teamId: string | null;
  userId: string | null;
  botId: string | null;
}

function identifier(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Z0-9]{2,32}$/.test(value) ? value : null;
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
  const slack = slackWebApi({ apiUrl: options.slackApiUrl, timeoutMs: options.requestTimeoutMs ?? 10_000 });
  const proof: SlackTokenProofSettings = options.proof;

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
   * One Web API call authenticated with the leaked token, as a bearer token (never in the body or the URL), through
   * the shared client (web-api.ts): never throws, redirects refused, so the token goes nowhere but the configured
   * Slack.
   */
  function callSlack(method: string, token: LeakedToken, ctx: ActionContext): Promise<SlackAnswer> {
    return slack.call(method, token.reveal(), ctx.signal);
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
    return guarded(PROVIDER, action, async (secrets) => {
      const alert = await readSecretScanningAlert(clients, target, action, ctx, secrets, PROVIDER);
      const kind = requireRevocable(alert, target, action);
      const identity = await identify(alert.token, ctx);
      const revocation = await revokeWithItself(alert.token, kind, action, ctx);
      const at = new Date().toISOString();
      // The vault records that the revocation was done, when, of which alert's token and by which worker.
      const artifact = await preserveEvidence(ctx, PROVIDER, action, 'revocation.json', {
        provider: PROVIDER,
        action,
        at,
        ...alertEvidence(ctx, target, alert.secretType, kind),
        alertStateBefore: alert.alertState,
        validityBefore: alert.validity,
        identity: identity ? { ...identity } : null,
        method: 'auth.revoke',
        slackAnswer: revocation.slackAnswer,
        alreadyRevoked: revocation.alreadyRevoked,
      });
      const summary: Record<string, SummaryValue> = {
        ...alertSummary(target, alert.secretType, kind),
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
    return guarded(PROVIDER, action, async (secrets) => {
      // Read again, just in time: no step hands the value to another.
      const alert = await readSecretScanningAlert(clients, target, action, ctx, secrets, PROVIDER);
      const kind = requireRevocable(alert, target, action);
      return proveLeakedTokenDead(ctx, action, {
        provider: PROVIDER,
        issuer: 'Slack',
        target,
        secretType: alert.secretType,
        kind,
        probeMethod: PROBE_METHOD,
        proof,
        probe: () => probe(alert.token, ctx),
      });
    });
  }

  return defineProvider(PROVIDER, slackTokenCatalog, { revokeCredential, verifyRevoked });
}
