import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { outOfBandMessage, slackDecisionMessage } from '../lib/runbook/approval-check';
import type {
  ApprovalDecision,
  ApprovalDecisionResult,
  ApprovalRequest,
  Approver,
} from '../lib/runbook/types';
import { decideStepUpdate, statusQuery } from '../workflows/messages';
import { reportRefusal } from './commands';
import { signEd25519 } from './signing';

export class ApprovalRefusedError extends Error {}

export function identityOf(approver: Approver): string {
  return approver.via === 'slack' ? `slack:${approver.userId}` : `key:${approver.name}`;
}

/**
 * Sends a decision as an Update. A refusal by the workflow's validator executes nothing and writes nothing, so
 * it is reported back, signed with `gatewayKey`, as a command that only adds a timeline entry (who, why).
 */
export async function submitDecision(
  client: Client,
  incidentId: string,
  decision: ApprovalDecision,
  options: { gatewayKey: KeyObject; idempotencyKey?: string },
): Promise<ApprovalDecisionResult> {
  const { gatewayKey, idempotencyKey } = options;
  const handle = client.workflow.getHandle(incidentId);
  try {
    return await handle.executeUpdate(decideStepUpdate, {
      args: [decision],
      ...(idempotencyKey ? { updateId: idempotencyKey } : {}),
    });
  } catch (error) {
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw error;
    const reason =
      error instanceof WorkflowUpdateFailedError
        ? (error.cause?.message ?? error.message)
        : (error as Error).message;
    await reportRefusal(
      client,
      incidentId,
      { stepId: decision.stepId, actor: identityOf(decision.approver), reason },
      gatewayKey,
    );
    throw new ApprovalRefusedError(reason);
  }
}

export async function pendingRequest(
  client: Client,
  incidentId: string,
  stepId: string,
): Promise<ApprovalRequest> {
  const status = await client.workflow.getHandle(incidentId).query(statusQuery);
  const request = status.approvals.find((candidate) => candidate.stepId === stepId);
  if (!request) {
    const waiting = status.approvals.map((candidate) => candidate.stepId).join(', ') || 'none';
    throw new ApprovalRefusedError(
      `step "${stepId}" of ${incidentId} is not awaiting approval (awaiting: ${waiting})`,
    );
  }
  return request;
}

/** An out-of-band decision signed with an approver's ed25519 private key (PEM, PKCS#8). */
export function signOutOfBandDecision(options: {
  incidentId: string;
  request: Pick<ApprovalRequest, 'stepId' | 'nonce' | 'paramsHash'>;
  decision: 'approve' | 'deny';
  reason?: string;
  name: string;
  privateKeyPem: string;
  validForMs?: number;
  now?: number;
}): ApprovalDecision {
  const expiresAt = new Date((options.now ?? Date.now()) + (options.validForMs ?? 5 * 60_000)).toISOString();
  const base = {
    stepId: options.request.stepId,
    nonce: options.request.nonce,
    paramsHash: options.request.paramsHash,
    decision: options.decision,
    ...(options.reason ? { reason: options.reason } : {}),
  };
  const message = outOfBandMessage(options.incidentId, base, expiresAt);
  const signature = signEd25519(createPrivateKey(options.privateKeyPem), message);
  return { ...base, approver: { via: 'out-of-band', name: options.name, expiresAt, signature } };
}

/**
 * A Slack user's decision, vouched for by the gateway's key: called only once Slack's request signature and the
 * message it was clicked on have been checked. Valid for two minutes: it is sent at once.
 */
export function vouchForSlackDecision(options: {
  incidentId: string;
  decision: Omit<ApprovalDecision, 'approver'>;
  userId: string;
  message: { channel: string; ts: string };
  gatewayKey: KeyObject;
  validForMs?: number;
  now?: number;
}): ApprovalDecision {
  const expiresAt = new Date((options.now ?? Date.now()) + (options.validForMs ?? 2 * 60_000)).toISOString();
  const vouch = { message: { ...options.message }, expiresAt };
  const text = slackDecisionMessage(options.incidentId, options.decision, options.userId, vouch);
  return {
    ...options.decision,
    approver: {
      via: 'slack',
      userId: options.userId,
      vouch: { ...vouch, signature: signEd25519(options.gatewayKey, text) },
    },
  };
}

export function readPrivateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new ApprovalRefusedError(`--key: cannot read ${path}`);
  }
}
