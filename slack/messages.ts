import type { types } from '@slack/bolt';
import { notificationTag, type IncidentNotification } from '../activities/types';
import type { ApprovalRequest } from '../lib/runbook/types';
import {
  APPROVE_ACTION,
  credentialBlockId,
  DENY_ACTION,
  encodeBinding,
  NAME_CREDENTIAL_ACTION,
} from './binding';

/** Block Kit for incident messages. Everything shown comes from the timeline: never a secret value. */

export type Block = types.Block & Record<string, unknown>;

export interface RenderedMessage {
  text: string;
  blocks: Block[];
}

/** Slack's three control characters; escaping them keeps a connector ref from mentioning `<!channel>`. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;

export function mention(userId: string): string {
  return SLACK_USER.test(userId) ? `<@${userId}>` : escapeMrkdwn(userId);
}

/** `slack:U…` → a mention, `key:bob` → bob (signed out-of-band), anything else as plain text. */
export function actorText(actor: string): string {
  if (actor.startsWith('slack:')) return mention(actor.slice('slack:'.length));
  if (actor.startsWith('key:')) return `${escapeMrkdwn(actor.slice('key:'.length))} (signed out-of-band)`;
  if (actor === 'workflow') return 'Tourniquet';
  return escapeMrkdwn(actor);
}

/** A date every reader sees in their own time zone, with the ISO time as fallback. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso}>`;
}

export function prefix(notification: Pick<IncidentNotification, 'exercise' | 'demo'>): string {
  return notificationTag(notification);
}

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

export function incidentOpened(notification: IncidentNotification): RenderedMessage {
  const { event } = notification;
  const head = `${prefix(notification)}:rotating_light: Incident \`${escapeMrkdwn(notification.incidentId)}\` opened, severity *${escapeMrkdwn(notification.severity)}*`;
  const detail = `${escapeMrkdwn(event.detail ?? '')}. Raised by ${actorText(event.actor)}. Updates follow in this thread.`;
  return {
    text: `${head}: ${detail}`,
    blocks: [section(head), section(detail)],
  };
}

function who(policy: ApprovalRequest['policy'], roles: string[]): string {
  const names = roles.map((role) => `*${escapeMrkdwn(role)}*`).join(' or ');
  return policy === 'two-person' ? `two distinct owners of ${names}` : `an owner of ${names}`;
}

function requestFields(request: ApprovalRequest): Block {
  const field = (label: string, value: string) => ({ type: 'mrkdwn', text: `*${label}*\n${value}` });
  return {
    type: 'section',
    fields: [
      field('Action', `\`${escapeMrkdwn(request.action)}\``),
      field('Target', `\`${escapeMrkdwn(request.target)}\``),
      field('Reversible', request.reversible ? 'yes: can be undone' : '*no: irreversible*, cannot be undone'),
      field('Parameter hash', `\`${request.paramsHash}\``),
      field('Deadline', slackDate(request.expiresAt)),
      field('Approvals', `${new Set(request.approvals).size}/${request.required}`),
    ],
  };
}

function buttons(incidentId: string, request: ApprovalRequest): Block {
  const value = encodeBinding({
    incidentId,
    stepId: request.stepId,
    nonce: request.nonce,
    paramsHash: request.paramsHash,
  });
  return {
    type: 'actions',
    block_id: `approval:${request.stepId}`,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION,
        style: 'primary',
        text: { type: 'plain_text', text: 'Approve' },
        value,
      },
      {
        type: 'button',
        action_id: DENY_ACTION,
        style: 'danger',
        text: { type: 'plain_text', text: 'Deny' },
        value,
      },
    ],
  };
}

/** Items listed in a batch request at most: a section's text is capped by Slack; the status lists them all. */
const LISTED_ITEMS = 60;

