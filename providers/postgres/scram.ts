import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * PostgreSQL stores `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5803 layout). When
 * `ALTER ROLE … PASSWORD` receives a string already in this shape it stores it as is, so the plaintext never
 * reaches the server: not its statement log, not an error message, not `pg_stat_activity`.
 */
export const SCRAM_ITERATIONS = 4096;
const VERIFIER_SHAPE =
  /^SCRAM-SHA-256\$\d{4,7}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;

/**
 * The generated password is base64url, i.e. plain ASCII, where SASLprep is the identity: the verifier computed
 * here is the one the server would compute itself.
 */
export function generatePassword(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function scramSha256Verifier(
  password: string,
  iterations = SCRAM_ITERATIONS,
  salt = randomBytes(16),
): string {
  if (!/^[\x21-\x7e]+$/.test(password)) {
    throw new Error('only printable ASCII passwords are pre-hashed (SASLprep would change others)');
  }
  const saltedPassword = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', saltedPassword).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', saltedPassword).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Only a string of this exact shape is ever spliced into SQL (utility statements take no bind parameters). */
export function assertVerifierShape(verifier: string): void {
  if (!VERIFIER_SHAPE.test(verifier)) throw new Error('refusing to send a malformed SCRAM verifier');
}

/**
 * A short, non-reversible identifier of one stored verifier (itself a salted hash of a 256-bit random password),
 * so the timeline can say "credential version X" and verification can compare versions without any secret.
 */
export function verifierFingerprint(verifier: string): string {
  return createHash('sha256').update(`tourniquet:pg-verifier:${verifier}`).digest('hex');
}
