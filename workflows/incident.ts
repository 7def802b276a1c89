import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  workflowInfo,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { IncidentActivities, OpenedIncident, StepExecutionResult } from '../activities/types';
import {
  connectorDestinations,
  destinationSystems,
  resolveAction,
  splitAction,
} from '../lib/runbook/actions';
import { topologicalOrder } from '../lib/runbook/dag';
import { durationMs } from '../lib/runbook/duration';
import { revokedAtIngestNote } from '../lib/runbook/revoked-at-ingest';
import {
  lookupPath,
  renderParams,
  templateReferences,
  TemplateError,
  type TemplateScope,
} from '../lib/runbook/template';
import type {
  AlertBatch,
  AlertBatchResult,
  AlertDetails,
  IncidentLocation,
  ApprovalDecision,
  ApprovalRequest,
  IncidentInput,
  IncidentState,
  IncidentStatus,
  Params,
  Phase,
  Runbook,
  RunbookStep,
  SimulatedFaultSpec,
  StepStatus,
  TimelineEvent,
  TimelineEventType,
} from '../lib/runbook/types';
import { MAX_LATEST_ALERT_IDS, PHASES, SEVERITIES } from '../lib/runbook/types';
import { ApprovalGate } from './approval-gate';
import { ForEachStep, type ForEachHost } from './for-each';
import { rerunSteps } from '../lib/runbook/for-each';
import { alertDetailsRefusal, credentialChoiceRefusal, SignedCommands } from './commands';
import {
  addNoteUpdate,
  alertIdsQuery,
  approvalRefusedSignal,
  attachAlertsUpdate,
  cancelIncidentUpdate,
  decideStepUpdate,
  noteSignal,
  reportRefusalUpdate,
  resolveCredentialUpdate,
  statusQuery,
  type ApprovalRefusal,
  type CredentialChoice,
  type IncidentCancel,
  type IncidentNote,
} from './messages';
import { IncidentNotifications, notifier } from './notifications';
import { PHASE, SEVERITY, STATE } from './search-attributes';

/** Refusals beyond this many are counted, not each written to the timeline (a flood must not bloat history). */
const MAX_RECORDED_REFUSALS = 200;
/** Notes beyond this many are counted only, and each is cut to a readable length: history stays bounded. */
const MAX_RECORDED_NOTES = 200;
const MAX_NOTE_LENGTH = 1_000;
const MAX_ACTOR_LENGTH = 100;
/** Places kept for the status and the report; more alerts about more places only count. */
const MAX_LOCATIONS = 50;

/** Who is asked to name a credential the inventory could not resolve. */
const INCIDENT_COMMANDER = 'incident-commander';
/** What a step on an unresolved credential says while it waits. */
const AWAITING_CREDENTIAL = 'waiting for the credential to be named (tourniquet incident resolve-credential)';

/** Steps whose failure or refusal keeps their dependants from running. */
const BLOCKING: ReadonlySet<StepStatus['state']> = new Set(['failed', 'not-configured', 'cancelled']);

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentStatus> {
  // Set once the runbook is read; the handlers below are registered before that, at the first activation.
  const incident: { run?: IncidentRun } = {};
  // Messages that arrive while the runbook loads wait for it; once it has, they are handled at once, as before.
  const whenOpen = async <T>(handle: (run: IncidentRun) => T): Promise<T> => {
    if (!incident.run) await condition(() => incident.run !== undefined);
    return handle(incident.run!);
  };
  // Histories recorded before commands were signed take unsigned notes, refusals and Temporal's cancel, as then.
  const signedCommands = patched('signed-commands');
  // Decided here, in the first activation, like every patch: one first asked after the opening local activity can
  // be recorded in the next workflow task, which replay (resolving that activity within the first) has not yet
  // looked ahead to, and the history would no longer replay. The input is unchecked yet, hence the `?.`.
  const waitsForCredential =
    input.context?.credential?.resolution?.by === 'unresolved' &&
    patched('steps-wait-for-an-unresolved-credential');
  const opening: { refusal?: string } = {};
  setHandler(statusQuery, () => incident.run?.status() ?? openingStatus(input, opening.refusal));
  setHandler(alertIdsQuery, () => incident.run?.alertIds() ?? []);
  setHandler(decideStepUpdate, (decision) => incident.run!.gate.decide(decision), {
    validator: (decision: ApprovalDecision) => {
      if (!incident.run) throw new Error('the incident is still opening: nothing awaits approval yet');
      incident.run.gate.validate(decision);
    },
  });
  setHandler(attachAlertsUpdate, (batch) => whenOpen((run) => run.attachAlerts(batch)));
  // A command that arrives while the incident opens is checked by its handler once the trusted keys are known.
  setHandler(addNoteUpdate, (command) => whenOpen((run) => run.note(run.commands.accept('note', command))), {
    validator: (command) => incident.run?.commands.check('note', command),
  });
  setHandler(
    reportRefusalUpdate,
    (command) => whenOpen((run) => run.refused(run.commands.accept('refusal', command))),
    { validator: (command) => incident.run?.commands.check('refusal', command) },
  );
  setHandler(
    cancelIncidentUpdate,
    (command) => whenOpen((run) => run.cancel(run.commands.accept('cancel', command))),
    {
      validator: (command) => {
        incident.run?.commands.check('cancel', command);
        incident.run?.checkCancellable();
      },
    },
  );
  setHandler(
    resolveCredentialUpdate,
    (command) => whenOpen((run) => run.nameCredential(run.commands.accept('resolve-credential', command))),
    {
      validator: (command: unknown) => {
        incident.run?.commands.check('resolve-credential', command);
        incident.run?.checkCredentialChoice((command as { body?: unknown }).body);
      },
    },
  );
  setHandler(approvalRefusedSignal, (refusal) =>
    signedCommands ? undefined : whenOpen((run) => run.refused(refusal)),
  );
  setHandler(noteSignal, (note) => (signedCommands ? undefined : whenOpen((run) => run.note(note))));

  // Whoever reaches the Temporal API can ask to cancel any workflow; containment stops only for a signed cancel.
  // The request is only noted here: work done in the cancelled root scope would be cancelled with it.
  let cancelRequested = false;
  if (signedCommands) void CancellationScope.current().cancelRequested.catch(() => (cancelRequested = true));
  const open = async (): Promise<IncidentStatus> => {
    const trusted = await trustedRunbook(input, (refusal) => {
      // Histories recorded before then did not say so; a refused incident is listed as such from now on.
      if (!signedCommands) return;
      opening.refusal = refusal;
      upsertSearchAttributes([
        { key: STATE, value: 'refused' },
        { key: PHASE, value: 'closed' },
      ]);
    });
    const run = new IncidentRun({ ...input, runbook: trusted.runbook }, trusted, {
      signedCommands,
      waitsForCredential,
    });
    incident.run = run;
    if (signedCommands) {
      void condition(() => cancelRequested).then(() => run.unsignedCancelIgnored());
    }
    return run.execute();
  };
  if (!signedCommands) return open();
  return CancellationScope.nonCancellable(open);
}

