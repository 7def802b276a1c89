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
import type { IncidentActivities, StepExecutionInput, StepExecutionResult } from './types';

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

export function createStepActivities(deps: ActivityDependencies): Pick<IncidentActivities, 'executeStep'> {
  return {
    async executeStep(input: StepExecutionInput): Promise<StepExecutionResult> {
      const activity = Context.current();
      const startedAt = new Date().toISOString();
      const log = deps.logger.child({
        incidentId: input.incidentId,
        stepId: input.stepId,
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
          attempt: activity.info.attempt,
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
          attempt: activity.info.attempt,
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
        attempt: activity.info.attempt,
        exercise: input.exercise,
        ...(input.demo ? { demo: true } : {}),
        signal: activity.cancellationSignal,
        log: {
          info: (fields, message) => log.info(fields, message),
          warn: (fields, message) => log.warn(fields, message),
        },
        heartbeat: (details) => activity.heartbeat(details),
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

      // Heartbeats let Temporal notice a dead worker within seconds and deliver cancellation to the step.
      const heartbeat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
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
        await recordAction(deps.evidence, input, {
          ...done,
          params: input.params,
          undoOf: input.undoOf ?? null,
        });
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
        }).catch((recordError: unknown) =>
          log.warn({ error: String(recordError) }, 'failed step not recorded'),
        );
        throw toFailure(error);
      } finally {
        clearInterval(heartbeat);
      }
    },
  };
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
      JSON.stringify({ action: `${input.provider}.${input.action}`, ...data }),
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
