import { createHmac, randomBytes, randomInt } from 'node:crypto';

/**
 * Builds Slack's inbound requests the way Slack sends them: v0-signed, interactions form-encoded as
 * `payload=<json>`, slash commands as plain form fields. Payload shapes follow docs.slack.dev
 * (block_actions, view_submission, message_action, slash commands).
 */

// A type alias (not an interface) so it fits `Record<string, string>` and fetch's `headers`.
export type SlackSignatureHeaders = {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
};

/** `v0=` + hex HMAC-SHA256(signing secret, `v0:<timestamp>:<raw body>`). */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string | Buffer,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const timestamp = String(timestampSeconds);
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return { 'x-slack-signature': `v0=${hmac.digest('hex')}`, 'x-slack-request-timestamp': timestamp };
}

export interface SlackActor {
  id: string;
  name?: string;
  teamId?: string;
}

export interface SlackTeam {
  id: string;
  domain: string;
}

export const DEFAULT_TEAM: SlackTeam = { id: 'T0TOURNIQ1', domain: 'acme' };
export const DEFAULT_API_APP_ID = 'A0TOURNAPP';

/** The format Slack uses, e.g. `1234567.8901234567.0123abcd…`. */
export function randomTriggerId(): string {
  return `${randomInt(1e6, 1e7)}.${randomInt(1e9, 1e10)}.${randomBytes(16).toString('hex')}`;
}

function randomResponseUrl(team: SlackTeam): string {
  return `https://hooks.slack.com/actions/${team.id}/${randomInt(1e9, 1e10)}/${randomBytes(12).toString('hex')}`;
}

function userObject(user: SlackActor, team: SlackTeam) {
  const name = user.name ?? user.id.toLowerCase();
  return { id: user.id, username: name, name, team_id: user.teamId ?? team.id };
}

interface CommonOptions {
  user: SlackActor;
  team?: SlackTeam;
  apiAppId?: string;
  triggerId?: string;
  /** The deprecated verification token Slack still includes. */
  token?: string;
}

export interface BlockAction {
  actionId: string;
  blockId: string;
  value?: string;
  type?: string;
  text?: string;
  style?: 'primary' | 'danger';
  selectedOption?: { text: string; value: string };
}

export interface BlockActionsOptions extends CommonOptions {
  actions: BlockAction[];
  /** An action on a message (the default) or on an open view. */
  message?: {
    channel: { id: string; name?: string };
    ts: string;
    text?: string;
    blocks?: unknown[];
    /** Who posted the message: the app's bot for approval requests. */
    botId?: string;
    user?: string;
    threadTs?: string;
    isEphemeral?: boolean;
  };
  view?: { id: string; callbackId?: string; privateMetadata?: string; hash?: string; blocks?: unknown[] };
  responseUrl?: string;
  stateValues?: Record<string, Record<string, unknown>>;
}

