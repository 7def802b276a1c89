import { randomUUID, type KeyObject } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import {
  COMMAND_VALID_MS,
  commandMessage,
  type IncidentCommandKind,
  type SignedCommand,
} from '../lib/runbook/command-check';
import {
  addNoteUpdate,
  cancelIncidentUpdate,
  reportRefusalUpdate,
  type ApprovalRefusal,
  type IncidentCancel,
  type IncidentNote,
} from '../workflows/messages';
import { signEd25519 } from './signing';

/** The incident refused a command (unsigned, a key it does not trust, replayed, or nothing left to cancel). */
export class CommandRefusedError extends Error {}

/**
 * A command sealed with the gateway's key: called only by a channel that authenticated who gives it (Slack's
 * request signature, the local CLI user who can read the data dir, the exercise engine for its injects).
 */
export function signCommand<Body>(
  incidentId: string,
  kind: IncidentCommandKind,
  body: Body,
  gatewayKey: KeyObject,
  now = Date.now(),
): SignedCommand<Body> {
  const seal = { nonce: randomUUID(), expiresAt: new Date(now + COMMAND_VALID_MS).toISOString() };
  const signature = signEd25519(gatewayKey, commandMessage(incidentId, kind, body, seal));
  return { body, seal: { ...seal, signature } };
}

/** The Update each command kind travels as (`workflows/messages.ts`). */
const UPDATES = {
  note: addNoteUpdate,
  refusal: reportRefusalUpdate,
  cancel: cancelIncidentUpdate,
} as const;
interface CommandBodies {
  note: IncidentNote;
  refusal: ApprovalRefusal;
  cancel: IncidentCancel;
}

/** Seals and sends one command; the incident's refusal comes back as a `CommandRefusedError`. */
async function sendCommand<Kind extends IncidentCommandKind>(
  client: Client,
  incidentId: string,
  kind: Kind,
  body: CommandBodies[Kind],
  gatewayKey: KeyObject,
): Promise<void> {
  const command = signCommand(incidentId, kind, body, gatewayKey);
  const update = UPDATES[kind] as UpdateDefinition<void, [SignedCommand<CommandBodies[Kind]>]>;
  try {
    await client.workflow.getHandle(incidentId).executeUpdate(update, { args: [command] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      throw new CommandRefusedError(`incident ${incidentId}: ${error.cause?.message ?? error.message}`);
    }
    throw error;
  }
}

/** A note from a caller that has already scrubbed it and authenticated its author. */
export function sendNote(
  client: Client,
  incidentId: string,
  note: IncidentNote,
  gatewayKey: KeyObject,
): Promise<void> {
  return sendCommand(client, incidentId, 'note', note, gatewayKey);
}

/**
 * Writes a refused approval attempt to the incident's timeline (who, which step, why). Best effort: the refusal
 * itself has already happened, and an incident that is gone has no timeline to write to.
 */
export async function reportRefusal(
  client: Client,
  incidentId: string,
  refusal: ApprovalRefusal,
  gatewayKey: KeyObject,
): Promise<void> {
  await sendCommand(client, incidentId, 'refusal', refusal, gatewayKey).catch(() => undefined);
}

/** Stops an incident: steps already done stay done. Resolves once the incident has accepted the cancel. */
export function cancelIncident(
  client: Client,
  incidentId: string,
  cancel: IncidentCancel,
  gatewayKey: KeyObject,
): Promise<void> {
  return sendCommand(client, incidentId, 'cancel', cancel, gatewayKey);
}
