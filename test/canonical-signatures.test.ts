import { generateKeyPairSync, sign } from 'node:crypto';
import { base64ToBytes, verifyEd25519Signature } from '../lib/runbook/approval-check';
import { rawPublicKey } from '../lib/owners';

/**
 * A signature is accepted in one encoding only. Base64 leaves unused bits in the last character and lets padding
 * vary: a decoder that ignores them accepts a re-encoded copy of a genuine signature as a different string (the
 * fuzz of test/forged-commands.test.ts found it: one "altered" decision in a thousand was accepted).
 */
const keys = generateKeyPairSync('ed25519');
const publicKey = rawPublicKey(keys.publicKey);
const message = '{"purpose":"tourniquet-approval-v1","stepId":"rotate"}';
const signature = sign(null, Buffer.from(message), keys.privateKey).toString('base64');

/** The same 64 bytes, written with one of the 4 unused low bits of the last data character set. */
function withUnusedBitSet(encoded: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const last = encoded.replace(/=+$/, '').length - 1;
  const value = alphabet.indexOf(encoded[last]) ^ 1;
  return encoded.slice(0, last) + alphabet[value] + encoded.slice(last + 1);
}

test('the genuine signature verifies', () => {
  expect(signature).toMatch(/==$/);
  expect(verifyEd25519Signature(publicKey, message, signature)).toBe(true);
});

test.each([
  ['an unused bit of the last character set', withUnusedBitSet(signature)],
  ['a third padding character', `${signature}=`],
  ['one padding character of two', signature.slice(0, -1)],
  ['a padding character inside', `${signature.slice(0, 40)}=${signature.slice(41)}`],
])('a re-encoded copy with %s is refused', (_name, reencoded) => {
  expect(reencoded).not.toBe(signature);
  expect(verifyEd25519Signature(publicKey, message, reencoded)).toBe(false);
});

test('unpadded canonical base64 still decodes to the same bytes', () => {
  expect(Buffer.from(base64ToBytes(signature.replace(/=+$/, '')))).toEqual(Buffer.from(signature, 'base64'));
  expect(() => base64ToBytes(withUnusedBitSet(signature))).toThrow('not canonical base64');
});
