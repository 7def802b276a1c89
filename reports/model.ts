import {
  PHASES,
  type IncidentStatus,
  type ItemProgress,
  type Runbook,
  type TimelineEvent,
} from '../lib/runbook/types';
import { approvalGroupOwner, isApprovalGroupOf, itemCountsText, itemLabel } from '../lib/runbook/for-each';
import {
  actionSpec,
  DEFAULT_SLA_MS,
  MILESTONE_IDS,
  MILESTONE_LABELS,
  milestoneReached,
  type MilestoneId,
} from './milestones';

/** Something the responders learned: a note in the timeline, or an exercise inject. */
export interface ReportNote {
  at: string;
  kind: 'note' | 'alert' | 'provider-failure' | 'exercise';
  text: string;
  /** Who wrote it (`user:<name>`, `slack:<id>`), for notes that are not an exercise's own. */
  by?: string;
}

const NOTE_KINDS: ReadonlySet<string> = new Set(['note', 'alert', 'provider-failure', 'exercise']);

/** A `note` timeline event as a report note: an exercise writes `exercise:<kind>` as the actor. */
export function noteOfEvent(event: TimelineEvent): ReportNote {
  const kind = event.actor.startsWith('exercise:') ? event.actor.slice('exercise:'.length) : '';
  return NOTE_KINDS.has(kind)
    ? { at: event.at, kind: kind as ReportNote['kind'], text: event.detail ?? '' }
    : { at: event.at, kind: 'note', text: event.detail ?? '', by: event.actor };
}

export interface ReportInput {
  status: IncidentStatus;
  /** The runbook the incident ran (from its start input): step owners, deadlines. */
  runbook?: Runbook;
  /** The exercise clock: offsets are shown in scenario time, real elapsed time × speed. */
  clockSpeed?: number;
  /** Milestone targets (scenario ms from the opening); missing ones use DEFAULT_SLA_MS. */
  sla?: Partial<Record<MilestoneId, number>>;
  /** Notes the timeline does not hold (an exercise record's, written when the incident had closed). */
  notes?: ReportNote[];
  /** Approver identity (`key:<name>`, `slack:<user>`) → the roles it belongs to. */
  owners?: Record<string, string[]>;
  exercise?: { scenarioId: string; title: string; wallMs?: number; references?: string[] };
  generatedAt?: string;
}

export type MilestoneOutcome = 'met' | 'missed' | 'not-reached' | 'not-applicable';

export interface MilestoneRow {
  id: MilestoneId;
  label: string;
  outcome: MilestoneOutcome;
  at?: string;
  /** Scenario time from the opening (real time × speed). */
  offsetMs?: number;
  realOffsetMs?: number;
  targetMs: number;
  steps: string[];
  blockers: string[];
}

export interface OwnerResponse {
  stepId: string;
  role?: string;
  decision: 'approved' | 'approval-recorded' | 'denied';
  at: string;
  /** From the moment the request reached this person's role (the request, or its escalation). */
  afterMs: number;
  realAfterMs: number;
  reason?: string;
}

export interface OwnerRow {
  identity: string;
  roles: string[];
  responses: OwnerResponse[];
  medianMs: number;
  maxMs: number;
}

export interface RoleRow {
  role: string;
  /** Steps whose request reached the role (as owner or by escalation). */
  asked: string[];
  answered: string[];
  /** Steps where the role let the deadline pass. */
  missed: string[];
}

export type FindingKind =
  | 'sla-missed'
  | 'missed-deadline'
  | 'unreachable-owner'
  | 'denied'
  | 'refused-approval'
  | 'failed-step'
  | 'not-configured'
  | 'blocked-step'
  | 'break-glass'
  | 'compensation-failed'
  | 'purge-before-evidence'
  | 'notification-failed'
  | 'retried-step'
  | 'not-closed';

export interface Finding {
  kind: FindingKind;
  severity: 'high' | 'medium' | 'low';
  stepId?: string;
  text: string;
}

export interface StepBar {
  from: number;
  to: number;
  outcome: string;
}

export interface StepRow {
  id: string;
  title: string;
  phase: string;
  state: string;
  owner?: string;
  provider?: string;
  attempts?: number;
  reason?: string;
  error?: string;
  /** A forEach step: its items by state, and the failed ones by name. */
  items?: string;
  /** Scenario offsets (ms) of the approval wait and of the execution. */
  approval?: StepBar & { escalations: number[]; breakGlass?: number };
  run?: StepBar;
}

