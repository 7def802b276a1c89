import type { Logger } from 'pino';
import { LogNotifier, type Notifier } from '../activities/notify';
import type { Config } from '../lib/config';
import { trustedGatewayKeys } from '../lib/gateway-key';
import { loadSlackWorkerConfig } from '../slack/config';
import { createSlackNotifier, createSlackWebClient, slackUsergroupResolver } from '../slack/notifier';
import {
  ensureOperatorKeys,
  loadOwnersFile,
  ownersFilePath,
  OwnerDirectory,
  type UsergroupResolver,
} from '../lib/owners';

export class OwnersConfigError extends Error {}

/** The owners matrix the worker approves against; an invalid file stops the worker at start, not mid-incident. */
export function loadOwnerDirectory(
  config: Config,
  logger: Logger,
  expandUsergroup: UsergroupResolver | undefined = slackUsergroups(logger),
): OwnerDirectory {
  const loaded = loadOwnersFile(ownersFilePath());
  if (!loaded.ok) {
    throw new OwnersConfigError(
      loaded.issues.map((issue) => `${loaded.file}: ${issue.path}: ${issue.message}`).join('\n'),
    );
  }
  const created = ensureOperatorKeys(loaded.owners, config.dataDir);
  if (created.length > 0) logger.info({ keys: created }, 'created out-of-band operator keys');
  return new OwnerDirectory(loaded.owners, config.dataDir, {
    gatewayKeys: trustedGatewayKeys(config),
    expandUsergroup,
  });
}

/** Slack when SLACK_BOT_TOKEN is set (SLACK_INCIDENT_CHANNEL then required), the log otherwise. */
export function createNotifier(_config: Config, logger: Logger): Notifier {
  const slack = loadSlackWorkerConfig();
  return slack ? createSlackNotifier(slack, logger) : new LogNotifier(logger);
}

/** Owners' Slack user groups are expanded with `usergroups.users.list` when Slack is configured. */
function slackUsergroups(logger: Logger): UsergroupResolver | undefined {
  const slack = loadSlackWorkerConfig();
  return slack ? slackUsergroupResolver(createSlackWebClient(slack, logger)) : undefined;
}