export function blockActionsPayload(options: BlockActionsOptions): Record<string, unknown> {
  const team = options.team ?? DEFAULT_TEAM;
  const actionTs = `${Math.floor(Date.now() / 1000)}.${String(randomInt(1e6)).padStart(6, '0')}`;
  const actions = options.actions.map((action) => ({
    type: action.type ?? 'button',
    action_id: action.actionId,
    block_id: action.blockId,
    ...(action.text === undefined ? {} : { text: { type: 'plain_text', text: action.text, emoji: true } }),
    ...(action.value === undefined ? {} : { value: action.value }),
    ...(action.style === undefined ? {} : { style: action.style }),
    ...(action.selectedOption === undefined
      ? {}
      : {
          selected_option: {
            text: { type: 'plain_text', text: action.selectedOption.text, emoji: true },
            value: action.selectedOption.value,
          },
        }),
    action_ts: actionTs,
  }));
  const base = {
    type: 'block_actions',
    user: userObject(options.user, team),
    api_app_id: options.apiAppId ?? DEFAULT_API_APP_ID,
    token: options.token ?? 'verification-token-deprecated',
    trigger_id: options.triggerId ?? randomTriggerId(),
    team,
    enterprise: null,
    is_enterprise_install: false,
    actions,
    state: { values: options.stateValues ?? {} },
  };
  if (options.view) {
    return {
      ...base,
      container: { type: 'view', view_id: options.view.id },
      view: {
        id: options.view.id,
        team_id: team.id,
        type: 'modal',
        callback_id: options.view.callbackId ?? '',
        private_metadata: options.view.privateMetadata ?? '',
        blocks: options.view.blocks ?? [],
        state: { values: options.stateValues ?? {} },
        hash: options.view.hash ?? `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
        app_id: options.apiAppId ?? DEFAULT_API_APP_ID,
      },
    };
  }
  const message = options.message;
  if (!message) throw new Error('blockActionsPayload: give message or view');
  return {
    ...base,
    container: {
      type: 'message',
      message_ts: message.ts,
      channel_id: message.channel.id,
      is_ephemeral: message.isEphemeral ?? false,
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
    },
    channel: { id: message.channel.id, name: message.channel.name ?? message.channel.id.toLowerCase() },
    message: {
      type: 'message',
      ts: message.ts,
      text: message.text ?? '',
      ...(message.botId ? { bot_id: message.botId, subtype: 'bot_message' } : {}),
      ...(message.user ? { user: message.user } : {}),
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      blocks: message.blocks ?? [],
    },
    response_url: options.responseUrl ?? randomResponseUrl(team),
  };
}

export interface ViewSubmissionOptions extends CommonOptions {
  callbackId: string;
  /** Slack's shape: `{ [block_id]: { [action_id]: { type, value | selected_option | … } } }`. */
  stateValues: Record<string, Record<string, unknown>>;
  privateMetadata?: string;
  viewId?: string;
  hash?: string;
  blocks?: unknown[];
  responseUrls?: { block_id: string; action_id: string; channel_id: string; response_url: string }[];
}

export function viewSubmissionPayload(options: ViewSubmissionOptions): Record<string, unknown> {
  const team = options.team ?? DEFAULT_TEAM;
  const viewId = options.viewId ?? `V${randomBytes(5).toString('hex').toUpperCase()}`;
  return {
    type: 'view_submission',
    team,
    user: userObject(options.user, team),
    api_app_id: options.apiAppId ?? DEFAULT_API_APP_ID,
    token: options.token ?? 'verification-token-deprecated',
    trigger_id: options.triggerId ?? randomTriggerId(),
    view: {
      id: viewId,
      team_id: team.id,
      type: 'modal',
      blocks: options.blocks ?? [],
      private_metadata: options.privateMetadata ?? '',
      callback_id: options.callbackId,
      state: { values: options.stateValues },
      hash: options.hash ?? `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: { type: 'plain_text', text: 'Tourniquet', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: { type: 'plain_text', text: 'Submit', emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: options.apiAppId ?? DEFAULT_API_APP_ID,
      external_id: '',
      app_installed_team_id: team.id,
      bot_id: 'B0TOURNBOT',
    },
    response_urls: options.responseUrls ?? [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** `{ block: { action: 'text' } }` → Slack's plain-text-input state values. */
export function plainTextValues(
  values: Record<string, Record<string, string>>,
): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(values).map(([blockId, actions]) => [
      blockId,
      Object.fromEntries(
        Object.entries(actions).map(([actionId, value]) => [actionId, { type: 'plain_text_input', value }]),
      ),
    ]),
  );
}

/** A static select's state value, as Slack reports the chosen option. */
export function selectedOptionValue(text: string, value: string): Record<string, unknown> {
  return {
    type: 'static_select',
    selected_option: { text: { type: 'plain_text', text, emoji: true }, value },
  };
}

export interface MessageShortcutOptions extends CommonOptions {
  callbackId: string;
  channel: { id: string; name?: string };
  message: { ts: string; text: string; user?: string; botId?: string; threadTs?: string };
  responseUrl?: string;
}

/** A message shortcut ("…" menu on a message): Slack calls it `message_action`. */
export function messageShortcutPayload(options: MessageShortcutOptions): Record<string, unknown> {
  const team = options.team ?? DEFAULT_TEAM;
  return {
    type: 'message_action',
    token: options.token ?? 'verification-token-deprecated',
    action_ts: `${Math.floor(Date.now() / 1000)}.${String(randomInt(1e6)).padStart(6, '0')}`,
    team,
    user: userObject(options.user, team),
    channel: { id: options.channel.id, name: options.channel.name ?? options.channel.id.toLowerCase() },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: options.callbackId,
    trigger_id: options.triggerId ?? randomTriggerId(),
    response_url: options.responseUrl ?? randomResponseUrl(team),
    message_ts: options.message.ts,
    message: {
      type: 'message',
      ts: options.message.ts,
      text: options.message.text,
      ...(options.message.user ? { user: options.message.user } : {}),
      ...(options.message.botId ? { bot_id: options.message.botId, subtype: 'bot_message' } : {}),
      ...(options.message.threadTs ? { thread_ts: options.message.threadTs } : {}),
    },
  };
}

export interface SlashCommandOptions extends CommonOptions {
  command: string;
  text?: string;
  channel: { id: string; name?: string };
  responseUrl?: string;
}

/** The form fields of a slash command request, in the order Slack sends them. */
export function slashCommandFields(options: SlashCommandOptions): Record<string, string> {
  const team = options.team ?? DEFAULT_TEAM;
  return {
    token: options.token ?? 'verification-token-deprecated',
    team_id: team.id,
    team_domain: team.domain,
    channel_id: options.channel.id,
    channel_name: options.channel.name ?? options.channel.id.toLowerCase(),
    user_id: options.user.id,
    user_name: options.user.name ?? options.user.id.toLowerCase(),
    command: options.command,
    text: options.text ?? '',
    api_app_id: options.apiAppId ?? DEFAULT_API_APP_ID,
    is_enterprise_install: 'false',
    response_url: options.responseUrl ?? randomResponseUrl(team),
    trigger_id: options.triggerId ?? randomTriggerId(),
  };
}

export function encodeForm(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** Interactions arrive form-encoded with a single `payload` field holding the JSON. */
export function encodeInteraction(payload: Record<string, unknown>): string {
  return encodeForm({ payload: JSON.stringify(payload) });
}

export type SignedSlackRequest = {
  body: string;
  headers: SlackSignatureHeaders & { 'content-type': 'application/x-www-form-urlencoded' };
};

export function signedInteraction(
  signingSecret: string,
  payload: Record<string, unknown>,
  timestampSeconds?: number,
): SignedSlackRequest {
  const body = encodeInteraction(payload);
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...signSlackRequest(signingSecret, body, timestampSeconds),
    },
  };
}

export function signedSlashCommand(
  signingSecret: string,
  fields: Record<string, string>,
  timestampSeconds?: number,
): SignedSlackRequest {
  const body = encodeForm(fields);
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...signSlackRequest(signingSecret, body, timestampSeconds),
    },
  };
}
