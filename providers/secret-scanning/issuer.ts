/**
 * What the issuers that revoke a leaked token read from a GitHub secret scanning alert (github-token, slack-token)
 * share: failures that leave without the token, their evidence, and the proof that the token is dead. Not a
 * provider: it has no plugin and is not in providers/index.ts.
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { redactSecrets } from '../../lib/scrub';
import { toProviderError } from '../github/client';
import { describeRef, type GitHubTokenRef } from '../github-token/refs';
import { proveDead, type ProbeResult, type ProofOutcome, type ProofSettings } from '../proof-of-death';
import {
  ProviderError,
  type ActionContext,
  type ActionResult,
  type EvidenceJson,
  type PreservedArtifact,
  type SummaryValue,
} from '../types';

/** The leaked token's kind, as far as the records say it: never the value. */
export interface LeakedTokenKind {
  type: string;
  label: string;
}

export const WORKER = { host: hostname(), pid: process.pid };

/** The message without any of `secrets` and without anything the shared scrubber recognises as a secret. */
function withheld(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) if (secret) clean = clean.split(secret).join('[REDACTED]');
  return redactSecrets(clean);
}

/**
 * Every failure leaves an action as a ProviderError whose message names the provider and holds no secret. The
 * GitHub client's messages say `github.<action>`, and the alert reader's may say `github-token.<action>`: they are
 * renamed so the timeline says which provider failed.
 */
function outgoing(
  error: unknown,
  provider: string,
  action: string,
  secrets: readonly string[],
): ProviderError {
  const failure = error instanceof ProviderError ? error : toProviderError(error, action);
  const message = withheld(failure.message, secrets).replace(/^github(-token)?\./, `${provider}.`);
  return new ProviderError(message, failure.retryable, failure.code);
}

/** Runs an action with the values it reads collected, so any failure leaves without them. */
export async function guarded<T>(
  provider: string,
  action: string,
  work: (secrets: string[]) => Promise<T>,
): Promise<T> {
  const secrets: string[] = [];
  try {
    return await work(secrets);
  } catch (error) {
    throw outgoing(error, provider, action, secrets);
  } finally {
    secrets.length = 0;
  }
}

export async function preserveEvidence(
  ctx: ActionContext,
  provider: string,
  action: string,
  name: string,
  content: EvidenceJson,
): Promise<PreservedArtifact> {
  try {
    return await ctx.evidence.preserve({
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      source: provider,
      name,
      contentType: 'application/json',
      content: Readable.from([JSON.stringify(content, null, 2)]),
    });
  } catch (error) {
    throw new ProviderError(
      `${provider}.${action}: the evidence vault did not take ${name} (${error instanceof Error ? error.message : String(error)})`,
      true,
      'EvidenceFailed',
    );
  }
}

/** Which step, attempt and worker handled which alert's token: every artifact of these issuers says so. */
export function alertEvidence(
  ctx: ActionContext,
  target: GitHubTokenRef,
  secretType: string | null,
  kind: LeakedTokenKind,
): Record<string, EvidenceJson> {
  return {
    incidentId: ctx.incidentId,
    stepId: ctx.stepId,
    attempt: ctx.attempt,
    worker: WORKER,
    repository: target.repository,
    alertNumber: target.alertNumber,
    secretType,
    tokenType: kind.type,
    tokenKind: kind.label,
  };
}

/** Which alert's token a summary is about; the value never appears in one. */
export function alertSummary(
  target: GitHubTokenRef,
  secretType: string | null,
  kind: LeakedTokenKind,
): Record<string, SummaryValue> {
  return {
    repository: target.repository,
    alertNumber: target.alertNumber,
    secretType,
    tokenType: kind.type,
  };
}

export interface LeakedTokenProof {
  provider: string;
  /** The issuer as messages name it: `GitHub`, `Slack`. */
  issuer: string;
  target: GitHubTokenRef;
  secretType: string | null;
  kind: LeakedTokenKind;
  /** How one probe asks the issuer and reads its answer, for the evidence. */
  probeMethod: string;
  proof: ProofSettings;
  /** One probe with the leaked token, which the caller has just read from the alert. */
  probe: () => Promise<ProbeResult>;
}

/**
 * verifyRevoked once the token is read and known probeable: probes until it is proven dead, keeps the probes as
 * `proof-of-death.json`, and fails (AliveAgain, or a retryable VerificationFailed) when it is not.
 */
export async function proveLeakedTokenDead(
  ctx: ActionContext,
  action: string,
  { provider, issuer, target, secretType, kind, probeMethod, proof, probe }: LeakedTokenProof,
): Promise<ActionResult> {
  const startedAt = new Date().toISOString();
  const outcome: ProofOutcome = await proveDead(probe, proof, {
    signal: ctx.signal,
    heartbeat: (details) => ctx.heartbeat(details),
  });
  const accepted = outcome.probes.filter((entry) => entry.answer === 'accepted').length;
  const failure =
    outcome.verdict === 'alive-again'
      ? `${issuer} refused the leaked ${kind.label} and then accepted it again: it is NOT dead; investigate before trusting any earlier refusal`
      : outcome.verdict === 'not-proven'
        ? `the leaked ${kind.label} was not refused ${proof.refusals} times in a row over ${proof.windowMs} ms within ${proof.deadlineMs} ms (${accepted} probes saw it work)`
        : undefined;
  const artifact = await preserveEvidence(ctx, provider, action, 'proof-of-death.json', {
    provider,
    ...alertEvidence(ctx, target, secretType, kind),
    method: probeMethod,
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
    ...alertSummary(target, secretType, kind),
    verdict: outcome.verdict,
    probes: outcome.probes.length,
    refusalsInARow: outcome.refusals,
    windowMs: outcome.streakMs,
    evidenceArtifactId: artifact.artifactId,
    oldCredentialDead: failure === undefined,
  };
  if (failure !== undefined) {
    ctx.log.warn(summary, `leaked ${issuer} token not proven dead`);
    throw new ProviderError(
      `${provider}.${action}: ${describeRef(target)}: ${failure} (probes in evidence artifact ${artifact.artifactId})`,
      // Seen alive after a refusal: waiting will not make that untrue. Not yet refused: the issuer may still be at it.
      outcome.verdict !== 'alive-again',
      outcome.verdict === 'alive-again' ? 'AliveAgain' : 'VerificationFailed',
    );
  }
  ctx.log.info(summary, `leaked ${issuer} token proven dead`);
  return { summary };
}
