import { webApi } from '@slack/bolt';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Notifier } from '../activities/notify';
import type { IncidentNotification, MessageRef, NotificationResult } from '../activities/types';
import type { UsergroupResolver } from '../lib/owners';
import type { SlackWorkerConfig } from './config';
import { inventoryCredentialIds } from './credential-choice';
import { slackLogger } from './logger';
import {
  approvalRequest,
  credentialPrompt,
  decisionStatus,
  escalationLine,
  escalationStatus,
  incidentOpened,
  threadLine,
  type RenderedMessage,
} from './messages';

type WebClient = webApi.WebClient;
type WebClientOptions = webApi.WebClientOptions;

/** Slack errors worth another attempt; anything else (invalid_auth, channel_not_found…) will not heal. */
const TRANSIENT_PLATFORM_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  'team_added_to_org',
]);

/** An update target that is gone: post a new line instead of failing the notification. */
const MESSAGE_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);

export function createSlackWebClient(
  config: Pick<SlackWorkerConfig, 'botToken' | 'apiUrl'>,
  logger: Logger,
  options: WebClientOptions = {},
): WebClient {
  return new webApi.WebClient(config.botToken, {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
    logger: slackLogger(logger, 'slack-web-api'),
    // A failing call fails the activity, and Temporal's retry policy (with its backoff) takes over: the
    // client's own retries stay short so one attempt fits well inside the activity's timeout.
    retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2000 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    ...options,
  });
}

/** Maps a WebClient error to what Temporal should do with the activity attempt. The message names no secret. */
export function activityError(method: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  if (code === webApi.ErrorCode.RateLimitedError) {
    const retryAfter = (error as webApi.WebAPIRateLimitedError).retryAfter;
    return ApplicationFailure.create({
      message: `Slack ${method}: ratelimited, retry after ${retryAfter}s`,
      type: 'SlackRateLimited',
      nextRetryDelay: Math.max(1, retryAfter) * 1000,
    });
  }
  if (code === webApi.ErrorCode.PlatformError) {
    const slackError = (error as webApi.WebAPIPlatformError).data.error;
    const message = `Slack ${method}: ${slackError}`;
    return TRANSIENT_PLATFORM_ERRORS.has(slackError)
      ? ApplicationFailure.retryable(message, 'SlackPlatformError')
      : ApplicationFailure.nonRetryable(message, 'SlackPlatformError');
  }
  if (code === webApi.ErrorCode.HTTPError) {
    const status = (error as webApi.WebAPIHTTPError).statusCode;
    return ApplicationFailure.retryable(`Slack ${method}: HTTP ${status}`, 'SlackHTTPError');
  }
  if (code === webApi.ErrorCode.RequestError) {
    return ApplicationFailure.retryable(`Slack ${method}: request failed`, 'SlackRequestError');
  }
  return error instanceof Error ? error : new Error(String(error));
}

function platformError(error: unknown): string | undefined {
  return (error as { code?: string }).code === webApi.ErrorCode.PlatformError
    ? (error as webApi.WebAPIPlatformError).data.error
    : undefined;
}

/**
 * Incident messages in Slack: the opening message in the incident channel becomes the incident's thread;
 * approval requests, escalations, break-glass and step transitions go into that thread. A decided request is
 * updated in place (who decided, and when). Errors propagate, so the `notify` activity is retried.
 */
export class SlackNotifier implements Notifier {
  constructor(
    private readonly client: WebClient,
    private readonly channel: string,
    /**
     * The inventory credential ids the prompt for an unresolved credential offers; by default this process's
     * inventory (`TOURNIQUET_INVENTORY`). The gateway checks a choice against its own.
     */
    private readonly credentialIds: () => string[] = () => inventoryCredentialIds(),
  ) {}

  async notify(notification: IncidentNotification): Promise<NotificationResult> {
    const { event, request } = notification;
    switch (event.type) {
      case 'incident-opened':
        return { message: await this.post(notification, incidentOpened(notification), false) };
      case 'credential-requested':
        await this.post(notification, credentialPrompt(notification, this.credentialIds()));
        return {};
      case 'approval-requested':
        if (!request) break;
        return {
          message: await this.post(
            notification,
            approvalRequest(notification, request, { mentions: notification.mention ?? [], open: true }),
          ),
        };
      case 'escalated': {
        if (!request) break;
        if (request.breakGlassEligible) {
          // Break-glass follows at once: no new request to click, the original message records the outcome.
          await this.post(notification, escalationLine(notification));
          return notification.replaces ? { message: notification.replaces } : {};
        }
        // The old request's buttons carry the old nonce: say so in place, then ask the backup anew.
        if (notification.replaces) {
          await this.replace(
            notification.replaces,
            approvalRequest(notification, request, {
              mentions: [],
              status: decisionStatus(notification),
              open: false,
            }),
          );
        }
        return {
          message: await this.post(
            notification,
            approvalRequest(notification, request, {
              mentions: notification.mention ?? [],
              status: escalationStatus(notification),
              open: true,
            }),
          ),
        };
      }
      case 'approved':
      case 'denied':
      case 'approval-recorded':
      case 'break-glass': {
        if (!request) break;
        const stillOpen = event.type === 'approval-recorded';
        const updated = notification.replaces
          ? await this.replace(
              notification.replaces,
              approvalRequest(notification, request, {
                mentions: [],
                status: decisionStatus(notification),
                open: stillOpen,
              }),
            )
          : false;
        // Break-glass is always said out loud in the thread; other decisions only when the request is gone.
        if (event.type === 'break-glass' || !updated) await this.post(notification, threadLine(notification));
        return {};
      }
      default:
        break;
    }
    await this.post(notification, threadLine(notification));
    return {};
  }

  /** Posts into the incident's thread (or the channel when there is none yet); returns where it landed. */
  private async post(
    notification: IncidentNotification,
    message: RenderedMessage,
    threaded = true,
  ): Promise<MessageRef> {
    const thread = threaded ? notification.thread : undefined;
    try {
      const result = await this.client.chat.postMessage({
        channel: thread?.channel ?? this.channel,
        ...(thread ? { thread_ts: thread.ts } : {}),
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!result.channel || !result.ts)
        throw new Error('Slack chat.postMessage: no channel or ts in the answer');
      return { channel: result.channel, ts: result.ts };
    } catch (error) {
      throw activityError('chat.postMessage', error);
    }
  }

  /** Replaces a message in place; false when it is gone (deleted), so the caller posts instead. */
  private async replace(target: MessageRef, message: RenderedMessage): Promise<boolean> {
    try {
      await this.client.chat.update({
        channel: target.channel,
        ts: target.ts,
        text: message.text,
        blocks: message.blocks,
      });
      return true;
    } catch (error) {
      if (MESSAGE_GONE.has(platformError(error) ?? '')) return false;
      throw activityError('chat.update', error);
    }
  }
}

/** Expands a Slack user group (`S…`) to its active members, for the owners matrix. */
export function slackUsergroupResolver(client: WebClient): UsergroupResolver {
  return async (usergroupId: string) => {
    try {
      const result = await client.usergroups.users.list({ usergroup: usergroupId });
      return result.users ?? [];
    } catch (error) {
      throw activityError('usergroups.users.list', error);
    }
  };
}

export function createSlackNotifier(config: SlackWorkerConfig, logger: Logger): SlackNotifier {
  return new SlackNotifier(createSlackWebClient(config, logger), config.channel);
}
