import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { APPROVE_ACTION, DENY_ACTION, decodeBinding } from './binding';

/**
 * Bolt refuses a request whose v0 signature does not verify or whose timestamp is older than five minutes
 * (401) before any listener runs, so it executes nothing. It also writes nothing anywhere an attacker could
 * use: not the incident's timeline, not its Slack thread (the payload is not authenticated, so anything it
 * claims — user, incident, step — is the sender's word). It is counted, by reason, and logged without the
 * payload, at most `logsPerMinute` lines, so a flood costs a counter increment each.
 */

export const REFUSAL_REASONS = ['unsigned', 'stale', 'bad-signature'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

const FIVE_MINUTES_S = 5 * 60;
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;

const clickSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string() }).passthrough().optional(),
  actions: z
    .array(z.object({ action_id: z.string(), value: z.string().max(2000).optional() }).passthrough())
    .min(1)
    .max(25),
});

export class RefusedRequestCounter {
  private logged: number[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly count: (reason: RefusalReason) => void = () => undefined,
    private readonly logsPerMinute = 60,
  ) {}

  /** Never throws, never logs the payload. */
  report(raw: Buffer, headers: IncomingHttpHeaders, now = Date.now()): void {
    const reason = refusalReason(headers, now);
    this.count(reason);
    this.logged = this.logged.filter((at) => at > now - 60_000);
    if (this.logged.length >= this.logsPerMinute) return;
    this.logged.push(now);
    // What the payload claims, marked as a claim: enough to see who is being impersonated, nothing to act on.
    this.logger.warn(
      { reason, claimed: claimedClick(raw) },
      'refused a Slack request that failed verification',
    );
  }
}

function refusalReason(headers: IncomingHttpHeaders, now: number): RefusalReason {
  const timestamp = Number(headers['x-slack-request-timestamp']);
  if (!headers['x-slack-signature'] || !Number.isFinite(timestamp)) return 'unsigned';
  if (timestamp < Math.floor(now / 1000) - FIVE_MINUTES_S) return 'stale';
  return 'bad-signature';
}

function claimedClick(raw: Buffer): { incidentId: string; stepId: string; user?: string } | undefined {
  try {
    const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
    if (!payload) return undefined;
    const parsed = clickSchema.safeParse(JSON.parse(payload));
    if (!parsed.success) return undefined;
    const action = parsed.data.actions.find(
      (candidate) => candidate.action_id === APPROVE_ACTION || candidate.action_id === DENY_ACTION,
    );
    const binding = decodeBinding(action?.value);
    if (!binding.ok) return undefined;
    const user = parsed.data.user?.id;
    return {
      incidentId: binding.value.incidentId,
      stepId: binding.value.stepId,
      ...(user && SLACK_USER.test(user) ? { user } : {}),
    };
  } catch {
    return undefined;
  }
}
