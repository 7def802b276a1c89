import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, link, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { create as createTar, list as listTar, type ReadEntry } from 'tar';
import { z } from 'zod';
import { incidentIdSchema, sha256Schema } from './config';
import { EvidenceError, describeZodError, errnoCode } from './errors';
import { type SigningKey, parsePublicKey } from './keys';
import { fsyncDirectory } from './fs-util';
import {
  type ManifestHead,
  type StoredEntry,
  type VerificationProblem,
  type VerificationReport,
  describeArtifact,
  serializeHead,
  verifyChain,
} from './manifest';
import type { BundleVerifyOptions, ExportResult } from './types';

/*
 * A bundle is a gzipped tar with a single top-level directory named after the incident:
 *
 *   <incident>/bundle.json               what this is (informational, unsigned)
 *   <incident>/manifest.jsonl            the hash-chained, signed manifest up to and including this export
 *   <incident>/head.json                 the signed head naming the last entry
 *   <incident>/signing-public-key.pem    the ed25519 key that signed both
 *   <incident>/objects/<sha256>          the sealed (still encrypted) artifacts, named by plaintext SHA-256
 *   <incident>/README.txt                how to check it
 *
 * Verifying needs only these files; reading an artifact's content also needs the evidence encryption key.
 */

const BUNDLE_FORMAT = 'tourniquet-evidence-bundle';
const MANIFEST_LIMIT = 64 * 1024 * 1024;
const SMALL_FILE_LIMIT = 1024 * 1024;

const bundleInfoSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  v: z.literal(1),
  incidentId: incidentIdSchema,
  createdAt: z.iso.datetime({ offset: true }),
  signer: sha256Schema,
  entries: z.number().int().min(0),
  headHash: sha256Schema,
});

const SMALL_FILES = [
  'bundle.json',
  'manifest.jsonl',
  'head.json',
  'signing-public-key.pem',
  'README.txt',
] as const;
type SmallFile = (typeof SMALL_FILES)[number];

export interface BundleSnapshot {
  manifest: Buffer;
  head: ManifestHead;
  stored: StoredEntry[];
  entries: number;
}

export interface WriteBundleParams {
  out: string;
  incidentId: string;
  signingKey: SigningKey;
  stagingParent: string;
  stagingName: string;
  objectPath: (sha256: string) => string;
  /** Appends the export's custody entry and returns the manifest as it stands with it. */
  recordExport: (bundleName: string) => Promise<BundleSnapshot>;
}

