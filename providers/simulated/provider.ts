import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ProviderError,
  type ActionContext,
  type ActionImplementations,
  type ActionResult,
  type Provider,
  type ProviderCatalog,
  type SummaryValue,
} from '../types';
import type { SimulationJournal } from './journal';

type SimulatedBehaviour = (
  params: Record<string, unknown>,
  ctx: ActionContext,
) => Promise<Record<string, SummaryValue>>;

/**
 * Actions whose simulation does more than record the call: they exercise the same paths a real provider
 * uses (evidence vault, secret delivery), so exercises and tests cover them end to end.
 */
const BEHAVIOURS: Record<string, SimulatedBehaviour> = {
  async captureLogs(params, ctx) {
    const log = [
      `simulated run log for ${typeof params.ref === 'string' ? params.ref : 'connector'}`,
      `incident ${ctx.incidentId}, step ${ctx.stepId}`,
      `window ${typeof params.since === 'string' ? params.since : 'start'} .. ${typeof params.until === 'string' ? params.until : 'now'}`,
    ].join('\n');
    const artifact = await ctx.evidence.preserve({
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      source: 'simulated:run-log',
      name: 'run-log.txt',
      contentType: 'text/plain',
      content: Readable.from([Buffer.from(log)]),
    });
    return { artifacts: [artifact.artifactId], sha256: [artifact.sha256] };
  },
  async rotateCredential(params, ctx) {
    // A real issuer mints here; the value goes to the destinations and is dropped with this frame.
    const replacement = randomBytes(24).toString('base64url');
    const destinations = (params.destinations ?? []) as { provider: string; target: string }[];
    for (const destination of destinations) await ctx.deliverSecret(destination, replacement);
    return {
      replacementFingerprint: createHash('sha256').update(replacement).digest('hex').slice(0, 16),
      deliveredTo: destinations.map((destination) => `${destination.provider}:${destination.target}`),
    };
  },
};

async function wait(ctx: ActionContext, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    ctx.heartbeat();
    await sleep(Math.min(250, until - Date.now()), undefined, { signal: ctx.signal });
  }
}

async function applyFaults(ctx: ActionContext, key: string): Promise<void> {
  const faults = ctx.simulation?.faults ?? {};
  for (const fault of Object.values(faults)) {
    if (fault.latencyMs) await wait(ctx, fault.latencyMs);
    const failing = fault.nonRetryable
      ? ctx.attempt <= (fault.failAttempts ?? Infinity)
      : ctx.attempt <= (fault.failAttempts ?? 0);
    if (failing) {
      throw new ProviderError(
        fault.message ?? `injected failure in ${key} (attempt ${ctx.attempt})`,
        !fault.nonRetryable,
        'SimulatedFault',
      );
    }
  }
}

/** A discovery action's lists: what the exercise says the platform holds, else nothing. */
function listed(fields: readonly string[] | undefined, ctx: ActionContext): Record<string, SummaryValue> {
  if (!fields) return {};
  const answers = Object.values(ctx.simulation?.faults ?? {}).map((fault) => fault.answers ?? {});
  return Object.fromEntries(
    fields.map((field) => [field, [...new Set(answers.flatMap((answer) => answer[field] ?? []))]]),
  );
}

export interface SimulatedProviderOptions {
  /** The real system's catalog: the stand-in offers exactly its actions. */
  catalog: ProviderCatalog;
  journal: SimulationJournal;
}

/** The stand-in for `system`: same catalog as the real provider, deterministic, journaled. */
export function createSimulatedProvider(system: string, options: SimulatedProviderOptions): Provider {
  const { catalog, journal } = options;

  const act = async (
    action: string,
    params: Record<string, unknown>,
    ctx: ActionContext,
  ): Promise<ActionResult> => {
    const base = {
      at: new Date().toISOString(),
      system,
      action,
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      idempotencyKey: ctx.idempotencyKey,
      attempt: ctx.attempt,
      exercise: ctx.exercise,
    };
    try {
      await applyFaults(ctx, `${system}.${action}`);
    } catch (error) {
      await journal.append({ ...base, effect: 'fault' });
      throw error;
    }
    if (!catalog[action].idempotent) {
      const earlier = await journal.findApplied(ctx.idempotencyKey, action);
      if (earlier) {
        await journal.append({ ...base, effect: 'replayed', summary: earlier.summary });
        return { summary: { ...earlier.summary, replayed: true } };
      }
    }
    const behaviour = BEHAVIOURS[action];
    const summary: Record<string, SummaryValue> = {
      simulated: true,
      target:
        typeof params.ref === 'string'
          ? params.ref
          : typeof params.repository === 'string'
            ? params.repository
            : null,
      ...(behaviour ? await behaviour(params, ctx) : {}),
      ...listed(catalog[action].lists, ctx),
    };
    await journal.append({ ...base, effect: 'applied', summary });
    const settleMs = Math.max(
      0,
      ...Object.values(ctx.simulation?.faults ?? {}).map((fault) => fault.settleMs ?? 0),
    );
    if (settleMs > 0) await wait(ctx, settleMs);
    return { summary };
  };

  const actions = Object.fromEntries(
    Object.keys(catalog).map((action) => [
      action,
      (params: Record<string, unknown>, ctx: ActionContext) => act(action, params, ctx),
    ]),
  ) as ActionImplementations<ProviderCatalog>;

  return {
    name: system,
    catalog,
    actions,
    simulated: true,
    destination: {
      async storeSecret(target, value, ctx) {
        await journal.append({
          at: new Date().toISOString(),
          system,
          action: 'storeSecret',
          incidentId: ctx.incidentId,
          stepId: ctx.stepId,
          idempotencyKey: ctx.idempotencyKey,
          attempt: ctx.attempt,
          exercise: ctx.exercise,
          effect: 'applied',
          summary: { target, length: value.length },
        });
      },
    },
  };
}
