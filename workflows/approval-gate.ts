import { condition, proxyActivities, uuid4 } from '@temporalio/workflow';
import type { IncidentActivities } from '../activities/types';
import {
  approvalParamsHash,
  approverIdentities,
  personOf,
  refusalReason,
} from '../lib/runbook/approval-check';
import { durationMs } from '../lib/runbook/duration';
import {
  SEVERITIES,
  type ApprovalDecision,
  type ApprovalDecisionResult,
  type ApprovalRequest,
  type IncidentContext,
  type OwnerSnapshot,
  type Params,
  type RunbookStep,
  type TimelineEventType,
} from '../lib/runbook/types';

const owners = proxyActivities<IncidentActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
});

export interface GateHost {
  context: IncidentContext;
  clockSpeed: number;
  isHalted(): boolean;
  record(type: TimelineEventType, actor: string, stepId?: string, detail?: string): void;
  announce(
    type: TimelineEventType,
    actor: string,
    stepId: string,
    detail: string,
    request: ApprovalRequest,
    mention?: string[],
  ): void;
  awaitingChanged(): void;
  /** The Slack message that carried the step's request, once the notifier said where it went. */
  requestMessage(stepId: string): { channel: string; ts: string } | undefined;
}

interface PendingApproval {
  request: ApprovalRequest;
  snapshots: OwnerSnapshot[];
  separationOfDuties: boolean;
  outcome?: 'approved' | 'denied' | 'break-glass';
  deniedBy?: string;
  denyReason?: string;
}

export interface GateOutcome {
  outcome: 'approved' | 'denied' | 'halted';
  by?: string;
  reason?: string;
  breakGlass?: boolean;
}

/** Owner approvals: one outstanding request per step, bound to the exact action by a nonce and a hash. */
export class ApprovalGate {
  private readonly pending = new Map<string, PendingApproval>();

  constructor(private readonly host: GateHost) {}

  requests(): ApprovalRequest[] {
    return [...this.pending.values()]
      .filter((entry) => !entry.outcome)
      .map((entry) => ({ ...entry.request }));
  }

  /** `batch`: a `forEach` step's approval group (`step` is then the group, `<step>--<owner>`). */
  async gate(
    step: RunbookStep,
    action: string,
    target: string,
    params: Params,
    batch?: ApprovalRequest['batch'],
  ): Promise<GateOutcome> {
    const { incident } = this.host.context;
    const spec = step.approval;
    const deadlineMs = Math.max(1, Math.round(durationMs(spec.deadline) / this.host.clockSpeed));
    const primary = await owners.resolveOwners(step.owner);
    const entry: PendingApproval = {
      snapshots: [primary],
      separationOfDuties: spec.separationOfDuties ?? !step.reversible,
      request: {
        stepId: step.id,
        nonce: uuid4(),
        paramsHash: approvalParamsHash(incident.id, step.id, action, params),
        action,
        target,
        reversible: step.reversible,
        policy: spec.policy,
        required: spec.policy === 'two-person' ? 2 : 1,
        roles: [step.owner],
        requestedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + deadlineMs).toISOString(),
        escalated: false,
        approvals: [],
        breakGlassEligible:
          !!spec.breakGlass &&
          step.reversible &&
          SEVERITIES.indexOf(incident.severity) >= SEVERITIES.indexOf(spec.breakGlass.atOrAbove),
        ...(batch ? { batch: { ...batch, items: [...batch.items] } } : {}),
      },
    };
    this.pending.set(step.id, entry);
    this.host.awaitingChanged();
    this.host.announce(
      'approval-requested',
      'workflow',
      step.id,
      describe(entry.request),
      entry.request,
      primary.slackUsers,
    );

