import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AlertBatch,
  AlertBatchResult,
  ApprovalDecision,
  ApprovalDecisionResult,
  IncidentStatus,
} from '../lib/runbook/types';
import type { SignedCommand } from '../lib/runbook/command-check';

/**
 * Every message the incident workflow answers: its whole API as seen from the Temporal server. Only `client/`
 * sends them (and the worker's own tests); the workflow registers a handler for each in `incident.ts`.
 */

/** The incident as it stands: steps, timeline, pending approvals, alerts. */
export const statusQuery = defineQuery<IncidentStatus>('status');

/** Approve or deny a step; the validator refuses anything not bound to the current request. */
export const decideStepUpdate = defineUpdate<ApprovalDecisionResult, [ApprovalDecision]>('decideStep');

/** A refused approval attempt, reported (signed) by the gateway or CLI that saw the validator refuse it. */
export interface ApprovalRefusal {
  stepId: string;
  actor: string;
  reason: string;
}
export const reportRefusalUpdate = defineUpdate<void, [SignedCommand<ApprovalRefusal>]>('reportRefusal');

/**
 * Something the responders learned ("the token was used from a new IP"), or an exercise's inject. `actor` says
 * who wrote it, as the signing channel authenticated them: `cli:<user>`, `slack:<id>`, `exercise:<kind>`. Callers
 * scrub the text before sending it.
 */
export interface IncidentNote {
  actor: string;
  text: string;
}
export const addNoteUpdate = defineUpdate<void, [SignedCommand<IncidentNote>]>('addNote');

/**
 * Stops the incident: steps already done stay done, the rest are skipped. Only a signed cancel does this; a cancel
 * request sent through the Temporal API is recorded on the timeline and otherwise ignored.
 */
export interface IncidentCancel {
  actor: string;
  reason?: string;
}
export const cancelIncidentUpdate = defineUpdate<void, [SignedCommand<IncidentCancel>]>('cancelIncident');

/**
 * Names the credential of an incident whose secret the inventory could not resolve, as the incident commander chose
 * it (`tourniquet incident resolve-credential`, or the Slack prompt): the steps on the credential wait for it. The
 * sender has checked the issuer reference against its provider and expanded the destinations from the inventory;
 * the workflow checks the seal, the shape, and that its credential is still waiting to be named.
 */
export interface CredentialChoice {
  /** Who chose it, as the signing channel authenticated them: `cli:<user>`, `slack:<id>`. */
  actor: string;
  /** The inventory's id of the credential. */
  credentialId: string;
  /** `<issuer>:<reference>`, e.g. `postgres:app_user@appdb` (an AWS key narrowed to the leaked key's id). */
  credential: string;
  /** Where the replacement goes: the credential's consumers in the inventory. */
  destinations: { provider: string; target: string; part?: 'accessKeyId' | 'secretAccessKey' }[];
  reason?: string;
}
export const resolveCredentialUpdate = defineUpdate<void, [SignedCommand<CredentialChoice>]>(
  'resolveCredential',
);

/**
 * The unsigned signals that notes and refusals were before commands were signed. Only histories recorded before
 * then act on them (`patched('signed-commands')`); a newer incident ignores them.
 */
export const approvalRefusedSignal = defineSignal<[ApprovalRefusal]>('approvalRefused');
export const noteSignal = defineSignal<[IncidentNote]>('note');

/** Later alerts about the same secret, batched by the gateway so history stays bounded. */
export const attachAlertsUpdate = defineUpdate<AlertBatchResult, [AlertBatch]>('attachAlerts');
export const alertIdsQuery = defineQuery<string[]>('alertIds');
