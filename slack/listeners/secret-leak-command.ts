import type { App } from '@slack/bolt';
import { z } from 'zod';
import { scrubSecrets } from '../../lib/scrub';
import { SECRET_LEAK_COMMAND, slackId } from '../binding';
import { fingerprintText, secretLeakModal } from '../intake';
import { warnMalformed, type ListenerDeps } from './shared';

const commandSchema = z.object({
  user_id: slackId,
  channel_id: slackId,
  trigger_id: z.string().min(1).max(200),
  text: z.string().max(4000).optional(),
});

/** `/secret-leak`: only opens the intake modal, nothing starts yet; the receiver checks the signature. */
export function register(app: App, deps: ListenerDeps): void {
  app.command(SECRET_LEAK_COMMAND, async ({ ack, body }) => {
    await ack();
    const command = commandSchema.safeParse(body);
    if (!command.success) {
      warnMalformed(deps, command.error, 'refused a malformed /secret-leak');
      return;
    }
    const { channel_id: channel, trigger_id: triggerId, text } = command.data;
    // Someone may type the secret itself after the command: fingerprint it, never keep it.
    const fromText =
      text && scrubSecrets(text, deps.fingerprintKey).findings.length > 0
        ? fingerprintText(deps.fingerprintKey, text)
        : {};
    await deps.slack.views.open({ trigger_id: triggerId, view: secretLeakModal({ channel, ...fromText }) });
  });
}
