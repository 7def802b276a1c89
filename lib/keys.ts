import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A 32-byte key from an environment value (hex or base64) or from a key file under the data dir, created
 * with mode 0600 on first use so a fresh machine works without setup.
 */
export function loadOrCreateKey(
  dataDir: string,
  fileName: string,
  fromEnv?: string,
  envName = 'key',
): Buffer {
  if (fromEnv) {
    const key = /^[0-9a-fA-F]{64}$/.test(fromEnv)
      ? Buffer.from(fromEnv, 'hex')
      : Buffer.from(fromEnv, 'base64');
    if (key.length < 32) throw new Error(`${envName}: expected at least 32 bytes as hex or base64`);
    return key;
  }
  const path = join(dataDir, 'keys', fileName);
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    writeFileSync(path, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process created it first: use theirs so both fingerprint alike.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
    throw error;
  }
}

/** The keyed-hash key every entry point fingerprints secrets with: TOURNIQUET_FINGERPRINT_KEY, else the data dir's. */
export function fingerprintKeyOf(config: { dataDir: string; TOURNIQUET_FINGERPRINT_KEY?: string }): Buffer {
  return loadOrCreateKey(
    config.dataDir,
    'fingerprint.key',
    config.TOURNIQUET_FINGERPRINT_KEY,
    'TOURNIQUET_FINGERPRINT_KEY',
  );
}
