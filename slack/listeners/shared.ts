import type { KeyObject } from 'node:crypto';
import type { App, webApi } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { slackId, slackTs, type Decoded } from '../binding';
import type { InventoryResult } from '../../lib/inventory';
import type { CommanderPolicy } from '../credential-choice';
import type { KickoffPolicy } from '../kickoff';

/** What every Bolt listener is handed by `mountSlack`: the services it calls and the settings it reads. */
export interface ListenerDeps {
  /** Where decisions go (as Updates the workflow validates) and incidents start. */
  temporal: Client;
  /**
   * The bot's Web API client, not Bolt's per-request `client`: it points at `slackApiUrl` (the simulator in
   * tests), routes its logs to pino and keeps the retries `clientOptions` set.
   */
  slack: webApi.WebClient;
  logger: Logger;
  /** Tourniquet's HMAC key: a secret someone types or reports is fingerprinted with it, never kept. */
  fingerprintKey: Buffer;
  /** Signs each decision once Slack's signature and the clicked message are checked: the workflow wants it. */
  gatewayKey: KeyObject;
  /** Who may start containment at once; anyone else's report waits for one of them to confirm it. */
  kickoff: KickoffPolicy;
  /** Who may name the credential of an incident whose secret the inventory could not resolve. */
  commanders: CommanderPolicy;
  /** The gateway's credential inventory, read on each choice: a named credential comes from it, never the click. */
  inventory: () => InventoryResult;
  /** What the intake modal's submission starts, and where its answer says the incident lives. */
  intake: {
    taskQueue: string;
    runbookId: string;
    runbooksDir?: string;
    incidentChannel?: string;
  };
}

/** A listener file: `registerListeners` calls each one's `register` once, when the app is mounted. */
export interface SlackListener {
  register(app: App, deps: ListenerDeps): void;
}

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

/** A submission of one of our modals, with the metadata the modal was opened with. */
export interface ModalSubmission<Metadata> {
  user: string;
  viewId: string;
  values: unknown;
  metadata: Metadata;
}

/** Undefined when the submission or its metadata cannot be read: the modal then asks to be filled in again. */
export function readModalSubmission<Metadata>(
  body: unknown,
  decodeMetadata: (text: string | undefined) => Decoded<Metadata>,
): ModalSubmission<Metadata> | undefined {
  const submission = viewSubmissionSchema.safeParse(body);
  if (!submission.success) return undefined;
  const { user, view } = submission.data;
  const metadata = decodeMetadata(view.private_metadata);
  if (!metadata.ok) return undefined;
  return { user: user.id, viewId: view.id, values: view.state.values, metadata: metadata.value };
}

/** What the user sees when the workflow (or this app) refuses a click. */
export function refusalText(reason: string): string {
  const notOwner = /^not an owner of (.+)$/.exec(reason);
  if (notOwner)
    return `You are not an owner of ${notOwner[1]}: your click was refused and nothing was executed.`;
  return `Refused: ${reason}. Nothing was executed.`;
}

/** Where a reply only one user sees goes. */
export interface EphemeralTarget {
  channel: string;
  user: string;
  threadTs?: string;
}

/** Never throws: the interaction is already acknowledged, so a failed reply is only worth a log line. */
export async function postEphemeral(deps: ListenerDeps, to: EphemeralTarget, text: string): Promise<void> {
  await deps.slack.chat
    .postEphemeral({
      channel: to.channel,
      user: to.user,
      text,
      ...(to.threadTs ? { thread_ts: to.threadTs } : {}),
    })
    .catch((error: unknown) =>
      deps.logger.warn({ error: (error as Error).message }, 'could not post an ephemeral message'),
    );
}

/**
 * Posts with `post`; when Slack refuses that (the app is not in the channel, an ephemeral cannot reach the
 * user…), the same text goes to `user` as a direct message, which reaches them anywhere.
 */
export async function postOrDirectMessage(
  deps: ListenerDeps,
  post: () => Promise<unknown>,
  fallback: { user: string; text: string; failure: string },
): Promise<void> {
  try {
    await post();
  } catch {
    await deps.slack.chat
      .postMessage({ channel: fallback.user, text: fallback.text })
      .catch((error: unknown) => deps.logger.warn({ error: (error as Error).message }, fallback.failure));
  }
}

/** Names the first field a malformed payload got wrong, never its value (it may hold the leaked secret). */
export function warnMalformed(deps: ListenerDeps, error: z.ZodError, message: string): void {
  deps.logger.warn({ field: error.issues[0]?.path.join('.') }, message);
}

/** What an interaction with one of the bot's messages must look like to count: a signed block action on a message. */
export const blockActionOnMessage = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: slackId }).passthrough(),
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