/** A `forEach` batch: the exact items one click approves (the parameter hash covers exactly this list). */
function batchItems(batch: NonNullable<ApprovalRequest['batch']>): string {
  const shown = batch.items.slice(0, LISTED_ITEMS).map((key, index) => {
    const credential = batch.credentials?.[index];
    return credential && credential !== key
      ? `\`${escapeMrkdwn(credential)}\` (${escapeMrkdwn(key)})`
      : `\`${escapeMrkdwn(key)}\``;
  });
  const more = batch.items.length - shown.length;
  return (
    `*Approve covers all ${batch.items.length} item${batch.items.length === 1 ? '' : 's'}* of step \`${escapeMrkdwn(batch.stepId)}\`: ` +
    `${shown.join(', ')}${more > 0 ? ` and ${more} more (\`tourniquet incident status\` lists them)` : ''}. ` +
    'Deny skips them all.'
  );
}

/** What will be done, by whom it must be approved, and (while open) the buttons bound to this exact request. */
export function approvalRequest(
  notification: IncidentNotification,
  request: ApprovalRequest,
  options: { mentions: string[]; status?: string; open: boolean },
): RenderedMessage {
  const mentions = options.mentions.map(mention).join(' ');
  const escalated = request.escalated ? ' (escalated)' : '';
  const head =
    `${prefix(notification)}:lock: *Approval needed${escalated}* for step \`${escapeMrkdwn(request.stepId)}\`` +
    ` of \`${escapeMrkdwn(notification.incidentId)}\` from ${who(request.policy, request.roles)}` +
    (mentions ? `: ${mentions}` : '');
  const will =
    `Approving runs \`${escapeMrkdwn(request.action)}\` on \`${escapeMrkdwn(request.target)}\`` +
    ` (${request.reversible ? 'reversible' : 'irreversible'}), parameters \`${request.paramsHash}\`, deadline ${slackDate(request.expiresAt)}.`;
  const blocks: Block[] = [section(head), requestFields(request)];
  if (request.batch) blocks.push(section(batchItems(request.batch)));
  if (options.status) blocks.push(section(options.status));
  if (options.open) blocks.push(buttons(notification.incidentId, request));
  blocks.push(context(`${escapeMrkdwn(notification.incidentId)} · request ${escapeMrkdwn(request.nonce)}`));
  const status = options.status ? ` ${options.status}` : '';
  return { text: `${head}. ${will}${status}`, blocks };
}

/** A single line in the incident's thread (step transitions, escalations without a request…). */
export function threadLine(notification: IncidentNotification): RenderedMessage {
  const { event } = notification;
  const step = event.stepId ? ` \`${escapeMrkdwn(event.stepId)}\`` : '';
  const detail = event.detail ? `: ${escapeMrkdwn(event.detail)}` : '';
  let line: string;
  switch (event.type) {
    case 'succeeded':
      line = `:white_check_mark: Step${step} succeeded (${actorText(event.actor)})`;
      break;
    case 'failed':
      line = `:x: Step${step} failed${detail}`;
      break;
    case 'not-configured':
      line = `:no_entry_sign: Step${step} *not configured*, nothing was done${detail}`;
      break;
    case 'break-glass':
      line = `:fire: Break-glass: step${step} auto-executed after deadline (no owner decided in time)`;
      break;
    case 'approved':
      line = `:white_check_mark: Step${step} approved by ${actorText(event.actor)} at ${slackDate(event.at)}${detail}`;
      break;
    case 'denied':
      line = `:no_entry: Step${step} denied by ${actorText(event.actor)} at ${slackDate(event.at)}${detail}`;
      break;
    case 'note':
      line = `:memo: ${event.actor.startsWith('exercise') ? 'Inject' : `Note from ${actorText(event.actor)}`}${detail}`;
      break;
    case 'credential-named':
      line = `:key: Credential named by ${actorText(event.actor)}${detail}`;
      break;
    default:
      line = `${escapeMrkdwn(event.type)}${step}${detail} (${actorText(event.actor)})`;
  }
  const text = `${prefix(notification)}${line}`;
  return { text, blocks: [section(text)] };
}

/** The status line written into a request message once something happened to it. */
export function decisionStatus(notification: IncidentNotification): string {
  const { event } = notification;
  const at = slackDate(event.at);
  const by = actorText(event.actor);
  switch (event.type) {
    case 'approved':
      return `:white_check_mark: *Approved* by ${by} at ${at} (${escapeMrkdwn(event.detail ?? '')}); running now.`;
    case 'approval-recorded':
      return `:ballot_box_with_check: Approval recorded from ${by} at ${at} (${escapeMrkdwn(event.detail ?? '')}); a second, distinct owner is needed.`;
    case 'denied':
      return `:no_entry: *Denied* by ${by} at ${at}: ${escapeMrkdwn(event.detail ?? 'no reason given')}. Nothing was executed.`;
    case 'break-glass':
      return `:fire: *Break-glass*: auto-executed after deadline (${at}); no owner decided in time. Flagged for review.`;
    case 'escalated':
      return `:arrow_right_hook: Superseded at ${at}: ${escapeMrkdwn(event.detail ?? 'escalated')}. Use the new request below; these buttons no longer count.`;
    default:
      return `${escapeMrkdwn(event.type)} at ${at}`;
  }
}

/** The status line of the new request an escalation posts. */
export function escalationStatus(notification: IncidentNotification): string {
  const { event } = notification;
  return `:alarm_clock: Escalated at ${slackDate(event.at)}: ${escapeMrkdwn(event.detail ?? 'deadline passed')}.`;
}

/** An escalation that needs no new request (break-glass follows): a thread line that tells the backup. */
export function escalationLine(notification: IncidentNotification): RenderedMessage {
  const { event } = notification;
  const mentions = (notification.mention ?? []).map(mention).join(' ');
  const text =
    `${prefix(notification)}:alarm_clock: Step \`${escapeMrkdwn(event.stepId ?? '')}\`: ${escapeMrkdwn(event.detail ?? 'deadline passed')}` +
    `${mentions ? ` (${mentions})` : ''}; break-glass applies at this severity.`;
  return { text, blocks: [section(text)] };
}

/** Slack's limits on a static select: 100 options, 75 characters of text, 150 of value. */
const MAX_SELECT_OPTIONS = 100;

/** The candidates the inventory named for an unresolved secret, from the prompt's reason (`(candidates: a, b)`). */
export function promptCandidates(detail: string | undefined): string[] {
  const listed = /\(candidates: ([^)]*)\)/.exec(detail ?? '');
  return listed
    ? listed[1]
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean)
    : [];
}

