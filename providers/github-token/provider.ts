import { inspect } from 'node:util';
import type { ProbeResult } from '../proof-of-death';
import { GitHubClients, isRateLimitError, isRequestError, toProviderError } from '../github/client';
import type { GitHubOctokit, Permissions } from '../github/client';
import { statusOf } from '../github/shared';
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
import { gitHubTokenCatalog, type GitHubTokenCatalog } from './catalog';
import { tokenKindOf, type RevocationMethod, type TokenKind } from './kinds';
import type { GitHubTokenProviderOptions, TokenProofSettings } from './options';
import { describeRef, parseGitHubTokenRef, PROVIDER, type GitHubTokenRef } from './refs';

export { parseGitHubTokenRef } from './refs';

/** What reading an alert's `secret` takes from a GitHub App installation token, and nothing more. */
export const ALERT_PERMISSIONS: Permissions = { secret_scanning_alerts: 'read' };

const PROBE_METHOD =
  'GET /rate_limit authenticated with the leaked token (costs no rate limit): 401 = refused (GitHub does not know the token), 2xx or a non-rate-limit 403 = accepted (GitHub knows it), anything else = inconclusive';

/**
 * A leaked value, held only for the duration of one action. It refuses to be printed, logged or serialised: the
 * only way out is `reveal()`, which the request that needs it calls.
 */
export class LeakedToken {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '[leaked token withheld]';
  }

  toString(): string {
    return '[leaked token withheld]';
  }

  [inspect.custom](): string {
    return '[leaked token withheld]';
  }
}

/** What a secret scanning alert says about its secret; the value itself only as a LeakedToken. */
export interface AlertSecret {
  token: LeakedToken;
  secretType: string | null;
  alertState: string | null;
  alertResolution: string | null;
  /** GitHub's own latest validity check of the token (`active`, `inactive`, `unknown`). */
  validity: string | null;
}

interface LeakedAlert extends AlertSecret {
  kind: TokenKind | undefined;
}

interface Revocation {
  method: RevocationMethod;
  endpoint: string;
  /** GitHub's answer to the revocation request; null when a retry found the token dead and sent nothing. */
  githubStatus: number | null;
  alreadyRevoked: boolean;
  /** What a probe said before or after the request, when one was made. */
  probe: string | null;
}

/** GitHub took the request: only verifyRevoked can show that the token is dead. */
function sent(kind: TokenKind, endpoint: string, githubStatus: number): Revocation {
  return { method: kind.revocation, endpoint, githubStatus, alreadyRevoked: false, probe: null };
}

/** The token no longer worked, so the step succeeds with nothing (more) to revoke. */
function foundDead(
  kind: TokenKind,
  endpoint: string,
  githubStatus: number | null,
  probe: string | null,
): Revocation {
  return { method: kind.revocation, endpoint, githubStatus, alreadyRevoked: true, probe };
}

/**
 * Reads a secret scanning alert's secret, with a token narrowed to its repository and
 * `secret_scanning_alerts: read`, and adds the value to `secrets` (so a failure can leave without it). Errors say
 * `<provider>.<action>`; the GitHub client's own say `github.<action>`, for the caller to rename. Exported for the
 * issuers that revoke other vendors' tokens found by secret scanning (slack-token).
 */
export async function readSecretScanningAlert(
  clients: GitHubClients,
  target: GitHubTokenRef,
  action: string,
  ctx: ActionContext,
  secrets: string[],
  provider: string = PROVIDER,
): Promise<AlertSecret> {
  const repository = { owner: target.owner, repo: target.repo, fullName: target.repository };
  const octokit = await clients.forRepository(ctx, repository, ALERT_PERMISSIONS, action);
  let data: Awaited<ReturnType<GitHubOctokit['rest']['secretScanning']['getAlert']>>['data'];
  try {
    ({ data } = await octokit.rest.secretScanning.getAlert({
      owner: target.owner,
      repo: target.repo,
      alert_number: target.alertNumber,
    }));
  } catch (error) {
    if (statusOf(error) === 404) {
      throw new ProviderError(
        `${provider}.${action}: ${describeRef(target)} not found (no such alert, secret scanning is off for the repository, or the GitHub App installation cannot see it)`,
        false,
        'GitHubNotFound',
      );
    }
    throw toProviderError(error, action, ALERT_PERMISSIONS);
  }
  const secret = data.secret;
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new ProviderError(
      `${provider}.${action}: ${describeRef(target)} carries no secret value (GitHub withheld it); the GitHub App needs secret_scanning_alerts: read on the repository`,
      false,
      'GitHubNothingToRevoke',
    );
  }
  secrets.push(secret);
  return {
    token: new LeakedToken(secret),
    secretType: data.secret_type ?? null,
    alertState: data.state ?? null,
    alertResolution: data.resolution ?? null,
    validity: data.validity ?? null,
  };
}

/**
 * The `github-token` issuer: revokes a leaked GitHub token that a secret scanning alert reported, and proves it
 * dead. The token is read from the alert inside each activity, sent only to the endpoint that revokes or probes
 * it, and never returned, logged, recorded or put in an error. See docs/github-permissions.md.
 */
