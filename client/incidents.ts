import { KeyObject } from 'node:crypto';
import { userInfo } from 'node:os';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { z } from 'zod';
import { startMessage } from '../lib/runbook/start-check';
import { signEd25519 } from './signing';
import { sendNote } from './commands';
import { PROVIDER_DIRECTORY, ROLE_MEMBERS } from '../providers';
import type { ProviderRole } from '../providers/plugin';
import { correlationFingerprint } from '../lib/fingerprint';
import {
  MAX_REVOKED_AT_INGEST,
  REVOKED_AT_INGEST_ISSUERS,
  REVOKED_AT_INGEST_OUTCOMES,
  SEVERITIES,
  type AlertBatch,
  type AlertBatchResult,
  type IncidentContext,
  type IncidentInput,
  type IncidentStatus,
  type Runbook,
} from '../lib/runbook/types';
import { scrubSecrets } from '../lib/scrub';
import type { incidentWorkflow } from '../workflows/incident';
import { alertIdsQuery, attachAlertsUpdate, statusQuery } from '../workflows/messages';
import { EXERCISE, INCIDENT_KEY, PHASE, RUNBOOK, SEVERITY, STATE } from '../workflows/search-attributes';

/** `<provider>:<target>` of a destination: its provider stores the replacement credential at the target. */
function splitDestination(value: string): { provider: string; target: string } {
  const colon = value.indexOf(':');
  return { provider: value.slice(0, colon), target: value.slice(colon + 1) };
}