/**
 * The question to the incident commander when the secret resolved to no inventory credential: who is asked, what
 * waits, and (when the inventory has credentials) a select of them, the resolver's candidates first. A choice goes
 * to the gateway, which checks the chooser before it signs the command.
 */
export function credentialPrompt(
  notification: IncidentNotification,
  credentialIds: readonly string[],
): RenderedMessage {
  const { event } = notification;
  const mentions = (notification.mention ?? []).map(mention).join(' ');
  const head =
    `${prefix(notification)}:question: *Which credential is this?* The leaked secret of ` +
    `\`${escapeMrkdwn(notification.incidentId)}\` matched no inventory credential` +
    (mentions ? `: ${mentions}` : '');
  const detail = escapeMrkdwn(event.detail ?? '');
  const blocks: Block[] = [section(head), section(detail)];
  const option = (id: string) => ({ text: { type: 'plain_text', text: id.slice(0, 75) }, value: id });
  const known = new Set(credentialIds);
  const candidates = promptCandidates(event.detail).filter((id) => known.has(id));
  const others = credentialIds.filter((id) => !candidates.includes(id));
  if (credentialIds.length > 0) {
    const groups = [
      { label: 'Candidates', ids: candidates },
      { label: 'Inventory', ids: others },
    ].filter((group) => group.ids.length > 0);
    let room = MAX_SELECT_OPTIONS;
    const limited = groups.map((group) => {
      const ids = group.ids.slice(0, room);
      room -= ids.length;
      return { ...group, ids };
    });
    blocks.push({
      type: 'actions',
      block_id: credentialBlockId(notification.incidentId),
      elements: [
        {
          type: 'static_select',
          action_id: NAME_CREDENTIAL_ACTION,
          placeholder: { type: 'plain_text', text: 'Name the credential' },
          ...(limited.length > 1
            ? {
                option_groups: limited
                  .filter((group) => group.ids.length > 0)
                  .map((group) => ({
                    label: { type: 'plain_text', text: group.label },
                    options: group.ids.map(option),
                  })),
              }
            : { options: limited[0].ids.map(option) }),
        },
      ],
    });
  }
  blocks.push(
    context('Only an owner of *incident-commander* may choose; the steps on the credential wait for it.'),
  );
  return { text: `${head}. ${detail}`, blocks };
}
