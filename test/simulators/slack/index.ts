import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Slack Web API stand-in for tests: a real HTTP server that `@slack/web-api`'s WebClient (and Bolt) talk
 * to through `slackApiUrl`. It keeps just enough state (users, user groups, channels, messages, views) to
 * answer the methods Tourniquet calls the way Slack does, records every call, and injects faults on demand.
 */

export interface SeedUser {
  id: string;
  name: string;
  realName?: string;
  email?: string;
  isBot?: boolean;
  deleted?: boolean;
  tz?: string;
}

export interface SeedUsergroup {
  id: string;
  handle: string;
  name?: string;
  users: string[];
}

export interface SeedChannel {
  id: string;
  name: string;
  isPrivate?: boolean;
  members?: string[];
}

export interface SlackSimulatorOptions {
  /** Tokens accepted; anything else gets `invalid_auth`. */
  tokens?: string[];
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  users?: SeedUser[];
  usergroups?: SeedUsergroup[];
  channels?: SeedChannel[];
  /** When true, `views.open` accepts only trigger ids from `issueTriggerId()` (3 s, single use, like Slack). */
  requireIssuedTriggers?: boolean;
  /** How long an issued trigger id stays usable; Slack's is 3 seconds. */
  triggerLifetimeMs?: number;
  /** What a revoked token is answered with; Slack says `token_revoked` (`invalid_auth` for an unknown one). */
  revokedTokenError?: 'token_revoked' | 'invalid_auth';
}

/** The kinds of token `issueToken` mints, by the prefix Slack gives them. */
export type SlackTokenKind = 'bot' | 'user' | 'rotating-bot' | 'rotating-user' | 'refresh' | 'app-level';

export interface SlackIssuedToken {
  kind: SlackTokenKind;
  /** The user (or bot user) it acts as; `auth.test` answers with it. */
  userId: string;
  botId?: string;
  issuedAt: Date;
  revokedAt?: Date;
}

export type SlackFault =
  { status: number; body?: string } | { error: 'ratelimited'; retryAfterSeconds: number } | { error: string };

export interface SlackApiCall {
  method: string;
  /** Arguments as Slack reads them: form fields or JSON, with `blocks`, `view`… parsed from their JSON text. */
  body: Record<string, unknown>;
  at: Date;
  token: string | undefined;
  contentType: string;
  /** The exact request body, for tests that search every byte sent to Slack. */
  raw: string;
  /** The HTTP status and Slack `error` this call was answered with. */
  status: number;
  error?: string;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: unknown;
  user: string;
  botId: string;
  edited?: { ts: string };
}

export interface SlackEphemeralMessage {
  channel: string;
  user: string;
  messageTs: string;
  text?: string;
  blocks?: unknown[];
  threadTs?: string;
}

export interface SlackView {
  id: string;
  team_id: string;
  type: string;
  callback_id?: string;
  external_id?: string;
  private_metadata?: string;
  title?: unknown;
  submit?: unknown;
  close?: unknown;
  blocks: unknown[];
  state: { values: Record<string, unknown> };
  hash: string;
  root_view_id: string;
  previous_view_id: string | null;
  app_id: string;
  bot_id: string;
  /** The user the view was opened for, when a trigger told us. */
  user?: string;
}

export interface SlackResponseUrlPost {
  id: string;
  body: unknown;
  at: Date;
}

