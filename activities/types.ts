import type {
  ForEachItem,
  InventoryQuery,
  ApprovalRequest,
  IncidentInput,
  TrustedRunbook,
  IncidentStatus,
  OwnerSnapshot,
  Params,
  SimulatedFaultSpec,
  SummaryValue,
  TimelineEvent,
} from '../lib/runbook/types';
import type { ProviderMode } from '../providers/registry';

export interface StepExecutionInput {
  incidentId: string;
  stepId: string;
  /** One item of a `forEach` step: its key. */
  item?: string;
  /** Already resolved from a role (`connector`) to a system (`github`). */
  provider: string;
  action: string;
  params: Params;
  exercise: boolean;
  /** The incident opened in demo mode: unconfigured systems are simulated. Absent before modes: the worker's. */
  demo?: boolean;
  idempotencyKey: string;
  /** The inventory's id of the incident's credential: a value this step delivers is recorded as its new one. */
  credentialId?: string;
  faults?: SimulatedFaultSpec[];
  undoOf?: Record<string, SummaryValue>;
  /** Connector steps: where the incident's credential is stored (a repository connector reads secret names there). */
  credentialDestinations?: { provider: string; target: string }[];
}

export interface StepExecutionResult {
  /**
   * `unsupported`: the provider playing the role cannot do this (n8n cannot mint credentials); nothing ran.
   * `not-configured`: a real incident named a system this worker has no real provider for; nothing ran.
   */
  outcome: 'done' | 'unsupported' | 'not-configured';
  /** For `not-configured`: what is missing, naming the settings. */
  reason?: string;
  /** The implementation that acted: `github`, or `simulated` for a stand-in. */
  implementation: string;
  summary: Record<string, SummaryValue>;
  startedAt: string;
  finishedAt: string;
  attempt: number;
  worker: string;
}

/** The keys of a `forEach` list, or an inventory query: the worker resolves them against its own inventory. */
export interface ForEachItemsRequest {
  incidentId: string;
  stepId: string;
  /** Who approves an item the inventory does not know. */
  stepOwner: string;
  source: { keys: string[] } | { inventory: InventoryQuery };
}

/** One item's call, rendered by the workflow for the item's own credential. */
export interface ItemCall {
  key: string;
  provider: string;
  action: string;
  params: Params;
  idempotencyKey: string;
  credentialId?: string;
  credentialDestinations?: { provider: string; target: string }[];
  faults?: SimulatedFaultSpec[];
  /** The workflow's attempt for this item (1 first); the last one may not be retried. */
  attempt: number;
  finalAttempt: boolean;
}

/** One activity of a `forEach` step: up to MAX_BATCH_ITEMS calls, `concurrency` of them at once. */
export interface ItemBatchInput {
  incidentId: string;
  stepId: string;
  exercise: boolean;
  demo?: boolean;
  concurrency: number;
  /** Each call's own limit (the step's `timeout`). */
  itemTimeoutMs: number;
  /** `halt`: no new item starts in this batch once one failed on its final attempt. */
  onItemFailure: 'continue' | 'halt';
  items: ItemCall[];
}

export interface ItemOutcome {
  key: string;
  state: 'succeeded' | 'failed' | 'skipped';
  /** A failure another attempt may cure (a timeout, a 503), as the provider classified it. */
  retryable?: boolean;
  error?: string;
  reason?: string;
  implementation?: string;
  attempt: number;
}

export interface ItemBatchResult {
  outcomes: ItemOutcome[];
  worker: string;
}

/** Where a Slack message lives, so later updates land in the same thread or replace it in place. */
export interface MessageRef {
  channel: string;
  ts: string;
}

/** Something people should see in the incident's channel/thread. Never carries a secret value. */
export interface IncidentNotification {
  incidentId: string;
  exercise: boolean;
  /** A demo incident: every message says SIMULATED. */
  demo?: true;
  severity: string;
  /** The incident's thread, once the opening message was posted. */
  thread?: MessageRef;
  event: TimelineEvent;
  /** For approval requests and their outcome: what exactly is asked, and the message to update in place. */
  request?: ApprovalRequest;
  /** Slack users to mention (owners of the role being asked). */
  mention?: string[];
  /** The message to replace (the approval request, once decided). */
  replaces?: MessageRef;
}

/** How every message of an incident that did not act on real systems begins: `[EXERCISE] ` or `[SIMULATED] `. */
export function notificationTag(notification: Pick<IncidentNotification, 'exercise' | 'demo'>): string {
  if (notification.exercise) return '[EXERCISE] ';
  return notification.demo ? '[SIMULATED] ' : '';
}

export interface NotificationResult {
  /** Set when the message was posted: the opening message becomes the incident's thread. */
  message?: MessageRef;
}

export type OpenedIncident = Partial<TrustedRunbook> & {
  gatewayKeys?: string[];
  /** The worker's mode when the incident opened (`demo`: unconfigured systems are simulated); fixed for its life. */
  mode?: ProviderMode;
  /**
   * In live mode, the systems this worker cannot act on and what would configure them: a step on one ends
   * `not-configured` before anyone is asked to approve it.
   */
  unconfigured?: Record<string, string>;
};

export interface IncidentActivities {
  /**
   * At start: checks the start's signature against the worker's trusted gateway keys, then reads the runbook a
   * real incident names from the worker's own catalog. `runbook` is absent for an exercise (it carries its own).
   * `gatewayKeys` are the keys the incident's later commands (notes, refusals, cancel) must be signed with.
   */
  openIncident(request: { input: IncidentInput; startedAt: string }): Promise<OpenedIncident>;
  executeStep(input: StepExecutionInput): Promise<StepExecutionResult>;
  /** A `forEach` step's items, resolved against the worker's inventory: owners and credentials come from there. */
  resolveForEachItems(request: ForEachItemsRequest): Promise<ForEachItem[]>;
  /** One batch of a `forEach` step: item failures are outcomes, not activity failures (a retry re-runs those only). */
  executeItems(input: ItemBatchInput): Promise<ItemBatchResult>;
  /** Who may approve for a role right now (owners file, Slack user groups expanded). */
  resolveOwners(role: string): Promise<OwnerSnapshot>;
  notify(notification: IncidentNotification): Promise<NotificationResult>;
  /** At close: the final status and the incident's own Temporal history go into the evidence vault. */
  preserveIncidentRecord(status: IncidentStatus): Promise<void>;
}
