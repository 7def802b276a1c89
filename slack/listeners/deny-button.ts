import type { App } from '@slack/bolt';
import { DENY_ACTION } from '../binding';
import { denyModal } from '../deny-form';
import { ackAndReadClick, onlyOnOurBotMessage, onlyOnTheRequestMessage } from './clicks';
import type { ListenerDeps } from './shared';

/** Deny button: only opens the reason modal, so nothing is decided; the receiver checks the signature. */
export function register(app: App, deps: ListenerDeps): void {
  app.action(
    { type: 'block_actions', action_id: DENY_ACTION },
    ackAndReadClick(deps),
    onlyOnOurBotMessage(deps),
    onlyOnTheRequestMessage(deps),
    async ({ context }) => {
      const { click } = context;
      if (!click.triggerId) return;
      const metadata = {
        binding: click.binding,
        channel: click.channel,
        messageTs: click.messageTs,
        ...(click.threadTs ? { threadTs: click.threadTs } : {}),
      };
      await deps.slack.views.open({ trigger_id: click.triggerId, view: denyModal(metadata) });
    },
  );
}
