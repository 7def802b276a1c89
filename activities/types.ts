import type { Params, SimulatedFaultSpec, SummaryValue } from '../lib/runbook/types';

export interface StepExecutionInput {
  incidentId: string;
  stepId: string;
  /** Already resolved from a role (`connector`) to a system (`github`). */
  provider: string;
  action: string;
  params: Params;
  exercise: boolean;
  idempotencyKey: string;
  faults?: SimulatedFaultSpec[];
  undoOf?: Record<string, SummaryValue>;
}

export interface StepExecutionResult {
  /** `unsupported`: the provider playing the role cannot do this (n8n cannot mint credentials); nothing ran. */
  outcome: 'done' | 'unsupported';
  /** The implementation that acted: `github`, or `simulated` for a stand-in. */
  implementation: string;
  summary: Record<string, SummaryValue>;
  startedAt: string;
  finishedAt: string;
  attempt: number;
  worker: string;
}

export interface IncidentActivities {
  executeStep(input: StepExecutionInput): Promise<StepExecutionResult>;
}