/**
 * A local activity: it runs inside the worker that holds this workflow task, so opening costs no extra trip through
 * the server before the first containment step (as a regular activity it added about 45 ms at p50).
 */
const opening = proxyLocalActivities<IncidentActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: ['IncidentRefused'] },
});

/**
 * The runbook this incident runs, once the worker has checked the start. Whoever can reach the Temporal API must
 * not be able to start an incident the gateway did not sign, nor hand the worker a runbook of their own: a real
 * incident's runbook comes from the worker's catalog, by the id the start names. Only an exercise, whose every
 * action goes to simulation, may carry its scenario's runbook.
 */
async function trustedRunbook(
  input: IncidentInput,
  refused: (reason: string) => void,
): Promise<OpenedIncident & { runbook: Runbook }> {
  // Histories recorded before the worker checked starts carry their runbook in the input and replay with it.
  if (!patched('start-checked-by-worker')) return { runbook: input.runbook! };
  try {
    const opened = await opening.openIncident({
      input,
      startedAt: workflowInfo().runStartTime.toISOString(),
    });
    return { ...opened, runbook: opened.runbook ?? input.runbook! };
  } catch (error) {
    const reason = failureMessage(error);
    refused(reason);
    throw ApplicationFailure.nonRetryable(reason, 'IncidentRefused');
  }
}

/**
 * The incident commander's owners, for the prompt to name an unresolved credential: a few quick attempts (an owners
 * file without the role must not hold the prompt back for minutes), then the prompt goes out without a mention.
 */
/**
 * The task-queue priority of the steps that run the moment an incident opens (nothing before them, nobody to ask:
 * disabling the connector, capturing the logs). Under a burst of new incidents each one's first containment call must
 * not wait behind the later steps of the incidents opened before it (FIFO put it ~40 s back at 1,000 new secrets).
 * Priority orders the queue only (`matching.useNewMatcher` on the server) and changes no command's identity, so
 * recorded histories replay as before.
 */
const FIRST_CONTAINMENT = { priorityKey: 1 };

function opensTheIncident(step: RunbookStep): boolean {
  return step.after.length === 0 && step.approval.policy === 'none';
}

const commanders = proxyActivities<IncidentActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '1s', maximumInterval: '5s' },
});

/** What `status` answers between the start and the runbook's arrival, or for good once the start was refused. */
function openingStatus(input: IncidentInput, refusal?: string): IncidentStatus {
  const { incident, connector } = input.context;
  return {
    incidentId: incident.id,
    runbookId: input.runbookRef?.id ?? input.runbook?.id ?? 'unknown',
    state: refusal ? 'refused' : 'running',
    ...(refusal ? { refusal } : {}),
    severity: incident.severity,
    phase: refusal ? 'closed' : PHASES[0],
    exercise: input.exercise,
    fingerprint: incident.fingerprint,
    connector: `${connector.provider}:${connector.ref}`,
    openedAt: incident.openedAt,
    steps: [],
    timeline: [],
    approvals: [],
    flags: [],
    alerts: { count: 0, sources: {} },
  };
}

/**
 * One incident, from opening to close: the runbook's DAG interpreted step by step. Everything the `status` query
 * shows lives here, and every change goes through `record` (the timeline) so history and Slack tell one story.
 *
 * How a run goes: `execute` starts one promise per step in topological order; each waits for its `after` steps,
 * then skips, asks the approval gate, or calls `executeStep` (the only side effect, in an activity). A failure or
 * a denial follows the step's `onFailure`: `continue` blocks only its dependants, `halt` stops scheduling new
 * steps, `compensate` halts and then undoes the completed reversible steps, newest first. Nothing here may read
 * the clock or randomness except through the Temporal workflow APIs: it is replayed from history.
 */
