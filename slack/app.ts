import {
  App,
  ExpressReceiver,
  HTTPModuleFunctions,
  type AuthorizeResult,
  type types,
  webApi,
} from '@slack/bolt';
import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { scrubSecrets } from '../lib/scrub';
import {
  ApprovalRefusedError,
  buildIncidentInput,
  reportRefusal,
  startIncident,
  submitDecision,
} from '../client';
import { findRunbook, formatIssues } from '../lib/runbook-files';
import type { ApprovalDecision } from '../lib/runbook/types';
import {
  APPROVE_ACTION,
  CONTAIN_SHORTCUT,
  decodeBinding,
  decodeJson,
  DENY_ACTION,
  DENY_VIEW,
  SECRET_LEAK_COMMAND,
  SECRET_LEAK_VIEW,
  approvalBindingSchema,
  type ApprovalBinding,
} from './binding';
import {
  decodeIntakeMetadata,
  FIELD_BLOCKS,
  fingerprintText,
  parseIntake,
  secretLeakModal,
  type IntakeMetadata,
} from './intake';
import { slackLogger } from './logger';
import { escapeMrkdwn, mention } from './messages';
import { createSlackWebClient } from './notifier';
import { RejectedRequestReporter } from './unverified';

type WebClient = webApi.WebClient;

export interface SlackAppDeps {
  temporal: Client;
  taskQueue: string;
  signingSecret: string;
  botToken: string;
  /** The Slack API base (…/api/): the simulator in tests. */
  slackApiUrl?: string;
  /** Tourniquet's HMAC key for secret fingerprints (TOURNIQUET_FINGERPRINT_KEY). */
  fingerprintKey: Buffer;
  logger: Logger;
  /** The runbook `/secret-leak` starts. */
  runbookId?: string;
  runbooksDir?: string;
  /** Where incident threads live, named in the answer to `/secret-leak`. */
  incidentChannel?: string;
  /** Default `/slack/events`: events, commands, interactivity and shortcuts all post here. */
  endpoint?: string;
  /** Overrides for the WebClient (tests shorten its retries). */
  clientOptions?: webApi.WebClientOptions;
}

export interface MountedSlack {
  bolt: App;
  client: WebClient;
  endpoint: string;
}

const slackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/, 'expected a Slack id');
const slackTs = z.string().regex(/^\d+\.\d+$/, 'expected a Slack timestamp');

/** What a click on an approval button must look like to count: a signed block action on a message. */
const clickSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: slackId }).passthrough(),
  trigger_id: z.string().min(1).max(200).optional(),
  container: z
    .object({
      type: z.string(),
      message_ts: slackTs.optional(),
      channel_id: slackId.optional(),
      is_ephemeral: z.boolean().optional(),
      thread_ts: slackTs.optional(),
    })
    .passthrough(),
  message: z
    .object({ ts: slackTs, bot_id: z.string().optional(), thread_ts: slackTs.optional() })
    .passthrough()
    .optional(),
});
const buttonSchema = z.object({
  action_id: z.string(),
  value: z.string().max(2000).optional(),
  action_ts: z.string().max(50),
});

const denyMetadataSchema = z
  .object({
    binding: approvalBindingSchema,
    channel: slackId,
    threadTs: slackTs.optional(),
  })
  .strict();

const viewSubmissionSchema = z.object({
  user: z.object({ id: slackId }).passthrough(),
  view: z
    .object({
      id: z.string().min(1).max(100),
      private_metadata: z.string().max(3000).optional(),
      state: z.object({ values: z.unknown() }).passthrough(),
    })
    .passthrough(),
});

const commandSchema = z.object({
  user_id: slackId,
  channel_id: slackId,
  trigger_id: z.string().min(1).max(200),
  text: z.string().max(4000).optional(),
});

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

const DENY_REASON_BLOCK = 'reason';
const DENY_REASON_ACTION = 'value';

/** What the user sees when the workflow (or this app) refuses a click. */
export function refusalText(reason: string): string {
  const notOwner = /^not an owner of (.+)$/.exec(reason);
  if (notOwner)
    return `You are not an owner of ${notOwner[1]}: your click was refused and nothing was executed.`;
  return `Refused: ${reason}. Nothing was executed.`;
}

