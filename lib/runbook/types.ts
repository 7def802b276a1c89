/**
 * Runbook and incident types shared by the validator (Node) and the workflow (Temporal sandbox).
 * This folder must stay free of Node built-ins and I/O: the workflow bundle imports it.
 */
import type { z } from 'zod';

export const PHASES = [
  'disable-connector',
  'rotate-credentials',
  'segment-downstream',
  'preserve-evidence',
  'recover',
] as const;
export type Phase = (typeof PHASES)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ON_FAILURE = ['halt', 'continue', 'compensate'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };
export type Params = Record<string, ParamValue>;

export interface RetryPolicySpec {
  maximumAttempts: number;
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
}

export const APPROVAL_POLICIES = ['none', 'owner', 'two-person'] as const;
export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];

export interface ApprovalSpec {
  policy: ApprovalPolicy;
  /** How long the owners have before the request escalates (and break-glass may act). */
  deadline: string;
  /** Role that receives the escalation; default: the owner role's backup. */
  escalateTo?: string;
  /** Auto-execute when the deadline passes at or above this severity. Reversible steps only. */
  breakGlass?: { atOrAbove: Severity };
  /** The person who raised the incident may not approve. Default: on for irreversible steps. */
  separationOfDuties?: boolean;
}

/** Who may approve for a role, as resolved when the request is made (an activity: owners file + Slack groups). */
export interface OwnerSnapshot {
  role: string;
  /** Slack user ids, user groups already expanded. */
  slackUsers: string[];
  /** Out-of-band approvers: ed25519 public keys (raw 32 bytes, base64), optionally tied to a Slack user. */
  outOfBand: { name: string; publicKey: string; slackUser?: string }[];
  backup?: string;
  /**
   * The gateway keys (raw ed25519, base64) the worker trusts to vouch for these Slack users' clicks. Absent in
   * snapshots recorded before gateway signing: such an incident then takes no Slack decision (keys still work).
   */
  gatewayKeys?: string[];
  /**
   * Every person of the owners file with the identities they act under (`slack:U…`, `cli:<os user>`,
   * `key:<name>`): separation of duties and two-person rules compare people, not channels.
   */
  people?: { name: string; identities: string[] }[];
}

/** An outstanding approval request; its nonce and parameter hash bind an approval to exactly this action. */
export interface ApprovalRequest {
  stepId: string;
  nonce: string;
  paramsHash: string;
  action: string;
  target: string;
  reversible: boolean;
  policy: ApprovalPolicy;
  required: number;
  roles: string[];
  requestedAt: string;
  expiresAt: string;
  escalated: boolean;
  approvals: string[];
  breakGlassEligible: boolean;
  /** The Slack message that carries this request, once posted: a click counts only on it. */
  message?: { channel: string; ts: string };
  /**
   * A `forEach` batch: the step it belongs to and the exact items approved (the hash covers them), with the
   * inventory credential each key names ('' when none), so an owner reads `crm-api-key`, not a platform's id.
   */
  batch?: { stepId: string; items: string[]; credentials?: string[] };
}

/**
 * The gateway's signed word that a Slack user made this decision on this message: it signs only after checking
 * Slack's request signature, and only for a click on the message that carried the request.
 */
export interface GatewayVouch {
  /** The Slack message the request was clicked on (the deny modal carries it from the click that opened it). */
  message: { channel: string; ts: string };
  expiresAt: string;
  /** ed25519 over `slackDecisionMessage(...)`, base64. */
  signature: string;
}

export type Approver =
  | { via: 'slack'; userId: string; vouch: GatewayVouch }
  | { via: 'out-of-band'; name: string; expiresAt: string; signature: string };

export interface ApprovalDecision {
  stepId: string;
  nonce: string;
  paramsHash: string;
  decision: 'approve' | 'deny';
  reason?: string;
  approver: Approver;
}

export interface ApprovalDecisionResult {
  stepId: string;
  outcome: 'approved' | 'denied' | 'recorded';
  approvals: number;
  required: number;
}

