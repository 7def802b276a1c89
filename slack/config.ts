import { z } from 'zod';

/**
 * The Slack integration's environment, validated with zod. Messages name the variable, never its value: a
 * token or signing secret must not end up in a log line because it was malformed.
 */

const botToken = z.string().regex(/^xox[bp]-[A-Za-z0-9-]+$/, 'expected a Slack bot token (xoxb-…)');
const signingSecret = z
  .string()
  .min(16, 'expected the signing secret of the Slack app (Basic Information → App Credentials)');
const apiUrl = z
  .string()
  .url('expected an http(s) URL ending with /api/, e.g. http://127.0.0.1:4000/api/')
  .refine((value) => /^https?:\/\//.test(value) && value.endsWith('/'), {
    message: 'expected an http(s) URL ending with /api/, e.g. http://127.0.0.1:4000/api/',
  });
const channel = z
  .string()
  .regex(
    /^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,})$/,
    'expected a channel id (C0123ABCD) or #name, e.g. #incidents',
  );

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

export const slackEnvSchema = z.object({
  SLACK_BOT_TOKEN: optional(botToken),
  SLACK_SIGNING_SECRET: optional(signingSecret),
  SLACK_API_URL: optional(apiUrl),
  SLACK_INCIDENT_CHANNEL: optional(channel),
});

export class SlackConfigError extends Error {}

function parseSlackEnv(env: NodeJS.ProcessEnv): z.infer<typeof slackEnvSchema> {
  const parsed = slackEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SlackConfigError(`environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** What the worker needs to post incident messages and expand user groups. */
export interface SlackWorkerConfig {
  botToken: string;
  channel: string;
  apiUrl?: string;
}

/** Undefined when SLACK_BOT_TOKEN is not set (messages then go to the log). */
export function loadSlackWorkerConfig(env: NodeJS.ProcessEnv = process.env): SlackWorkerConfig | undefined {
  const parsed = parseSlackEnv(env);
  if (!parsed.SLACK_BOT_TOKEN) return undefined;
  if (!parsed.SLACK_INCIDENT_CHANNEL) {
    throw new SlackConfigError(
      'environment variable SLACK_INCIDENT_CHANNEL: required when SLACK_BOT_TOKEN is set (e.g. #incidents)',
    );
  }
  return {
    botToken: parsed.SLACK_BOT_TOKEN,
    channel: parsed.SLACK_INCIDENT_CHANNEL,
    ...(parsed.SLACK_API_URL ? { apiUrl: parsed.SLACK_API_URL } : {}),
  };
}

/** What the gateway needs to receive Slack interactions. */
export interface SlackGatewayConfig {
  signingSecret: string;
  botToken: string;
  apiUrl?: string;
  channel?: string;
}

/** Undefined when SLACK_SIGNING_SECRET is not set (no /slack/events route). */
export function loadSlackGatewayConfig(env: NodeJS.ProcessEnv = process.env): SlackGatewayConfig | undefined {
  const parsed = parseSlackEnv(env);
  if (!parsed.SLACK_SIGNING_SECRET) return undefined;
  if (!parsed.SLACK_BOT_TOKEN) {
    throw new SlackConfigError(
      'environment variable SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET is set (the app answers with it)',
    );
  }
  return {
    signingSecret: parsed.SLACK_SIGNING_SECRET,
    botToken: parsed.SLACK_BOT_TOKEN,
    ...(parsed.SLACK_API_URL ? { apiUrl: parsed.SLACK_API_URL } : {}),
    ...(parsed.SLACK_INCIDENT_CHANNEL ? { channel: parsed.SLACK_INCIDENT_CHANNEL } : {}),
  };
}