export function createGitHubTokenProvider(options: GitHubTokenProviderOptions): Provider<GitHubTokenCatalog> {
  const clients = new GitHubClients({
    ...options.github,
    baseUrl: options.github.baseUrl.replace(/\/+$/, ''),
  });
  const proof: TokenProofSettings = options.proof;

  function parse(ref: string, action: string): GitHubTokenRef {
    try {
      return parseGitHubTokenRef(ref);
    } catch (error) {
      throw new ProviderError(`${PROVIDER}.${action}: ${(error as Error).message}`, false, 'InvalidParams');
    }
  }

  /** Reads the alert, with a token narrowed to its repository and `secret_scanning_alerts: read`. */
  async function readAlert(
    target: GitHubTokenRef,
    action: string,
    ctx: ActionContext,
    secrets: string[],
  ): Promise<LeakedAlert> {
    const alert = await readSecretScanningAlert(clients, target, action, ctx, secrets);
    return { ...alert, kind: tokenKindOf(alert.token.reveal()) };
  }

  /** The token kind, or a refusal: what is not a GitHub token is never sent to GitHub. */
  function requireGitHubToken(alert: LeakedAlert, target: GitHubTokenRef, action: string): TokenKind {
    if (!alert.kind) {
      throw new ProviderError(
        `${PROVIDER}.${action}: ${describeRef(target)} holds a ${alert.secretType ?? 'secret'} that is not a GitHub token; revoke it at its issuer (it was not sent to GitHub)`,
        false,
        'GitHubNotRevocable',
      );
    }
    return alert.kind;
  }

  /** One probe: does GitHub still accept the token? Never retried inside (the proof loop probes again). */
  async function probe(octokit: GitHubOctokit, token: LeakedToken): Promise<ProbeResult> {
    try {
      const response = await octokit.request('GET /rate_limit', {
        headers: { authorization: `token ${token.reveal()}` },
        request: { retries: 0 },
      });
      return { answer: 'accepted', code: `HTTP ${response.status}` };
    } catch (error) {
      const status = statusOf(error);
      if (status === 401) return { answer: 'refused', code: 'HTTP 401' };
      if (status === 403 && isRequestError(error) && !isRateLimitError(error)) {
        // Authenticated but not allowed (a suspended installation): GitHub still knows the token.
        return { answer: 'accepted', code: 'HTTP 403' };
      }
      return { answer: 'inconclusive', code: status === undefined ? 'network' : `HTTP ${status}` };
    }
  }

  /**
   * `POST /credentials/revoke`, unauthenticated (GitHub answers 403 to an authenticated call). Its 202 says neither
   * that the string was a live token nor that it is dead yet (GitHub may process the list asynchronously): it means
   * "accepted", and verifyRevoked is the proof. The endpoint allows 60 requests an hour per address, so a retry of the step first
   * checks whether the token already stopped working and then sends nothing.
   */
  async function submitForRevocation(
    alert: LeakedAlert,
    kind: TokenKind,
    action: string,
    ctx: ActionContext,
  ): Promise<Revocation> {
    const octokit = clients.anonymous(ctx);
    const endpoint = 'POST /credentials/revoke';
    if (ctx.attempt > 1 && kind.probeable) {
      const before = await probe(octokit, alert.token);
      if (before.answer === 'refused') {
        return foundDead(kind, endpoint, null, before.code);
      }
    }
    try {
      const response = await octokit.rest.credentials.revoke({ credentials: [alert.token.reveal()] });
      return sent(kind, endpoint, response.status);
    } catch (error) {
      // Messages are built here from the status alone: the failed request's body is the token.
      const status = statusOf(error);
      if (status === 422) {
        // "Validation failed, or the endpoint has been spammed": a dead token needs nothing more.
        const after = kind.probeable ? await probe(octokit, alert.token) : undefined;
        if (after?.answer === 'refused') {
          return foundDead(kind, endpoint, 422, after.code);
        }
        throw new ProviderError(
          `${PROVIDER}.${action}: GitHub refused the revocation request with 422 (validation failed, or too many requests from this address: 60 an hour are allowed); the ${kind.label} was not shown to be dead, retrying later`,
          true,
          'GitHubRevocationRefused',
        );
      }
      if (isRequestError(error) && isRateLimitError(error)) {
        throw new ProviderError(
          `${PROVIDER}.${action}: still rate limited by GitHub on ${endpoint} after waiting (60 unauthenticated requests an hour per address); retry later`,
          true,
          'GitHubRateLimited',
        );
      }
      if (status === 404) {
        throw new ProviderError(
          `${PROVIDER}.${action}: ${endpoint} does not exist on this GitHub (GitHub Enterprise Server does not document it); revoke the ${kind.label} in its owner's settings`,
          false,
          'GitHubNotRevocable',
        );
      }
      if (status === 403) {
        throw new ProviderError(
          `${PROVIDER}.${action}: GitHub refused ${endpoint} with 403`,
          false,
          'GitHubRefused',
        );
      }
      throw new ProviderError(
        `${PROVIDER}.${action}: ${endpoint} failed (${status === undefined ? 'network' : `status ${status}`})`,
        status === undefined || status >= 500 || status === 408,
        'GitHubUnavailable',
      );
    }
  }

  /**
   * `DELETE /installation/token` revokes the installation token the request authenticates with, so the leaked token
   * is used once more, to end itself. A 401 means it no longer works (revoked, or expired: they live an hour).
   */
  async function deleteInstallationToken(
    alert: LeakedAlert,
    kind: TokenKind,
    action: string,
    ctx: ActionContext,
  ): Promise<Revocation> {
    const endpoint = 'DELETE /installation/token';
    try {
      const response = await clients.anonymous(ctx).rest.apps.revokeInstallationAccessToken({
        headers: { authorization: `token ${alert.token.reveal()}` },
      });
      return sent(kind, endpoint, response.status);
    } catch (error) {
      const status = statusOf(error);
      if (status === 401) {
        return foundDead(kind, endpoint, 401, null);
      }
      if (status === 403 && !(isRequestError(error) && isRateLimitError(error))) {
        throw new ProviderError(
          `${PROVIDER}.${action}: GitHub refused ${endpoint} with 403 (is the installation suspended?); the ${kind.label} expires at most an hour after it was minted`,
          false,
          'GitHubRefused',
        );
      }
      throw new ProviderError(
        `${PROVIDER}.${action}: ${endpoint} failed (${status === undefined ? 'network' : `status ${status}`})`,
        status === undefined || status >= 500 || status === 408 || status === 403 || status === 429,
        'GitHubUnavailable',
      );
    }
  }

  async function revoke(
    ref: string,
    action: 'revokeCredential' | 'revokeInstallationToken',
    ctx: ActionContext,
  ): Promise<ActionResult> {
    const target = parse(ref, action);
    return guarded(PROVIDER, action, async (secrets) => {
      const alert = await readAlert(target, action, ctx, secrets);
      const kind = requireGitHubToken(alert, target, action);
      if (action === 'revokeInstallationToken' && kind.revocation !== 'installation-token-delete') {
        throw new ProviderError(
          `${PROVIDER}.${action}: ${describeRef(target)} holds a ${kind.label}, not an installation token (ghs_); use revokeCredential`,
          false,
          'InvalidParams',
        );
      }
      const revocation =
        kind.revocation === 'installation-token-delete'
          ? await deleteInstallationToken(alert, kind, action, ctx)
          : await submitForRevocation(alert, kind, action, ctx);
      const at = new Date().toISOString();
      // The vault records that the revocation was done, when, of which alert's token and by which worker.
      const artifact = await preserveEvidence(ctx, PROVIDER, action, 'revocation.json', {
        provider: PROVIDER,
        action,
        at,
        ...alertEvidence(ctx, target, alert.secretType, kind),
        alertStateBefore: alert.alertState,
        validityBefore: alert.validity,
        method: revocation.method,
        endpoint: revocation.endpoint,
        githubStatus: revocation.githubStatus,
        alreadyRevoked: revocation.alreadyRevoked,
        probe: revocation.probe,
      });
      const summary: Record<string, SummaryValue> = {
        ...alertSummary(target, alert.secretType, kind),
        method: revocation.method,
        githubStatus: revocation.githubStatus,
        revoked: true,
        alreadyRevoked: revocation.alreadyRevoked,
        revokedAt: at,
        evidenceArtifactId: artifact.artifactId,
      };
      ctx.log.info(summary, 'leaked GitHub token revoked');
      return { summary };
    });
  }

  async function verifyRevoked(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const action = 'verifyRevoked';
    const target = parse(params.ref, action);
    return guarded(PROVIDER, action, async (secrets) => {
      // Read again, just in time: no step hands the value to another.
      const alert = await readAlert(target, action, ctx, secrets);
      const kind = requireGitHubToken(alert, target, action);
      if (!kind.probeable) {
        throw new ProviderError(
          `${PROVIDER}.${action}: ${describeRef(target)} holds a ${kind.label}, which authenticates no API call: no probe can show whether it still works (GitHub answers 401 to it either way)`,
          false,
          'GitHubNotProbeable',
        );
      }
      const octokit = clients.anonymous(ctx);
      return proveLeakedTokenDead(ctx, action, {
        provider: PROVIDER,
        issuer: 'GitHub',
        target,
        secretType: alert.secretType,
        kind,
        probeMethod: PROBE_METHOD,
        proof,
        probe: () => probe(octokit, alert.token),
      });
    });
  }

  return defineProvider(PROVIDER, gitHubTokenCatalog, {
    revokeCredential: (params, ctx) => revoke(params.ref, 'revokeCredential', ctx),
    verifyRevoked,
    revokeInstallationToken: (params, ctx) => revoke(params.ref, 'revokeInstallationToken', ctx),
  });
}
