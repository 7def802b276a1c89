import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { credentialId } from './schema';

/**
 * The fingerprints of values minted by rotations, so a later leak of a replacement maps back to its credential.
 * One JSON record per line, appended and never rewritten; readable by the data dir's owner only. A writer killed
 * mid-line leaves a torn line: readers skip it, and the next append starts on a fresh line.
 */
export function rotatedFingerprintsFile(dataDir: string): string {
  return join(dataDir, 'inventory', 'fingerprints.jsonl');
}

const recordSchema = z.strictObject({
  credentialId,
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'expected a keyed fingerprint: 64 lower-case hex digits'),
  at: z.iso.datetime(),
});
export type RotatedFingerprint = z.infer<typeof recordSchema>;

/** Appends the fingerprint of a rotation's new value (durably: fsync before returning). */
export function recordRotatedFingerprint(
  dataDir: string,
  credential: string,
  fingerprint: string,
  at: Date | string = new Date(),
): RotatedFingerprint {
  const parsed = recordSchema.safeParse({
    credentialId: credential,
    fingerprint: fingerprint.toLowerCase(),
    at: typeof at === 'string' ? at : at.toISOString(),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const record = parsed.data;
  const file = rotatedFingerprintsFile(dataDir);
  mkdirSync(join(dataDir, 'inventory'), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a+', 0o600);
  try {
    const stat = fstatSync(fd);
    // Created before with a looser umask, or by hand: fingerprints are for this data dir's owner only.
    if ((stat.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    let prefix = '';
    if (stat.size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, stat.size - 1);
      // A torn last line: end it, so this record is a line of its own (the torn one stays skipped).
      if (last[0] !== 0x0a) prefix = '\n';
    }
    // One write of the whole line: O_APPEND puts it at the end even with concurrent writers.
    writeSync(fd, `${prefix}${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return record;
}

export interface RotatedFingerprintLog {
  records: RotatedFingerprint[];
  /** 1-based numbers of lines that are not a record (torn by a crash, or damaged): skipped. */
  skippedLines: number[];
}

/** Every record in file order; a missing file is an empty log. */
export function readRotatedFingerprints(dataDir: string): RotatedFingerprintLog {
  let text: string;
  try {
    text = readFileSync(rotatedFingerprintsFile(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skippedLines: [] };
    throw error;
  }
  const records: RotatedFingerprint[] = [];
  const skippedLines: number[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skippedLines.push(index + 1);
      return;
    }
    const parsed = recordSchema.safeParse(value);
    if (parsed.success) records.push(parsed.data);
    else skippedLines.push(index + 1);
  });
  return { records, skippedLines };
}

/** Fingerprint to credential id; a fingerprint recorded twice maps to its latest record's credential. */
export function loadRotatedFingerprints(dataDir: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const record of readRotatedFingerprints(dataDir).records)
    map.set(record.fingerprint, record.credentialId);
  return map;
}
