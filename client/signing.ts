import { sign, type KeyObject } from 'node:crypto';

/** An ed25519 signature (base64) over a canonical message: starts, decisions and commands alike. */
export function signEd25519(key: KeyObject, message: string): string {
  return sign(null, Buffer.from(message, 'utf8'), key).toString('base64');
}