export async function writeBundle(params: WriteBundleParams): Promise<ExportResult> {
  const out = resolve(params.out);
  await assertFreeTarget(out);
  const snapshot = await params.recordExport(basename(out));
  const staging = join(params.stagingParent, params.stagingName);
  const root = join(staging, params.incidentId);
  const partial = `${out}.${process.pid}-${randomBytes(6).toString('hex')}.partial`;
  try {
    await mkdir(join(root, 'objects'), { recursive: true, mode: 0o700 });
    const info: z.infer<typeof bundleInfoSchema> = {
      format: BUNDLE_FORMAT,
      v: 1,
      incidentId: params.incidentId,
      createdAt: new Date().toISOString(),
      signer: params.signingKey.fingerprint,
      entries: snapshot.entries,
      headHash: snapshot.head.hash,
    };
    await writeFile(join(root, 'bundle.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await writeFile(join(root, 'manifest.jsonl'), snapshot.manifest, { mode: 0o600 });
    await writeFile(join(root, 'head.json'), serializeHead(snapshot.head), { mode: 0o600 });
    await writeFile(join(root, 'signing-public-key.pem'), params.signingKey.publicKeyPem, { mode: 0o600 });
    await writeFile(join(root, 'README.txt'), readme(params.incidentId, params.signingKey.fingerprint), {
      mode: 0o600,
    });
    for (const sha256 of new Set(snapshot.stored.map((entry) => entry.sha256))) {
      await linkOrCopy(params.objectPath(sha256), join(root, 'objects', sha256));
    }
    await createTar({ gzip: true, file: partial, cwd: staging, portable: true }, [params.incidentId]);
    await chmod(partial, 0o600);
    const handle = await open(partial, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, out);
    await fsyncDirectory(dirname(out));
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return {
    bundlePath: out,
    incidentId: params.incidentId,
    entries: snapshot.entries,
    artifacts: new Set(snapshot.stored.map((entry) => entry.sha256)).size,
    headHash: snapshot.head.hash,
    signer: params.signingKey.fingerprint,
  };
}

async function assertFreeTarget(out: string): Promise<void> {
  try {
    await stat(out);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    try {
      if (!(await stat(dirname(out))).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new EvidenceError(`out: directory ${dirname(out)} does not exist`, 'invalid-input');
    }
    return;
  }
  throw new EvidenceError(`out: ${out} already exists; bundles are never overwritten`, 'invalid-input');
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    if (errnoCode(error) !== 'EXDEV' && errnoCode(error) !== 'EPERM') throw error;
    await copyFile(from, to);
  }
}

function readme(incidentId: string, signer: string): string {
  return [
    `Tourniquet evidence bundle for incident ${incidentId}`,
    '',
    'Check it:  tourniquet evidence verify <this file> [--trusted-signer <fingerprint>]',
    `Signed by: ed25519 key with SPKI SHA-256 fingerprint ${signer}`,
    '           (compare with the fingerprint your vault publishes; the key in this bundle proves nothing alone)',
    '',
    'manifest.jsonl holds one canonical-JSON entry per line. entry.hash is the SHA-256 of',
    '"tourniquet/evidence/v1/entry\\n" + canonical JSON of the entry without hash and sig; entry.sig is the',
    'ed25519 signature of "tourniquet/evidence/v1/entry\\n" + entry.hash; entry.prev is the previous entry hash',
    '(64 zeros for the first). head.json is signed over "tourniquet/evidence/v1/head\\n" + canonical JSON of the',
    'head without sig, and names the last entry, so a shortened manifest is detected.',
    '',
    "objects/<sha256> are encrypted (chunked AES-256-GCM). Their SHA-256 as stored must equal the entry's",
    'sealedSha256; the file name is the SHA-256 of the plaintext, checked when an artifact is opened with',
    '`tourniquet evidence open`, which needs the evidence encryption key.',
    '',
  ].join('\n');
}

interface CollectedBundle {
  root: string | undefined;
  files: Map<SmallFile, Buffer>;
  objects: Map<string, { sha256: string; bytes: number }>;
  problem: string | undefined;
}

/**
 * Reads the bundle in one streaming pass: small files are kept, sealed objects only hashed, so a bundle of any
 * size is checked in bounded memory without unpacking it anywhere.
 */
async function collectBundle(path: string): Promise<CollectedBundle> {
  const collected: CollectedBundle = {
    root: undefined,
    files: new Map(),
    objects: new Map(),
    problem: undefined,
  };
  const pending: Promise<void>[] = [];
  const complain = (problem: string) => (collected.problem ??= problem);

  const onEntry = (entry: ReadEntry) => {
    const parts = entry.path.replace(/\/+$/, '').split('/');
    const root = parts[0];
    if (collected.root === undefined) collected.root = root;
    if (root !== collected.root || parts.some((part) => part === '..' || part === '')) {
      complain(`unexpected path ${JSON.stringify(entry.path)} in bundle`);
      entry.resume();
      return;
    }
    if (entry.type === 'Directory') {
      entry.resume();
      return;
    }
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
      complain(`${entry.path}: a ${entry.type} entry has no place in a bundle`);
      entry.resume();
      return;
    }
    const rest = parts.slice(1).join('/');
    if (parts.length === 3 && parts[1] === 'objects' && /^[0-9a-f]{64}$/.test(parts[2])) {
      if (collected.objects.has(parts[2])) complain(`${entry.path} appears twice in bundle`);
      const hash = createHash('sha256');
      let bytes = 0;
      pending.push(
        new Promise<void>((done) => {
          entry.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          entry.on('end', () => {
            collected.objects.set(parts[2], { sha256: hash.digest('hex'), bytes });
            done();
          });
        }),
      );
      return;
    }
    const small = SMALL_FILES.find((name) => name === rest);
    if (!small) {
      complain(`unexpected file ${entry.path} in bundle`);
      entry.resume();
      return;
    }
    const limit = small === 'manifest.jsonl' ? MANIFEST_LIMIT : SMALL_FILE_LIMIT;
    if (entry.size > limit || collected.files.has(small)) {
      complain(
        collected.files.has(small) ? `${entry.path} appears twice in bundle` : `${entry.path} is too large`,
      );
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    pending.push(
      new Promise<void>((done) => {
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          collected.files.set(small, Buffer.concat(chunks));
          done();
        });
      }),
    );
  };

  await listTar({ file: path, strict: true, onReadEntry: onEntry });
  await Promise.all(pending);
  return collected;
}

export async function verifyBundleFile(
  path: string,
  options: BundleVerifyOptions,
): Promise<VerificationReport> {
  const trusted = options.trustedSigner;
  if (trusted !== undefined && !/^[0-9a-f]{64}$/.test(trusted)) {
    throw new EvidenceError(
      'trustedSigner: expected a key fingerprint as 64 lowercase hex digits',
      'invalid-input',
    );
  }
  try {
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch {
    throw new EvidenceError(`bundle: ${path} is not a readable file`, 'not-found');
  }
  const failure = (problem: VerificationProblem, incidentId = '', signer = ''): VerificationReport => ({
    ok: false,
    incidentId,
    signer,
    entries: 0,
    artifacts: 0,
    notes: [],
    problem,
  });
  const malformed = (message: string, incidentId?: string) =>
    failure({ code: 'malformed-bundle', message: `bundle: ${message}` }, incidentId);

  let collected: CollectedBundle;
  try {
    collected = await collectBundle(path);
  } catch (error) {
    return malformed(`not a readable tar.gz (${errnoCode(error) ?? 'corrupt archive'})`);
  }
  if (collected.problem) return malformed(collected.problem);
  for (const name of ['bundle.json', 'manifest.jsonl', 'head.json', 'signing-public-key.pem'] as const) {
    if (!collected.files.has(name)) return malformed(`${name} is missing`);
  }
  const text = (name: SmallFile) => collected.files.get(name)?.toString('utf8') ?? '';

  let infoJson: unknown;
  try {
    infoJson = JSON.parse(text('bundle.json'));
  } catch {
    return malformed('bundle.json is not valid JSON');
  }
  const info = bundleInfoSchema.safeParse(infoJson);
  if (!info.success) return malformed(`bundle.json: ${describeZodError(info.error)}`);
  const incidentId = info.data.incidentId;
  if (collected.root !== incidentId) {
    return malformed(
      `top-level directory ${collected.root ?? '(none)'} is not the incident ${incidentId}`,
      incidentId,
    );
  }

  let publicKey: ReturnType<typeof parsePublicKey>;
  try {
    publicKey = parsePublicKey(text('signing-public-key.pem'), 'signing-public-key.pem');
  } catch (error) {
    if (error instanceof EvidenceError) return malformed(error.message, incidentId);
    throw error;
  }
  if (trusted !== undefined && publicKey.fingerprint !== trusted) {
    return failure(
      {
        code: 'untrusted-signer',
        message: `bundle is signed by key ${publicKey.fingerprint}, not by the trusted key ${trusted}`,
      },
      incidentId,
      publicKey.fingerprint,
    );
  }

  const report = await verifyChain({
    incidentId,
    manifestText: text('manifest.jsonl'),
    headText: text('head.json'),
    publicKey: publicKey.publicKey,
    fingerprint: publicKey.fingerprint,
    checkArtifact: (entry) => Promise.resolve(checkBundledObject(collected, entry)),
  });
  if (!report.ok) return report;
  if (info.data.signer !== publicKey.fingerprint || info.data.headHash !== report.headHash) {
    return malformed('bundle.json does not match the signed manifest it describes', incidentId);
  }
  if (report.entries - 1 > report.headSeq) {
    return failure(
      {
        code: 'truncated',
        seq: report.headSeq + 1,
        message: `entry ${report.headSeq + 1}: lies beyond the signed head of the bundle`,
      },
      incidentId,
      publicKey.fingerprint,
    );
  }
  const unreferenced = collected.objects.size - report.artifacts;
  if (unreferenced > 0) report.notes.push(`${unreferenced} object(s) in the bundle are named by no entry`);
  if (trusted === undefined) {
    report.notes.push(
      `signed by key ${publicKey.fingerprint}: the bundle carries its own key, so compare this fingerprint ` +
        'with a trusted copy (--trusted-signer) to rule out a re-signed bundle',
    );
  }
  return report;
}

function checkBundledObject(collected: CollectedBundle, entry: StoredEntry): VerificationProblem | undefined {
  const label = describeArtifact(entry);
  const found = collected.objects.get(entry.sha256);
  if (!found) return { code: 'missing-artifact', message: `${label} is missing from the bundle` };
  if (found.sha256 !== entry.sealedSha256 || found.bytes !== entry.sealedBytes) {
    return { code: 'artifact-mismatch', message: `${label} was altered (sealed file hash mismatch)` };
  }
  return undefined;
}
