import type { App } from '@slack/bolt';
import { z } from 'zod';
import {
  CommandRefusedError,
  credentialChoiceFor,
  CredentialChoiceError,
  resolveCredential,
} from '../../client';
import { decodeCredentialSelection, NAME_CREDENTIAL_ACTION } from '../binding';
import { INCIDENT_COMMANDER_ROLE } from '../credential-choice';
import { blockActionOnMessage, postEphemeral, refusalText, type ListenerDeps } from './shared';

/** A choice on the prompt: a signed block action on a message. */
const choiceSchema = blockActionOnMessage;
const selectSchema = z
  .object({
    action_id: z.literal(NAME_CREDENTIAL_ACTION),
    block_id: z.string().max(255),
    selected_option: z.object({ value: z.string().max(150) }).passthrough(),
  })
  .passthrough();

/**
 * The credential select on the prompt for an unresolved secret. Bolt has checked Slack's signature; this listener
 * checks that the select was on Tourniquet's own message and that the user owns the incident-commander role, reads
 * the credential from the gateway's own inventory, and sends the signed `resolveCredential` as `slack:<user>`. The
 * workflow refuses it if the credential is not waiting (or was already named); every refusal reaches the user.
 */
export function register(app: App, deps: ListenerDeps): void {
  app.action(
    { type: 'block_actions', action_id: NAME_CREDENTIAL_ACTION },
    async ({ ack, body, action, context }) => {
      await ack();
      const parsed = choiceSchema.safeParse(body);
      const select = selectSchema.safeParse(action);
      if (!parsed.success || !select.success) {
        deps.logger.warn('refused a malformed credential choice');
        return;
      }
      const { user, container, message } = parsed.data;
      const channel = container.channel_id;
      const refuse = async (reason: string, incidentId?: string): Promise<void> => {
        deps.logger.info({ incidentId, user: user.id, reason }, 'Slack credential choice refused');
        if (!channel) return;
        await postEphemeral(
          deps,
          { channel, user: user.id, threadTs: container.thread_ts ?? message?.thread_ts },
          refusalText(reason),
        );
      };
      const choice = decodeCredentialSelection(select.data.block_id, select.data.selected_option.value);
      if (!choice.ok) return refuse(choice.error);
      const { incidentId, credentialId } = choice.value;
      const ours =
        container.type === 'message' &&
        !container.is_ephemeral &&
        !!channel &&
        !!context.botId &&
        message?.bot_id === context.botId;
      if (!ours) {
        return refuse(
          "not Tourniquet's own prompt (a forwarded copy or a link preview cannot name a credential)",
          incidentId,
        );
      }
      if (!(await deps.commanders.isCommander(user.id))) {
        return refuse(`not an owner of ${INCIDENT_COMMANDER_ROLE}`, incidentId);
      }
      const inventory = deps.inventory();
      if (!inventory.ok) return refuse('the gateway cannot read its credential inventory', incidentId);
      const entry = inventory.inventory.byId.get(credentialId);
      if (!entry) return refuse(`${credentialId} is not in the gateway's credential inventory`, incidentId);
      try {
        await resolveCredential(
          deps.temporal,
          incidentId,
          { actor: `slack:${user.id}`, ...credentialChoiceFor(entry) },
          deps.gatewayKey,
        );
      } catch (error) {
        if (error instanceof CommandRefusedError || error instanceof CredentialChoiceError) {
          return refuse(error.message, incidentId);
        }
        throw error;
      }
      deps.logger.info({ incidentId, user: user.id, credentialId }, 'Slack credential choice accepted');
    },
  );
}
