import type { App } from '@slack/bolt';
import { z } from 'zod';
import { CONTAIN_SHORTCUT, slackId, slackTs } from '../binding';
import { fingerprintText, secretLeakModal, type IntakeMetadata } from '../intake';
import { mention } from '../messages';
import { postOrDirectMessage, warnMalformed, type ListenerDeps } from './shared';

const shortcutSchema = z.object({
  type: z.literal('message_action'),
  user: z.object({ id: slackId }).passthrough(),
  channel: z.object({ id: slackId }).passthrough(),
  trigger_id: z.string().min(1).max(200),
  message: z
    .object({
      ts: slackTs,
      text: z.string().max(40_000).default(''),
      user: slackId.optional(),
      thread_ts: slackTs.optional(),
    })
    .passthrough(),
});

/** "Contain leaked secret" shortcut: keeps a fingerprint, never the text; the receiver checks the signature. */
export function register(app: App, deps: ListenerDeps): void {
  app.shortcut({ type: 'message_action', callback_id: CONTAIN_SHORTCUT }, async ({ ack, shortcut }) => {
    await ack();
    const parsed = shortcutSchema.safeParse(shortcut);
    if (!parsed.success) {
      warnMalformed(deps, parsed.error, 'refused a malformed message shortcut');
      return;
    }
    const { user, channel, trigger_id: triggerId, message } = parsed.data;
    const metadata: IntakeMetadata = {
      channel: channel.id,
      ...fingerprintText(deps.fingerprintKey, message.text),
    };
    await deps.slack.views.open({ trigger_id: triggerId, view: secretLeakModal(metadata) });
    await askToDelete(deps, {
      channel: channel.id,
      poster: message.user,
      reporter: user.id,
      threadTs: message.thread_ts,
    });
  });
}

/** Ask whoever posted the secret to delete it (a bot cannot delete other people's messages). */
async function askToDelete(
  deps: ListenerDeps,
  target: { channel: string; poster?: string; reporter: string; threadTs?: string },
): Promise<void> {
  const text = target.poster
    ? `:warning: ${mention(target.poster)}, a message you posted here contains a secret. *Please delete it now.* ` +
      `${mention(target.reporter)} reported it and Tourniquet is containing the leak; the secret will be rotated.`
    : `:warning: The reported message was posted by an app: ask its owner to delete it. Tourniquet is containing the leak.`;
  const user = target.poster ?? target.reporter;
  await postOrDirectMessage(
    deps,
    () =>
      deps.slack.chat.postEphemeral({
        channel: target.channel,
        user,
        text,
        ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
      }),
    { user, text, failure: 'could not ask the poster to delete the message' },
  );
}
