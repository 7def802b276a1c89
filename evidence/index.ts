import { stat } from 'node:fs/promises';
import { resolveVaultConfig } from './config';
import { EvidenceError, errnoCode } from './errors';
import type { EvidenceVault } from './types';
import { FileSystemEvidenceVault } from './vault';

export interface OpenVaultOptions {
  /** Overrides TOURNIQUET_DATA_DIR (default `.data`); the vault lives in `<dataDir>/evidence/`. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** The time written into entries; an exercise on an accelerated clock passes its own. */
  now?: () => Date;
}

/**
 * Opens the local file-system vault. The configuration is validated now; keys are read (or created, 0600, on
 * first write) only when an operation needs them, so verifying a bundle needs no key at all.
 */
export async function openVault(options: OpenVaultOptions = {}): Promise<EvidenceVault> {
  const config = resolveVaultConfig(options);
  await assertDirectoryOrAbsent(config.vaultDir);
  return new FileSystemEvidenceVault(config, options.now);
}

async function assertDirectoryOrAbsent(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) return;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw new EvidenceError(
      `evidence vault ${path} is not accessible (${errnoCode(error) ?? 'error'})`,
      'io',
    );
  }
  throw new EvidenceError(`evidence vault ${path} exists but is not a directory`, 'invalid-config');
}

export { EvidenceError } from './errors';
export type { EvidenceErrorCode } from './errors';
export type {
  ArtifactEntry,
  EventEntry,
  ManifestEntry,
  ProblemCode,
  StoredEntry,
  VerificationProblem,
  VerificationReport,
} from './manifest';
export type {
  BundleVerifyOptions,
  CustodyContext,
  EvidenceEvent,
  EvidenceVault,
  ExportResult,
  JsonValue,
  KnownEventKind,
  OpenedArtifact,
  VerifyOptions,
} from './types';