export interface CompensationSpec {
  action: string;
  params?: Params;
}

export interface RunbookStep {
  id: string;
  title: string;
  phase: Phase;
  action: string;
  params: Params;
  after: string[];
  owner: string;
  approval: ApprovalSpec;
  reversible: boolean;
  timeout: string;
  retry: RetryPolicySpec;
  onFailure: OnFailure;
  compensate?: CompensationSpec;
  /** Runs only when every listed context path equals its value (e.g. `connector.provider: github`). */
  when?: Record<string, string>;
  /** A recovery step that reverses an earlier step: the provider gets that step's summary (previous settings). */
  undoes?: string;
  /**
   * Why this irreversible step may run with `approval: none`: allowed only where the action is `preapprovable`.
   * The validator's business only; the workflow ignores it.
   */
  preapproved?: string;
  /**
   * Run the action once per item of a list known only at run time (`lib/runbook/for-each.ts`): in batched
   * activities, each owner approving their own items. Within the step, `credential` is the item's credential.
   */
  forEach?: ForEachSpec;
}

export const FOR_EACH_APPROVALS = ['per-owner-batch', 'per-item'] as const;
export const ON_ITEM_FAILURE = ['continue', 'halt'] as const;
/** A step's items are capped: history, the status and the approval messages must stay bounded. */
export const MAX_FOR_EACH_ITEMS = 10_000;

/** Which inventory credentials a `forEach` runs over: every field given must match. */
export interface InventoryQuery {
  /** A consumer system of the credential (`n8n`: the credentials an n8n platform holds). */
  consumer?: string;
  /** The issuer's system (`aws-iam`). */
  issuer?: string;
  kind?: string;
  owner?: string;
}

export interface ForEachSpec {
  /**
   * The list: a template naming an earlier step's list output (`{{steps.discover.credentials}}`), literal keys, or an
   * inventory query. Each key is an inventory credential id, an n8n credential id the inventory names, or a plain key.
   */
  items: string | string[] | { inventory: InventoryQuery };
  /** At most this many items in flight at once, across the step's batches. */
  concurrency: number;
  /** One approval per owner for all their items (default), or one per item. */
  approval: (typeof FOR_EACH_APPROVALS)[number];
  /** `continue`: the other items go on; `halt`: no new item starts once one failed for good. */
  onItemFailure: (typeof ON_ITEM_FAILURE)[number];
}

/** One item of a `forEach`, as the worker resolved it from its own inventory (never from the list's source). */
export interface ForEachItem {
  key: string;
  /** The owner role who approves it: the inventory credential's first owner, else the step's owner. */
  owner: string;
  /** The inventory credential the key names, with what a rotation needs. */
  credentialId?: string;
  credential?: { issuer: string; ref: string; destinations: IncidentContext['credential']['destinations'] };
  /** Why this item cannot run (not in the inventory, a malformed key): it fails without acting. */
  problem?: string;
}

export const ITEM_STATES = [
  'pending',
  'awaiting-approval',
  'running',
  'succeeded',
  'failed',
  'skipped',
] as const;
export type ItemState = (typeof ITEM_STATES)[number];

export interface ItemStatus {
  key: string;
  owner: string;
  state: ItemState;
  credentialId?: string;
  attempts?: number;
  error?: string;
  reason?: string;
}

/** A `forEach` step's items: counts by state, and every item (the list is capped at MAX_FOR_EACH_ITEMS). */
export interface ItemProgress {
  total: number;
  counts: Record<ItemState, number>;
  items: ItemStatus[];
}

export interface Runbook {
  id: string;
  title: string;
  description?: string;
  steps: RunbookStep[];
}

/** Issuers the gateway may revoke by value at ingest (`TOURNIQUET_REVOKE_AT_INGEST`). */
export const REVOKED_AT_INGEST_ISSUERS = ['slack-token'] as const;
export const REVOKED_AT_INGEST_OUTCOMES = ['revoked', 'already-dead', 'refused', 'unavailable'] as const;
/** At most this many revocations at ingest are carried into one incident. */
export const MAX_REVOKED_AT_INGEST = 16;

