import type { App } from '@slack/bolt';
import { buildIncidentInput, startIncident } from '../../client';
import { CredentialResolver, withInventoryCredential } from '../../client/credentials';
import { findRunbook, formatIssues } from '../../runbooks';
import { SECRET_LEAK_VIEW } from '../binding';
import { decodeIntakeMetadata, FIELD_BLOCKS, parseIntake } from '../intake';
import { pendingReportMessage, pendingReportOf, type PendingReportMessage } from '../kickoff';
import { escapeMrkdwn, mention } from '../messages';
import { postOrDirectMessage, readModalSubmission, type ListenerDeps } from './shared';

/** Intake modal: the receiver checks the signature, so the submitter is the requester; secrets are refused. */
export function register(app: App, deps: ListenerDeps): void {
  app.view({ type: 'view_submission', callback_id: SECRET_LEAK_VIEW }, async ({ ack, body }) => {
    const submission = readModalSubmission(body, decodeIntakeMetadata);
    if (!submission) {
      await ack({
        response_action: 'errors',
        errors: { [FIELD_BLOCKS.secretKind]: 'Secret kind: the form could not be read; open it again' },
      });
      return;
    }
    const { user, values, metadata } = submission;
    const intake = parseIntake(deps.fingerprintKey, user, values, metadata);
    if (!intake.ok) {
      await ack({ response_action: 'errors', errors: intake.errors });
      return;
    }
    const found = findRunbook(deps.intake.runbookId, deps.intake.runbooksDir);
    if (!found.ok) {
      deps.logger.error({ issues: formatIssues(found) }, 'cannot load the runbook /secret-leak starts');
      await ack({
        response_action: 'errors',
        errors: {
          [FIELD_BLOCKS.secretKind]:
            'Secret kind: Tourniquet cannot load its runbook; tell the platform team',
        },
      });
      return;
    }
    if (!(await deps.kickoff.mayStart({ user, channel: metadata.channel }))) {
      const pending = pendingReportMessage(pendingReportOf(user, intake.request));
      if (!pending) {
        await ack({
          response_action: 'errors',
          errors: {
            [FIELD_BLOCKS.connector]: 'Connector: too long to hold for an owner; shorten the reference',
          },
        });
        return;
      }
      await ack();
      await askAnOwner(deps, user, metadata.channel, pending);
      return;
    }
    const inventory = deps.inventory();
    const request = withInventoryCredential(
      intake.request,
      inventory.ok ? new CredentialResolver(inventory.inventory) : undefined,
    );
    const input = buildIncidentInput(found.runbook, request, deps.fingerprintKey);
    const started = await startIncident(deps.temporal, deps.intake.taskQueue, input, deps.gatewayKey);
    await ack();
    deps.logger.info(
      { incidentId: started.incidentId, created: started.created, user },
      'incident started from Slack',
    );
    const { incidentChannel } = deps.intake;
    const lines = [
      `:rotating_light: ${mention(user)} ${started.created ? 'started' : 'joined the existing'} incident \`${started.incidentId}\`` +
        ` (severity *${intake.request.severity}*): ${escapeMrkdwn(intake.request.secretKind)} in \`${escapeMrkdwn(intake.request.connector)}\`.`,
      `Containment is running${incidentChannel ? `; follow it in ${escapeMrkdwn(incidentChannel)}` : ''}.`,
      ...(intake.whereSeen ? [`Seen at: ${escapeMrkdwn(intake.whereSeen)}`] : []),
      ...(intake.notes ? [`Notes: ${escapeMrkdwn(intake.notes)}`] : []),
    ];
    const text = lines.join('\n');
    // Answers in the channel the command came from; a DM to the user when the app cannot post there.
    await postOrDirectMessage(
      deps,
      () =>
        deps.slack.chat.postMessage({
          channel: metadata.channel,
          text,
          unfurl_links: false,
          unfurl_media: false,
        }),
      { user, text, failure: 'could not answer /secret-leak' },
    );
  });
}

/**
 * Someone who may not start containment reported a leak: the report goes where owners watch (the incident
 * channel), with one button that starts it; the reporter is told it waits. Nothing has started.
 */
async function askAnOwner(
  deps: ListenerDeps,
  reporter: string,
  reportedIn: string,
  pending: PendingReportMessage,
): Promise<void> {
  const channel = deps.intake.incidentChannel ?? reportedIn;
  const posted = await deps.slack.chat
    .postMessage({ channel, text: pending.text, blocks: pending.blocks, unfurl_links: false })
    .then(
      () => true,
      (error: unknown) => {
        deps.logger.warn(
          { error: (error as Error).message },
          'could not post a report for an owner to confirm',
        );
        return false;
      },
    );
  deps.logger.info({ reporter, posted }, 'Slack report waits for an owner to confirm it');
  const text = posted
    ? `Thanks: your report waits for an owner to confirm it in ${escapeMrkdwn(channel)}. Containment has not started yet.`
    : 'Your report could not be handed to the owners: page the incident commander. Containment has not started.';
  await postOrDirectMessage(
    deps,
    () => deps.slack.chat.postEphemeral({ channel: reportedIn, user: reporter, text }),
    { user: reporter, text, failure: 'could not tell the reporter their report waits' },
  );
}