/** The provider's own complaint about a `<provider>:<reference>` for a role, as the field's issue. */
function checkRef(role: ProviderRole, value: string, ctx: z.RefinementCtx): void {
  try {
    PROVIDER_DIRECTORY.parseRef(role, value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}

/** `<provider>:<reference>` for a role, checked by the provider that plays it (see providers/index.ts). */
const providerRef = (role: 'connector' | 'issuer') =>
  z.string().superRefine((value, ctx) => checkRef(role, value, ctx));

/**
 * `<provider>:<target>` of a destination. A provider that plays the destination role checks its target (the file
 * destination takes only a name under its secrets directory). Any other provider is only stored to by its simulated
 * stand-in (the n8n exercise delivers to `http-connector:n8n/credentials/17`): only the shape is checked.
 */
const destinationRef = z
  .string()
  .regex(/^[a-z][\w-]*:.+$/, 'expected <provider>:<target>, e.g. github:acme/app:DEPLOY_TOKEN')
  .superRefine((value, ctx) => {
    const { provider } = splitDestination(value);
    if (ROLE_MEMBERS.destination.includes(provider)) checkRef('destination', value, ctx);
  });

/** A destination as the inventory lists a consumer: an AWS key goes to two places, one part each. */
const structuredDestination = z
  .strictObject({
    provider: z.string().regex(/^[a-z][\w-]*$/, 'expected a provider name'),
    target: z.string().min(1).max(512),
    part: z.enum(['accessKeyId', 'secretAccessKey']).optional(),
  })
  .superRefine((value, ctx) =>
    destinationRef.safeParse(`${value.provider}:${value.target}`).success
      ? undefined
      : ctx.addIssue({
          code: 'custom',
          message: `${value.provider}:${value.target}: not a valid destination`,
        }),
  );

/**
 * A revocation the gateway did before answering the request that carried the leaked value (revocation at ingest):
 * which issuer, which token type, what the issuer answered and when. Never the value: every field is a word from
 * a fixed list or a short code.
 */
export const revokedAtIngestSchema = z.strictObject({
  issuer: z.enum(REVOKED_AT_INGEST_ISSUERS),
  /** The token's type by its prefix (`xoxb`, `xoxe.xoxp`): from the issuer's table of kinds, never the value. */
  tokenType: z.string().regex(/^[a-z]{2,8}(\.[a-z]{2,8})?$/, 'expected a token type such as xoxb'),
  tokenKind: z.string().regex(/^[a-z][a-z ()]{0,79}$/, 'expected a token kind such as bot token'),
  method: z.string().regex(/^[a-z][a-zA-Z.]{0,63}$/, 'expected an API method such as auth.revoke'),
  outcome: z.enum(REVOKED_AT_INGEST_OUTCOMES),
  /** The issuer's answer code (`ok`, `token_revoked`) or ours (`timeout`, `network`, `HTTP 503`). */
  code: z.string().regex(/^[A-Za-z0-9_. ]{1,64}$/, 'expected a short answer code'),
  at: z.iso.datetime({ offset: true }),
  by: z.literal('gateway'),
});

/** What starts an incident, from any entry point (CLI, Slack modal, SIEM alert, exercise). */
export const incidentRequestSchema = z
  .object({
    secretKind: z.string().min(1).max(64),
    connector: providerRef('connector'),
    credential: providerRef('issuer').optional(),
    destinations: z.array(z.union([destinationRef, structuredDestination])).default([]),
    /** How the credential was found in the inventory (or that it was not): the timeline's first word on it. */
    credentialResolution: z
      .strictObject({
        credentialId: z.string().min(1).max(128).optional(),
        by: z.enum(['fingerprint', 'identifier', 'location', 'alert', 'unresolved']),
        reason: z.string().min(1).max(1_000),
      })
      .optional(),
    /** Revocations done before the incident existed, by the gateway, with the value the request carried. */
    revokedAtIngest: z.array(revokedAtIngestSchema).max(MAX_REVOKED_AT_INGEST).optional(),
    severity: z.enum(SEVERITIES),
    requester: z.string().min(1).default(`cli:${userInfo().username}`),
    source: z.string().min(1).default('cli'),
    /** Without a fingerprint the incident key comes from the connector and secret kind. */
    secretFingerprint: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters')
      .optional(),
    hint: z.string().max(200).default(''),
    exposureStart: z.string().datetime({ offset: true }).optional(),
    exercise: z.boolean().default(false),
  })
  .strict();
export type IncidentRequest = z.input<typeof incidentRequestSchema>;

/** The workflow type, by name: a client never loads workflow code. */
export const INCIDENT_WORKFLOW = 'incidentWorkflow';

export function incidentIdFor(fingerprint: string): string {
  return `incident-${fingerprint.slice(0, 24)}`;
}

export function buildIncidentInput(
  runbook: Runbook,
  request: z.output<typeof incidentRequestSchema>,
  fingerprintKey: Buffer,
  now = new Date(),
): IncidentInput {
  const fingerprint =
    request.secretFingerprint ??
    correlationFingerprint(fingerprintKey, ['manual', request.connector, request.secretKind]);
  const connector = PROVIDER_DIRECTORY.parseRef('connector', request.connector);
  const credential = request.credential
    ? PROVIDER_DIRECTORY.parseRef('issuer', request.credential)
    : { provider: 'simulated', ref: connector.ref };
  const openedAt = now.toISOString();
  const context: IncidentContext = {
    incident: {
      id: incidentIdFor(fingerprint),
      fingerprint,
      severity: request.severity,
      secretKind: request.secretKind,
      requester: request.requester,
      source: request.source,
      openedAt,
      // Without a detector's timestamp, assume the last 24 hours of runs may carry the secret.
      exposureStart: request.exposureStart ?? new Date(now.getTime() - 86_400_000).toISOString(),
      hint: request.hint,
      // Only inputs that carry it have it: histories recorded before it replay unchanged.
      ...(request.revokedAtIngest?.length
        ? { revokedAtIngest: request.revokedAtIngest.map((entry) => ({ ...entry })) }
        : {}),
    },
    connector: { provider: connector.provider, ref: connector.ref, repository: connector.repository ?? '' },
    credential: {
      issuer: credential.provider,
      ref: credential.ref,
      destinations: request.destinations.map((destination) =>
        typeof destination === 'string' ? splitDestination(destination) : destination,
      ),
      ...(request.credentialResolution ? { resolution: request.credentialResolution } : {}),
    },
  };
  // A real incident names its runbook; the worker reads it from its own catalog. Only an exercise carries it.
  return request.exercise
    ? { runbook, context, exercise: true }
    : { runbookRef: { id: runbook.id }, context, exercise: false };
}

export interface StartedIncident {
  incidentId: string;
  created: boolean;
}

/** A closed incident that contained its secret is final; one that failed or was cancelled may be run again. */
export async function closedAndContained(client: Client, incidentId: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(incidentId).describe();
    return (
      description.status.name !== 'RUNNING' && description.typedSearchAttributes.get(STATE) === 'completed'
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** What an incident is listed and found by from its start, before its workflow updates them. */
export function incidentSearchAttributes(input: IncidentInput): SearchAttributePair[] {
  return [
    { key: INCIDENT_KEY, value: input.context.incident.fingerprint },
    { key: SEVERITY, value: input.context.incident.severity },
    { key: STATE, value: 'running' },
    // A real incident's first phase is published by the workflow once it has read the runbook.
    ...(input.runbook ? [{ key: PHASE, value: input.runbook.steps[0].phase }] : []),
    { key: RUNBOOK, value: input.runbookRef?.id ?? input.runbook?.id ?? 'unknown' },
    { key: EXERCISE, value: input.exercise },
  ];
}

/** How long a signed start stays valid: the server must start the run within it (it does so at once). */
const START_VALID_MS = 5 * 60_000;

/**
 * The start, signed with the gateway's key: called only by a channel that authenticated its requester (Slack's
 * signature, a SIEM source's secret, the local CLI user who can read the data dir). The worker refuses the rest.
 */
export function signStart(input: IncidentInput, signer: StartSigner, now = Date.now()): IncidentInput {
  const { attestation: _old, ...unsigned } = input;
  const expiresAt = new Date(now + START_VALID_MS).toISOString();
  if (signer instanceof KeyObject) {
    return {
      ...unsigned,
      attestation: { expiresAt, signature: signEd25519(signer, startMessage(unsigned, expiresAt)) },
    };
  }
  const by = { via: 'out-of-band' as const, name: signer.name };
  const signature = signEd25519(signer.key, startMessage(unsigned, expiresAt, by));
  return { ...unsigned, attestation: { expiresAt, signer: by, signature } };
}

/**
 * Who signs a start: the gateway's key (a channel that authenticated its requester), or an owner's own key under
 * their name in the owners file (`incident start --key`), for a start whose requester is `key:<name>`.
 */
export type StartSigner = KeyObject | { name: string; key: KeyObject };

export async function startIncident(
  client: Client,
  taskQueue: string,
  unsigned: IncidentInput,
  signer: StartSigner,
): Promise<StartedIncident> {
  const input = signStart(unsigned, signer);
  const incidentId = input.context.incident.id;
  if (await closedAndContained(client, incidentId)) return { incidentId, created: false };
  try {
    await client.workflow.start(INCIDENT_WORKFLOW, {
      workflowId: incidentId,
      taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: incidentSearchAttributes(input),
    });
    return { incidentId, created: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { incidentId, created: false };
    throw error;
  }
}

export async function incidentStatus(client: Client, incidentId: string): Promise<IncidentStatus> {
  return client.workflow.getHandle(incidentId).query(statusQuery);
}

/** The worker refused to open the incident (unsigned start, or a runbook not its own): no step ran. */
export class IncidentRefusedError extends Error {}

export async function waitForIncident(client: Client, incidentId: string): Promise<IncidentStatus> {
  try {
    return (await client.workflow.getHandle(incidentId).result()) as IncidentStatus;
  } catch (error) {
    const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'IncidentRefused') {
      throw new IncidentRefusedError(`incident ${incidentId} was refused: ${cause.message}`);
    }
    return incidentStatus(client, incidentId);
  }
}

export interface IncidentListing {
  incidentId: string;
  temporalStatus: string;
  state: string;
  severity: string;
  phase: string;
  runbook: string;
  startedAt: string;
}

export async function listIncidents(client: Client, limit = 100): Promise<IncidentListing[]> {
  const incidents: IncidentListing[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = '${INCIDENT_WORKFLOW}'` })) {
    const attributes = execution.typedSearchAttributes;
    incidents.push({
      incidentId: execution.workflowId,
      temporalStatus: execution.status.name,
      state: attributes.get(STATE) ?? 'unknown',
      severity: attributes.get(SEVERITY) ?? 'unknown',
      phase: attributes.get(PHASE) ?? 'unknown',
      runbook: attributes.get(RUNBOOK) ?? 'unknown',
      startedAt: execution.startTime.toISOString(),
    });
    if (incidents.length >= limit) break;
  }
  return incidents;
}

/** A note a responder adds to an incident's timeline (`tourniquet incident note`). */
export const incidentNoteSchema = z
  .object({
    incidentId: z.string().regex(/^[\w.:-]{1,200}$/, 'expected an incident id such as incident-3f2a…'),
    text: z.string().trim().min(1, 'a note needs some text').max(1_000, 'at most 1,000 characters'),
    /** The local user running the CLI: the data dir's gateway key signs for them. */
    author: z
      .string()
      .regex(/^[\w.@-]{1,64}$/, 'expected a name of letters, digits, dots, dashes, @ or underscores'),
  })
  .strict();
export type IncidentNoteRequest = z.input<typeof incidentNoteSchema>;

/** `tourniquet incident cancel`: the incident and, optionally, why (scrubbed like a note before it is sent). */
export const incidentCancelSchema = z
  .object({
    incidentId: incidentNoteSchema.shape.incidentId,
    reason: z
      .string()
      .trim()
      .min(1, 'say why, or leave --reason out')
      .max(1_000, 'at most 1,000 characters')
      .optional(),
  })
  .strict();

/**
 * Adds a note to a running incident. Anything that looks like a secret is replaced by a marker before the text
 * leaves this process: a note is shown in Slack and kept in the history, so a pasted token must not reach them.
 */
export async function addIncidentNote(
  client: Client,
  request: z.output<typeof incidentNoteSchema>,
  keys: { fingerprintKey: Buffer; gatewayKey: KeyObject },
): Promise<{ text: string; redacted: string[] }> {
  const scrubbed = scrubSecrets(request.text, keys.fingerprintKey);
  const text = String(scrubbed.redacted);
  await sendNote(client, request.incidentId, { actor: `cli:${request.author}`, text }, keys.gatewayKey);
  return { text, redacted: scrubbed.findings.map((finding) => finding.kind) };
}

/** The id of every alert the incident has joined, in arrival order. */
export async function incidentAlertIds(client: Client, incidentId: string): Promise<string[]> {
  return client.workflow.getHandle(incidentId).query(alertIdsQuery);
}

/** Joins alerts to a running incident (no start): the exercise engine's later detections. */
export async function attachAlerts(
  client: Client,
  incidentId: string,
  batch: AlertBatch,
): Promise<AlertBatchResult> {
  return client.workflow.getHandle(incidentId).executeUpdate(attachAlertsUpdate, { args: [batch] });
}

/** The incident's final status once it closes, or undefined when it failed or was cancelled. */
export async function closedIncidentStatus(
  client: Client,
  incidentId: string,
): Promise<IncidentStatus | undefined> {
  return client.workflow
    .getHandle(incidentId)
    .result()
    .then(
      (value) => value as IncidentStatus,
      () => undefined,
    );
}

/** What a batch of alerts did to its incident. */
export interface AttachOutcome {
  incidentId: string;
  /** `created` when this batch's update started the incident, else `joined` (running, or closed and contained). */
  status: 'created' | 'joined';
  closed: boolean;
  /** Alerts the incident holds after this batch (0 when it is closed). */
  alertCount: number;
}

/**
 * One `attachAlerts` Update to the incident only if it is running: for alerts that must never open one (a detector
 * marking its alert resolved). `no-incident` when there is none, or it has closed.
 */
export async function attachAlertsToRunning(
  client: Client,
  incidentId: string,
  batch: AlertBatch,
): Promise<AttachOutcome | { incidentId: string; status: 'no-incident' }> {
  try {
    const result: AlertBatchResult = await client.workflow
      .getHandle(incidentId)
      .executeUpdate(attachAlertsUpdate, { args: [batch], updateId: batch.token });
    return { incidentId, status: 'joined', closed: false, alertCount: result.alertCount };
  } catch (error) {
    // Not found, or closed before (or while) the update was accepted.
    if (error instanceof WorkflowNotFoundError || error instanceof WorkflowUpdateFailedError) {
      return { incidentId, status: 'no-incident' };
    }
    throw error;
  }
}

/**
 * Update-with-start: one `attachAlerts` Update that starts the incident if it is not running, so concurrent
 * alerts about one secret can never start two incidents. The first attempt refuses to reuse the id of a closed
 * run, so a contained incident is never started again, even if it closes between two calls; a closed run that
 * did not contain the secret (failed or cancelled) is started again, as `tourniquet incident start` does.
 */
export async function attachAlertsWithStart(
  client: Client,
  options: {
    incidentId: string;
    taskQueue: string;
    batch: AlertBatch;
    input: IncidentInput;
    /** Signs the start: the gateway has authenticated the alert's source. */
    gatewayKey: KeyObject;
  },
): Promise<AttachOutcome> {
  const { incidentId, taskQueue, batch } = options;
  const input = signStart(options.input, options.gatewayKey);
  let reusePolicy: WorkflowIdReusePolicy = WorkflowIdReusePolicy.REJECT_DUPLICATE;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result: AlertBatchResult = await client.workflow.executeUpdateWithStart(attachAlertsUpdate, {
        args: [batch],
        // The same id on every attempt: if an earlier attempt did land, the server answers its outcome
        // instead of recording the batch twice.
        updateId: batch.token,
        startWorkflowOperation: new WithStartWorkflowOperation<typeof incidentWorkflow>(INCIDENT_WORKFLOW, {
          workflowId: incidentId,
          taskQueue,
          args: [input],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: reusePolicy,
          typedSearchAttributes: incidentSearchAttributes(input),
        }),
      });
      return {
        incidentId,
        status: result.created ? 'created' : 'joined',
        closed: false,
        alertCount: result.alertCount,
      };
    } catch (error) {
      if (attempt >= 4) throw error;
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        if (await closedAndContained(client, incidentId)) {
          return { incidentId, status: 'joined', closed: true, alertCount: 0 };
        }
        reusePolicy = WorkflowIdReusePolicy.ALLOW_DUPLICATE;
        continue;
      }
      // The run closed while the update waited to be accepted: try again, which finds it closed.
      if (error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError) continue;
      throw error;
    }
  }
}