interface Click {
  user: string;
  binding: ApprovalBinding;
  channel: string;
  messageTs: string;
  threadTs?: string;
  triggerId?: string;
  actionTs: string;
}

/**
 * Mounts the Slack app on the gateway: Bolt with an ExpressReceiver at `POST /slack/events`. Bolt verifies
 * every request's v0 signature and refuses timestamps older than five minutes (401) before any listener runs.
 *
 * - Approve / Deny buttons on an approval request send an ApprovalDecision as a Temporal Update (the workflow's
 *   validator is the authority: owner, separation of duties, nonce, parameter hash, deadline). Only a block
 *   action on Tourniquet's own message counts: a forwarded copy or a link preview cannot approve. The request
 *   message is updated in place by the workflow's own notification, the same way for Slack and CLI decisions.
 * - `/secret-leak` opens the intake modal; its submission starts the incident (requester `slack:<user>`).
 * - The "Contain leaked secret" message shortcut fingerprints the message and drops its text, opens the same
 *   modal prefilled, and asks the poster to delete the message.
 */
export function mountSlack(app: Express, deps: SlackAppDeps): MountedSlack {
  const endpoint = deps.endpoint ?? '/slack/events';
  const logger = deps.logger.child({ component: 'slack-app' });
  const client = createSlackWebClient(
    { botToken: deps.botToken, apiUrl: deps.slackApiUrl },
    logger,
    deps.clientOptions,
  );
  const rejected = new RejectedRequestReporter(deps.temporal, logger);

  // Bolt reads the raw body from `req.rawBody` when present; keeping it lets a refused (401) click that binds to
  // an open request be written to the incident's timeline.
  const readRaw = express.raw({ type: () => true, limit: '1mb' });
  app.post(endpoint, (req, res, next) => {
    readRaw(req, res, (error?: unknown) => {
      if (error) {
        // Too large or unreadable: answered here, without the framework's error page.
        res.status((error as { status?: number }).status === 413 ? 413 : 400).end();
        return;
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      (req as unknown as { rawBody: Buffer }).rawBody = raw;
      res.once('finish', () => {
        if (res.statusCode === 401) rejected.report(raw, req.headers);
      });
      next();
    });
  });

  const receiver = new ExpressReceiver({
    signingSecret: deps.signingSecret,
    endpoints: endpoint,
    processBeforeResponse: true,
    app,
    logger: slackLogger(logger, 'bolt-receiver'),
    // Bolt reads a signed body's envelope (`event`, `user`, `team`…) before any listener runs, and throws a
    // TypeError on one Slack never sends: that is a bad request, not a server error, and nothing has executed.
    processEventErrorHandler: async (args) => {
      if (!(args.error instanceof TypeError) || args.response.headersSent) {
        return HTTPModuleFunctions.defaultProcessEventErrorHandler(args);
      }
      logger.warn(
        { error: args.error.message },
        'refused a signed Slack request whose envelope Bolt could not read',
      );
      args.response.writeHead(400).end();
      return true;
    },
  });

  // auth.test once (tells us our bot id); a failure is retried on the next request rather than cached.
  let identity: Promise<{ botId?: string; botUserId?: string }> | undefined;
  const authorize = async (): Promise<AuthorizeResult> => {
    identity ??= client.auth.test().then((result) => ({ botId: result.bot_id, botUserId: result.user_id }));
    try {
      return { botToken: deps.botToken, ...(await identity) };
    } catch (error) {
      identity = undefined;
      throw error;
    }
  };

  const bolt = new App({
    receiver,
    authorize,
    logger: slackLogger(logger, 'bolt'),
    clientOptions: { ...(deps.slackApiUrl ? { slackApiUrl: deps.slackApiUrl } : {}) },
  });
  // Only the message and code: an error object may carry the request it failed on.
  bolt.error((error) => {
    logger.warn({ error: error.message, code: (error as { code?: string }).code }, 'Slack listener failed');
    return Promise.resolve();
  });

  const ephemeral = async (channel: string, user: string, text: string, threadTs?: string) => {
    await client.chat
      .postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) })
      .catch((error: unknown) =>
        logger.warn({ error: (error as Error).message }, 'could not post an ephemeral message'),
      );
  };

  /** A refusal this app decides (not the workflow): told to the user and written to the timeline. */
  const refuseClick = async (click: Click, reason: string) => {
    await reportRefusal(deps.temporal, click.binding.incidentId, {
      stepId: click.binding.stepId,
      actor: `slack:${click.user}`,
      reason,
    });
    await ephemeral(click.channel, click.user, refusalText(reason), click.threadTs);
  };

  /** Parses a click; undefined (after telling the user where possible) when it cannot be an approval. */
  const readClick = async (
    body: unknown,
    action: unknown,
    botId: string | undefined,
  ): Promise<Click | undefined> => {
    const parsed = clickSchema.safeParse(body);
    const button = buttonSchema.safeParse(action);
    if (!parsed.success || !button.success) {
      logger.warn('refused a malformed approval click');
      return undefined;
    }
    const { user, container, message, trigger_id: triggerId } = parsed.data;
    const channel = container.channel_id;
    const binding = decodeBinding(button.data.value);
    if (!binding.ok) {
      logger.warn({ user: user.id, error: binding.error }, 'refused an approval click');
      if (channel) await ephemeral(channel, user.id, refusalText(binding.error), container.thread_ts);
      return undefined;
    }
    const click: Click = {
      user: user.id,
      binding: binding.value,
      channel: channel ?? '',
      messageTs: container.message_ts ?? message?.ts ?? '',
      threadTs: container.thread_ts ?? message?.thread_ts,
      actionTs: button.data.action_ts,
      ...(triggerId ? { triggerId } : {}),
    };
    // Only Tourniquet's own request message carries buttons that count: not a copy in a forwarded message or
    // a link preview (those are someone else's message), not an ephemeral echo, not a modal.
    const ours =
      container.type === 'message' &&
      !container.is_ephemeral &&
      !!channel &&
      !!click.messageTs &&
      !!botId &&
      message?.bot_id === botId;
    if (!ours) {
      if (channel) {
        await refuseClick(
          click,
          "not Tourniquet's own approval request message (a forwarded copy or a link preview cannot approve)",
        );
      }
      return undefined;
    }
    return click;
  };

  bolt.action(
    { type: 'block_actions', action_id: APPROVE_ACTION },
    async ({ ack, body, action, context }) => {
      await ack();
      const click = await readClick(body, action, context.botId);
      if (!click) return;
      const decision: ApprovalDecision = {
        stepId: click.binding.stepId,
        nonce: click.binding.nonce,
        paramsHash: click.binding.paramsHash,
        decision: 'approve',
        approver: { via: 'slack', userId: click.user },
      };
      try {
        // One click, one decision: Slack's retry of the same request, or the same request posted twice, is the
        // same Update id, which Temporal answers with the first outcome instead of counting it again.
        const result = await submitDecision(
          deps.temporal,
          click.binding.incidentId,
          decision,
          `slack:${click.messageTs}:${click.actionTs}:${click.user}`,
        );
        logger.info(
          { incidentId: click.binding.incidentId, user: click.user, ...result },
          'Slack approval accepted',
        );
      } catch (error) {
        if (!(error instanceof ApprovalRefusedError)) throw error;
        logger.info(
          {
            incidentId: click.binding.incidentId,
            stepId: click.binding.stepId,
            user: click.user,
            reason: error.message,
          },
          'Slack approval refused',
        );
        await ephemeral(click.channel, click.user, refusalText(error.message), click.threadTs);
      }
    },
  );

  bolt.action({ type: 'block_actions', action_id: DENY_ACTION }, async ({ ack, body, action, context }) => {
    await ack();
    const click = await readClick(body, action, context.botId);
    if (!click?.triggerId) return;
    const metadata = {
      binding: click.binding,
      channel: click.channel,
      ...(click.threadTs ? { threadTs: click.threadTs } : {}),
    };
    await client.views.open({ trigger_id: click.triggerId, view: denyModal(metadata) });
  });

  bolt.view({ type: 'view_submission', callback_id: DENY_VIEW }, async ({ ack, body }) => {
    const submission = viewSubmissionSchema.safeParse(body);
    const metadata = decodeJson(
      denyMetadataSchema,
      submission.data?.view.private_metadata,
      'private_metadata',
    );
    if (!submission.success || !metadata.ok) {
      await ack({
        response_action: 'errors',
        errors: { [DENY_REASON_BLOCK]: 'Reason: the form could not be read' },
      });
      return;
    }
    const user = submission.data.user.id;
    const reason = readText(submission.data.view.state.values, DENY_REASON_BLOCK, DENY_REASON_ACTION);
    const reasonError = !reason
      ? 'Reason: required'
      : reason.length > 500
        ? 'Reason: at most 500 characters'
        : scrubSecrets(reason, deps.fingerprintKey).findings.length > 0
          ? 'Reason: looks like it contains a secret value; describe it instead'
          : undefined;
    if (reasonError) {
      await ack({ response_action: 'errors', errors: { [DENY_REASON_BLOCK]: reasonError } });
      return;
    }
    const { binding } = metadata.value;
    try {
      await submitDecision(
        deps.temporal,
        binding.incidentId,
        {
          stepId: binding.stepId,
          nonce: binding.nonce,
          paramsHash: binding.paramsHash,
          decision: 'deny',
          reason,
          approver: { via: 'slack', userId: user },
        },
        `slack:view:${submission.data.view.id}:${user}`,
      );
      await ack();
    } catch (error) {
      if (!(error instanceof ApprovalRefusedError)) throw error;
      await ack({ response_action: 'errors', errors: { [DENY_REASON_BLOCK]: refusalText(error.message) } });
    }
  });

  bolt.command(SECRET_LEAK_COMMAND, async ({ ack, body }) => {
    await ack();
    const command = commandSchema.safeParse(body);
    if (!command.success) {
      logger.warn({ field: command.error.issues[0]?.path.join('.') }, 'refused a malformed /secret-leak');
      return;
    }
    const { channel_id: channel, trigger_id: triggerId, text } = command.data;
    // Someone may type the secret itself after the command: fingerprint it, never keep it.
    const fromText =
      text && scrubSecrets(text, deps.fingerprintKey).findings.length > 0
        ? fingerprintText(deps.fingerprintKey, text)
        : {};
    await client.views.open({ trigger_id: triggerId, view: secretLeakModal({ channel, ...fromText }) });
  });

  bolt.shortcut({ type: 'message_action', callback_id: CONTAIN_SHORTCUT }, async ({ ack, shortcut }) => {
    await ack();
    const parsed = shortcutSchema.safeParse(shortcut);
    if (!parsed.success) {
      logger.warn({ field: parsed.error.issues[0]?.path.join('.') }, 'refused a malformed message shortcut');
      return;
    }
    const { user, channel, trigger_id: triggerId, message } = parsed.data;
    const metadata: IntakeMetadata = {
      channel: channel.id,
      ...fingerprintText(deps.fingerprintKey, message.text),
    };
    await client.views.open({ trigger_id: triggerId, view: secretLeakModal(metadata) });
    await askToDelete(client, logger, {
      channel: channel.id,
      poster: message.user,
      reporter: user.id,
      threadTs: message.thread_ts,
    });
  });

  bolt.view({ type: 'view_submission', callback_id: SECRET_LEAK_VIEW }, async ({ ack, body }) => {
    const submission = viewSubmissionSchema.safeParse(body);
    const metadata = decodeIntakeMetadata(submission.data?.view.private_metadata);
    if (!submission.success || !metadata.ok) {
      await ack({
        response_action: 'errors',
        errors: { [FIELD_BLOCKS.secretKind]: 'Secret kind: the form could not be read; open it again' },
      });
      return;
    }
    const user = submission.data.user.id;
    const intake = parseIntake(deps.fingerprintKey, user, submission.data.view.state.values, metadata.value);
    if (!intake.ok) {
      await ack({ response_action: 'errors', errors: intake.errors });
      return;
    }
    const found = findRunbook(deps.runbookId ?? 'leaked-workflow-secret', deps.runbooksDir);
    if (!found.ok) {
      logger.error({ issues: formatIssues(found) }, 'cannot load the runbook /secret-leak starts');
      await ack({
        response_action: 'errors',
        errors: {
          [FIELD_BLOCKS.secretKind]:
            'Secret kind: Tourniquet cannot load its runbook; tell the platform team',
        },
      });
      return;
    }
    const input = buildIncidentInput(found.runbook, intake.request, deps.fingerprintKey);
    const started = await startIncident(deps.temporal, deps.taskQueue, input);
    await ack();
    logger.info(
      { incidentId: started.incidentId, created: started.created, user },
      'incident started from Slack',
    );
    const lines = [
      `:rotating_light: ${mention(user)} ${started.created ? 'started' : 'joined the existing'} incident \`${started.incidentId}\`` +
        ` (severity *${intake.request.severity}*): ${escapeMrkdwn(intake.request.secretKind)} in \`${escapeMrkdwn(intake.request.connector)}\`.`,
      `Containment is running${deps.incidentChannel ? `; follow it in ${escapeMrkdwn(deps.incidentChannel)}` : ''}.`,
      ...(intake.whereSeen ? [`Seen at: ${escapeMrkdwn(intake.whereSeen)}`] : []),
      ...(intake.notes ? [`Notes: ${escapeMrkdwn(intake.notes)}`] : []),
    ];
    await replyInChannel(client, logger, metadata.value.channel, user, lines.join('\n'));
  });

  return { bolt, client, endpoint };
}

