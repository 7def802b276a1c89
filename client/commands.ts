import { randomUUID, type KeyObject } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { z } from 'zod';
import {
  awsAccessKeyId as awsAccessKeyIdSchema,
  CONSUMER_PARTS,
  credentialId as credentialIdSchema,
  type Credential,
} from '../lib/inventory/schema';
import {
  COMMAND_VALID_MS,
  commandMessage,
  type CommandKind,
  type SignedCommand,
} from '../lib/runbook/command-check';
import { formatPath } from '../lib/runbook/validate';
import { PROVIDER_DIRECTORY, ROLE_MEMBERS } from '../providers';
import {
  addNoteUpdate,
  cancelIncidentUpdate,
  reportRefusalUpdate,
  resolveCredentialUpdate,
  type ApprovalRefusal,
  type CredentialChoice,
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
  kind: CommandKind,
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
  'resolve-credential': resolveCredentialUpdate,
} as const;
interface CommandBodies {
  note: IncidentNote;
  refusal: ApprovalRefusal;
  cancel: IncidentCancel;
  'resolve-credential': CredentialChoice;
}

/** Seals and sends one command; the incident's refusal comes back as a `CommandRefusedError`. */
async function sendCommand<Kind extends keyof CommandBodies>(
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

/** A credential choice that cannot be sent: the message names the field (`credential: …`, `destinations[0]: …`). */
export class CredentialChoiceError extends Error {}

/** The provider's own complaint about a reference for a role, as the field's issue. */
function checkRef(role: 'issuer' | 'destination', value: string, ctx: z.RefinementCtx): void {
  try {
    PROVIDER_DIRECTORY.parseRef(role, value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}

/**
 * What `resolveCredential` sends, checked in full before it is signed: the workflow cannot load the providers, so
 * the issuer reference is parsed here by the provider that plays the issuer, and each destination by its provider
 * when that provider plays the destination role (any other is only stored to by a stand-in: shape only).
 */
export const credentialChoiceSchema = z.strictObject({
  actor: z.string().trim().min(1, 'say who names it').max(100, 'at most 100 characters'),
  credentialId: credentialIdSchema,
  credential: z
    .string()
    .max(512, 'at most 512 characters')
    .superRefine((value, ctx) => checkRef('issuer', value, ctx)),
  destinations: z
    .array(
      z
        .strictObject({
          provider: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected a provider name'),
          target: z.string().min(1).max(512),
          part: z.enum(CONSUMER_PARTS).optional(),
        })
        .superRefine((value, ctx) => {
          if (ROLE_MEMBERS.destination.includes(value.provider)) {
            checkRef('destination', `${value.provider}:${value.target}`, ctx);
          }
        }),
    )
    .max(32, 'at most 32 destinations'),
  reason: z
    .string()
    .trim()
    .min(1, 'say why, or leave it out')
    .max(1_000, 'at most 1,000 characters')
    .optional(),
});

/**
 * What naming an inventory credential means for the incident: its issuer (narrowed to the leaked key when the
 * operator names one and the issuer holds several per identity, as an AWS user does) and its consumers as the
 * destinations of the rotation. Throws a CredentialChoiceError naming `awsAccessKeyId` when it cannot narrow.
 */
export function credentialChoiceFor(
  credential: Credential,
  options: { awsAccessKeyId?: string } = {},
): Pick<CredentialChoice, 'credentialId' | 'credential' | 'destinations'> {
  let issuer = credential.issuer;
  if (options.awsAccessKeyId !== undefined) {
    const keyId = awsAccessKeyIdSchema.safeParse(options.awsAccessKeyId);
    if (!keyId.success) throw new CredentialChoiceError(`awsAccessKeyId: ${keyId.error.issues[0].message}`);
    const colon = issuer.indexOf(':');
    const definition = PROVIDER_DIRECTORY.definitions.find(
      (candidate) => candidate.name === issuer.slice(0, colon),
    );
    const narrowed = definition?.issuerRefFor?.(issuer.slice(colon + 1), { awsAccessKeyId: keyId.data });
    if (narrowed === undefined) {
      throw new CredentialChoiceError(
        `awsAccessKeyId: ${credential.id}'s issuer ${issuer} cannot be narrowed to an access key id (only an AWS IAM user that names no key can)`,
      );
    }
    issuer = `${issuer.slice(0, colon + 1)}${narrowed}`;
  }
  return {
    credentialId: credential.id,
    credential: issuer,
    destinations: credential.consumers.map((consumer) => ({
      provider: consumer.provider,
      target: consumer.target,
      ...(consumer.part ? { part: consumer.part } : {}),
    })),
  };
}

/**
 * Names the credential of an incident whose secret the inventory could not resolve: the steps on the credential,
 * which waited, run with it. Called only by a channel that authenticated who names it (the local CLI user, a Slack
 * owner of the incident-commander role). Refused by the incident (CommandRefusedError) when its credential is not
 * waiting, or was already named.
 */
export async function resolveCredential(
  client: Client,
  incidentId: string,
  choice: CredentialChoice,
  gatewayKey: KeyObject,
): Promise<void> {
  const parsed = credentialChoiceSchema.safeParse(choice);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CredentialChoiceError(`${formatPath(issue.path) || '(choice)'}: ${issue.message}`);
  }
  await sendCommand(client, incidentId, 'resolve-credential', parsed.data, gatewayKey);
}