class IncidentRun {
  private readonly steps = new Map<string, StepStatus>();
  /** The `forEach` steps that started: their items' progress joins the step's status. */
  private readonly fanOuts = new Map<string, ForEachStep>();
  private readonly timeline: TimelineEvent[] = [];
  /** Succeeded step ids in completion order: compensation undoes them in reverse. */
  private readonly completionOrder: string[] = [];
  /** What a reader of the report must not miss: `break-glass:<step>`, `denied:<step>`. */
  private readonly flags: string[] = [];
  private readonly alerts = { ids: [] as string[], sources: {} as Record<string, number>, batches: 0 };
  /** Where alerts saw the leak: the opening batch's places, then those later alerts add (bounded). */
  private readonly locations: IncidentLocation[] = [];
  /** Counted past their caps so a flood of refusals or notes cannot grow history without bound. */
  private refusals = 0;
  private notes = 0;
  private readonly notifications: IncidentNotifications;
  readonly gate: ApprovalGate;
  /** Published as search attributes whenever they change, so `incident list` needs no query. */
  private state: IncidentState = 'running';
  private phase: Phase | 'closed';
  /** Set by a failure or denial whose onFailure is not `continue`: steps not yet started are skipped. */
  private halted = false;
  private compensationRequested = false;
  private closedAt?: string;
  /**
   * The steps run in here, so a signed cancel stops them and nothing else does. Absent for an incident from
   * before signed commands: Temporal's cancel stops it, and its commands keep their recorded order.
   */
  private readonly containment?: CancellationScope;
  /** True until every step has settled: a cancel after that has nothing left to stop. */
  private containing = true;
  private cancelledBy?: { actor: string; reason?: string };
  readonly commands: SignedCommands;

  private readonly input: IncidentInput & { runbook: Runbook };
  private readonly runbookSha256?: string;
  /** The worker's mode when the incident opened (absent before modes); `demo` marks everything SIMULATED. */
  private readonly mode?: OpenedIncident['mode'];
  private readonly unconfigured: Readonly<Record<string, string>>;
  /**
   * Set when the secret resolved to no inventory credential: the steps on the credential wait until a signed
   * `resolveCredential` names it (`named`). Absent for a resolved credential, and for an incident from before
   * naming, whose steps on the credential ran at once against the placeholder.
   */
  private readonly credentialWait?: { named?: { actor: string; credentialId: string } };
  /** A rerun of a failed incident (`input.rerun`): only these steps run. */
  private readonly rerun?: ReadonlySet<string>;

  constructor(
    input: IncidentInput & { runbook: Runbook },
    opened: OpenedIncident,
    { signedCommands, waitsForCredential }: { signedCommands: boolean; waitsForCredential: boolean },
  ) {
    this.input = input;
    if (signedCommands) this.containment = new CancellationScope();
    this.runbookSha256 = opened.sha256;
    // An exercise is simulated by definition and says so its own way.
    if (!input.exercise) this.mode = opened.mode;
    this.unconfigured = (!input.exercise && opened.unconfigured) || {};
    this.commands = new SignedCommands(input.context.incident.id, opened.gatewayKeys ?? []);
    // Histories recorded before then ran every step at once; only an unresolved credential asks (and marks) it.
    if (waitsForCredential) this.credentialWait = {};
    // Checked by the worker as the incident opened (`rerunRefusal`); only new starts carry it.
    if (input.rerun) this.rerun = rerunSteps(input.runbook.steps, Object.keys(input.rerun.items));
    for (const step of input.runbook.steps) {
      this.steps.set(step.id, {
        id: step.id,
        title: step.title,
        phase: step.phase,
        action: step.action,
        state: 'pending',
      });
    }
    this.phase = input.runbook.steps[0].phase;
    this.notifications = new IncidentNotifications({
      // The scope the run is built in: shielded from Temporal's cancel (see incidentWorkflow).
      ...(signedCommands ? { scope: CancellationScope.current() } : {}),
      incidentId: input.context.incident.id,
      exercise: input.exercise,
      ...(this.mode === 'demo' ? { demo: true as const } : {}),
      severity: input.context.incident.severity,
      undelivered: (event, error) =>
        this.record(
          'failed',
          'workflow',
          event.stepId,
          `notification not delivered: ${failureMessage(error)}`,
        ),
    });
    this.gate = new ApprovalGate({
      context: input.context,
      // The accelerated clock is an exercise's: a real incident's deadlines (and so break-glass) run on real time,
      // whatever a start sent straight to the Temporal API says.
      clockSpeed: input.exercise ? (input.clock?.speed ?? 1) : 1,
      isHalted: () => this.halted,
      record: (type, actor, stepId, detail) => this.record(type, actor, stepId, detail),
      announce: (type, actor, stepId, detail, request, mention) =>
        this.announce(type, actor, stepId, detail, request, mention),
      awaitingChanged: () => this.refreshState(),
      requestMessage: (stepId) => this.notifications.requestMessage(stepId),
    });
  }

  async execute(): Promise<IncidentStatus> {
    const { context, runbook } = this.input;
    this.announce(
      'incident-opened',
      context.incident.requester,
      undefined,
      `runbook ${runbook.id}${this.runbookSha256 ? ` (sha256 ${this.runbookSha256.slice(0, 12)}…)` : ''}, ${context.incident.hint || context.incident.secretKind}`,
    );
    const found = context.credential.resolution;
    if (found) {
      this.announce(
        'note',
        'workflow',
        undefined,
        clip(
          found.by === 'unresolved'
            ? `credential not resolved: ${found.reason}. Steps on the credential cannot act until it is named`
            : `credential ${found.credentialId ?? '?'} found by ${found.by}: ${found.reason}`,
          MAX_NOTE_LENGTH,
        ),
      );
    }
    // What the gateway revoked by value before the incident existed. Only inputs from then on carry the list, so
    // histories recorded before it replay unchanged.
    for (const revoked of context.incident.revokedAtIngest ?? []) {
      this.announce('note', 'gateway', undefined, clip(revokedAtIngestNote(revoked), MAX_NOTE_LENGTH));
    }
    if (this.credentialWait) this.askForCredential();
    // The start named the runbook without knowing its first phase: the list shows it from here on.
    if (this.runbookSha256) this.publishSearchAttributes();
    if (!this.input.exercise && this.input.clock && this.input.clock.speed !== 1) {
      this.flags.push('exercise-clock-ignored');
      this.record('note', 'workflow', undefined, 'an exercise clock was sent with a real incident: ignored');
    }
    const order = topologicalOrder(runbook.steps);
    if (!order.ok) throw ApplicationFailure.nonRetryable(`runbook has a cycle: ${order.cycle.join(', ')}`);

    const finished = new Map<string, Promise<void>>();
    const byId = new Map(runbook.steps.map((step) => [step.id, step]));
    try {
      // Not an async function: one more await would reorder the commands of histories recorded before signed cancels.
      const runSteps = () => {
        for (const id of order.order) finished.set(id, this.runStep(byId.get(id)!, finished));
        return Promise.all(finished.values());
      };
      await (this.containment ? this.containment.run(runSteps) : runSteps());
    } catch (error) {
      if (!isCancellation(error)) throw error;
      await CancellationScope.nonCancellable(async () => {
        await this.close('cancelled');
        await this.preserveRecord();
      });
      // Only an incident from before signed commands is cancelled through Temporal; it ends as it did then.
      if (!this.cancelledBy) throw error;
      return this.status();
    } finally {
      this.containing = false;
    }
    if (this.compensationRequested) await CancellationScope.nonCancellable(() => this.compensate());
    const failed = [...this.steps.values()].some(
      (step) => step.state === 'failed' || step.state === 'not-configured',
    );
    await this.close(this.halted || failed ? 'failed' : 'completed');
    await this.preserveRecord();
    return this.status();
  }

