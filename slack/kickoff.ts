import type { types, webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { incidentRequestSchema } from '../client';
import { loadOwnersFile, mayStartFromSlack, type OwnersFile } from '../lib/owners';
import { slackId } from './binding';
import { escapeMrkdwn, mention } from './messages';
import { slackUsergroupResolver } from './notifier';

/** The button an owner clicks to start containment for someone else's report. */
export const CONFIRM_KICKOFF_ACTION = 'tourniquet_confirm_kickoff';

/** Who may start containment from Slack at once; read from the owners file (`slack.kickoff`). */
export interface KickoffPolicy {
  mayStart(report: { user: string; channel?: string }): Promise<boolean>;
}

/**
 * The owners file is read again at most every `ttlMs`, so an edit takes effect without a restart; a file that
 * cannot be read lets nobody start at once (reports then wait for a confirmation nobody can give: fail closed,
 * and say so in the log).
 */
export function kickoffPolicy(options: {
  ownersFile: string;
  slack: webApi.WebClient;
  logger: Logger;
  ttlMs?: number;
}): KickoffPolicy {
  const ttlMs = options.ttlMs ?? 30_000;
  let cached: { at: number; owners?: OwnersFile } | undefined;
  const groups = new Map<string, { at: number; users: Promise<string[]> }>();
  const resolve = slackUsergroupResolver(options.slack);
  const expand = (group: string): Promise<string[]> => {
    const hit = groups.get(group);
    if (hit && Date.now() - hit.at < ttlMs) return hit.users;
    const users = resolve(group).catch((error: unknown) => {
      groups.delete(group);
      options.logger.warn(
        { usergroup: group, error: (error as Error).message },
        'could not expand user group',
      );
      return [] as string[];
    });
    groups.set(group, { at: Date.now(), users });
    return users;
  };
  return {
    async mayStart(report) {
      if (!cached || Date.now() - cached.at >= ttlMs) {
        const loaded = loadOwnersFile(options.ownersFile);
        if (!loaded.ok) {
          options.logger.error(
            { file: options.ownersFile, issues: loaded.issues.slice(0, 3) },
            'owners file unreadable: nobody may start containment from Slack until it is fixed',
          );
        }
        cached = { at: Date.now(), ...(loaded.ok ? { owners: loaded.owners } : {}) };
      }
      return cached.owners ? mayStartFromSlack(cached.owners, report, expand) : false;
    },
  };
}

/** A report waiting for an owner: what the confirm button carries (Slack returns our own value on the click). */
const pendingReportSchema = z
  .object({
    reporter: slackId,
    secretKind: z.string(),
    connector: z.string(),
    credential: z.string().optional(),
    severity: z.string(),
    secretFingerprint: z.string().optional(),
    hint: z.string().optional(),
  })
  .strict();
export type PendingReport = z.infer<typeof pendingReportSchema>;

const BUTTON_VALUE_LIMIT = 2000;

export function pendingReportOf(
  reporter: string,
  request: z.output<typeof incidentRequestSchema>,
): PendingReport {
  return {
    reporter,
    secretKind: request.secretKind,
    connector: request.connector,
    ...(request.credential ? { credential: request.credential } : {}),
    severity: request.severity,
    ...(request.secretFingerprint ? { secretFingerprint: request.secretFingerprint } : {}),
    ...(request.hint ? { hint: request.hint } : {}),
  };
}

/** The incident request a confirmed report stands for: the reporter raised it, from Slack. */
export function requestOfReport(
  value: string | undefined,
): z.output<typeof incidentRequestSchema> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(value ?? '');
  } catch {
    return undefined;
  }
  const report = pendingReportSchema.safeParse(json);
  if (!report.success) return undefined;
  const { reporter, ...fields } = report.data;
  const request = incidentRequestSchema.safeParse({
    ...fields,
    requester: `slack:${reporter}`,
    source: 'slack',
  });
  return request.success ? request.data : undefined;
}

export interface PendingReportMessage {
  text: string;
  blocks: types.KnownBlock[];
}

/** The message that asks an owner to confirm, or undefined when the report does not fit in a button. */
export function pendingReportMessage(report: PendingReport): PendingReportMessage | undefined {
  const value = JSON.stringify(report);
  if (value.length > BUTTON_VALUE_LIMIT) return undefined;
  const text =
    `:warning: ${mention(report.reporter)} reports a leaked ${escapeMrkdwn(report.secretKind)} in ` +
    `\`${escapeMrkdwn(report.connector)}\` (severity *${escapeMrkdwn(report.severity)}*). ` +
    'Containment has *not* started: an owner confirms it here.';
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: CONFIRM_KICKOFF_ACTION,
            style: 'danger',
            text: { type: 'plain_text', text: 'Start containment' },
            value,
          },
        ],
      },
    ],
  };
}
