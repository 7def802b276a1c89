import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AlertBatch,
  AlertBatchResult,
  ApprovalDecision,
  ApprovalDecisionResult,
  IncidentStatus,
} from '../lib/runbook/types';

/**
 * Every message the incident workflow answers: its whole API as seen from the Temporal server. Only `client/`
 * sends them (and the worker's own tests); the workflow registers a handler for each in `incident.ts`.
 */

/** The incident as it stands: steps, timeline, pending approvals, alerts. */
export const statusQuery = defineQuery<IncidentStatus>('status');

/** Approve or deny a step; the validator refuses anything not bound to the current request. */
export const decideStepUpdate = defineUpdate<ApprovalDecisionResult, [ApprovalDecision]>('decideStep');

/** A refused approval attempt, reported by the gateway or CLI that saw the validator refuse it. */
export interface ApprovalRefusal {
  stepId: string;
  actor: string;
  reason: string;
}
export const approvalRefusedSignal = defineSignal<[ApprovalRefusal]>('approvalRefused');

/**
 * Something the responders learned ("the token was used from a new IP"), or an exercise's inject. `actor` says
 * who wrote it: `user:<name>`, `slack:<id>`, `exercise:<kind>`. Callers scrub the text before sending it.
 */
export interface IncidentNote {
  actor: string;
  text: string;
}
export const noteSignal = defineSignal<[IncidentNote]>('note');

/** Later alerts about the same secret, batched by the gateway so history stays bounded. */
export const attachAlertsUpdate = defineUpdate<AlertBatchResult, [AlertBatch]>('attachAlerts');
export const alertIdsQuery = defineQuery<string[]>('alertIds');
