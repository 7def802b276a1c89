import type { App } from '@slack/bolt';
import { z } from 'zod';
import { buildIncidentInput, sendNote, startIncident } from '../../client';
import { findRunbook, formatIssues } from '../../runbooks';
import { slackId, slackTs } from '../binding';
import { CONFIRM_KICKOFF_ACTION, requestOfReport } from '../kickoff';
import { escapeMrkdwn, mention } from '../messages';
import { postEphemeral, type ListenerDeps } from './shared';

const confirmSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: slackId }).passthrough(),
  container: z.object({ type: z.literal('message'), channel_id: slackId, message_ts: slackTs }).passthrough(),
  message: z.object({ ts: slackTs, bot_id: z.string().optional() }).passthrough(),
});
const buttonSchema = z.object({ value: z.string().max(2000).optional() });

/**
 * "Start containment" on a report someone who may not start it made: the receiver checks the signature, so the
 * clicker is who Slack says; only someone who may start containment (owners file, `slack.kickoff`) can, and only
 * on our own message. The reporter stays the requester; the confirmation is a note in the incident's timeline.
 */
export function register(app: App, deps: ListenerDeps): void {
  app.action(
    { type: 'block_actions', action_id: CONFIRM_KICKOFF_ACTION },
    async ({ ack, body, action, context }) => {
      await ack();
      const click = confirmSchema.safeParse(body);
      const button = buttonSchema.safeParse(action);
      if (!click.success || !button.success) {
        deps.logger.warn('refused a malformed kickoff confirmation');
        return;
      }
      const { user, container, message } = click.data;
      const to = { channel: container.channel_id, user: user.id };
      if (!context.botId || message.bot_id !== context.botId) {
        await postEphemeral(deps, to, "Refused: not Tourniquet's own report message. Nothing was started.");
        return;
      }
      const parsed = requestOfReport(button.data.value);
      if (!parsed) {
        await postEphemeral(deps, to, 'Refused: the report could not be read. Nothing was started.');
        return;
      }
      if (!(await deps.kickoff.mayStart({ user: user.id, channel: container.channel_id }))) {
        deps.logger.info(
          { user: user.id },
          'refused a kickoff confirmation by someone who may not start containment',
        );
        await postEphemeral(
          deps,
          to,
          'Only an owner can start containment for this report: it still waits. Nothing was started.',
        );
        return;
      }
      const found = findRunbook(deps.intake.runbookId, deps.intake.runbooksDir);
      if (!found.ok) {
        deps.logger.error(
          { issues: formatIssues(found) },
          'cannot load the runbook a confirmed report starts',
        );
        await postEphemeral(deps, to, 'Tourniquet cannot load its runbook; tell the platform team.');
        return;
      }
      const started = await startIncident(
        deps.temporal,
        deps.intake.taskQueue,
        buildIncidentInput(found.runbook, parsed, deps.fingerprintKey),
        deps.gatewayKey,
      );
      await sendNote(
        deps.temporal,
        started.incidentId,
        { actor: `slack:${user.id}`, text: `confirmed the report of ${parsed.requester} from Slack` },
        deps.gatewayKey,
      ).catch(() => undefined);
      deps.logger.info(
        { incidentId: started.incidentId, created: started.created, confirmedBy: user.id },
        'incident started from a confirmed Slack report',
      );
      const text =
        `:rotating_light: ${mention(user.id)} confirmed the report of ${mention(parsed.requester.slice('slack:'.length))}: ` +
        `${started.created ? 'started' : 'joined the existing'} incident \`${started.incidentId}\` ` +
        `(${escapeMrkdwn(parsed.secretKind)} in \`${escapeMrkdwn(parsed.connector)}\`).`;
      // The button goes away with the update: one report, one confirmation.
      await deps.slack.chat
        .update({ channel: container.channel_id, ts: container.message_ts, text, blocks: [] })
        .catch((error: unknown) =>
          deps.logger.warn({ error: (error as Error).message }, 'could not update the confirmed report'),
        );
    },
  );
}