export interface SlackSimulator {
  /** Ends with `/api/`: pass it as `slackApiUrl` to WebClient or as Bolt's `clientOptions.slackApiUrl`. */
  url: string;
  botToken: string;
  teamId: string;
  botUserId: string;
  botId: string;
  appId: string;
  calls: SlackApiCall[];
  callsTo(method: string): SlackApiCall[];
  /** Answers the next call to `method` with this fault; several calls queue up in order. */
  failNext(method: string, fault: SlackFault): void;
  /**
   * Slack is down: every Web API call, whatever its method, is answered with `fault` (e.g. `{ status: 503 }`)
   * until `outage()` is called without one. Queued `failNext` faults wait for the end of the outage.
   */
  outage(fault?: SlackFault): void;
  messages(channel?: string): SlackMessage[];
  ephemeralMessages(channel?: string): SlackEphemeralMessage[];
  views(): SlackView[];
  addUser(user: SeedUser): void;
  setUsergroupMembers(usergroupId: string, userIds: string[]): void;
  /** A trigger id as Slack sends in interactions; views.open must use it within 3 s, once. */
  issueTriggerId(userId?: string): string;
  /** A `response_url` served by the simulator; posts to it are recorded in `responseUrlPosts`. */
  newResponseUrl(): string;
  responseUrlPosts: SlackResponseUrlPost[];
  /** Forgets calls, faults and response-url posts; keeps users, channels, messages and views. */
  resetCalls(): void;
  /**
   * A new token as Slack mints them (`xoxb-` bot, `xoxp-` user, `xoxe.xoxb-` / `xoxe.xoxp-` expiring, `xoxe-`
   * refresh, `xapp-` app-level). Bot, user and expiring ones authenticate every method (`auth.test` answers with
   * their user) until `auth.revoke` is called with them; a refresh or app-level token authenticates nothing here.
   */
  issueToken(options?: { kind?: SlackTokenKind; userId?: string }): string;
  /** Whether Slack would still accept `token` now: configured or issued, and not revoked. */
  tokenWorks(token: string): boolean;
  /** What the simulator knows of a token it issued. */
  issuedToken(token: string): SlackIssuedToken | undefined;
  /** Undoes a revocation of an issued token: Slack disagreeing with itself, or the token coming back. */
  reinstateToken(token: string): void;
  close(): Promise<void>;
}

export const DEFAULT_BOT_TOKEN = 'xoxb-tourniquet-simulator';

/** Roles of the default owners matrix, one person each plus a backup, so approval tests read naturally. */
export const DEFAULT_USERS: SeedUser[] = [
  { id: 'U0ALICE001', name: 'alice', realName: 'Alice Platform', email: 'alice@acme.example' },
  { id: 'U0BOB00002', name: 'bob', realName: 'Bob IAM', email: 'bob@acme.example' },
  { id: 'U0CAROL003', name: 'carol', realName: 'Carol SecOps', email: 'carol@acme.example' },
  { id: 'U0DAVE0004', name: 'dave', realName: 'Dave App Owner', email: 'dave@acme.example' },
  { id: 'U0ERIN0005', name: 'erin', realName: 'Erin Incident Commander', email: 'erin@acme.example' },
  { id: 'U0FRANK006', name: 'frank', realName: 'Frank Backup', email: 'frank@acme.example' },
  { id: 'U0MALLORY7', name: 'mallory', realName: 'Mallory Outsider', email: 'mallory@acme.example' },
  { id: 'U0GONE0008', name: 'gone', realName: 'Former Employee', deleted: true },
];

export const DEFAULT_USERGROUPS: SeedUsergroup[] = [
  { id: 'S0PLATFORM', handle: 'platform-oncall', users: ['U0ALICE001', 'U0FRANK006'] },
  { id: 'S0IAM00001', handle: 'iam-oncall', users: ['U0BOB00002'] },
  { id: 'S0SECOPS01', handle: 'secops', users: ['U0CAROL003', 'U0ERIN0005'] },
  { id: 'S0APPOWNER', handle: 'app-owners', users: ['U0DAVE0004'] },
  { id: 'S0INCIDENT', handle: 'incident-commanders', users: ['U0ERIN0005'] },
];

export const DEFAULT_CHANNELS: SeedChannel[] = [
  { id: 'C0INCIDENTS', name: 'incidents' },
  { id: 'C0SECOPS001', name: 'secops', isPrivate: true },
];

