import { catalogFor } from '../providers';
import type { ActionSpec } from '../providers/types';
import type { Phase, StepStatus } from '../lib/runbook/types';

export const MILESTONE_IDS = [
  'connector-disabled',
  'evidence-preserved',
  'credentials-rotated',
  'downstream-segmented',
  'recovered',
] as const;
export type MilestoneId = (typeof MILESTONE_IDS)[number];

export const MILESTONE_LABELS: Record<MilestoneId, string> = {
  'connector-disabled': 'Connector disabled',
  'evidence-preserved': 'Evidence preserved',
  'credentials-rotated': 'Credentials rotated',
  'downstream-segmented': 'Downstream segmented',
  recovered: 'Recovered',
};

/**
 * Targets from the incident opening when neither the scenario nor the caller sets one. Attackers use leaked
 * keys within minutes: the reversible containment has to be done in one; evidence before anyone purges logs.
 */
export const DEFAULT_SLA_MS: Record<MilestoneId, number> = {
  'connector-disabled': 60_000,
  'evidence-preserved': 15 * 60_000,
  'credentials-rotated': 60 * 60_000,
  'downstream-segmented': 30 * 60_000,
  recovered: 8 * 60 * 60_000,
};

export function actionSpec(action: string): ActionSpec | undefined {
  const dot = action.indexOf('.');
  return catalogFor(action.slice(0, dot))?.[action.slice(dot + 1)];
}

/**
 * Which steps make up a milestone: the steps of its phase; for evidence, the steps that put artifacts into
 * the vault (not the log purge that shares their phase).
 */
export function milestoneSteps(milestone: MilestoneId, steps: StepStatus[]): StepStatus[] {
  const phase: Record<MilestoneId, Phase> = {
    'connector-disabled': 'disable-connector',
    'evidence-preserved': 'preserve-evidence',
    'credentials-rotated': 'rotate-credentials',
    'downstream-segmented': 'segment-downstream',
    recovered: 'recover',
  };
  const inPhase = steps.filter((step) => step.phase === phase[milestone]);
  if (milestone !== 'evidence-preserved') return inPhase;
  return inPhase.filter((step) => actionSpec(step.action)?.preservesEvidence ?? !/purge/i.test(step.action));
}

export type MilestoneState = 'reached' | 'not-reached' | 'not-applicable';

/**
 * A milestone is reached when every applicable step of it succeeded: at the latest of their `succeeded`
 * timeline entries. Steps skipped as not applicable do not count; a failed, denied or blocked one means it
 * was not reached.
 */
export function milestoneReached(
  milestone: MilestoneId,
  steps: StepStatus[],
  succeededAt: (stepId: string) => string | undefined,
): { state: MilestoneState; at?: string; steps: string[]; blockers: string[] } {
  const relevant = milestoneSteps(milestone, steps).filter(
    (step) => !(step.state === 'skipped' && step.reason === 'not applicable'),
  );
  if (relevant.length === 0) return { state: 'not-applicable', steps: [], blockers: [] };
  const blockers = relevant.filter((step) => step.state !== 'succeeded').map((step) => step.id);
  if (blockers.length > 0) return { state: 'not-reached', steps: relevant.map((s) => s.id), blockers };
  const times = relevant.map((step) => succeededAt(step.id) ?? step.finishedAt ?? '').filter(Boolean);
  const at = times.sort().at(-1);
  return { state: 'reached', at, steps: relevant.map((step) => step.id), blockers: [] };
}
