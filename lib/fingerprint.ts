import { createHmac } from 'node:crypto';

/** What may travel instead of a leaked secret: enough to recognise it, never enough to use it. */
export interface RedactedHint {
  kind: string;
  length: number;
  last4: string;
}

/** Keyed hash of a secret value; the incident key. Keyed so the fingerprint cannot be brute-forced offline. */
export function fingerprintSecret(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

export function redactedHint(kind: string, value: string): RedactedHint {
  return { kind, length: value.length, last4: value.length > 8 ? value.slice(-4) : '' };
}

/** Fingerprint for alerts that carry no value: the same correlation parts always give the same key. */
export function correlationFingerprint(key: Buffer, parts: string[]): string {
  return fingerprintSecret(key, `correlation:${parts.map((part) => part.toLowerCase()).join('\u0000')}`);
}
