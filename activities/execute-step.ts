import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { destinationSystems } from '../lib/runbook/actions';
import { formatPath } from '../lib/runbook/validate';
import { holdsSecret, redactSecrets } from '../lib/scrub';
import { NotConfiguredError, type ProviderRegistry } from '../providers/registry';
import {
  ProviderError,
  type ActionContext,
  type EvidenceJson,
  type EvidenceStore,
  type Provider,
  type SimulatedFault,
} from '../providers/types';
import type {
  IncidentActivities,
  ItemBatchInput,
  ItemBatchResult,
  ItemCall,
  ItemOutcome,
  StepExecutionInput,
  StepExecutionResult,
} from './types';

export interface ActivityDependencies {
  registry: ProviderRegistry;
  evidence: EvidenceStore;
  logger: Logger;
  workerIdentity: string;
  /**
   * Called with each value a rotation delivered for an inventory credential, so a later leak of that value maps
   * back to it (`lib/inventory/fingerprints.ts`): it keeps a keyed fingerprint, never the value.
   */
  recordRotation?: (credentialId: string, value: string) => void;
}

const HEARTBEAT_EVERY_MS = 1_000;

/** What one call of a provider action gets from the activity that carries it (a step's, or a batch's). */
interface CallContext {
  attempt: number;
  signal: AbortSignal;
  heartbeat(details?: unknown): void;
  /** A batch item's success record is handed over here instead of awaited, so its lane can take the next item. */
  deferRecord?: (recorded: Promise<void>) => void;
}

export function createStepActivities(
  deps: ActivityDependencies,
): Pick<IncidentActivities, 'executeStep' | 'executeItems'> {
  return {
    async executeStep(input: StepExecutionInput): Promise<StepExecutionResult> {
      const activity = Context.current();
      // Heartbeats let Temporal notice a dead worker within seconds and deliver cancellation to the step.
      const heartbeat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await runAction(deps, input, {
          attempt: activity.info.attempt,
          signal: activity.cancellationSignal,
          heartbeat: (details) => activity.heartbeat(details),
        });
      } finally {
        clearInterval(heartbeat);
      }
    },
    executeItems: (input) => executeItems(deps, input),
  };
}

/**
 * One batch of a `forEach` step: `concurrency` lanes take the next item until none is left. An item's failure is
 * its outcome (the workflow retries the retryable ones alone); only a cancellation fails the batch. Finished items
 * are heartbeated, so the retry of a batch whose worker died does not run them again.
 */
async function executeItems(deps: ActivityDependencies, input: ItemBatchInput): Promise<ItemBatchResult> {
  const activity = Context.current();
  const earlier = (activity.info.heartbeatDetails as { done?: ItemOutcome[] } | undefined)?.done ?? [];
  const done = new Map(earlier.map((outcome) => [outcome.key, outcome]));
  let next = 0;
  let haltedBy: string | undefined;
  const recording: Promise<void>[] = [];
  const lane = async (): Promise<void> => {
    while (next < input.items.length && haltedBy === undefined) {
      const call = input.items[next++];
      if (done.has(call.key)) continue;
      let recorded: Promise<void> | undefined;
      const outcome = await runItem(deps, input, call, activity, (promise) => (recorded = promise));
      if (recorded) {
        // Done (and heartbeated as done) only once its record is in the vault; if it cannot be, the item is retried
        // like a failure, as a single step is. The vault writes one record at a time per incident: waiting for each
        // before the next call made the vault, not the provider, set the pace.
        recording.push(
          recorded.then(
            () => void done.set(call.key, outcome),
            (error: unknown) =>
              void done.set(call.key, {
                key: call.key,
                state: 'failed',
                error: `evidence not recorded: ${redactSecrets(error instanceof Error ? error.message : String(error))}`,
                retryable: true,
                attempt: call.attempt,
              }),
          ),
        );
        continue;
      }
      done.set(call.key, outcome);
      if (
        outcome.state === 'failed' &&
        input.onItemFailure === 'halt' &&
        (call.finalAttempt || !outcome.retryable)
      ) {
        haltedBy = call.key;
      }
    }
  };
  const heartbeat = setInterval(() => activity.heartbeat({ done: [...done.values()] }), HEARTBEAT_EVERY_MS);
  try {
    await Promise.all(Array.from({ length: Math.max(1, input.concurrency) }, lane));
    await Promise.all(recording);
  } finally {
    clearInterval(heartbeat);
  }
  return {
    outcomes: input.items.map(
      (call) =>
        done.get(call.key) ?? {
          key: call.key,
          state: 'skipped',
          reason: `halted: item ${haltedBy ?? '?'} failed`,
          attempt: call.attempt,
        },
    ),
    worker: deps.workerIdentity,
  };
}

