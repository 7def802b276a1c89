import type { App } from '@slack/bolt';
import { ApprovalRefusedError, submitDecision, vouchForSlackDecision } from '../../client';
import { DENY_VIEW } from '../binding';
import { DENY_REASON_BLOCK, decodeDenyMetadata, readDenyReason } from '../deny-form';
import { readModalSubmission, refusalText, type ListenerDeps } from './shared';

/** Deny reason modal: the receiver checks the signature, the Update validator the binding it carries back. */
export function register(app: App, deps: ListenerDeps): void {
  app.view({ type: 'view_submission', callback_id: DENY_VIEW }, async ({ ack, body }) => {
    const submission = readModalSubmission(body, decodeDenyMetadata);
    if (!submission) {
      await ack({
        response_action: 'errors',
        errors: { [DENY_REASON_BLOCK]: 'Reason: the form could not be read' },
      });
      return;
    }
    const { user, viewId, values, metadata } = submission;
    const reason = readDenyReason(deps.fingerprintKey, values);
    if (!reason.ok) {
      await ack({ response_action: 'errors', errors: { [DENY_REASON_BLOCK]: reason.error } });
      return;
    }
    const { binding } = metadata;
    try {
      await submitDecision(
        deps.temporal,
        binding.incidentId,
        vouchForSlackDecision({
          incidentId: binding.incidentId,
          decision: {
            stepId: binding.stepId,
            nonce: binding.nonce,
            paramsHash: binding.paramsHash,
            decision: 'deny',
            reason: reason.reason,
          },
          userId: user,
          // The message the Deny button was clicked on, checked before the modal opened.
          message: { channel: metadata.channel, ts: metadata.messageTs },
          gatewayKey: deps.gatewayKey,
        }),
        { gatewayKey: deps.gatewayKey, idempotencyKey: `slack:view:${viewId}:${user}` },
      );
      await ack();
    } catch (error) {
      if (!(error instanceof ApprovalRefusedError)) throw error;
      await ack({ response_action: 'errors', errors: { [DENY_REASON_BLOCK]: refusalText(error.message) } });
    }
  });
}
