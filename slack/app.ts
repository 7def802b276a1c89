import type { KeyObject } from 'node:crypto';
import { App, ExpressReceiver, HTTPModuleFunctions, type AuthorizeResult, webApi } from '@slack/bolt';
import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { registerListeners } from './listeners';
import { slackLogger } from './logger';
import { commanderPolicy, readInventory } from './credential-choice';
import { createSlackWebClient, slackUsergroupResolver } from './notifier';
import { RefusedRequestCounter, type RefusalReason } from './unverified';
import { kickoffPolicy } from './kickoff';
import type { InventoryResult } from '../lib/inventory';
import { ownersFilePath } from '../lib/owners';

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
  /** The gateway's ed25519 key: it signs each verified Slack decision, the only kind the workflow accepts. */
  gatewayKey: KeyObject;
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
  /** The owners file whose people (or `slack.kickoff`) may start containment; default TOURNIQUET_OWNERS_FILE. */
  ownersFile?: string;
  /** Counts requests refused before any listener ran (the gateway's `/metrics`). */
  countRefusedRequest?: (reason: RefusalReason) => void;
  /** The credential inventory a choice on the unresolved-credential prompt is read from; default TOURNIQUET_INVENTORY. */
  inventory?: () => InventoryResult;
}

export interface MountedSlack {
  bolt: App;
  client: WebClient;
  endpoint: string;
}

/**
 * Mounts the Slack app on the gateway: Bolt with an ExpressReceiver at `POST /slack/events`. Bolt verifies
 * every request's v0 signature and refuses timestamps older than five minutes (401) before any listener runs.
 * The listeners are in `./listeners`, one file per interaction:
 *
 * - Approve / Deny buttons on an approval request send an ApprovalDecision as a Temporal Update (the workflow's
 *   validator is the authority: owner, separation of duties, nonce, parameter hash, deadline). Only a block
 *   action on Tourniquet's own message counts (listener middleware `onlyOnOurBotMessage`, with the bot id
 *   `authorize` puts in the context): a forwarded copy or a link preview cannot approve. The request
 *   message is updated in place by the workflow's own notification, the same way for Slack and CLI decisions.
 * - `/secret-leak` opens the intake modal; its submission starts the incident (requester `slack:<user>`).
 * - The "Contain leaked secret" message shortcut fingerprints the message and drops its text, opens the same
 *   modal prefilled, and asks the poster to delete the message.
 * - The credential select on the prompt for an unresolved secret: an owner of incident-commander names the
 *   credential from the gateway's inventory, sent as the signed `resolveCredential`.
 */
export function mountSlack(app: Express, deps: SlackAppDeps): MountedSlack {
  const endpoint = deps.endpoint ?? '/slack/events';
  const logger = deps.logger.child({ component: 'slack-app' });
  const client = createSlackWebClient(
    { botToken: deps.botToken, apiUrl: deps.slackApiUrl },
    logger,
    deps.clientOptions,
  );
  const refused = new RefusedRequestCounter(logger, deps.countRefusedRequest);

  // Bolt reads the raw body from `req.rawBody` when present; keeping it lets a refused (401) request be counted
  // and logged with what it claimed to be.
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
        if (res.statusCode === 401) refused.report(raw, req.headers);
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

  registerListeners(bolt, {
    temporal: deps.temporal,
    slack: client,
    logger,
    fingerprintKey: deps.fingerprintKey,
    gatewayKey: deps.gatewayKey,
    kickoff: kickoffPolicy({ ownersFile: deps.ownersFile ?? ownersFilePath(), slack: client, logger }),
    commanders: commanderPolicy({
      ownersFile: deps.ownersFile ?? ownersFilePath(),
      expandUsergroup: slackUsergroupResolver(client),
      logger,
    }),
    inventory: deps.inventory ?? (() => readInventory()),
    intake: {
      taskQueue: deps.taskQueue,
      runbookId: deps.runbookId ?? 'leaked-workflow-secret',
      runbooksDir: deps.runbooksDir,
      incidentChannel: deps.incidentChannel,
    },
  });

  return { bolt, client, endpoint };
}