/**
 * A revocation by value done by the gateway inside the request that carried the value, before the incident existed.
 * Never the value: the issuer, the token's type, the method, the issuer's answer code, when, and by whom.
 */
export interface RevokedAtIngest {
  issuer: (typeof REVOKED_AT_INGEST_ISSUERS)[number];
  /** `xoxb`, `xoxp`, `xoxe.xoxb`, …: the type by prefix. */
  tokenType: string;
  /** What the issuer's table of kinds calls it: `bot token`, `user token`, … */
  tokenKind: string;
  /** `auth.revoke`. */
  method: string;
  outcome: (typeof REVOKED_AT_INGEST_OUTCOMES)[number];
  /** `ok`, `token_revoked`, `timeout`, `network`, `HTTP 503`, … */
  code: string;
  at: string;
  by: 'gateway';
}

/** Everything a runbook template may reference. Never holds a secret value: only its fingerprint and hint. */
export interface IncidentContext {
  incident: {
    id: string;
    fingerprint: string;
    severity: Severity;
    secretKind: string;
    requester: string;
    source: string;
    openedAt: string;
    exposureStart: string;
    hint: string;
    /** Absent unless the gateway revoked the leaked value at ingest (and on every incident from before that). */
    revokedAtIngest?: RevokedAtIngest[];
  };
  connector: { provider: string; ref: string; repository: string };
  credential: {
    issuer: string;
    ref: string;
    /** `part`: which half of a two-part credential goes there (an AWS key's id or its secret). */
    destinations: { provider: string; target: string; part?: 'accessKeyId' | 'secretAccessKey' }[];
    /**
     * How the inventory resolved it (absent: named by the starter, or an incident from before the inventory).
     * `operator`: it was unresolved at start and someone named it while the incident ran (`resolveCredential`).
     */
    resolution?: {
      credentialId?: string;
      /** `alert`: no inventory entry, but the alert itself holds the value its issuer revokes (secret scanning). */
      by: 'fingerprint' | 'identifier' | 'location' | 'alert' | 'unresolved' | 'operator';
      reason: string;
    };
  };
}

export interface SimulatedFaultSpec {
  latencyMs?: number;
  failAttempts?: number;
  nonRetryable?: boolean;
  message?: string;
  settleMs?: number;
  /** What a simulated discovery action lists, by summary field (`credentials`): the platform of an exercise. */
  answers?: Record<string, string[]>;
}

export interface AlertRef {
  alertId: string;
  source: string;
  detector: string;
  observedAt: string;
}

export interface AlertBatch {
  /** The gateway's token for this batch; equal to the start token when this batch opened the incident. */
  token: string;
  alerts: AlertRef[];
  /**
   * What the alerts say beyond their ids, sealed by the gateway (`alert-details`): whoever reaches the Temporal API
   * can send a batch, and only a sealed one may raise the severity, add places or name the connector. Absent from
   * batches sent before joins enriched the incident.
   */
  details?: { body: AlertDetails; seal: { nonce: string; expiresAt: string; signature: string } };
}

/** Where a leak was seen, as alerts report it (never a secret: built from scrubbed alerts). */
export interface IncidentLocation {
  url: string;
  repository?: string;
  workflow?: string;
}

/** What happened to the leak, per alert, beyond a plain new alert: an escalation, or the detector closing it. */
export interface AlertEvent {
  alertId: string;
  source: string;
  lifecycle: 'raised' | 'escalated' | 'resolved';
  /** The adapter's fixed-vocabulary description: `validity confirmed active`, `detector marked resolved`. */
  text?: string;
}

export const MAX_BATCH_LOCATIONS = 20;
export const MAX_BATCH_EVENTS = 20;

