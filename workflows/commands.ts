import { ApplicationFailure } from '@temporalio/workflow';
import { commandRefusal, type CommandKind, type SignedCommand } from '../lib/runbook/command-check';
import { MAX_BATCH_EVENTS, MAX_BATCH_LOCATIONS, SEVERITIES, type AlertDetails } from '../lib/runbook/types';
import type { CredentialChoice } from './messages';

/**
 * The incident's door for notes, refusal reports, cancels and the naming of its credential: only a command signed by a gateway key the worker
 * trusted when it opened the incident gets through, once. The Update validator calls `check` (a refusal leaves no
 * trace in history); the handler calls `accept`, which checks again (a command that arrived while the incident was
 * opening skipped the validator) and spends the nonce.
 */
export class SignedCommands {
  /** Accepted nonces until their seal expires: after that the expiry alone refuses a copy. */
  private readonly usedNonces = new Map<string, number>();

  constructor(
    private readonly incidentId: string,
    private readonly gatewayKeys: readonly string[],
  ) {}

  check(kind: CommandKind, command: unknown): void {
    const refusal = this.refusal(kind, command);
    if (refusal) throw new Error(refusal);
  }

  accept<Body>(kind: CommandKind, command: SignedCommand<Body>): Body {
    const refusal = this.refusal(kind, command);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'CommandRefused');
    const now = Date.now();
    for (const [nonce, expiresAt] of this.usedNonces) {
      if (expiresAt < now) this.usedNonces.delete(nonce);
    }
    this.usedNonces.set(command.seal.nonce, Date.parse(command.seal.expiresAt));
    return command.body;
  }

  private refusal(kind: CommandKind, command: unknown): string | undefined {
    return commandRefusal(this.incidentId, kind, command, {
      gatewayKeys: this.gatewayKeys,
      now: Date.now(),
      usedNonces: this.usedNonces,
    });
  }
}

/** A provider name as references and runbooks spell it (`postgres`, `aws-iam`). */
const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** An inventory credential id (`lib/inventory/schema.ts`). */
const CREDENTIAL_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_DESTINATIONS = 32;
const CHOICE_KEYS: ReadonlySet<string> = new Set([
  'actor',
  'credentialId',
  'credential',
  'destinations',
  'reason',
]);
const DESTINATION_KEYS: ReadonlySet<string> = new Set(['provider', 'target', 'part']);

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const isText = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.trim() !== '' && value.length <= max;

/**
 * Why a credential choice cannot be what the incident acts on, or undefined. Only the shape: the workflow cannot
 * load the providers, so the sender (`client/commands.ts`) parses the issuer reference for its role before it signs.
 * A sealed body was written by a trusted channel; this keeps one that a bug there got wrong out of the steps.
 */
export function credentialChoiceRefusal(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body: expected an object';
  const choice = body as Partial<Record<keyof CredentialChoice, unknown>>;
  const unknownKey = Object.keys(choice).find((key) => !CHOICE_KEYS.has(key));
  if (unknownKey !== undefined) return `body.${unknownKey.slice(0, 40)}: unknown field`;
  if (!isText(choice.actor, 200)) return 'body.actor: expected who named the credential';
  if (typeof choice.credentialId !== 'string' || !CREDENTIAL_ID.test(choice.credentialId)) {
    return 'body.credentialId: expected an inventory credential id such as aws-ci-deployer';
  }
  const credential = choice.credential;
  const colon = typeof credential === 'string' ? credential.indexOf(':') : -1;
  if (
    typeof credential !== 'string' ||
    credential.length > 512 ||
    colon < 1 ||
    !PROVIDER_NAME.test(credential.slice(0, colon)) ||
    !/^\S/.test(credential.slice(colon + 1)) ||
    CONTROL.test(credential)
  ) {
    return 'body.credential: expected <issuer>:<reference>, e.g. postgres:app_user@appdb';
  }
  if (!Array.isArray(choice.destinations) || choice.destinations.length > MAX_DESTINATIONS) {
    return `body.destinations: expected a list of at most ${MAX_DESTINATIONS} destinations`;
  }
  for (const [index, destination] of (choice.destinations as unknown[]).entries()) {
    const where = `body.destinations[${index}]`;
    if (typeof destination !== 'object' || destination === null || Array.isArray(destination)) {
      return `${where}: expected { provider, target, part? }`;
    }
    const { provider, target, part } = destination as Record<string, unknown>;
    if (Object.keys(destination).some((key) => !DESTINATION_KEYS.has(key))) {
      return `${where}: expected { provider, target, part? }`;
    }
    if (typeof provider !== 'string' || !PROVIDER_NAME.test(provider))
      return `${where}.provider: expected a provider name`;
    if (!isText(target, 512)) return `${where}.target: expected a target of 1 to 512 characters`;
    if (part !== undefined && part !== 'accessKeyId' && part !== 'secretAccessKey') {
      return `${where}.part: expected accessKeyId or secretAccessKey`;
    }
  }
  if (choice.reason !== undefined && !isText(choice.reason, 1_000)) {
    return 'body.reason: expected at most 1,000 characters, or none';
  }
  return undefined;
}

