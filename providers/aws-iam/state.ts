import { createHash } from 'node:crypto';

/**
 * Tourniquet's bookkeeping for an IAM user lives in the user's own tags: IAM has no other place the worker can
 * write with IAM permissions alone, and a tag survives a worker crash. Tags hold key ids (identifiers, not secrets),
 * hashes, times and destination labels: never a secret. IAM allows 50 tags per user and values of 256 characters
 * of letters, digits, spaces and `_.:/=+-@`; every value written here stays within that.
 */
export const ROTATION_TAG = 'tourniquet:rotation:';
export const DELIVERY_TAG = 'tourniquet:delivery:';
export const QUARANTINE_TAG = 'tourniquet:quarantine:';
export const DEACTIVATION_TAG = 'tourniquet:deactivated:';

const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

export function shortHash(text: string, length: number): string {
  return createHash('sha256').update(`tourniquet:aws-iam:${text}`).digest('hex').slice(0, length);
}

/** 12 hex characters standing for an incident id in tags (ids may be long or hold characters tags refuse). */
export const incidentMark = (incidentId: string): string => shortHash(incidentId, 12);

/**
 * One rotation, keyed by its idempotency key. `pending`: about to call CreateAccessKey; `keyIds` are the keys the
 * user had before, so a retry can tell which key a crashed attempt created. `created`: `keyIds[0]` was created but
 * not yet delivered everywhere. `delivered`: every destination took `keyIds[0]`.
 */
export type RotationState = 'pending' | 'created' | 'delivered';

export interface RotationRecord {
  tagKey: string;
  state: RotationState;
  /** Epoch milliseconds of the last state change. */
  at: number;
  incident: string;
  keyIds: string[];
}

export function rotationTagKey(idempotencyKey: string): string {
  return `${ROTATION_TAG}${shortHash(idempotencyKey, 32)}`;
}

export function deliveryTagKey(rotationKey: string): string {
  return `${DELIVERY_TAG}${rotationKey.slice(ROTATION_TAG.length)}`;
}

export function encodeRotation(record: Omit<RotationRecord, 'tagKey'>): string {
  return `${record.state}/${record.at}/${record.incident}/${record.keyIds.join(' ')}`;
}

export function decodeRotation(tagKey: string, value: string): RotationRecord | undefined {
  const match = /^(pending|created|delivered)\/(\d{1,15})\/([0-9a-f]{12})\/([A-Z0-9 ]*)$/.exec(value);
  if (!match) return undefined;
  return {
    tagKey,
    state: match[1] as RotationState,
    at: Number(match[2]),
    incident: match[3],
    keyIds: match[4].split(' ').filter(Boolean),
  };
}

export function rotationsIn(tags: ReadonlyMap<string, string>): RotationRecord[] {
  const records: RotationRecord[] = [];
  for (const [key, value] of tags) {
    if (!key.startsWith(ROTATION_TAG)) continue;
    const record = decodeRotation(key, value);
    if (record) records.push(record);
  }
  return records.sort((a, b) => b.at - a.at);
}

/** The newest delivered rotation of this incident, if any. */
export function latestDeliveredRotation(
  tags: ReadonlyMap<string, string>,
  incidentId: string,
): RotationRecord | undefined {
  const mark = incidentMark(incidentId);
  return rotationsIn(tags).find((record) => record.incident === mark && record.state === 'delivered');
}

/** The key ids this incident's rotations created (and may still be delivering or have delivered). */
export function keysRotatedIn(tags: ReadonlyMap<string, string>, incidentId: string): Set<string> {
  const mark = incidentMark(incidentId);
  return new Set(
    rotationsIn(tags)
      .filter((record) => record.incident === mark && record.state !== 'pending')
      .flatMap((record) => record.keyIds.slice(0, 1)),
  );
}

export type KeyPart = 'accessKeyId' | 'secretAccessKey';

export interface DeliveryLabel {
  provider: string;
  target: string;
  part: KeyPart;
}

/**
 * Where a rotation delivered, for verifyRevoked to read back: `n=<count> id=<provider>:<target> secret=…`. Labels a
 * tag cannot hold (characters, length) are left out; the count says how many there were.
 */
export function encodeDeliveries(labels: readonly DeliveryLabel[]): string {
  let value = `n=${labels.length}`;
  for (const label of labels) {
    const entry = ` ${label.part === 'accessKeyId' ? 'id' : 'secret'}=${label.provider}:${label.target}`;
    if (!/\s/.test(`${label.provider}${label.target}`) && TAG_VALUE.test(value + entry)) value += entry;
  }
  return value;
}

export function decodeDeliveries(value: string | undefined): { total: number; labels: DeliveryLabel[] } {
  if (!value) return { total: 0, labels: [] };
  const [head, ...entries] = value.split(' ');
  const total = Number(/^n=(\d+)$/.exec(head ?? '')?.[1] ?? 0);
  const labels: DeliveryLabel[] = [];
  for (const entry of entries) {
    const match = /^(id|secret)=([a-z][\w-]*):(.+)$/.exec(entry);
    if (match) {
      labels.push({
        part: match[1] === 'id' ? 'accessKeyId' : 'secretAccessKey',
        provider: match[2],
        target: match[3],
      });
    }
  }
  return { total, labels };
}

export function quarantineTagKey(policyArn: string): string {
  return `${QUARANTINE_TAG}${shortHash(policyArn, 16)}`;
}

/** `<incident mark>/<epoch ms>`: this incident attached the quarantine policy (so only it may detach it). */
export function encodeQuarantine(incidentId: string, at: number): string {
  return `${incidentMark(incidentId)}/${at}`;
}

export function quarantineIncident(value: string | undefined): string | undefined {
  return value ? /^([0-9a-f]{12})\/\d+$/.exec(value)?.[1] : undefined;
}

export function deactivationTagKey(incidentId: string): string {
  return `${DEACTIVATION_TAG}${incidentMark(incidentId)}`;
}

export function decodeKeyIds(value: string | undefined): string[] {
  return (value ?? '').split(' ').filter((id) => /^AKIA[A-Z0-9]{12,124}$/.test(id));
}