    while (!entry.outcome) {
      const decided = await condition(
        () => !!entry.outcome || this.host.isHalted(),
        Math.max(1, Date.parse(entry.request.expiresAt) - Date.now()),
      );
      if (this.host.isHalted() && !entry.outcome) {
        this.pending.delete(step.id);
        this.host.awaitingChanged();
        return { outcome: 'halted' };
      }
      if (decided) break;
      await this.escalate(step, entry, deadlineMs);
    }
    this.pending.delete(step.id);
    this.host.awaitingChanged();
    if (entry.outcome === 'denied')
      return { outcome: 'denied', by: entry.deniedBy, reason: entry.denyReason };
    return { outcome: 'approved', breakGlass: entry.outcome === 'break-glass' };
  }

  /** The deadline passed: hand the request to the backup role (new nonce), and break glass where allowed. */
  private async escalate(step: RunbookStep, entry: PendingApproval, deadlineMs: number): Promise<void> {
    const backupRole = step.approval.escalateTo ?? entry.snapshots[0].backup;
    if (backupRole && !entry.request.roles.includes(backupRole)) {
      entry.snapshots.push(await owners.resolveOwners(backupRole));
      entry.request.roles.push(backupRole);
    }
    entry.request = {
      ...entry.request,
      nonce: uuid4(),
      escalated: true,
      requestedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + deadlineMs).toISOString(),
    };
    const mention = entry.snapshots.slice(1).flatMap((snapshot) => snapshot.slackUsers);
    this.host.announce(
      'escalated',
      'workflow',
      step.id,
      backupRole
        ? `deadline passed: escalated to ${backupRole}`
        : 'deadline passed: no backup role, still waiting',
      entry.request,
      mention,
    );
    if (entry.request.breakGlassEligible) {
      entry.outcome = 'break-glass';
      this.host.announce('break-glass', 'workflow', step.id, 'auto-executed after deadline', entry.request);
    }
  }

  /** Update validator: throws (refusing the Update, so nothing executes and nothing is written) with the reason. */
  validate(decision: ApprovalDecision): void {
    const entry = this.pending.get(decision.stepId);
    const reason = refusalReason(
      entry && !entry.outcome ? entry.request : undefined,
      entry?.snapshots ?? [],
      decision,
      {
        incidentId: this.host.context.incident.id,
        requester: this.host.context.incident.requester,
        separationOfDuties: entry?.separationOfDuties ?? true,
        now: Date.now(),
        priorApprovals: entry?.request.approvals ?? [],
        requestMessage: this.host.requestMessage(decision.stepId),
      },
    );
    if (reason) throw new Error(reason);
  }

  decide(decision: ApprovalDecision): ApprovalDecisionResult {
    const entry = this.pending.get(decision.stepId)!;
    const identities = approverIdentities(decision.approver, entry.snapshots);
    const who = identities[0];
    if (decision.decision === 'deny') {
      entry.outcome = 'denied';
      entry.deniedBy = who;
      entry.denyReason = decision.reason;
      this.host.announce('denied', who, decision.stepId, decision.reason ?? 'no reason given', entry.request);
      return {
        stepId: decision.stepId,
        outcome: 'denied',
        approvals: entry.request.approvals.length,
        required: entry.request.required,
      };
    }
    entry.request.approvals.push(...identities);
    const distinct = countPeople(entry.request.approvals, entry.snapshots);
    if (distinct >= entry.request.required) {
      entry.outcome = 'approved';
      this.host.announce(
        'approved',
        who,
        decision.stepId,
        `approved (${distinct}/${entry.request.required})`,
        entry.request,
      );
      return {
        stepId: decision.stepId,
        outcome: 'approved',
        approvals: distinct,
        required: entry.request.required,
      };
    }
    this.host.announce(
      'approval-recorded',
      who,
      decision.stepId,
      `approval ${distinct}/${entry.request.required}`,
      entry.request,
    );
    return {
      stepId: decision.stepId,
      outcome: 'recorded',
      approvals: distinct,
      required: entry.request.required,
    };
  }
}

/** Identities of one person (a person's channels, a key tied to a Slack user) count once. */
function countPeople(identities: string[], snapshots: OwnerSnapshot[]): number {
  return new Set(identities.map((identity) => personOf(identity, snapshots))).size;
}

function describe(request: ApprovalRequest): string {
  return `${request.action} on ${request.target} (${request.reversible ? 'reversible' : 'irreversible'}, ${request.policy}, params ${request.paramsHash.slice(0, 12)}…, until ${request.expiresAt})`;
}
