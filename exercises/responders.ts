import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Notifier } from '../activities/notify';
import type { IncidentNotification, NotificationResult } from '../activities/types';
import { ApprovalRefusedError, incidentStatus, signOutOfBandDecision, submitDecision } from '../client';
import type { ApprovalRequest } from '../lib/runbook/types';
import type { ScriptedDecision } from '../reports/record';
import type { Scenario } from './scenario';

export interface ScriptedResponderOptions {
  client: Client;
  incidentId: string;
  scenario: Scenario;
  /** Role → its people (script order). */
  people: Record<string, string[]>;
  /** Person → PEM private key path. */
  keys: Record<string, string>;
  /** Signs the report of a refused decision (the engine's data dir key, as for its start). */
  gatewayKey: KeyObject;
  onDecision: (decision: ScriptedDecision) => void;
  /** The notifier the messages also go to (the log), as they would to Slack. */
  next?: Notifier;
}

interface Plan {
  respond: 'approve' | 'deny' | 'none';
  after: number;
  reason?: string;
}

const SETTLED = new Set(['approved', 'denied', 'break-glass']);

/**
 * The scripted responders of an exercise. They learn of a request the way people do: from the incident's
 * notification (the exercise worker's notifier) or by looking at the incident (`observe`, the engine polls the
 * status query, because notifications queue behind every earlier message and an accelerated clock magnifies
 * that lag). Each role answers `after` (scenario time) from the moment
 * the request reached it: the request for the step's owner, its escalation for the backup. Decisions are signed
 * out of band with the person's exercise key and sent as the workflow's `decideStep` Update, so they pass the
 * same validator as a real approver's. A `forEach` step's batches are requests of their own (`<step>--<owner>`,
 * `roles: [owner]`): each role answers the ones that reach it, with the overrides of the step they belong to.
 */
export class ScriptedResponders implements Notifier {
  private readonly scheduled = new Set<string>();
  private readonly settled = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly keys = new Map<string, string>();
  private stopped = false;

  constructor(private readonly options: ScriptedResponderOptions) {}

  async notify(notification: IncidentNotification): Promise<NotificationResult> {
    const { event, request } = notification;
    if (notification.incidentId === this.options.incidentId && request) {
      if (SETTLED.has(event.type)) this.settled.add(request.stepId);
      if (event.type === 'approval-requested' || event.type === 'escalated') this.schedule(request);
    }
    return (await this.options.next?.notify(notification)) ?? {};
  }

  /** Stops scheduling; waits for decisions already being sent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.running]);
  }

  private plan(role: string, stepId: string): Plan | undefined {
    const responder = this.options.scenario.responders[role];
    // Real people answer for a live role, in Slack or with their own keys.
    if (!responder || responder.live) return undefined;
    const override = responder.steps[stepId];
    return {
      respond: override?.respond ?? responder.respond ?? 'none',
      after: override?.after ?? responder.after,
      reason: override?.reason ?? responder.reason,
    };
  }

  /** Requests seen by looking at the incident (notifications queue behind every earlier message). */
  observe(requests: ApprovalRequest[]): void {
    for (const request of requests) this.schedule(request);
  }

  private schedule(request: ApprovalRequest): void {
    const speed = this.options.scenario.clock.speed;
    // A forEach step asks each owner for their batch (`<step>--<owner>`): the step's overrides apply to it.
    const runbookStep = request.batch?.stepId ?? request.stepId;
    for (const role of request.roles) {
      const slot = `${request.stepId}#${role}`;
      const plan = this.plan(role, runbookStep);
      if (this.scheduled.has(slot) || !plan || plan.respond === 'none') continue;
      this.scheduled.add(slot);
      // requestedAt is when the request (or its escalation) reached this role, on the workflow's clock.
      const due = Date.parse(request.requestedAt) + plan.after / speed;
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          const work = this.act(request.stepId, role, plan).finally(() => this.running.delete(work));
          this.running.add(work);
        },
        Math.max(0, due - Date.now()),
      );
      this.timers.add(timer);
    }
  }

  private key(person: string): string {
    let pem = this.keys.get(person);
    if (!pem) {
      pem = readFileSync(this.options.keys[person], 'utf8');
      this.keys.set(person, pem);
    }
    return pem;
  }

  /** The request as it stands now (current nonce, approvals so far), or undefined once it is settled. */
  private async current(stepId: string): Promise<ApprovalRequest | undefined> {
    if (this.stopped || this.settled.has(stepId)) return undefined;
    const status = await incidentStatus(this.options.client, this.options.incidentId);
    return status.approvals.find((request) => request.stepId === stepId);
  }

  private async act(stepId: string, role: string, plan: Plan): Promise<void> {
    const people = this.options.people[role] ?? [];
    const tried = new Set<string>();
    for (;;) {
      const request = await this.current(stepId).catch(() => undefined);
      if (!request || !request.roles.includes(role)) return;
      const person =
        plan.respond === 'deny'
          ? people[0]
          : people.find((name) => !request.approvals.includes(`key:${name}`));
      // Everyone of this role has answered; a two-person step now waits for someone else.
      if (!person || tried.has(`${person}@${request.nonce}`)) return;
      tried.add(`${person}@${request.nonce}`);
      const decision = plan.respond === 'deny' ? 'deny' : 'approve';
      const base = { at: new Date().toISOString(), stepId, person, role, decision } as const;
      try {
        const signed = signOutOfBandDecision({
          incidentId: this.options.incidentId,
          request,
          decision,
          reason: plan.reason,
          name: person,
          privateKeyPem: this.key(person),
        });
        const result = await submitDecision(this.options.client, this.options.incidentId, signed, {
          gatewayKey: this.options.gatewayKey,
        });
        this.options.onDecision({ ...base, outcome: result.outcome });
        // A two-person step: the role's next person answers at once.
        if (result.outcome !== 'recorded') return;
      } catch (error) {
        // The refusal is in the incident's timeline (and so in the report). Try once more only if the request
        // moved on meanwhile (an escalation renews the nonce).
        this.options.onDecision({
          ...base,
          outcome: error instanceof ApprovalRefusedError ? 'refused' : 'error',
          detail: error instanceof Error ? error.message : String(error),
        });
        if (!(error instanceof ApprovalRefusedError)) return;
      }
    }
  }
}