export interface TimelineRow {
  at: string;
  offsetMs: number;
  type: string;
  stepId?: string;
  actor: string;
  detail?: string;
}

export interface AfterActionReport {
  incidentId: string;
  title: string;
  runbookId: string;
  state: string;
  severity: string;
  connector: string;
  exercise?: ReportInput['exercise'];
  /** A demo incident (TOURNIQUET_MODE=demo): systems without a real provider were simulated. */
  demo?: true;
  speed: number;
  openedAt: string;
  closedAt?: string;
  /** Opening to closing (or to the report), scenario time and real time. */
  durationMs: number;
  realDurationMs: number;
  alerts: IncidentStatus['alerts'];
  milestones: MilestoneRow[];
  owners: OwnerRow[];
  roles: RoleRow[];
  escalations: TimelineRow[];
  breakGlass: TimelineRow[];
  findings: Finding[];
  steps: StepRow[];
  /** Each `verifyRevoked` step: did the leaked credential die, and what proves it (the probes are in the vault). */
  proofOfDeath: ProofOfDeathRow[];
  notes: (ReportNote & { offsetMs: number })[];
  timeline: TimelineRow[];
  generatedAt: string;
}

export interface ProofOfDeathRow {
  stepId: string;
  state: string;
  /** Who checked: `aws-iam`, `postgres`, or `simulated:<system>` (which proves nothing). */
  provider: string;
  /** `proven dead`, `NOT proven`, or why the check did not run. */
  verdict: string;
  /** What the issuer reported (probe counts, window, evidence artifact, replacement checks); never a value. */
  facts: [string, string][];
}

/** The verification steps, as the report's proof of death: what a reviewer asks first after a leak. */
function proofOfDeathRows(status: IncidentStatus): ProofOfDeathRow[] {
  return status.steps
    .filter((step) => step.action.endsWith('.verifyRevoked'))
    .map((step) => {
      const summary = step.summary ?? {};
      const simulated = step.provider?.startsWith('simulated:') ?? false;
      const verdict =
        step.state !== 'succeeded'
          ? `NOT proven: ${step.state}${step.error ? `: ${step.error}` : step.reason ? ` (${step.reason})` : ''}`
          : simulated
            ? 'simulated: nothing was probed'
            : summary.oldCredentialDead === false
              ? 'NOT proven'
              : 'proven dead';
      return {
        stepId: step.id,
        state: step.state,
        provider: step.provider ?? '—',
        verdict,
        facts: Object.entries(summary).map(([key, value]): [string, string] => [
          key,
          Array.isArray(value) ? value.join(', ') : String(value),
        ]),
      };
    });
}

const DECISIONS = new Set(['approved', 'approval-recorded', 'denied']);
const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 } as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : Math.round((sorted[middle - 1] + sorted[middle]) / 2);
}

/** `+45s`, `+7m 05s`, `+3h 05m`: scenario offsets as people read them. */
export function formatOffset(ms: number, sign = true): string {
  const prefix = sign ? (ms < 0 ? '-' : '+') : '';
  let rest = Math.round(Math.abs(ms) / 1000);
  if (Math.abs(ms) < 1000 && ms !== 0) return `${prefix}${Math.abs(Math.round(ms))}ms`;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const pad = (value: number) => String(value).padStart(2, '0');
  if (hours > 0) return `${prefix}${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${prefix}${minutes}m ${pad(seconds)}s`;
  return `${prefix}${seconds}s`;
}

export function formatDuration(ms: number): string {
  return formatOffset(ms, false);
}

/** `12 items: 11 succeeded, 1 failed (platform-cred-07: issuer is down)`. */
function itemsLine(progress: ItemProgress): string {
  const failed = progress.items.filter((item) => item.state === 'failed').slice(0, 20);
  const why = failed.map((item) => `${itemLabel(item)}: ${item.error ?? 'failed'}`).join('; ');
  return `${itemCountsText(progress)}${why ? ` (${why})` : ''}`;
}

