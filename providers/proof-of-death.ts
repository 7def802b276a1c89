import { z } from 'zod';
import { ProviderError } from './types';

/** How verifyRevoked proves a leaked credential dead: `refusals` refusals in a row spanning `windowMs`, within `deadlineMs`. */
export interface ProofSettings {
  refusals: number;
  windowMs: number;
  deadlineMs: number;
}

const count = z.coerce.number().int().min(1).max(100);
const ms = z.coerce.number().int().min(0).max(3_600_000);

export interface ProofFromEnv {
  /** Which of the proof variables are set, in the order they are listed. */
  set: string[];
  /** The settings, defaults filled in; throws when the deadline does not exceed the window. */
  settings(): ProofSettings;
}

/**
 * `TOURNIQUET_<name>_PROOF_REFUSALS`, `_WINDOW_MS` and `_DEADLINE_MS`. A value that is not a number in range throws
 * at once; the deadline is checked only by `settings()`, so that an issuer that is off can first say that a setting
 * of it is stray. Errors name the variable, never a value. An empty variable counts as unset (compose passes
 * `${VAR:-}` through as "").
 */
export function proofFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  defaults: ProofSettings,
): ProofFromEnv {
  const refusals = `TOURNIQUET_${name}_PROOF_REFUSALS`;
  const window = `TOURNIQUET_${name}_PROOF_WINDOW_MS`;
  const deadline = `TOURNIQUET_${name}_PROOF_DEADLINE_MS`;
  const set = [refusals, window, deadline].filter(
    (variable) => env[variable] !== undefined && env[variable] !== '',
  );
  const parsed = z
    .object({ [refusals]: count.optional(), [window]: ms.optional(), [deadline]: ms.min(1).optional() })
    .safeParse(Object.fromEntries(set.map((variable) => [variable, env[variable]])));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') || 'environment'}: ${issue?.message ?? 'invalid'}`);
  }
  const values = parsed.data;
  return {
    set,
    settings() {
      const proof: ProofSettings = {
        refusals: values[refusals] ?? defaults.refusals,
        windowMs: values[window] ?? defaults.windowMs,
        deadlineMs: values[deadline] ?? defaults.deadlineMs,
      };
      if (proof.deadlineMs <= proof.windowMs) {
        throw new Error(
          `${deadline}: must exceed ${window} (${proof.windowMs}), or no proof can ever complete`,
        );
      }
      return proof;
    },
  };
}

/**
 * What one probe of the leaked credential said, shared by the issuers' verifyRevoked. `refused`: the issuer no longer
 * accepts it (AWS STS: InvalidClientTokenId for the key id; GitHub: 401). `accepted`: it still works or still exists.
 * `inconclusive`: anything else (network, throttling): it proves nothing either way.
 */
export type ProbeAnswer = 'refused' | 'accepted' | 'inconclusive';

export interface ProbeResult {
  answer: ProbeAnswer;
  /** The issuer's answer code (an AWS error code, an HTTP status, or `OK`); never a value. */
  code: string;
}

export interface ProbeRecord extends ProbeResult {
  at: string;
  /** Since the first probe. */
  elapsedMs: number;
  /** How long the probe took. */
  tookMs: number;
}

export type ProofVerdict =
  /** `refusals` refusals in a row spanning at least `windowMs`. */
  | 'dead'
  /** Refused, then accepted again: AWS disagrees with itself, or the key came back. */
  | 'alive-again'
  /** The deadline passed first. */
  | 'not-proven';

export interface ProofOutcome {
  verdict: ProofVerdict;
  probes: ProbeRecord[];
  refusals: number;
  /** From the first to the last refusal of the final streak. */
  streakMs: number;
}

export interface ProofControls {
  signal: AbortSignal;
  heartbeat(details?: unknown): void;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Probes until the leaked key is proven dead, i.e. refused `refusals` times in a row over at least `windowMs`:
 * IAM is eventually consistent, and one refusal right after the deletion may come from an endpoint that has not
 * heard of the key yet rather than from one that forgot it. Probes back off from 1 s (or less, for short windows)
 * to `windowMs / (refusals - 1)`, so a streak spans the window with few probes. An `accepted` after a refusal ends
 * the proof at once (`alive-again`); an inconclusive probe restarts the streak (it proves nothing). Honours
 * `signal` between and during waits (a ProviderError, retryable, when cancelled).
 */
export async function proveDead(
  probe: () => Promise<ProbeResult>,
  settings: ProofSettings,
  controls: ProofControls,
): Promise<ProofOutcome> {
  const now = controls.now ?? Date.now;
  const sleep = controls.sleep ?? abortableSleep;
  const start = now();
  const deadline = start + settings.deadlineMs;
  const cap = Math.max(50, Math.ceil(settings.windowMs / Math.max(1, settings.refusals - 1)));
  let delay = Math.min(1_000, cap);
  const probes: ProbeRecord[] = [];
  let streak = 0;
  let streakStart = 0;
  let seenRefusal = false;
  const outcome = (verdict: ProofVerdict): ProofOutcome => ({
    verdict,
    probes,
    refusals: streak,
    streakMs: streak > 0 ? probes[probes.length - 1].elapsedMs - (streakStart - start) : 0,
  });
  for (;;) {
    if (controls.signal.aborted) {
      throw new ProviderError('verifyRevoked cancelled while probing the leaked key', true, 'Cancelled');
    }
    const before = now();
    const result = await probe();
    const at = now();
    probes.push({ ...result, at: new Date(at).toISOString(), elapsedMs: at - start, tookMs: at - before });
    if (result.answer === 'refused') {
      if (streak === 0) streakStart = at;
      streak += 1;
      seenRefusal = true;
    } else {
      if (result.answer === 'accepted' && seenRefusal) return outcome('alive-again');
      streak = 0;
    }
    controls.heartbeat({ probes: probes.length, refusals: streak, last: result.code });
    if (streak >= settings.refusals && at - streakStart >= settings.windowMs) return outcome('dead');
    if (at >= deadline) return outcome('not-proven');
    // Enough refusals but not yet over the window: the next probe lands where the window closes (or sooner).
    const untilWindow = streak >= settings.refusals ? settings.windowMs - (at - streakStart) : delay;
    try {
      await sleep(Math.max(0, Math.min(delay, untilWindow, deadline - at)), controls.signal);
    } catch {
      throw new ProviderError('verifyRevoked cancelled while probing the leaked key', true, 'Cancelled');
    }
    delay = Math.min(delay * 2, cap);
  }
}
