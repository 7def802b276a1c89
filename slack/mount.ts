import { Client, type Connection } from '@temporalio/client';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../lib/config';
import { gatewaySigningKey } from '../lib/gateway-key';
import { fingerprintKeyOf } from '../lib/keys';
import { ownersFilePath } from '../lib/owners';
import { mountSlack } from './app';
import { readInventory } from './credential-choice';
import { loadSlackGatewayConfig } from './config';
import type { RefusalReason } from './unverified';

/** Something that adds routes to the gateway (Slack, SIEM webhooks…). */
export type GatewayMount = (app: Express) => void;

/**
 * The Slack mount for the gateway when SLACK_SIGNING_SECRET is set, else undefined. The environment is
 * validated here, at start: a malformed variable stops the gateway with a message naming it.
 */
export function slackGatewayMount(options: {
  config: Config;
  connection: Connection;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  countRefusedRequest?: (reason: RefusalReason) => void;
}): GatewayMount | undefined {
  const slack = loadSlackGatewayConfig(options.env);
  if (!slack) return undefined;
  const { config } = options;
  const temporal = new Client({ connection: options.connection, namespace: config.TEMPORAL_NAMESPACE });
  const fingerprintKey = fingerprintKeyOf(config);
  // Read at start: a missing or wrong key stops the gateway with the variable's name, not the first click.
  const gatewayKey = gatewaySigningKey(config);
  return (app) => {
    mountSlack(app, {
      temporal,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      signingSecret: slack.signingSecret,
      botToken: slack.botToken,
      ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}),
      ...(slack.channel ? { incidentChannel: slack.channel } : {}),
      ...(config.TOURNIQUET_RUNBOOKS_DIR ? { runbooksDir: config.TOURNIQUET_RUNBOOKS_DIR } : {}),
      fingerprintKey,
      gatewayKey,
      ownersFile: ownersFilePath(options.env),
      inventory: () => readInventory(options.env),
      logger: options.logger,
      ...(options.countRefusedRequest ? { countRefusedRequest: options.countRefusedRequest } : {}),
    });
  };
}