/** Builds the after-action report of an incident (real or exercise) from its status, timeline and runbook. */
export function buildReport(input: ReportInput): AfterActionReport {
  const { status } = input;
  const speed = input.clockSpeed ?? 1;
  const t0 = Date.parse(status.openedAt);
  const generatedAt = input.generatedAt ?? new Date().toISOString();
  const offset = (at: string): number => Math.round((Date.parse(at) - t0) * speed);
  const end = status.closedAt ?? generatedAt;
  const steps = input.runbook ? new Map(input.runbook.steps.map((step) => [step.id, step])) : undefined;

  const timeline: TimelineRow[] = status.timeline.map((event) => ({ ...event, offsetMs: offset(event.at) }));
  const stepEvents = (stepId: string, ...types: string[]): TimelineEvent[] =>
    status.timeline.filter((event) => event.stepId === stepId && types.includes(event.type));
  const succeededAt = (stepId: string) => stepEvents(stepId, 'succeeded').at(-1)?.at;

  // Milestones against their targets.
  const milestones: MilestoneRow[] = MILESTONE_IDS.map((id) => {
    const reached = milestoneReached(id, status.steps, succeededAt);
    const targetMs = input.sla?.[id] ?? DEFAULT_SLA_MS[id];
    const row: MilestoneRow = {
      id,
      label: MILESTONE_LABELS[id],
      outcome: reached.state === 'not-applicable' ? 'not-applicable' : 'not-reached',
      targetMs,
      steps: reached.steps,
      blockers: reached.blockers,
    };
    if (reached.state === 'reached' && reached.at) {
      row.at = reached.at;
      row.offsetMs = offset(reached.at);
      row.realOffsetMs = Date.parse(reached.at) - t0;
      row.outcome = row.offsetMs <= targetMs ? 'met' : 'missed';
    }
    return row;
  });

  // Who was asked, who answered, how fast.
  const escalationRoles = (stepId: string): { role: string; at: string }[] =>
    stepEvents(stepId, 'escalated')
      .map((event) => ({ role: /escalated to ([\w-]+)/.exec(event.detail ?? '')?.[1] ?? '', at: event.at }))
      .filter((entry, index, all) => entry.role && all.findIndex((e) => e.role === entry.role) === index);
  const rolesOf = (identity: string): string[] => input.owners?.[identity] ?? [];

  const owners = new Map<string, OwnerRow>();
  const roleRows = new Map<string, RoleRow>();
  const roleRow = (role: string): RoleRow => {
    let row = roleRows.get(role);
    if (!row) roleRows.set(role, (row = { role, asked: [], answered: [], missed: [] }));
    return row;
  };
  const requestedSteps = [
    ...new Set(status.timeline.filter((e) => e.type === 'approval-requested').map((e) => e.stepId!)),
  ];
  for (const stepId of requestedSteps) {
    const requested = stepEvents(stepId, 'approval-requested')[0];
    const primary =
      steps?.get(stepId)?.owner ?? approvalGroupOwner(stepId, (id) => !!steps?.get(id)?.forEach);
    const escalations = escalationRoles(stepId);
    const firstEscalation = stepEvents(stepId, 'escalated')[0]?.at;
    const decisions = status.timeline.filter((event) => event.stepId === stepId && DECISIONS.has(event.type));
    const asked = [...(primary ? [{ role: primary, at: requested.at }] : []), ...escalations];
    for (const entry of asked) {
      const row = roleRow(entry.role);
      if (!row.asked.includes(stepId)) row.asked.push(stepId);
    }
    if (primary && firstEscalation) roleRow(primary).missed.push(stepId);
    for (const decision of decisions) {
      const identityRoles = rolesOf(decision.actor);
      const match =
        asked.find((entry) => identityRoles.includes(entry.role)) ??
        // Without an owners map: before the escalation it was the owner; after it, whoever it went to.
        (identityRoles.length === 0
          ? [...asked].reverse().find((entry) => entry.at <= decision.at)
          : undefined);
      const reference = match?.at ?? requested.at;
      if (match) {
        const row = roleRow(match.role);
        if (!row.answered.includes(stepId)) row.answered.push(stepId);
      }
      let owner = owners.get(decision.actor);
      if (!owner) {
        owner = { identity: decision.actor, roles: identityRoles, responses: [], medianMs: 0, maxMs: 0 };
        owners.set(decision.actor, owner);
      }
      owner.responses.push({
        stepId,
        ...(match ? { role: match.role } : {}),
        decision: decision.type as OwnerResponse['decision'],
        at: decision.at,
        afterMs: Math.round((Date.parse(decision.at) - Date.parse(reference)) * speed),
        realAfterMs: Date.parse(decision.at) - Date.parse(reference),
        ...(decision.type === 'denied' && decision.detail ? { reason: decision.detail } : {}),
      });
    }
  }
  for (const owner of owners.values()) {
    const times = owner.responses.map((response) => response.afterMs);
    owner.medianMs = median(times);
    owner.maxMs = Math.max(...times);
  }

  const escalations = timeline.filter((event) => event.type === 'escalated');
  const breakGlass = timeline.filter((event) => event.type === 'break-glass');

  // Gantt rows: every step in phase order, its approval wait and its execution.
  const phaseIndex = (phase: string) => PHASES.indexOf(phase as (typeof PHASES)[number]);
  const order = new Map(status.steps.map((step, index) => [step.id, index]));
  const stepRows: StepRow[] = [...status.steps]
    .sort((a, b) => phaseIndex(a.phase) - phaseIndex(b.phase) || order.get(a.id)! - order.get(b.id)!)
    .map((step) => {
      const row: StepRow = {
        id: step.id,
        title: step.title,
        phase: step.phase,
        state: step.state,
        ...(steps?.get(step.id) ? { owner: steps.get(step.id)!.owner } : {}),
        ...(step.provider ? { provider: step.provider } : {}),
        ...(step.attempts ? { attempts: step.attempts } : {}),
        ...(step.reason ? { reason: step.reason } : {}),
        ...(step.error ? { error: step.error } : {}),
        ...(step.items ? { items: itemsLine(step.items) } : {}),
      };
      // A forEach step's approvals are its owners' batches (`<step>--<owner>`): the bar spans the first request to
      // the last decision.
      const approvalEvents = (...types: string[]) =>
        status.timeline.filter(
          (event) =>
            types.includes(event.type) &&
            (event.stepId === step.id || (!!step.items && isApprovalGroupOf(event.stepId, step.id))),
        );
      const requested = approvalEvents('approval-requested')[0];
      if (requested) {
        const decisions = approvalEvents('approved', 'denied', 'break-glass');
        const decided = step.items ? decisions.at(-1) : decisions[0];
        row.approval = {
          from: offset(requested.at),
          to: offset(decided?.at ?? end),
          outcome: decided?.type ?? 'pending',
          escalations: approvalEvents('escalated').map((event) => offset(event.at)),
          ...(decided?.type === 'break-glass' ? { breakGlass: offset(decided.at) } : {}),
        };
      }
      const runStart = stepEvents(step.id, 'requested')[0];
      if (runStart) {
        const finished = stepEvents(step.id, 'succeeded', 'failed', 'not-configured').at(-1);
        row.run = {
          from: offset(runStart.at),
          to: offset(finished?.at ?? end),
          outcome: finished?.type ?? step.state,
        };
      }
      return row;
    });

  const findings = collectFindings(milestones, [...roleRows.values()]);

  const recorded = status.timeline.filter((event) => event.type === 'note').map(noteOfEvent);
  const seen = new Set(recorded.map((note) => `${note.kind}\u0000${note.text}`));
  const notes = [
    ...recorded,
    ...(input.notes ?? []).filter((note) => !seen.has(`${note.kind}\u0000${note.text}`)),
  ]
    .map((note) => ({ ...note, offsetMs: offset(note.at) }))
    .sort((a, b) => a.offsetMs - b.offsetMs);
  return {
    incidentId: status.incidentId,
    title: input.exercise?.title ?? input.runbook?.title ?? status.runbookId,
    runbookId: status.runbookId,
    state: status.state,
    severity: status.severity,
    connector: status.connector,
    ...(input.exercise ? { exercise: input.exercise } : {}),
    ...(status.demo ? { demo: true as const } : {}),
    speed,
    openedAt: status.openedAt,
    ...(status.closedAt ? { closedAt: status.closedAt } : {}),
    durationMs: offset(end),
    realDurationMs: Date.parse(end) - t0,
    alerts: status.alerts,
    milestones,
    owners: [...owners.values()].sort((a, b) => a.identity.localeCompare(b.identity)),
    roles: [...roleRows.values()].sort((a, b) => a.role.localeCompare(b.role)),
    escalations,
    breakGlass,
    findings,
    steps: stepRows,
    proofOfDeath: proofOfDeathRows(status),
    notes,
    timeline,
    generatedAt,
  };

  function collectFindings(milestoneRows: MilestoneRow[], roles: RoleRow[]): Finding[] {
    const found: Finding[] = [];
    const add = (finding: Finding) => found.push(finding);
    if (status.state === 'running' || status.state === 'awaiting-approval') {
      add({
        kind: 'not-closed',
        severity: 'medium',
        text: `The incident was still ${status.state} at ${end}.`,
      });
    }
    if (status.state === 'cancelled') {
      add({ kind: 'not-closed', severity: 'high', text: `The incident was cancelled at ${end}.` });
    }
    for (const row of milestoneRows) {
      if (row.outcome === 'missed') {
        add({
          kind: 'sla-missed',
          severity: 'high',
          text: `${row.label} at ${formatOffset(row.offsetMs!)}, target ${formatDuration(row.targetMs)}.`,
        });
      } else if (row.outcome === 'not-reached') {
        add({
          kind: 'sla-missed',
          severity: 'high',
          text: `${row.label} was never reached (target ${formatDuration(row.targetMs)}): ${row.blockers.join(', ')} did not succeed.`,
        });
      }
    }
    for (const event of status.timeline) {
      const at = formatOffset(offset(event.at));
      const step = event.stepId ?? '(incident)';
      if (event.type === 'escalated') {
        // One finding per step: the first deadline that passed, and how many more did.
        const all = status.timeline.filter(
          (other) => other.type === 'escalated' && other.stepId === event.stepId,
        );
        if (all[0] !== event) continue;
        const deadline = steps?.get(step)?.approval.deadline;
        const again = all.length > 1 ? `; passed ${all.length} times in all` : '';
        add({
          kind: 'missed-deadline',
          severity: 'medium',
          stepId: step,
          text: `${step}: no decision${deadline ? ` within the ${deadline} deadline` : ' before the deadline'} (${at}); ${event.detail ?? 'escalated'}${again}.`,
        });
      } else if (event.type === 'denied') {
        add({
          kind: 'denied',
          severity: 'medium',
          stepId: step,
          text: `${step} denied by ${event.actor} at ${at}: "${event.detail ?? 'no reason given'}".`,
        });
      } else if (event.type === 'approval-refused') {
        add({
          kind: 'refused-approval',
          severity: 'medium',
          stepId: step,
          text: `Approval by ${event.actor} for ${step} refused at ${at}: ${event.detail ?? ''}.`,
        });
      } else if (event.type === 'break-glass') {
        add({
          kind: 'break-glass',
          severity: 'medium',
          stepId: step,
          text: `${step} executed by break-glass at ${at}, without an owner's approval: review it.`,
        });
      } else if (event.type === 'compensation-failed') {
        add({
          kind: 'compensation-failed',
          severity: 'high',
          stepId: step,
          text: `Undoing ${step} failed at ${at}: ${event.detail ?? ''}.`,
        });
      } else if (event.type === 'failed' && event.detail?.startsWith('notification not delivered')) {
        add({
          kind: 'notification-failed',
          severity: 'low',
          stepId: step,
          text: `${step}: ${event.detail}.`,
        });
      }
    }
    for (const role of roles) {
      if (role.asked.length > 0 && role.answered.length === 0) {
        add({
          kind: 'unreachable-owner',
          severity: 'high',
          text: `${role.role} answered none of its ${role.asked.length} request(s): ${role.asked.join(', ')}.`,
        });
      }
    }
    for (const step of status.steps) {
      if (step.state === 'failed') {
        add({
          kind: 'failed-step',
          severity: 'high',
          stepId: step.id,
          text: `${step.id} failed${step.attempts ? ` after ${step.attempts} attempt(s)` : ''}: ${step.error ?? 'unknown error'}.`,
        });
      } else if (step.state === 'not-configured') {
        add({
          kind: 'not-configured',
          severity: 'high',
          stepId: step.id,
          text: `${step.id} did not run, its system is not configured: ${step.error ?? 'unknown system'}.`,
        });
      } else if (step.state === 'skipped' && step.reason?.startsWith('blocked')) {
        add({
          kind: 'blocked-step',
          severity: 'medium',
          stepId: step.id,
          text: `${step.id} did not run: ${step.reason}.`,
        });
      } else if ((step.attempts ?? 1) > 1) {
        add({
          kind: 'retried-step',
          severity: 'low',
          stepId: step.id,
          text: `${step.id} needed ${step.attempts} attempts (provider failures, retried).`,
        });
      }
    }
    // Evidence before any destructive step: a purge that ran before the evidence existed lost it.
    const evidence = milestoneRows.find((row) => row.id === 'evidence-preserved');
    for (const step of status.steps) {
      if (step.state !== 'succeeded' || actionSpec(step.action)?.destructive !== 'log-purge') continue;
      const purgedAt = succeededAt(step.id) ?? step.finishedAt;
      if (!evidence?.at || (purgedAt && purgedAt < evidence.at)) {
        add({
          kind: 'purge-before-evidence',
          severity: 'high',
          stepId: step.id,
          text: `${step.id} purged logs ${evidence?.at ? 'before' : 'without'} the evidence being preserved.`,
        });
      }
    }
    return found.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  }
}
