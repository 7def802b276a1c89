import type { App } from '@slack/bolt';
import { ApprovalRefusedError, submitDecision, vouchForSlackDecision } from '../../client';
import { APPROVE_ACTION } from '../binding';
import { ackAndReadClick, onlyOnOurBotMessage, onlyOnTheRequestMessage } from './clicks';
import { postEphemeral, refusalText, type ListenerDeps } from './shared';

/** Approve button: the receiver checks the signature, middleware our message, the Update validator the rest. */
export function register(app: App, deps: ListenerDeps): void {
  app.action(
    { type: 'block_actions', action_id: APPROVE_ACTION },
    ackAndReadClick(deps),
    onlyOnOurBotMessage(deps),
    onlyOnTheRequestMessage(deps),
    async ({ context }) => {
      const { click } = context;
      const decision = vouchForSlackDecision({
        incidentId: click.binding.incidentId,
        decision: {
          stepId: click.binding.stepId,
          nonce: click.binding.nonce,
          paramsHash: click.binding.paramsHash,
          decision: 'approve',
        },
        userId: click.user,
        message: { channel: click.channel, ts: click.messageTs },
        gatewayKey: deps.gatewayKey,
      });
      try {
        // One click, one decision: Slack's retry of the same request, or the same request posted twice, is the
        // same Update id, which Temporal answers with the first outcome instead of counting it again.
        const result = await submitDecision(deps.temporal, click.binding.incidentId, decision, {
          gatewayKey: deps.gatewayKey,
          idempotencyKey: `slack:${click.messageTs}:${click.actionTs}:${click.user}`,
        });
        deps.logger.info(
          { incidentId: click.binding.incidentId, user: click.user, ...result },
          'Slack approval accepted',
        );
      } catch (error) {
        if (!(error instanceof ApprovalRefusedError)) throw error;
        deps.logger.info(
          {
            incidentId: click.binding.incidentId,
            stepId: click.binding.stepId,
            user: click.user,
            reason: error.message,
          },
          'Slack approval refused',
        );
        await postEphemeral(
          deps,
          { channel: click.channel, user: click.user, threadTs: click.threadTs },
          refusalText(error.message),
        );
      }
    },
  );
}