const DETAIL_KEYS: ReadonlySet<string> = new Set(['severity', 'locations', 'connector', 'events']);
const LIFECYCLES: ReadonlySet<unknown> = new Set(['raised', 'escalated', 'resolved']);

const isLink = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= 2048 && /^https?:\/\/\S+$/i.test(value);

/**
 * Why a sealed batch's details cannot be taken in, or undefined. The gateway built them from scrubbed alerts; this
 * keeps a body a bug there got wrong from growing history or reaching the steps (shape and bounds only).
 */
export function alertDetailsRefusal(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body: expected an object';
  const details = body as Partial<Record<keyof AlertDetails, unknown>>;
  const unknownKey = Object.keys(details).find((key) => !DETAIL_KEYS.has(key));
  if (unknownKey !== undefined) return `body.${unknownKey.slice(0, 40)}: unknown field`;
  if (!(SEVERITIES as readonly unknown[]).includes(details.severity))
    return 'body.severity: expected a severity';
  if (!Array.isArray(details.locations) || details.locations.length > MAX_BATCH_LOCATIONS) {
    return `body.locations: expected at most ${MAX_BATCH_LOCATIONS} places`;
  }
  for (const [index, location] of (details.locations as unknown[]).entries()) {
    const { url, repository, workflow, ...rest } = (location ?? {}) as Record<string, unknown>;
    if (!isLink(url) || Object.keys(rest).length > 0)
      return `body.locations[${index}]: expected { url, repository?, workflow? }`;
    for (const [name, value] of [
      ['repository', repository],
      ['workflow', workflow],
    ] as const) {
      if (value !== undefined && (!isText(value, 256) || CONTROL.test(value))) {
        return `body.locations[${index}].${name}: expected 1 to 256 characters`;
      }
    }
  }
  if (details.connector !== undefined) {
    const { provider, ref, repository, ...rest } = details.connector as Record<string, unknown>;
    if (
      typeof provider !== 'string' ||
      !PROVIDER_NAME.test(provider) ||
      provider === 'simulated' ||
      !isText(ref, 512) ||
      typeof repository !== 'string' ||
      repository.length > 512 ||
      Object.keys(rest).length > 0
    ) {
      return 'body.connector: expected { provider, ref, repository } of a real provider';
    }
  }
  if (!Array.isArray(details.events) || details.events.length > MAX_BATCH_EVENTS) {
    return `body.events: expected at most ${MAX_BATCH_EVENTS} events`;
  }
  for (const [index, event] of (details.events as unknown[]).entries()) {
    const { alertId, source, lifecycle, text, ...rest } = (event ?? {}) as Record<string, unknown>;
    if (
      !isText(alertId, 512) ||
      !isText(source, 64) ||
      !LIFECYCLES.has(lifecycle) ||
      (text !== undefined && (!isText(text, 200) || CONTROL.test(text))) ||
      Object.keys(rest).length > 0
    ) {
      return `body.events[${index}]: expected { alertId, source, lifecycle, text? }`;
    }
  }
  return undefined;
}