  status(): IncidentStatus {
    const { context, runbook, exercise } = this.input;
    return {
      incidentId: context.incident.id,
      runbookId: runbook.id,
      ...(this.runbookSha256 ? { runbookSha256: this.runbookSha256 } : {}),
      state: this.state,
      severity: context.incident.severity,
      phase: this.phase,
      exercise,
      ...(this.mode === 'demo' ? { demo: true as const } : {}),
      fingerprint: context.incident.fingerprint,
      connector: `${context.connector.provider}:${context.connector.ref}`,
      openedAt: context.incident.openedAt,
      closedAt: this.closedAt,
      steps: [...this.steps.values()].map((step) => {
        const items = this.fanOuts.get(step.id)?.progress();
        return items ? { ...step, items } : { ...step };
      }),
      timeline: [...this.timeline],
      approvals: this.gate.requests().map((request) => {
        const message = this.notifications.requestMessage(request.stepId);
        return message ? { ...request, message: { ...message } } : request;
      }),
      flags: [...this.flags],
      alerts: {
        count: this.alerts.ids.length,
        sources: { ...this.alerts.sources },
        latest: this.alerts.ids.slice(-MAX_LATEST_ALERT_IDS),
      },
      secret: {
        kind: context.incident.secretKind,
        hint: context.incident.hint,
        locations: this.locations.map((location) => ({ ...location })),
      },
      credential: {
        issuer: context.credential.issuer,
        ref: context.credential.ref,
        ...(context.credential.resolution ? { resolution: { ...context.credential.resolution } } : {}),
      },
    };
  }

  alertIds(): string[] {
    return [...this.alerts.ids];
  }

  attachAlerts(batch: AlertBatch): AlertBatchResult {
    const created = this.alerts.batches === 0 && batch.token === this.input.startToken;
    this.alerts.batches += 1;
    for (const alert of batch.alerts) {
      this.alerts.ids.push(alert.alertId);
      this.alerts.sources[alert.source] = (this.alerts.sources[alert.source] ?? 0) + 1;
    }
    if (batch.details !== undefined) this.takeAlertDetails(batch.details);
    return { incidentId: this.input.context.incident.id, created, alertCount: this.alerts.ids.length };
  }

  /**
   * What later alerts add, once the gateway's seal is checked: a higher severity (never a lower one), new places, a
   * real connector where the incident had only a simulated one, and the detector's events (validity confirmed,
   * resolved) on the timeline. Nothing here undoes a step: a resolution is only recorded for the commander.
   */
  private takeAlertDetails(sealed: NonNullable<AlertBatch['details']>): void {
    let details: AlertDetails;
    try {
      details = this.commands.accept('alert-details', sealed);
    } catch (error) {
      // Anyone reaching the Temporal API can send a batch: its ids count, its claims do not. Said once.
      if (this.flags.includes('unsigned-alert-details-ignored')) return;
      this.flags.push('unsigned-alert-details-ignored');
      this.announce(
        'note',
        'workflow',
        undefined,
        clip(`alert details ignored: ${failureMessage(error)}`, MAX_NOTE_LENGTH),
      );
      return;
    }
    const refusal = alertDetailsRefusal(details);
    if (refusal) {
      this.record('note', 'gateway', undefined, clip(`alert details ignored: ${refusal}`, MAX_NOTE_LENGTH));
      return;
    }
    for (const location of details.locations) {
      if (this.locations.length >= MAX_LOCATIONS) break;
      if (!this.locations.some((known) => known.url === location.url)) this.locations.push({ ...location });
    }
    const incident = this.input.context.incident;
    const escalation = details.events.find((event) => event.lifecycle === 'escalated');
    let escalationTold = false;
    if (SEVERITIES.indexOf(details.severity) > SEVERITIES.indexOf(incident.severity)) {
      escalationTold = escalation !== undefined;
      const from = incident.severity;
      incident.severity = details.severity;
      this.flags.push(`severity-raised:${details.severity}`);
      upsertSearchAttributes([{ key: SEVERITY, value: details.severity }]);
      const why = escalation
        ? ` by ${escalation.source} alert ${escalation.alertId}${escalation.text ? `: ${escalation.text}` : ''}`
        : '';
      this.announce(
        'note',
        'gateway',
        undefined,
        clip(`severity raised from ${from} to ${details.severity}${why}`, MAX_NOTE_LENGTH),
      );
    }
    const connector = this.input.context.connector;
    if (details.connector && connector.provider === 'simulated' && !this.input.exercise) {
      const named = `${details.connector.provider}:${details.connector.ref}`;
      this.input.context.connector = { ...details.connector };
      this.announce(
        'note',
        'gateway',
        undefined,
        clip(
          `a later alert names the connector ${named} (was ${connector.provider}:${connector.ref}): steps not yet started act on it`,
          MAX_NOTE_LENGTH,
        ),
      );
    }
    for (const event of details.events) {
      // A repeated or reopened alert is counted, not told: a storm of them must not flood the thread.
      if (event.lifecycle === 'raised' || !event.text || (event === escalation && escalationTold)) continue;
      this.notes += 1;
      if (this.notes > MAX_RECORDED_NOTES) return;
      const undo = event.lifecycle === 'resolved' ? '; nothing is undone automatically' : '';
      this.announce(
        'note',
        `siem:${event.source}`,
        undefined,
        clip(`${event.text} (alert ${event.alertId})${undo}`, MAX_NOTE_LENGTH),
      );
    }
  }

