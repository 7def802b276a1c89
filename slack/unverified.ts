import type { IncomingHttpHeaders } from 'node:http';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { incidentStatus, reportRefusal } from '../client';
import { APPROVE_ACTION, DENY_ACTION, decodeBinding, type ApprovalBinding } from './binding';

/**
 * Bolt refuses a request whose v0 signature does not verify or whose timestamp is older than five minutes
 * (401) before any listener runs. Such a request executes nothing. When it carries the binding of a request
 * that is still open (someone replays a captured click, or forges one after seeing the message), the attempt
 * is written to that incident's timeline. The payload is not authenticated, so: only current requests
 * (matching nonce) are recorded, under an `unverified` actor, and a budget caps how many per incident and per
 * minute, so internet noise cannot flood an incident's history.
 */

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const FIVE_MINUTES_S = 5 * 60;

const clickSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string() }).passthrough().optional(),
  actions: z
    .array(z.object({ action_id: z.string(), value: z.string().max(2000).optional() }).passthrough())
    .min(1)
    .max(25),
});

export interface RejectedRequestBudget {
  perIncident: number;
  perIncidentWindowMs: number;
  lookupsPerMinute: number;
}

const DEFAULT_BUDGET: RejectedRequestBudget = {
  perIncident: 20,
  perIncidentWindowMs: 10 * 60_000,
  lookupsPerMinute: 60,
};

export class RejectedRequestReporter {
  private readonly perIncident = new Map<string, number[]>();
  private lookups: number[] = [];

  constructor(
    private readonly temporal: Client,
    private readonly logger: Logger,
    private readonly budget: RejectedRequestBudget = DEFAULT_BUDGET,
  ) {}

  /** Fire and forget: never throws, never logs the payload. */
  report(raw: Buffer, headers: IncomingHttpHeaders): void {
    this.record(raw, headers).catch((error: unknown) =>
      this.logger.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'could not record a refused Slack request',
      ),
    );
  }

  /** Whether the attempt was written to a timeline. */
  async record(raw: Buffer, headers: IncomingHttpHeaders, now = Date.now()): Promise<boolean> {
    const reason = refusalReason(headers, now);
    const click = parseClick(raw);
    if (!click) {
      this.logger.warn({ reason }, 'refused a Slack request that failed verification');
      return false;
    }
    const { binding, user } = click;
    if (!this.take(this.lookups, now, 60_000, this.budget.lookupsPerMinute)) return false;
    const status = await incidentStatus(this.temporal, binding.incidentId).catch(() => undefined);
    const current = status?.approvals.find(
      (request) => request.stepId === binding.stepId && request.nonce === binding.nonce,
    );
    if (!current) {
      this.logger.warn({ reason }, 'refused a Slack approval that failed verification (no open request)');
      return false;
    }
    const recent = this.perIncident.get(binding.incidentId) ?? [];
    if (!this.take(recent, now, this.budget.perIncidentWindowMs, this.budget.perIncident)) return false;
    this.perIncident.set(binding.incidentId, recent);
    if (this.perIncident.size > 1000) this.perIncident.delete(this.perIncident.keys().next().value!);
    await reportRefusal(this.temporal, binding.incidentId, {
      stepId: binding.stepId,
      actor: user ? `slack-unverified:${user}` : 'slack-unverified',
      reason,
    });
    this.logger.warn(
      { incidentId: binding.incidentId, stepId: binding.stepId, reason },
      'refused a Slack approval that failed verification',
    );
    return true;
  }

  private take(times: number[], now: number, windowMs: number, max: number): boolean {
    while (times.length > 0 && times[0] <= now - windowMs) times.shift();
    if (times.length >= max) return false;
    times.push(now);
    return true;
  }
}

function refusalReason(headers: IncomingHttpHeaders, now: number): string {
  const timestamp = Number(headers['x-slack-request-timestamp']);
  if (!headers['x-slack-signature'] || !Number.isFinite(timestamp)) {
    return 'Slack request refused: not signed (no x-slack-signature / timestamp)';
  }
  if (timestamp < Math.floor(now / 1000) - FIVE_MINUTES_S) {
    return 'Slack request refused: timestamp older than 5 minutes (a replayed request); nothing executed';
  }
  return 'Slack request refused: the v0 signature does not verify (forged or altered); nothing executed';
}

function parseClick(raw: Buffer): { binding: ApprovalBinding; user?: string } | undefined {
  const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
  if (!payload) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = clickSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const action = parsed.data.actions.find(
    (candidate) => candidate.action_id === APPROVE_ACTION || candidate.action_id === DENY_ACTION,
  );
  const binding = decodeBinding(action?.value);
  if (!binding.ok) return undefined;
  const user = parsed.data.user?.id;
  return { binding: binding.value, ...(user && SLACK_USER.test(user) ? { user } : {}) };
}