/** The batch's alerts, summed up by the gateway: the highest severity, new places, a connector, the events. */
export interface AlertDetails {
  severity: Severity;
  locations: IncidentLocation[];
  /** A real connector one of the alerts leads to (never a simulated one), parsed by the gateway's providers. */
  connector?: IncidentContext['connector'];
  events: AlertEvent[];
}

export interface AlertBatchResult {
  incidentId: string;
  created: boolean;
  alertCount: number;
}

/** How a start names its runbook: the worker reads it from its own catalog (`worker/runbook-catalog.ts`). */
export interface RunbookRef {
  id: string;
  /** Pins the exact version: the start is refused if the worker's runbook differs. */
  sha256?: string;
}

/** A runbook as the worker's catalog hands it out, with the hash history records. */
export interface TrustedRunbook {
  runbook: Runbook;
  sha256: string;
}

/**
 * The gateway's signature over a whole start input (everything but this field): it signs only what it has
 * authenticated, a Slack user, a SIEM source, or the local CLI user (the CLI holds the data dir's key).
 */
export interface StartAttestation {
  expiresAt: string;
  /**
   * Absent: the gateway signed (Slack, SIEM, the local CLI). Set: a person of the owners file signed with their own
   * key (`incident start --key`), and the start's requester is that key (`key:<name>`).
   */
  signer?: { via: 'out-of-band'; name: string };
  /** ed25519 over `startMessage(input, expiresAt)`, base64. */
  signature: string;
}

export interface IncidentInput {
  /** Set by the gateway on update-with-start, so the first batch knows it created the incident. */
  startToken?: string;
  /** Required for every start since starts are signed; the worker refuses an incident without a valid one. */
  attestation?: StartAttestation;
  /** A real incident's runbook: the worker loads it by this reference, at start, through an activity. */
  runbookRef?: RunbookRef;
  /**
   * The runbook itself: only an exercise may carry it (every action goes to simulation). A real incident that
   * carries one is refused; histories recorded before the worker read runbooks carry it and replay with it.
   */
  runbook?: Runbook;
  context: IncidentContext;
  /** A tabletop exercise: every action is routed to the simulated provider. */
  exercise: boolean;
  /**
   * Exercise clock: human-facing durations (approval deadlines, escalations) run `speed` times faster, so a
   * four-hour scenario plays in minutes. Provider timeouts stay real: they bound real work.
   */
  clock?: { speed: number };
  /** Fault injection for the simulated provider, keyed by step id or `provider.action`. */
  simulation?: { faults?: Record<string, SimulatedFaultSpec> };
  /**
   * A new run of a failed incident that retries only the items that failed (`tourniquet incident rerun`): these
   * forEach steps run over exactly these keys, the forEach steps that iterate over their results follow, and every
   * other step is skipped. Absent: a whole run.
   */
  rerun?: { of: string; items: Record<string, string[]> };
}

