import {
  type KeyObject,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EncryptionKeySource } from './config';
import { EvidenceError, errnoCode } from './errors';
import { fsyncDirectory } from './fs-util';

/** The vault's AES-256 master key. `keyId` names it in sealed files so a wrong key is reported as such. */
export interface EncryptionKey {
  key: KeyObject;
  keyId: Buffer;
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex: what manifests and bundles name the signer by. */
  fingerprint: string;
}

export const KEY_ID_BYTES = 8;

/**
 * 32 bytes given as 64 hex digits or as base64 (standard or URL-safe, padding optional). Returns undefined
 * rather than throwing so callers word the error without ever echoing the value.
 */
export function decodeKeyMaterial(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed) || /^[A-Za-z0-9_-]{43}=?$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length === 32) return decoded;
  }
  return undefined;
}

export function encryptionKeyFromBytes(bytes: Buffer): EncryptionKey {
  const key = createSecretKey(bytes);
  const keyId = createHmac('sha256', key)
    .update('tourniquet/evidence/v1/key-id')
    .digest()
    .subarray(0, KEY_ID_BYTES);
  return { key, keyId };
}

export async function loadEncryptionKey(source: EncryptionKeySource): Promise<EncryptionKey> {
  if (source.kind === 'env') {
    const bytes = decodeKeyMaterial(source.encoded);
    if (!bytes) {
      throw new EvidenceError(
        `environment variable ${source.variable}: expected 32 bytes as 64 hex digits or base64`,
        'invalid-config',
      );
    }
    return encryptionKeyFromBytes(bytes);
  }
  let content = await readKeyFile(source.path, source.origin);
  if (content === undefined) {
    if (!source.createIfMissing) {
      throw new EvidenceError(`${source.origin}: ${source.path} does not exist`, 'key-error');
    }
    await createKeyFileOnce(source.path, Buffer.from(`${randomBytes(32).toString('hex')}\n`));
    content = await readCreatedKeyFile(source.path, source.origin);
  }
  const bytes = content.length === 32 ? content : decodeKeyMaterial(content.toString('utf8'));
  if (!bytes) {
    throw new EvidenceError(
      `${source.origin}: ${source.path} must hold 32 bytes (raw, 64 hex digits or base64)`,
      'key-error',
    );
  }
  return encryptionKeyFromBytes(bytes);
}

export function fingerprintPublicKey(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export function signingKeyFromPrivate(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: fingerprintPublicKey(publicKey),
  };
}

/** Parses a PEM public key from a bundle; only ed25519 is accepted so a weaker algorithm cannot be slipped in. */
export function parsePublicKey(pem: string, origin: string): { publicKey: KeyObject; fingerprint: string } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new EvidenceError(`${origin}: not a PEM public key`, 'integrity');
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new EvidenceError(
      `${origin}: expected an ed25519 key, got ${publicKey.asymmetricKeyType}`,
      'integrity',
    );
  }
  return { publicKey, fingerprint: fingerprintPublicKey(publicKey) };
}

export async function loadSigningKey(
  path: string,
  options: { create: boolean },
): Promise<SigningKey | undefined> {
  let content = await readKeyFile(path, 'evidence signing key');
  if (content === undefined) {
    if (!options.create) return undefined;
    const { privateKey } = generateKeyPairSync('ed25519');
    await createKeyFileOnce(
      path,
      Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    );
    content = await readCreatedKeyFile(path, 'evidence signing key');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: content, format: 'pem' });
  } catch {
    throw new EvidenceError(`evidence signing key: ${path} is not a PEM private key`, 'key-error');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new EvidenceError(`evidence signing key: ${path} must be an ed25519 key`, 'key-error');
  }
  return signingKeyFromPrivate(privateKey);
}

/** Key files readable by anyone but the owner are refused, as ssh does: the vault is only as safe as its keys. */
async function readKeyFile(path: string, origin: string): Promise<Buffer | undefined> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new EvidenceError(`${origin}: ${path} is not a regular file`, 'key-error');
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new EvidenceError(
        `${origin}: ${path} has permissions ${mode}, which lets other users read it; run chmod 600`,
        'key-error',
      );
    }
    return await readFile(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError(`${origin}: cannot read ${path} (${errnoCode(error) ?? 'error'})`, 'key-error');
  }
}

/**
 * Writes the key to a private temp file and hard-links it into place: link() fails if the name exists, so two
 * processes creating the key at once agree on one key, and no reader ever sees a half-written file.
 */
async function createKeyFileOnce(path: string, content: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    await fsyncDirectory(dirname(path));
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw error;
  } finally {
    await unlink(temp);
  }
}

async function readCreatedKeyFile(path: string, origin: string): Promise<Buffer> {
  const content = await readKeyFile(path, origin);
  if (content === undefined)
    throw new EvidenceError(`${origin}: ${path} vanished after creation`, 'key-error');
  return content;
}