function readText(values: unknown, blockId: string, actionId: string): string | undefined {
  const parsed = z
    .record(z.string(), z.record(z.string(), z.object({ value: z.string().nullish() }).passthrough()))
    .safeParse(values);
  const value = parsed.success ? parsed.data[blockId]?.[actionId]?.value : undefined;
  return value?.trim() || undefined;
}

function denyModal(metadata: z.infer<typeof denyMetadataSchema>): types.ModalView {
  return {
    type: 'modal',
    callback_id: DENY_VIEW,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Deny this step' },
    submit: { type: 'plain_text', text: 'Deny' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Deny step \`${escapeMrkdwn(metadata.binding.stepId)}\` of \`${escapeMrkdwn(metadata.binding.incidentId)}\`? It will not run; the incident's runbook decides what happens next.`,
        },
      },
      {
        type: 'input',
        block_id: DENY_REASON_BLOCK,
        label: { type: 'plain_text', text: 'Reason' },
        element: {
          type: 'plain_text_input',
          action_id: DENY_REASON_ACTION,
          multiline: true,
          max_length: 500,
        },
      },
    ],
  };
}

/** Ask whoever posted the secret to delete it (a bot cannot delete other people's messages). */
async function askToDelete(
  client: WebClient,
  logger: Logger,
  target: { channel: string; poster?: string; reporter: string; threadTs?: string },
): Promise<void> {
  const text = target.poster
    ? `:warning: ${mention(target.poster)}, a message you posted here contains a secret. *Please delete it now.* ` +
      `${mention(target.reporter)} reported it and Tourniquet is containing the leak; the secret will be rotated.`
    : `:warning: The reported message was posted by an app: ask its owner to delete it. Tourniquet is containing the leak.`;
  const user = target.poster ?? target.reporter;
  try {
    await client.chat.postEphemeral({
      channel: target.channel,
      user,
      text,
      ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
    });
  } catch {
    // Not in the channel any more (or an ephemeral cannot reach them): a direct message does.
    await client.chat
      .postMessage({ channel: user, text })
      .catch((error: unknown) =>
        logger.warn({ error: (error as Error).message }, 'could not ask the poster to delete the message'),
      );
  }
}

/** Answers in the channel the command came from; a DM to the user when the app cannot post there. */
async function replyInChannel(
  client: WebClient,
  logger: Logger,
  channel: string,
  user: string,
  text: string,
): Promise<void> {
  try {
    await client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false });
  } catch {
    await client.chat
      .postMessage({ channel: user, text })
      .catch((error: unknown) =>
        logger.warn({ error: (error as Error).message }, 'could not answer /secret-leak'),
      );
  }
}