/** `refused`: the worker would not open it (an unsigned start, a runbook not its own); no step ran. */
export const INCIDENT_STATES = [
  'running',
  'awaiting-approval',
  'completed',
  'failed',
  'cancelled',
  'refused',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export type StepState =
  | 'pending'
  | 'awaiting-approval'
  | 'running'
  | 'succeeded'
  | 'failed'
  /** A real incident named a system this worker has no real provider for: nothing ran (never simulated). */
  | 'not-configured'
  | 'skipped'
  | 'compensated'
  | 'cancelled';

export type SummaryValue = string | number | boolean | null | string[];

/**
 * What the runbook validator and the approval message need to know about an action, independent of
 * whether it is carried out by the real system or by the simulated provider.
 */
export interface ActionSpec<P extends z.ZodType = z.ZodType> {
  /** One line shown to the approver: what will be done. */
  description: string;
  params: P;
  /** Safe to run again with the same parameters: it reads the current state first. */
  idempotent: boolean;
  /** Can be undone; `undo` names the action (same provider) that does it. */
  reversible: boolean;
  undo?: string;
  /** Destroys data that evidence may still need. A runbook must order such a step after evidence capture. */
  destructive?: 'log-purge';
  /** Writes artifacts into the evidence vault. */
  preservesEvidence?: boolean;
  /**
   * Irreversible, but safe to run before a human looks: it only reads, preserves or stops; never deletes data nor
   * changes who can access what. A step may then run it with `approval: none` if it says why (`preapproved`).
   * Every other irreversible or destructive action needs an approval policy.
   */
  preapprovable?: true;
  /** Summary fields that list keys (`credentials`): a later `forEach` step may iterate over them. */
  lists?: readonly string[];
}

export type ProviderCatalog = Record<string, ActionSpec>;

/**
 * Every action a runbook may name, handed to the validator by whoever loads runbooks (it derives from the
 * provider list): by role (`connector.disableConnector`) and by system (`github.removeDeployKeys`).
 */
export interface ActionCatalogs {
  roles: Readonly<Record<string, ProviderCatalog>>;
  systems: Readonly<Record<string, ProviderCatalog>>;
}

export interface StepStatus {
  id: string;
  title: string;
  phase: Phase;
  action: string;
  state: StepState;
  provider?: string;
  attempts?: number;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  reason?: string;
  summary?: Record<string, SummaryValue>;
  /** A `forEach` step: where each item is. */
  items?: ItemProgress;
}

export type TimelineEventType =
  | 'incident-opened'
  | 'requested'
  | 'started'
  | 'succeeded'
  | 'failed'
  | 'not-configured'
  | 'skipped'
  | 'compensation-requested'
  | 'compensated'
  | 'compensation-failed'
  | 'incident-halted'
  | 'incident-cancelled'
  | 'incident-closed'
  | 'approval-requested'
  | 'approval-recorded'
  | 'approved'
  | 'denied'
  | 'approval-refused'
  | 'escalated'
  | 'break-glass'
  /** Something the responders learned (`tourniquet incident note`, an exercise inject). */
  | 'note'
  /** The secret resolved to no inventory credential: the incident commander is asked which one it is. */
  | 'credential-requested'
  /** Someone named the incident's credential (a signed `resolveCredential`): the steps on it go on. */
  | 'credential-named';

export interface TimelineEvent {
  at: string;
  type: TimelineEventType;
  stepId?: string;
  /** Who or what did it: `workflow`, `provider:github`, `worker:<identity>`, `user:<id>`. */
  actor: string;
  detail?: string;
}

export interface IncidentStatus {
  incidentId: string;
  runbookId: string;
  /** The SHA-256 of the runbook the worker read from its catalog (absent: an exercise's, or an older incident). */
  runbookSha256?: string;
  state: IncidentState;
  /** Why the worker refused to open the incident (state `refused`). */
  refusal?: string;
  severity: Severity;
  phase: Phase | 'closed';
  exercise: boolean;
  /** Opened in demo mode (TOURNIQUET_MODE=demo): systems without a real provider were simulated. */
  demo?: true;
  fingerprint: string;
  connector: string;
  openedAt: string;
  closedAt?: string;
  steps: StepStatus[];
  timeline: TimelineEvent[];
  /** Requests waiting for a decision. */
  approvals: ApprovalRequest[];
  /** What a reviewer must look at: `denied:<step>`, `break-glass:<step>`. */
  flags: string[];
  alerts: {
    count: number;
    sources: Record<string, number>;
    /** The newest alert ids, newest last (at most MAX_LATEST_ALERT_IDS; `alertIds` has them all). */
    latest?: string[];
  };
  /** What leaked and where, for integrators checking what an alert did (absent on incidents from before). */
  secret?: {
    kind: string;
    /** `kind ending …abcd (40 chars)`: never the value. */
    hint: string;
    /** Where alerts saw it: the opening alert's and those later alerts added. */
    locations: IncidentLocation[];
  };
  /** The credential the steps act on and how it was found. */
  credential?: {
    issuer: string;
    ref: string;
    resolution?: IncidentContext['credential']['resolution'];
  };
}

export const MAX_LATEST_ALERT_IDS = 20;