const TRIGGER_LIFETIME_MS = 3000;
const MAX_BODY_BYTES = 1024 * 1024;
/** Form arguments Slack documents as JSON-encoded strings. */
const JSON_ARGUMENTS = new Set(['blocks', 'attachments', 'view', 'metadata', 'unfurls']);
const TRIGGER_FORMAT = /^\d+\.\d+\.[0-9a-f]+$/;

class SlackError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

interface SimulatorState {
  users: Map<string, SeedUser>;
  usergroups: Map<string, SeedUsergroup>;
  channels: Map<string, SeedChannel>;
  messages: SlackMessage[];
  ephemeral: SlackEphemeralMessage[];
  views: Map<string, SlackView>;
  triggers: Map<string, { issuedAt: number; used: boolean; user?: string }>;
}

function randomId(prefix: string, length = 10): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = prefix;
  while (id.length < length) id += alphabet[randomInt(alphabet.length)];
  return id;
}

function parseArguments(contentType: string, raw: string, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (raw.length === 0) return args;
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new SlackError('invalid_json');
    return { ...args, ...(parsed as Record<string, unknown>) };
  }
  if (contentType.startsWith('application/x-www-form-urlencoded') || contentType === '') {
    for (const [name, value] of new URLSearchParams(raw)) {
      if (JSON_ARGUMENTS.has(name)) {
        try {
          args[name] = JSON.parse(value);
        } catch {
          throw new SlackError(name === 'view' ? 'invalid_arguments' : `invalid_${name}`);
        }
      } else {
        args[name] = value;
      }
    }
    return args;
  }
  throw new SlackError('invalid_form_data');
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function array(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export async function startSlackSimulator(options: SlackSimulatorOptions = {}): Promise<SlackSimulator> {
  const tokens = new Set(options.tokens ?? [DEFAULT_BOT_TOKEN]);
  const botToken = [...tokens][0] ?? DEFAULT_BOT_TOKEN;
  const teamId = options.teamId ?? 'T0TOURNIQ1';
  const teamDomain = options.teamDomain ?? 'acme';
  const botUserId = options.botUserId ?? 'U0TOURNBOT';
  const botId = options.botId ?? 'B0TOURNBOT';
  const appId = options.appId ?? 'A0TOURNAPP';

  const state: SimulatorState = {
    users: new Map(
      [...(options.users ?? DEFAULT_USERS), { id: botUserId, name: 'tourniquet', isBot: true }].map(
        (user) => [user.id, { ...user }],
      ),
    ),
    usergroups: new Map((options.usergroups ?? DEFAULT_USERGROUPS).map((group) => [group.id, { ...group }])),
    channels: new Map((options.channels ?? DEFAULT_CHANNELS).map((channel) => [channel.id, { ...channel }])),
    messages: [],
    ephemeral: [],
    views: new Map(),
    triggers: new Map(),
  };
  const calls: SlackApiCall[] = [];
  const issued = new Map<string, SlackIssuedToken>();
  /** Configured tokens revoked through auth.revoke. */
  const revokedConfigured = new Set<string>();
  const faults = new Map<string, SlackFault[]>();
  let outage: SlackFault | undefined;
  const responseUrlPosts: SlackResponseUrlPost[] = [];
  let lastTs = 0;

  /** Slack timestamps are unique per channel and increase: seconds with six digits of sub-second order. */
  function nextTs(): string {
    const now = Date.now() * 1000;
    lastTs = Math.max(now, lastTs + 1);
    return `${Math.floor(lastTs / 1e6)}.${String(lastTs % 1e6).padStart(6, '0')}`;
  }

  function resolveChannel(value: unknown): string {
    const channel = text(value);
    if (!channel) throw new SlackError('channel_not_found');
    if (state.channels.has(channel)) return channel;
    if (channel.startsWith('#')) {
      const byName = [...state.channels.values()].find((known) => known.name === channel.slice(1));
      if (byName) return byName.id;
    }
    // Posting to a user id opens (or reuses) the app's DM with that user.
    if (/^[UW]/.test(channel) && state.users.has(channel)) {
      const dm = `D${channel.slice(1)}`;
      if (!state.channels.has(dm))
        state.channels.set(dm, { id: dm, name: dm, isPrivate: true, members: [channel] });
      return dm;
    }
    throw new SlackError('channel_not_found');
  }

  function messageFromArgs(
    args: Record<string, unknown>,
  ): Pick<SlackMessage, 'text' | 'blocks' | 'attachments'> {
    const message = {
      text: text(args.text),
      blocks: array(args.blocks),
      attachments: array(args.attachments),
    };
    if (!message.text && !message.blocks?.length && !message.attachments?.length)
      throw new SlackError('no_text');
    return message;
  }

  function publicMessage(message: SlackMessage): Record<string, unknown> {
    return {
      type: 'message',
      subtype: 'bot_message',
      text: message.text ?? '',
      user: message.user,
      bot_id: message.botId,
      app_id: appId,
      team: teamId,
      ts: message.ts,
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.attachments ? { attachments: message.attachments } : {}),
      ...(message.metadata ? { metadata: message.metadata } : {}),
      ...(message.edited ? { edited: { user: message.user, ts: message.edited.ts } } : {}),
    };
  }

  function publicUser(user: SeedUser): Record<string, unknown> {
    return {
      id: user.id,
      team_id: teamId,
      name: user.name,
      deleted: user.deleted ?? false,
      real_name: user.realName ?? user.name,
      tz: user.tz ?? 'Europe/Amsterdam',
      is_bot: user.isBot ?? false,
      is_app_user: false,
      profile: {
        real_name: user.realName ?? user.name,
        display_name: user.name,
        ...(user.email ? { email: user.email } : {}),
        team: teamId,
      },
    };
  }

  function exchangeTrigger(args: Record<string, unknown>): string | undefined {
    const triggerId = text(args.trigger_id) ?? text(args.interactivity_pointer);
    if (!triggerId || !TRIGGER_FORMAT.test(triggerId)) throw new SlackError('invalid_trigger_id');
    const issued = state.triggers.get(triggerId);
    if (!issued) {
      if (options.requireIssuedTriggers) throw new SlackError('invalid_trigger_id');
      return undefined;
    }
    if (issued.used) throw new SlackError('exchanged_trigger_id');
    if (Date.now() - issued.issuedAt > (options.triggerLifetimeMs ?? TRIGGER_LIFETIME_MS)) {
      throw new SlackError('expired_trigger_id');
    }
    issued.used = true;
    return issued.user;
  }

  function storeView(input: unknown, existing?: SlackView, user?: string): SlackView {
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new SlackError('invalid_arguments');
    const view = input as Record<string, unknown>;
    const type = text(view.type);
    if (type !== 'modal' && type !== 'home') throw new SlackError('invalid_arguments');
    const blocks = array(view.blocks);
    if (!blocks) throw new SlackError('invalid_arguments');
    if (JSON.stringify(view).length > 250_000) throw new SlackError('view_too_large');
    const externalId = text(view.external_id);
    if (
      externalId &&
      [...state.views.values()].some((other) => other !== existing && other.external_id === externalId)
    ) {
      throw new SlackError('duplicate_external_id');
    }
    const id = existing?.id ?? randomId('V', 11);
    const stored: SlackView = {
      id,
      team_id: teamId,
      type,
      callback_id: text(view.callback_id),
      external_id: externalId,
      private_metadata: text(view.private_metadata),
      title: view.title,
      submit: view.submit,
      close: view.close,
      blocks,
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      root_view_id: existing?.root_view_id ?? id,
      previous_view_id: null,
      app_id: appId,
      bot_id: botId,
      user: user ?? existing?.user,
    };
    state.views.set(id, stored);
    return stored;
  }

  function publicView(view: SlackView): Record<string, unknown> {
    const { user: _user, ...rest } = view;
    return rest;
  }

  /** Tokens that authenticate bearer calls: bot, user and expiring ones (refresh and app-level ones do not here). */
  const BEARER_KINDS: ReadonlySet<SlackTokenKind> = new Set(['bot', 'user', 'rotating-bot', 'rotating-user']);

  /** Undefined when `token` authenticates; else the error Slack answers with. */
  function authError(token: string): string | undefined {
    const minted = issued.get(token);
    if (minted) {
      if (minted.revokedAt) return options.revokedTokenError ?? 'token_revoked';
      return BEARER_KINDS.has(minted.kind) ? undefined : 'invalid_auth';
    }
    if (revokedConfigured.has(token)) return options.revokedTokenError ?? 'token_revoked';
    return tokens.has(token) ? undefined : 'invalid_auth';
  }

  const methods: Record<string, (args: Record<string, unknown>, token: string) => Record<string, unknown>> = {
    'auth.test': (_args, token) => {
      const minted = issued.get(token);
      const userId = minted?.userId ?? botUserId;
      const bot = minted ? minted.botId : botId;
      return {
        url: `https://${teamDomain}.slack.com/`,
        team: teamDomain,
        user: state.users.get(userId)?.name ?? 'tourniquet',
        team_id: teamId,
        user_id: userId,
        ...(bot ? { bot_id: bot } : {}),
        is_enterprise_install: false,
      };
    },
    // Revokes the token the call authenticates with; `test=1` (or true) only says it would.
    'auth.revoke': (args, token) => {
      const test = text(args.test);
      if (test === '1' || test === 'true') return { revoked: false };
      const minted = issued.get(token);
      if (minted) minted.revokedAt = new Date();
      else {
        tokens.delete(token);
        revokedConfigured.add(token);
      }
      return { revoked: true };
    },
    'chat.postMessage': (args) => {
      const channel = resolveChannel(args.channel);
      const threadTs = text(args.thread_ts);
      if (
        threadTs &&
        !state.messages.some((message) => message.channel === channel && message.ts === threadTs)
      ) {
        throw new SlackError('thread_not_found');
      }
      const message: SlackMessage = {
        channel,
        ts: nextTs(),
        ...messageFromArgs(args),
        ...(threadTs ? { threadTs } : {}),
        ...(args.metadata ? { metadata: args.metadata } : {}),
        user: botUserId,
        botId,
      };
      state.messages.push(message);
      return { channel, ts: message.ts, message: publicMessage(message) };
    },
    'chat.update': (args) => {
      const channel = resolveChannel(args.channel);
      const ts = text(args.ts);
      const message = state.messages.find((known) => known.channel === channel && known.ts === ts);
      if (!message) throw new SlackError('message_not_found');
      if (message.user !== botUserId) throw new SlackError('cant_update_message');
      const update = messageFromArgs({
        text: args.text ?? message.text,
        blocks: args.blocks ?? message.blocks,
        attachments: args.attachments ?? message.attachments,
      });
      Object.assign(message, update, { edited: { ts: nextTs() } });
      return { channel, ts: message.ts, text: message.text ?? '', message: publicMessage(message) };
    },
    'chat.postEphemeral': (args) => {
      const channel = resolveChannel(args.channel);
      const user = text(args.user);
      if (!user || !state.users.has(user)) throw new SlackError('user_not_found');
      const members = state.channels.get(channel)?.members;
      if (members && !members.includes(user)) throw new SlackError('user_not_in_channel');
      const messageTs = nextTs();
      state.ephemeral.push({
        channel,
        user,
        messageTs,
        ...messageFromArgs(args),
        ...(text(args.thread_ts) ? { threadTs: text(args.thread_ts) } : {}),
      });
      return { message_ts: messageTs };
    },
    'views.open': (args) => {
      const user = exchangeTrigger(args);
      return { view: publicView(storeView(args.view, undefined, user)) };
    },
    'views.update': (args) => {
      const viewId = text(args.view_id);
      const externalId = text(args.external_id);
      const existing = viewId
        ? state.views.get(viewId)
        : [...state.views.values()].find(
            (view) => externalId !== undefined && view.external_id === externalId,
          );
      if (!existing) throw new SlackError('not_found');
      const hash = text(args.hash);
      if (hash !== undefined && hash !== existing.hash) throw new SlackError('hash_conflict');
      return { view: publicView(storeView(args.view, existing)) };
    },
    'usergroups.users.list': (args) => {
      const group = state.usergroups.get(text(args.usergroup) ?? '');
      if (!group) throw new SlackError('no_such_subteam');
      const includeDisabled = text(args.include_disabled) === 'true';
      const users = group.users.filter((id) => includeDisabled || !state.users.get(id)?.deleted);
      return { users };
    },
    'users.info': (args) => {
      const user = state.users.get(text(args.user) ?? '');
      if (!user) throw new SlackError('user_not_found');
      return { user: publicUser(user) };
    },
    'conversations.info': (args) => {
      const channel = state.channels.get(text(args.channel) ?? '');
      if (!channel) throw new SlackError('channel_not_found');
      const isDm = channel.id.startsWith('D');
      return {
        channel: {
          id: channel.id,
          name: channel.name,
          is_channel: !isDm && !channel.isPrivate,
          is_group: !isDm && (channel.isPrivate ?? false),
          is_im: isDm,
          is_private: channel.isPrivate ?? false,
          is_archived: false,
          is_member: true,
          context_team_id: teamId,
          ...(isDm ? { user: channel.members?.[0] } : {}),
        },
      };
    },
  };

  function send(response: ServerResponse, status: number, body: Record<string, unknown>, headers = {}): void {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    response.end(JSON.stringify(body));
  }

  function handleApi(method: string, request: IncomingMessage, raw: string, response: ServerResponse): void {
    const contentType = (request.headers['content-type'] ?? '').toLowerCase();
    const query = new URL(request.url ?? '/', 'http://simulator').searchParams;
    const call: SlackApiCall = {
      method,
      body: {},
      at: new Date(),
      token: undefined,
      contentType,
      raw,
      status: 200,
    };
    calls.push(call);
    const answer = (status: number, body: Record<string, unknown>, headers = {}) => {
      call.status = status;
      if (body.ok === false && typeof body.error === 'string') call.error = body.error;
      send(response, status, body, headers);
    };

    const fault = outage ?? faults.get(method)?.shift();
    try {
      call.body = parseArguments(contentType, raw, query);
    } catch (error) {
      if (!fault) {
        answer(200, { ok: false, error: error instanceof SlackError ? error.code : 'invalid_arguments' });
        return;
      }
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    // Slack reads a body token from form posts only; JSON posts must use the Authorization header.
    const bodyToken = contentType.startsWith('application/json') ? undefined : text(call.body.token);
    call.token = bearer ?? bodyToken;

    if (fault) {
      if ('status' in fault) {
        answer(fault.status, { ok: false, error: 'fatal_error' });
      } else if (fault.error === 'ratelimited' && 'retryAfterSeconds' in fault) {
        answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.retryAfterSeconds) });
      } else {
        answer(200, { ok: false, error: fault.error });
      }
      return;
    }
    if (!call.token) {
      answer(200, { ok: false, error: 'not_authed' });
      return;
    }
    const refused = authError(call.token);
    if (refused) {
      answer(200, { ok: false, error: refused });
      return;
    }
    const implementation = methods[method];
    if (!implementation) {
      answer(200, { ok: false, error: 'unknown_method', req_method: method });
      return;
    }
    try {
      answer(200, { ok: true, ...implementation(call.body, call.token) });
    } catch (error) {
      if (!(error instanceof SlackError)) throw error;
      answer(200, { ok: false, error: error.code });
    }
  }

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        send(response, 413, { ok: false, error: 'request_too_large' });
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(request.url ?? '/', 'http://simulator').pathname;
      const apiMethod = /^\/api\/([A-Za-z0-9._]+)$/.exec(path)?.[1];
      if (apiMethod) {
        handleApi(apiMethod, request, raw, response);
        return;
      }
      const responseUrl = /^\/actions\/([a-z0-9]+)$/.exec(path)?.[1];
      if (responseUrl && request.method === 'POST') {
        let body: unknown = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          // Response URLs accept any text; keep it as sent.
        }
        responseUrlPosts.push({ id: responseUrl, body, at: new Date() });
        send(response, 200, { ok: true });
        return;
      }
      send(response, 404, { ok: false, error: 'not_found' });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: `${baseUrl}/api/`,
    botToken,
    teamId,
    botUserId,
    botId,
    appId,
    calls,
    callsTo: (method) => calls.filter((call) => call.method === method),
    failNext(method, fault) {
      const queue = faults.get(method) ?? [];
      queue.push(fault);
      faults.set(method, queue);
    },
    outage(fault) {
      outage = fault;
    },
    messages: (channel) =>
      state.messages.filter((message) => channel === undefined || message.channel === channel),
    ephemeralMessages: (channel) =>
      state.ephemeral.filter((message) => channel === undefined || message.channel === channel),
    views: () => [...state.views.values()],
    addUser(user) {
      state.users.set(user.id, { ...user });
    },
    setUsergroupMembers(usergroupId, userIds) {
      const group = state.usergroups.get(usergroupId);
      if (!group) throw new Error(`unknown user group ${usergroupId}`);
      group.users = [...userIds];
    },
    issueTriggerId(userId) {
      const triggerId = `${randomInt(1e6, 1e7)}.${randomInt(1e9, 1e10)}.${randomBytes(16).toString('hex')}`;
      state.triggers.set(triggerId, { issuedAt: Date.now(), used: false, user: userId });
      return triggerId;
    },
    newResponseUrl() {
      return `${baseUrl}/actions/${randomBytes(12).toString('hex')}`;
    },
    responseUrlPosts,
    resetCalls() {
      calls.length = 0;
      faults.clear();
      responseUrlPosts.length = 0;
    },
    issueToken({ kind = 'bot', userId } = {}) {
      const digits = () => String(randomInt(1e12, 1e13));
      const secret = randomBytes(16).toString('hex');
      const team = teamId.replace(/\D/g, '') || '1';
      const value = {
        bot: `xoxb-${team}${digits()}-${digits()}-${secret.slice(0, 24)}`,
        user: `xoxp-${team}${digits()}-${digits()}-${digits()}-${secret}`,
        'rotating-bot': `xoxe.xoxb-1-${randomBytes(48).toString('base64url')}`,
        'rotating-user': `xoxe.xoxp-1-${randomBytes(48).toString('base64url')}`,
        refresh: `xoxe-1-${randomBytes(48).toString('base64url')}`,
        'app-level': `xapp-1-${randomId('A', 11)}-${digits()}-${secret}`,
      }[kind];
      const isBot = kind === 'bot' || kind === 'rotating-bot';
      issued.set(value, {
        kind,
        userId: userId ?? (isBot ? botUserId : 'U0ALICE001'),
        ...(isBot ? { botId } : {}),
        issuedAt: new Date(),
      });
      return value;
    },
    tokenWorks: (token) => authError(token) === undefined,
    issuedToken: (token) => {
      const minted = issued.get(token);
      return minted ? { ...minted } : undefined;
    },
    reinstateToken(token) {
      const minted = issued.get(token);
      if (!minted) throw new Error('reinstateToken: not a token the simulator issued');
      delete minted.revokedAt;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets from fetch would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}