  refused(refusal: ApprovalRefusal): void {
    this.refusals += 1;
    if (this.refusals <= MAX_RECORDED_REFUSALS) {
      this.record('approval-refused', refusal.actor, refusal.stepId, refusal.reason);
      this.post(this.timeline[this.timeline.length - 1]);
    }
  }

  /** A signed cancel: the steps still running are cancelled, those not started are skipped. */
  cancel(request: IncidentCancel): void {
    this.checkCancellable();
    this.cancelledBy = {
      actor: clip(request.actor, MAX_ACTOR_LENGTH) || 'unknown',
      ...(request.reason ? { reason: clip(request.reason, MAX_NOTE_LENGTH) } : {}),
    };
    this.containment?.cancel();
  }

  checkCancellable(): void {
    if (!this.containment)
      throw new Error('this incident predates signed cancels: cancel it through Temporal');
    if (this.cancelledBy) throw new Error('the incident is already being cancelled');
    if (!this.containing) throw new Error(`the incident has no step left to stop (${this.state})`);
  }

  /** Someone with Temporal API access asked to cancel without a signature: everyone in the thread must know. */
  unsignedCancelIgnored(): void {
    if (this.flags.includes('unsigned-cancel-ignored')) return;
    this.flags.push('unsigned-cancel-ignored');
    this.announce(
      'note',
      'workflow',
      undefined,
      'a cancel request without a signature came through the Temporal API: ignored, containment goes on (cancel with `tourniquet incident cancel`)',
    );
  }

  note(note: IncidentNote): void {
    const text = typeof note?.text === 'string' ? note.text.trim() : '';
    if (text === '') return;
    this.notes += 1;
    if (this.notes > MAX_RECORDED_NOTES) return;
    this.announce(
      'note',
      clip(note.actor, MAX_ACTOR_LENGTH) || 'unknown',
      undefined,
      clip(text, MAX_NOTE_LENGTH),
    );
  }

  /**
   * The secret resolved to no inventory credential: the steps on the credential are marked waiting, and the incident
   * commander is asked in the thread which credential it is. The other steps run at once, as before.
   */
  private askForCredential(): void {
    const { incident, credential } = this.input.context;
    const waiting = this.input.runbook.steps.filter(waitsForIncidentCredential).map((step) => step.id);
    for (const id of waiting) this.update(id, { reason: AWAITING_CREDENTIAL });
    this.flags.push('credential-unresolved');
    const detail = clip(
      `which credential is this? ${credential.resolution?.reason ?? 'the inventory did not resolve it'}. ` +
        `${waiting.length > 0 ? `Waiting for it: ${waiting.join(', ')}.` : 'No step acts on it.'} ` +
        `Name it: \`tourniquet incident resolve-credential ${incident.id} <credential-id>\``,
      MAX_NOTE_LENGTH,
    );
    void commanders
      .resolveOwners(INCIDENT_COMMANDER)
      .then(
        (owners) => owners.slackUsers,
        () => undefined,
      )
      .then((mention) => {
        // Named (or over) before the owners were known: asking now would mislead the thread.
        if (this.credentialWait?.named || this.halted || !this.containing) return;
        this.announce('credential-requested', 'workflow', undefined, detail, undefined, mention);
      });
  }

  /** Update validator of `resolveCredential`, after the seal: throws the reason a choice is refused. */
  checkCredentialChoice(choice: unknown): void {
    const refusal = this.credentialChoiceRefusal(choice);
    if (refusal) throw new Error(refusal);
  }

