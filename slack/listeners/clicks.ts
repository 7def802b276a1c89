import type { BlockAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { incidentStatus, reportRefusal } from '../../client';
import { decodeBinding, type ApprovalBinding } from '../binding';
import { blockActionOnMessage, postEphemeral, refusalText, type ListenerDeps } from './shared';

/** What a click on an approval button must look like to count: a signed block action on a message. */
const clickSchema = blockActionOnMessage.extend({ trigger_id: z.string().min(1).max(200).optional() });
const buttonSchema = z.object({
  action_id: z.string(),
  value: z.string().max(2000).optional(),
  action_ts: z.string().max(50),
});

/** A click on an Approve or Deny button, read by `ackAndReadClick`. */
export interface Click {
  user: string;
  binding: ApprovalBinding;
  /** '' when Slack did not say (the click then cannot be answered where it happened). */
  channel: string;
  messageTs: string;
  threadTs?: string;
  triggerId?: string;
  actionTs: string;
  /** Where the button was: what `onlyOnOurBotMessage` judges. */
  clickedOn: { container: string; ephemeral: boolean; botId?: string };
}

/** What the click middleware hands on in the context: `ackAndReadClick` sets `click`, the rest read it. */
export interface ClickContext {
  click: Click;
}

type ClickArgs = SlackActionMiddlewareArgs<BlockAction>;

/** A refusal this app decides (not the workflow): told to the user and written to the incident's timeline. */
async function refuseClick(deps: ListenerDeps, click: Click, reason: string): Promise<void> {
  await reportRefusal(
    deps.temporal,
    click.binding.incidentId,
    { stepId: click.binding.stepId, actor: `slack:${click.user}`, reason },
    deps.gatewayKey,
  );
  await postEphemeral(
    deps,
    { channel: click.channel, user: click.user, threadTs: click.threadTs },
    refusalText(reason),
  );
}

/**
 * Listener middleware, first on the approval buttons: acknowledges at once (whatever the outcome, Slack gets
 * its answer; refusals reach the user as ephemerals), then reads the click into `context.click`. A click that
 * cannot be an approval goes no further: a malformed one is logged, one whose button value does not decode is
 * refused to the user where possible.
 */
export function ackAndReadClick(deps: ListenerDeps): Middleware<ClickArgs> {
  return async ({ ack, body, action, context, next }) => {
    await ack();
    const parsed = clickSchema.safeParse(body);
    const button = buttonSchema.safeParse(action);
    if (!parsed.success || !button.success) {
      deps.logger.warn('refused a malformed approval click');
      return;
    }
    const { user, container, message, trigger_id: triggerId } = parsed.data;
    const channel = container.channel_id;
    const binding = decodeBinding(button.data.value);
    if (!binding.ok) {
      deps.logger.warn({ user: user.id, error: binding.error }, 'refused an approval click');
      if (channel) {
        await postEphemeral(
          deps,
          { channel, user: user.id, threadTs: container.thread_ts },
          refusalText(binding.error),
        );
      }
      return;
    }
    const click: Click = {
      user: user.id,
      binding: binding.value,
      channel: channel ?? '',
      messageTs: container.message_ts ?? message?.ts ?? '',
      threadTs: container.thread_ts ?? message?.thread_ts,
      actionTs: button.data.action_ts,
      ...(triggerId ? { triggerId } : {}),
      clickedOn: {
        container: container.type,
        ephemeral: container.is_ephemeral ?? false,
        botId: message?.bot_id,
      },
    };
    context.click = click;
    await next();
  };
}

/**
 * Listener middleware, after `ackAndReadClick`: only Tourniquet's own request message carries buttons that
 * count. A copy in a forwarded message or a link preview is someone else's message, an ephemeral echo or a
 * modal is not the request: such a click is refused to the user and on the incident's timeline, and goes no
 * further. Our bot id is the one `authorize` read from auth.test into the context.
 */
export function onlyOnOurBotMessage(deps: ListenerDeps): Middleware<ClickArgs, ClickContext> {
  return async ({ context, next }) => {
    const { click, botId } = context;
    const ours =
      click.clickedOn.container === 'message' &&
      !click.clickedOn.ephemeral &&
      !!click.channel &&
      !!click.messageTs &&
      !!botId &&
      click.clickedOn.botId === botId;
    if (ours) {
      await next();
      return;
    }
    if (click.channel) {
      await refuseClick(
        deps,
        click,
        "not Tourniquet's own approval request message (a forwarded copy or a link preview cannot approve)",
      );
    }
  };
}

/** How long a click waits for the workflow to record the message it was posted as (Slack answers first). */
const REQUEST_MESSAGE_WAIT_MS = 3_000;

/**
 * Listener middleware, after `onlyOnOurBotMessage`: the click must be on the very message that carried this
 * request (the workflow records its channel and ts when Slack answers the post). Another of our messages with
 * the same buttons — an earlier request for the step, a message edited or re-posted elsewhere — cannot approve.
 * A request that is no longer open goes on: the Update validator refuses it with the reason.
 */
export function onlyOnTheRequestMessage(deps: ListenerDeps): Middleware<ClickArgs, ClickContext> {
  return async ({ context, next }) => {
    const { click } = context;
    const deadline = Date.now() + REQUEST_MESSAGE_WAIT_MS;
    for (;;) {
      const status = await incidentStatus(deps.temporal, click.binding.incidentId).catch(() => undefined);
      const request = status?.approvals.find(
        (candidate) => candidate.stepId === click.binding.stepId && candidate.nonce === click.binding.nonce,
      );
      if (!request) {
        await next();
        return;
      }
      if (request.message) {
        if (request.message.channel === click.channel && request.message.ts === click.messageTs) {
          await next();
          return;
        }
        await refuseClick(
          deps,
          click,
          'not the message that carried this approval request (click the request in the incident thread)',
        );
        return;
      }
      if (Date.now() >= deadline) {
        await refuseClick(
          deps,
          click,
          'the approval request message is not recorded yet: try again in a moment',
        );
        return;
      }
      await sleep(100);
    }
  };
}