async function runItem(
  deps: ActivityDependencies,
  batch: ItemBatchInput,
  call: ItemCall,
  activity: Context,
  deferRecord: (recorded: Promise<void>) => void,
): Promise<ItemOutcome> {
  const timeout = new AbortController();
  const signal = AbortSignal.any([activity.cancellationSignal, timeout.signal]);
  const input: StepExecutionInput = {
    incidentId: batch.incidentId,
    stepId: batch.stepId,
    item: call.key,
    provider: call.provider,
    action: call.action,
    params: call.params,
    exercise: batch.exercise,
    ...(batch.demo !== undefined ? { demo: batch.demo } : {}),
    idempotencyKey: call.idempotencyKey,
    ...(call.credentialId ? { credentialId: call.credentialId } : {}),
    ...(call.faults ? { faults: call.faults } : {}),
    ...(call.credentialDestinations ? { credentialDestinations: call.credentialDestinations } : {}),
  };
  let timer: NodeJS.Timeout | undefined;
  // One timer per item, cleared when it ends: it aborts the provider's call, and a provider that ignores its signal
  // still does not hold the lane past the step's timeout.
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timeout.abort();
      reject(ApplicationFailure.retryable(`timed out after ${batch.itemTimeoutMs} ms`, 'ItemTimeout'));
    }, batch.itemTimeoutMs);
  });
  try {
    const result = await Promise.race([
      runAction(deps, input, { attempt: call.attempt, signal, heartbeat: () => undefined, deferRecord }),
      timedOut,
    ]);
    if (result.outcome === 'done') {
      return {
        key: call.key,
        state: 'succeeded',
        implementation: result.implementation,
        attempt: call.attempt,
      };
    }
    if (result.outcome === 'unsupported') {
      return {
        key: call.key,
        state: 'skipped',
        reason: `not supported by ${result.implementation}`,
        attempt: call.attempt,
      };
    }
    return { key: call.key, state: 'failed', error: result.reason, retryable: false, attempt: call.attempt };
  } catch (error) {
    if (error instanceof CancelledFailure || activity.cancellationSignal.aborted) throw error;
    const failure = error instanceof ApplicationFailure ? error : undefined;
    return {
      key: call.key,
      state: 'failed',
      // Already redacted by `toFailure`.
      error: error instanceof Error ? error.message : String(error),
      retryable: !failure?.nonRetryable,
      attempt: call.attempt,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** One provider action, checked, carried out and recorded in the vault: a step's, or one item's of a batch. */
async function runAction(
  deps: ActivityDependencies,
  input: StepExecutionInput,
  call: CallContext,
): Promise<StepExecutionResult> {
  const startedAt = new Date().toISOString();
  const log = deps.logger.child({
    incidentId: input.incidentId,
    stepId: input.stepId,
    ...(input.item ? { item: input.item } : {}),
    action: `${input.provider}.${input.action}`,
  });

  const resolveOptions = { exercise: input.exercise, demo: input.demo };
  let provider: Provider;
  try {
    provider = deps.registry.resolve(input.provider, resolveOptions);
    // A credential minted for a destination nobody can write to would be lost: check them before acting.
    for (const destination of destinationSystems(input.params)) {
      deps.registry.resolve(destination, resolveOptions);
    }
  } catch (error) {
    if (!(error instanceof NotConfiguredError)) throw toFailure(error);
    const at = new Date().toISOString();
    log.warn({ reason: error.message }, 'step not run: system not configured');
    const result: StepExecutionResult = {
      outcome: 'not-configured',
      reason: error.message,
      implementation: input.provider,
      summary: {},
      startedAt: at,
      finishedAt: at,
      attempt: call.attempt,
      worker: deps.workerIdentity,
    };
    await recordAction(deps.evidence, input, { ...result, params: input.params });
    return result;
  }
  const spec = provider.catalog[input.action];
  const implementation = provider.actions[input.action];
  if (!spec || !implementation) {
    // A role member that cannot do this (n8n cannot mint credentials): the step is not applicable.
    const at = new Date().toISOString();
    log.warn({}, 'action not supported by this provider');
    return {
      outcome: 'unsupported',
      implementation: implementationName(provider),
      summary: {},
      startedAt: at,
      finishedAt: at,
      attempt: call.attempt,
      worker: deps.workerIdentity,
    };
  }
  const parsed = spec.params.safeParse(input.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ApplicationFailure.nonRetryable(
      `params.${formatPath(issue.path)}: ${issue.message}`,
      'InvalidParams',
    );
  }

  const ctx: ActionContext = {
    incidentId: input.incidentId,
    stepId: input.stepId,
    idempotencyKey: input.idempotencyKey,
    attempt: call.attempt,
    exercise: input.exercise,
    ...(input.demo ? { demo: true } : {}),
    signal: call.signal,
    log: {
      info: (fields, message) => log.info(fields, message),
      warn: (fields, message) => log.warn(fields, message),
    },
    heartbeat: (details) => call.heartbeat(details),
    evidence: deps.evidence,
    simulation: input.faults
      ? {
          faults: Object.fromEntries(
            input.faults.map((fault, index): [string, SimulatedFault] => [String(index), fault]),
          ),
        }
      : undefined,
    undoOf: input.undoOf,
    ...(input.credentialDestinations ? { credentialDestinations: input.credentialDestinations } : {}),
    deliverSecret: async (destination, value) => {
      await deps.registry.deliverSecret(destination, value, ctx);
      if (!input.credentialId || input.exercise) return;
      try {
        deps.recordRotation?.(input.credentialId, value);
      } catch (error) {
        // The value is delivered: failing the step now would mint yet another one.
        log.warn({ error: redactSecrets(String(error)) }, 'rotated fingerprint not recorded');
      }
    },
  };

  try {
    log.info({ attempt: ctx.attempt, implementation: implementationName(provider) }, 'step started');
    const result = await implementation(parsed.data, ctx);
    log.info({ attempt: ctx.attempt }, 'step succeeded');
    const done: StepExecutionResult = {
      outcome: 'done',
      implementation: implementationName(provider),
      summary: result.summary,
      startedAt,
      finishedAt: new Date().toISOString(),
      attempt: ctx.attempt,
      worker: deps.workerIdentity,
    };
    // Part of the step: if the vault cannot take the record, the step is retried rather than left unrecorded.
    const recorded = recordAction(deps.evidence, input, {
      ...done,
      params: input.params,
      undoOf: input.undoOf ?? null,
    });
    if (call.deferRecord) {
      // Handled by the batch once it takes it; marked handled now so that an early failure is never "unhandled".
      recorded.catch(() => undefined);
      call.deferRecord(recorded);
    } else {
      await recorded;
    }
    return done;
  } catch (error) {
    // A provider must not put a secret in an error, but one that echoes an upstream answer might: what is
    // logged, recorded and handed to Temporal (the workflow's history) is the redacted text.
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    log.warn({ attempt: ctx.attempt, error: message }, 'step failed');
    await recordAction(deps.evidence, input, {
      outcome: 'failed',
      implementation: implementationName(provider),
      params: input.params,
      attempt: ctx.attempt,
      startedAt,
      finishedAt: new Date().toISOString(),
      error: message,
    }).catch((recordError: unknown) => log.warn({ error: String(recordError) }, 'failed step not recorded'));
    throw toFailure(error);
  }
}

async function recordAction(
  evidence: EvidenceStore,
  input: StepExecutionInput,
  data: Record<string, unknown>,
): Promise<void> {
  await evidence.recordEvent(input.incidentId, {
    kind: 'action',
    stepId: input.stepId,
    data: JSON.parse(
      JSON.stringify({
        action: `${input.provider}.${input.action}`,
        ...(input.item ? { item: input.item } : {}),
        ...data,
      }),
    ) as EvidenceJson,
  });
}

function implementationName(provider: Provider): string {
  return provider.simulated ? `simulated:${provider.name}` : provider.name;
}

function toFailure(error: unknown): Error {
  if (error instanceof CancelledFailure) return error;
  if (error instanceof ApplicationFailure) {
    return holdsSecret(error.message)
      ? ApplicationFailure.create({
          message: redactSecrets(error.message),
          type: error.type ?? undefined,
          nonRetryable: error.nonRetryable ?? undefined,
        })
      : error;
  }
  if (error instanceof ProviderError) {
    return error.retryable
      ? ApplicationFailure.retryable(redactSecrets(error.message), error.code)
      : ApplicationFailure.nonRetryable(redactSecrets(error.message), error.code);
  }
  if (error instanceof Error) return ApplicationFailure.retryable(redactSecrets(error.message), error.name);
  return ApplicationFailure.retryable(redactSecrets(String(error)));
}