  /** A signed choice of credential: the incident acts on it from now on, and the steps that waited go on. */
  nameCredential(choice: CredentialChoice): void {
    // Checked again: a choice that arrived while the incident opened skipped the validator.
    const refusal = this.credentialChoiceRefusal(choice);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'CommandRefused');
    const actor = clip(choice.actor, MAX_ACTOR_LENGTH) || 'unknown';
    const reason = choice.reason?.trim() ? clip(choice.reason.trim(), MAX_NOTE_LENGTH) : undefined;
    const colon = choice.credential.indexOf(':');
    this.input.context.credential = {
      issuer: choice.credential.slice(0, colon),
      ref: choice.credential.slice(colon + 1),
      destinations: choice.destinations.map(({ provider, target, part }) => ({
        provider,
        target,
        ...(part ? { part } : {}),
      })),
      resolution: {
        credentialId: choice.credentialId,
        by: 'operator',
        reason: clip(`named by ${actor}${reason ? `: ${reason}` : ''}`, MAX_NOTE_LENGTH),
      },
    };
    this.credentialWait!.named = { actor, credentialId: choice.credentialId };
    for (const step of this.steps.values()) {
      if (step.state === 'pending' && step.reason === AWAITING_CREDENTIAL) this.clearReason(step.id);
    }
    const unresolved = this.flags.indexOf('credential-unresolved');
    if (unresolved >= 0) this.flags.splice(unresolved, 1);
    this.flags.push(`credential-named:${choice.credentialId}`);
    const destinations = choice.destinations.length;
    this.announce(
      'credential-named',
      actor,
      undefined,
      clip(
        `credential ${choice.credentialId} (${choice.credential}, ${destinations} destination${destinations === 1 ? '' : 's'})` +
          `${reason ? `: ${reason}` : ''}; the steps on it go on`,
        MAX_NOTE_LENGTH,
      ),
    );
  }

  private credentialChoiceRefusal(choice: unknown): string | undefined {
    const resolution = this.input.context.credential.resolution;
    if (!this.credentialWait) {
      return resolution?.by === 'unresolved'
        ? 'this incident predates naming a credential: its steps on the credential did not wait for one'
        : `this incident's credential is not waiting to be named (${resolution ? `resolved by ${resolution.by}` : 'named at start'})`;
    }
    const { named } = this.credentialWait;
    if (named) return `the credential was already named: ${named.credentialId}, by ${named.actor}`;
    if (this.cancelledBy || !this.containing) return `the incident has no step left to run (${this.state})`;
    if (this.halted) return 'the incident halted: no step on the credential will run';
    return credentialChoiceRefusal(choice);
  }

  private clearReason(id: string): void {
    const { reason: _reason, ...step } = this.steps.get(id)!;
    this.steps.set(id, step);
  }

  private async runStep(step: RunbookStep, finished: Map<string, Promise<void>>): Promise<void> {
    await Promise.all(step.after.map((id) => finished.get(id) ?? Promise.resolve()));
    const blockedBy = step.after.find((id) => {
      const dependency = this.steps.get(id)!;
      if (this.partlyDone(id)) return false;
      return (
        BLOCKING.has(dependency.state) ||
        (dependency.state === 'skipped' && dependency.reason !== 'not applicable')
      );
    });
    if (this.rerun && !this.rerun.has(step.id)) return this.skip(step, 'not applicable', 'not re-run');
    if (this.halted) return this.skip(step, 'incident halted');
    if (blockedBy) return this.skip(step, `blocked: "${blockedBy}" did not succeed`);
    // Before `when`, the approval gate and the not-configured check: each reads the credential once it is named.
    if (this.credentialWait && !this.credentialWait.named && waitsForIncidentCredential(step)) {
      await condition(() => this.credentialWait?.named !== undefined || this.halted);
      if (this.halted) return this.skip(step, 'incident halted');
    }
    if (!this.applies(step)) return this.skip(step, 'not applicable');
    if (step.forEach) return this.runForEach(step);

    let params: Params;
    try {
      params = renderParams(step.params, this.templateScope());
    } catch (error) {
      if (error instanceof TemplateError) return this.fail(step, error.message);
      throw error;
    }

    const resolved = resolveAction(step.action, this.input.context);
    const missing = this.notConfigured(resolved.provider, params);
    if (missing) return this.fail(step, missing, 'not-configured');
    if (step.approval.policy !== 'none') {
      const target =
        typeof params.ref === 'string'
          ? params.ref
          : typeof params.repository === 'string'
            ? params.repository
            : step.id;
      this.update(step.id, { state: 'awaiting-approval' });
      const decision = await this.gate.gate(step, `${resolved.provider}.${resolved.action}`, target, params);
      this.update(step.id, { state: 'pending' });
      if (decision.outcome === 'halted') return this.skip(step, 'incident halted');
      if (decision.breakGlass) this.flags.push(`break-glass:${step.id}`);
      if (decision.outcome === 'denied') {
        this.flags.push(`denied:${step.id}`);
        this.update(step.id, { state: 'skipped', reason: `denied by ${decision.by ?? 'an owner'}` });
        this.haltFor(step, 'denied; ');
        return;
      }
    }

    this.update(step.id, { state: 'running', provider: resolved.provider });
    this.setPhase(step.phase);
    this.record('requested', 'workflow', step.id, `${resolved.provider}.${resolved.action}`);
    try {
      const result = await this.activitiesFor(step, opensTheIncident(step)).executeStep({
        incidentId: this.input.context.incident.id,
        stepId: step.id,
        provider: resolved.provider,
        action: resolved.action,
        params,
        exercise: this.input.exercise,
        ...this.modeInput(),
        idempotencyKey: `${this.input.context.incident.id}/${step.id}`,
        ...this.credentialInput(),
        ...this.destinationsInput(step.action),
        faults: this.faultsFor(step, `${resolved.provider}.${resolved.action}`),
        ...(step.undoes ? { undoOf: this.steps.get(step.undoes)?.summary ?? {} } : {}),
      });
      if (result.outcome === 'unsupported') {
        this.skip(step, 'not applicable', `not supported by ${result.implementation}`);
      } else if (result.outcome === 'not-configured') {
        this.fail(step, result.reason ?? `${result.implementation} is not configured`, 'not-configured');
      } else {
        this.succeed(step, result);
      }
    } catch (error) {
      if (isCancellation(error)) {
        this.update(step.id, { state: 'cancelled' });
        throw error;
      }
      this.fail(step, failureMessage(error));
    }
  }

  /**
   * A `forEach` step that failed for some items only, under `onItemFailure: continue`: the steps after it go on
   * (a verification iterates over `succeededItems`); the failed items stay on the record.
   */
  private partlyDone(id: string): boolean {
    const dependency = this.steps.get(id)!;
    const forEach = this.input.runbook.steps.find((candidate) => candidate.id === id)?.forEach;
    const succeeded = dependency.summary?.succeeded;
    return (
      dependency.state === 'failed' &&
      forEach?.onItemFailure === 'continue' &&
      typeof succeeded === 'number' &&
      succeeded > 0
    );
  }

  /** A `forEach` step: its items approved per owner and run in batches (`workflows/for-each.ts`). */
  private async runForEach(step: RunbookStep): Promise<void> {
    const fanOut = new ForEachStep(step, this.forEachHost(step));
    this.fanOuts.set(step.id, fanOut);
    const startedAt = now();
    this.update(step.id, { state: 'running', startedAt });
    this.setPhase(step.phase);
    let outcome;
    try {
      outcome = await fanOut.run();
    } catch (error) {
      if (isCancellation(error)) this.update(step.id, { state: 'cancelled' });
      throw error;
    }
    this.update(step.id, { summary: outcome.summary, finishedAt: now() });
    if (outcome.state === 'failed') return this.fail(step, outcome.error);
    if (outcome.state === 'skipped') {
      this.skip(step, outcome.reason, outcome.detail);
      if (outcome.denied) this.haltFor(step, 'denied; ');
      return;
    }
    this.update(step.id, { state: 'succeeded' });
    this.completionOrder.push(step.id);
    this.announce('succeeded', 'workflow', step.id, outcome.detail);
  }

  private forEachHost(step: RunbookStep): ForEachHost {
    return {
      incidentId: this.input.context.incident.id,
      exercise: this.input.exercise,
      rerunKeys: this.input.rerun?.items[step.id],
      context: () => this.input.context,
      scope: () => this.templateScope(),
      modeInput: () => this.modeInput(),
      faults: (of, action, item) => this.faultsFor(of, action, undefined, item),
      notConfigured: (system, params) => this.notConfigured(system, params),
      usesCredential,
      isHalted: () => this.halted,
      gate: this.gate,
      flag: (flag) => this.flags.push(flag),
      record: (type, actor, stepId, detail) => this.record(type, actor, stepId, detail),
      changed: () => {
        // The step waits for approval while some of its items do and none runs.
        const counts = this.fanOuts.get(step.id)?.counts();
        const current = this.steps.get(step.id)!.state;
        if (counts && (current === 'running' || current === 'awaiting-approval')) {
          const waiting = counts['awaiting-approval'] > 0 && counts.running === 0;
          this.update(step.id, { state: waiting ? 'awaiting-approval' : 'running' });
        }
        this.refreshState();
      },
    };
  }

  private succeed(step: RunbookStep, result: StepExecutionResult): void {
    this.update(step.id, {
      state: 'succeeded',
      provider: result.implementation,
      attempts: result.attempt,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      summary: result.summary,
    });
    this.completionOrder.push(step.id);
    this.record('started', `worker:${result.worker}`, step.id, `attempt ${result.attempt}`, result.startedAt);
    this.record('succeeded', `provider:${result.implementation}`, step.id, undefined, result.finishedAt);
    this.post(this.timeline[this.timeline.length - 1]);
  }

  /** `not-configured` is a failure that names what to configure: dependants and onFailure treat it as failed. */
  private fail(step: RunbookStep, message: string, state: 'failed' | 'not-configured' = 'failed'): void {
    this.update(step.id, { state, error: message, finishedAt: now() });
    this.record(state, 'workflow', step.id, message);
    this.post(this.timeline[this.timeline.length - 1]);
    this.haltFor(step);
  }

  /** A failure or a denial: unless the step says `continue`, no new step starts (and `compensate` undoes). */
  private haltFor(step: RunbookStep, why = ''): void {
    if (step.onFailure === 'continue') return;
    this.halted = true;
    this.compensationRequested ||= step.onFailure === 'compensate';
    this.record('incident-halted', 'workflow', step.id, `${why}onFailure: ${step.onFailure}`);
  }

  private skip(step: RunbookStep, reason: string, detail = reason): void {
    this.update(step.id, { state: 'skipped', reason });
    this.record('skipped', 'workflow', step.id, detail);
  }

  /** Undo every completed reversible step, most recent first. */
  private async compensate(): Promise<void> {
    const byId = new Map(this.input.runbook.steps.map((step) => [step.id, step]));
    for (const id of [...this.completionOrder].reverse()) {
      const step = byId.get(id)!;
      if (!step.reversible || !step.compensate) continue;
      const resolved = resolveAction(step.compensate.action, this.input.context);
      this.record('compensation-requested', 'workflow', id, `${resolved.provider}.${resolved.action}`);
      try {
        const params = renderParams(step.compensate.params ?? step.params, this.templateScope());
        const result = await this.activitiesFor(step).executeStep({
          incidentId: this.input.context.incident.id,
          stepId: id,
          provider: resolved.provider,
          action: resolved.action,
          params,
          exercise: this.input.exercise,
          ...this.modeInput(),
          idempotencyKey: `${this.input.context.incident.id}/${id}/undo`,
          ...this.destinationsInput(step.compensate.action),
          faults: this.faultsFor(step, `${resolved.provider}.${resolved.action}`, 'undo'),
          undoOf: this.steps.get(id)!.summary,
        });
        this.update(id, { state: 'compensated' });
        this.record('compensated', `provider:${result.implementation}`, id, undefined, result.finishedAt);
      } catch (error) {
        this.record('compensation-failed', 'workflow', id, failureMessage(error));
      }
    }
  }

  private async close(state: IncidentState): Promise<void> {
    for (const step of this.steps.values()) {
      if (step.state === 'pending' || step.state === 'awaiting-approval') {
        this.update(step.id, { state: 'skipped', reason: `incident ${state}` });
      }
      if (step.state === 'running') this.update(step.id, { state: 'cancelled' });
    }
    this.state = state;
    this.phase = 'closed';
    this.closedAt = now();
    const by = state === 'cancelled' ? this.cancelledBy : undefined;
    this.record(
      state === 'cancelled' ? 'incident-cancelled' : 'incident-closed',
      by?.actor ?? 'workflow',
      undefined,
      by?.reason ? `${state}: ${by.reason}` : state,
    );
    this.publishSearchAttributes();
    await Promise.resolve();
  }

  /** The final status and the incident's own history go to the evidence vault once the last message is out. */
  private async preserveRecord(): Promise<void> {
    // A message lost to cancellation must not keep the record out of the vault.
    await this.notifications.drained();
    await notifier.preserveIncidentRecord(this.status());
  }

  /** Record in the timeline and tell the incident's channel. */
  private announce(
    type: TimelineEventType,
    actor: string,
    stepId: string | undefined,
    detail: string,
    request?: ApprovalRequest,
    mention?: string[],
  ): void {
    this.record(type, actor, stepId, detail);
    this.post(this.timeline[this.timeline.length - 1], request, mention);
  }

  private post(event: TimelineEvent, request?: ApprovalRequest, mention?: string[]): void {
    this.notifications.post(event, request, mention);
  }

  private activitiesFor(step: RunbookStep, first = false): IncidentActivities {
    const timeoutMs = durationMs(step.timeout);
    return proxyActivities<IncidentActivities>({
      ...(first ? { priority: FIRST_CONTAINMENT } : {}),
      startToCloseTimeout: timeoutMs,
      // The activity heartbeats every second, so a dead worker is noticed in seconds, not at the timeout.
      heartbeatTimeout: Math.min(timeoutMs, 10_000),
      retry: {
        maximumAttempts: step.retry.maximumAttempts,
        initialInterval: durationMs(step.retry.initialInterval),
        backoffCoefficient: step.retry.backoffCoefficient,
        maximumInterval: durationMs(step.retry.maximumInterval),
      },
    });
  }

  /**
   * Why the step cannot act, when its system (or a destination it delivers to) had no real provider as the incident
   * opened: said before any owner is asked to approve it. The step's activity checks again where it runs.
   */
  private notConfigured(system: string, params: Params): string | undefined {
    const missing = [system, ...destinationSystems(params)].find((name) =>
      Object.hasOwn(this.unconfigured, name),
    );
    return missing === undefined ? undefined : this.unconfigured[missing];
  }

  /** A connector step is told where the incident's credential is stored, as the incident knows it now. */
  private destinationsInput(action: string): ReturnType<typeof connectorDestinations> {
    return connectorDestinations(action, this.input.context);
  }

  /** Which inventory credential a delivered value replaces, when the inventory named it. */
  private credentialInput(): { credentialId?: string } {
    const id = this.input.context.credential.resolution?.credentialId;
    return id ? { credentialId: id } : {};
  }

  /** A step runs in the mode its incident opened with, whichever worker picks it up. */
  private modeInput(): { demo?: boolean } {
    return this.mode ? { demo: this.mode === 'demo' } : {};
  }

  private applies(step: RunbookStep): boolean {
    const scope = this.templateScope();
    return Object.entries(step.when ?? {}).every(
      ([path, expected]) => String(lookupPath(scope, path)) === expected,
    );
  }

  private templateScope(): TemplateScope {
    const steps: TemplateScope['steps'] = {};
    for (const step of this.steps.values()) steps[step.id] = { summary: step.summary };
    return { context: this.input.context, steps };
  }

  /** Faults by `<step>`, `<step>/undo`, `provider.action`, or for one item of a forEach step `<step>/<item>`. */
  private faultsFor(
    step: RunbookStep,
    action: string,
    suffix?: string,
    item?: string,
  ): SimulatedFaultSpec[] | undefined {
    const faults = this.input.simulation?.faults;
    if (!faults) return undefined;
    const keys = suffix
      ? [`${step.id}/${suffix}`, action]
      : item
        ? [`${step.id}/${item}`, step.id, action]
        : [step.id, action];
    const matching = keys.map((key) => faults[key]).filter((fault): fault is SimulatedFaultSpec => !!fault);
    return matching.length > 0 ? matching : undefined;
  }

  private update(id: string, patch: Partial<StepStatus>): void {
    const step = this.steps.get(id)!;
    this.steps.set(id, { ...step, ...patch });
  }

  private record(type: TimelineEventType, actor: string, stepId?: string, detail?: string, at = now()): void {
    this.timeline.push({ at, type, actor, ...(stepId ? { stepId } : {}), ...(detail ? { detail } : {}) });
  }

  private setPhase(phase: Phase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.publishSearchAttributes();
  }

  private refreshState(): void {
    const awaiting = [...this.steps.values()].some((step) => step.state === 'awaiting-approval');
    const next: IncidentState = awaiting ? 'awaiting-approval' : 'running';
    if (next === this.state) return;
    this.state = next;
    this.publishSearchAttributes();
  }

  private publishSearchAttributes(): void {
    upsertSearchAttributes([
      { key: STATE, value: this.state },
      { key: PHASE, value: this.phase },
    ]);
  }
}

/** A step acts on the incident's credential: through the issuer role, or its params or `when` read the credential. */
function usesCredential(step: RunbookStep): boolean {
  const onCredential = (path: string) => path === 'credential' || path.startsWith('credential.');
  return (
    splitAction(step.action).provider === 'issuer' ||
    Object.keys(step.when ?? {}).some(onCredential) ||
    templateReferences(step.params).some(onCredential)
  );
}

/** A forEach step acts on each item's own credential (from the inventory), never on the incident's. */
function waitsForIncidentCredential(step: RunbookStep): boolean {
  return !step.forEach && usesCredential(step);
}

/** Text from a command, cut to a readable length (history stays bounded); anything not a string is empty. */
function clip(text: unknown, max: number): string {
  if (typeof text !== 'string') return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function now(): string {
  return new Date().toISOString();
}

function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
