import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { EvidenceError, describeZodError } from './errors';

/**
 * Incident ids become directory names and tar paths, so they are restricted to a charset that cannot climb out
 * of the vault (no `/`, no leading dot) and that every file system and tar reader accepts.
 */
export const incidentIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    'expected 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
  )
  .refine((value) => !value.includes('..'), 'must not contain ".."');

const printable = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

export const stepIdSchema = printable(128);
export const sourceSchema = printable(256);
export const artifactNameSchema = printable(256);
export const contentTypeSchema = z
  .string()
  .max(128, 'must be at most 128 characters')
  .regex(/^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+"-]+)*$/, 'expected a media type such as text/plain');
export const actorSchema = printable(200);
export const reasonSchema = printable(1000).refine(
  (value) => value.trim().length >= 3,
  'must say why (at least 3 characters)',
);
export const sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 as 64 lowercase hex digits');

/** The part of the environment the vault reads. Empty values are errors: a blank key variable is a mistake. */
const envSchema = z.object({
  TOURNIQUET_DATA_DIR: z.string().min(1, 'must not be empty').optional(),
  TOURNIQUET_EVIDENCE_KEY: z.string().min(1, 'must not be empty').optional(),
  TOURNIQUET_EVIDENCE_KEY_FILE: z.string().min(1, 'must not be empty').optional(),
});

export type EncryptionKeySource =
  | { kind: 'env'; variable: 'TOURNIQUET_EVIDENCE_KEY'; encoded: string }
  | { kind: 'file'; path: string; createIfMissing: boolean; origin: string };

export interface VaultConfig {
  dataDir: string;
  vaultDir: string;
  incidentsDir: string;
  keysDir: string;
  signingKeyPath: string;
  encryptionKey: EncryptionKeySource;
}

export function resolveVaultConfig(options: { dataDir?: string; env?: NodeJS.ProcessEnv }): VaultConfig {
  const env = options.env ?? process.env;
  const parsed = envSchema.safeParse({
    TOURNIQUET_DATA_DIR: env.TOURNIQUET_DATA_DIR,
    TOURNIQUET_EVIDENCE_KEY: env.TOURNIQUET_EVIDENCE_KEY,
    TOURNIQUET_EVIDENCE_KEY_FILE: env.TOURNIQUET_EVIDENCE_KEY_FILE,
  });
  if (!parsed.success) {
    throw new EvidenceError(`environment variable ${describeZodError(parsed.error)}`, 'invalid-config');
  }
  if (options.dataDir !== undefined && options.dataDir.trim() === '') {
    throw new EvidenceError('dataDir: must not be empty', 'invalid-config');
  }
  const dataDir = resolve(options.dataDir ?? parsed.data.TOURNIQUET_DATA_DIR ?? '.data');
  const vaultDir = join(dataDir, 'evidence');
  const keysDir = join(dataDir, 'keys');
  const keyFile = parsed.data.TOURNIQUET_EVIDENCE_KEY_FILE;
  let encryptionKey: EncryptionKeySource;
  if (parsed.data.TOURNIQUET_EVIDENCE_KEY !== undefined) {
    encryptionKey = {
      kind: 'env',
      variable: 'TOURNIQUET_EVIDENCE_KEY',
      encoded: parsed.data.TOURNIQUET_EVIDENCE_KEY,
    };
  } else if (keyFile !== undefined) {
    // An operator-named key file that is missing (an unmounted secret) must not be silently replaced by a
    // fresh key: evidence sealed under a throwaway key is lost evidence.
    encryptionKey = {
      kind: 'file',
      path: isAbsolute(keyFile) ? keyFile : resolve(keyFile),
      createIfMissing: false,
      origin: 'TOURNIQUET_EVIDENCE_KEY_FILE',
    };
  } else {
    encryptionKey = {
      kind: 'file',
      path: join(keysDir, 'evidence.key'),
      createIfMissing: true,
      origin: 'evidence key file',
    };
  }
  return {
    dataDir,
    vaultDir,
    incidentsDir: join(vaultDir, 'incidents'),
    keysDir,
    signingKeyPath: join(keysDir, 'evidence-signing.key'),
    encryptionKey,
  };
}
