import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable, pipeline as pipelineCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { PreservedArtifact } from '../providers/types';
import { writeBundle, verifyBundleFile } from './bundle';
import {
  type VaultConfig,
  actorSchema,
  artifactNameSchema,
  contentTypeSchema,
  incidentIdSchema,
  reasonSchema,
  sourceSchema,
  stepIdSchema,
} from './config';
import { canonicalJson } from '../lib/runbook/canonical';
import { DigestTap, digestFile } from './digest';
import { EvidenceError, errnoCode, invalidInput } from './errors';
import { type EncryptionKey, type SigningKey, loadEncryptionKey, loadSigningKey } from './keys';
import { withFileLock } from './lock';
import { fsyncDirectory, processIsAlive } from './fs-util';
import {
  type EntryDraft,
  GENESIS_HASH,
  type ManifestEntry,
  type ManifestHead,
  type StoredEntry,
  type VerificationProblem,
  type VerificationReport,
  describeArtifact,
  eventKindSchema,
  headSchema,
  isStoredEntry,
  parseEntryLine,
  recomputeEntryHash,
  sealEntry,
  serializeEntry,
  serializeHead,
  signHead,
  splitManifest,
  verifyChain,
} from './manifest';
import { SealStream, UnsealStream } from './sealed-stream';
import type {
  BundleVerifyOptions,
  CustodyContext,
  EvidenceEvent,
  EvidenceVault,
  ExportResult,
  OpenedArtifact,
  VerifyOptions,
} from './types';

interface IncidentPaths {
  incidentId: string;
  dir: string;
  manifest: string;
  head: string;
  objects: string;
  tmp: string;
  lock: string;
}

interface StoredContent {
  sha256: string;
  bytes: number;
  sealedSha256: string;
  sealedBytes: number;
}
type StoredDraft = Extract<EntryDraft, { type: 'artifact' | 'event' }>;

/** A sealed artifact waiting for the incident's next group commit. */
interface PendingCommit {
  temp: string;
  ours: StoredContent;
  draftFor: (stored: StoredContent) => StoredDraft;
  resolve: (artifact: PreservedArtifact) => void;
  reject: (error: unknown) => void;
}

function storedContentOf(entry: StoredEntry): StoredContent {
  return {
    sha256: entry.sha256,
    bytes: entry.bytes,
    sealedSha256: entry.sealedSha256,
    sealedBytes: entry.sealedBytes,
  };
}

/** What an appender must know about an incident's manifest; rebuilt whenever another writer changed it. */
interface WriterState {
  manifestBytes: number;
  nextSeq: number;
  lastHash: string;
  head: ManifestHead;
  stored: Map<string, StoredEntry>;
  dedupKeys: Set<string>;
}

const preserveInputSchema = z.object({
  incidentId: incidentIdSchema,
  stepId: stepIdSchema,
  source: sourceSchema,
  name: artifactNameSchema,
  contentType: contentTypeSchema,
  content: z.custom<Readable>((value) => value instanceof Readable, 'expected a readable stream'),
});

const eventSchema = z.object({
  kind: eventKindSchema,
  stepId: stepIdSchema.optional(),
  data: z.json(),
});

const custodySchema = z.object({ actor: actorSchema, reason: reasonSchema });
const artifactRefSchema = z
  .string()
  .regex(/^[0-9a-f]{8,64}$/, 'expected the artifact SHA-256 or a prefix of at least 8 lowercase hex digits');

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, prefix?: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidInput(parsed.error, prefix);
  return parsed.data;
}

function randomSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

function dedupKey(draft: StoredDraft): string {
  if (draft.type === 'artifact') {
    return ['artifact', draft.stepId, draft.source, draft.name, draft.contentType, draft.sha256].join(
      '\u0000',
    );
  }
  return ['event', draft.kind, draft.stepId ?? '', draft.sha256].join('\u0000');
}

export class FileSystemEvidenceVault implements EvidenceVault {
  private encryptionKeyLoad: Promise<EncryptionKey> | undefined;
  private signingKeyLoad: Promise<SigningKey> | undefined;
  private readonly writerStates = new Map<string, WriterState>();
  /** Per incident, the sealed artifacts the next group commit takes (`commitGroup`). */
  private readonly commits = new Map<string, PendingCommit[]>();
  private readonly sweptIncidents = new Set<string>();

  constructor(
    readonly config: VaultConfig,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async preserve(input: {
    incidentId: string;
    stepId: string;
    source: string;
    name: string;
    contentType: string;
    content: Readable;
  }): Promise<PreservedArtifact> {
    const parsed = preserveInputSchema.safeParse(input);
    if (!parsed.success) {
      // A refused stream is closed, so an HTTP download behind it does not hang open.
      if (input.content instanceof Readable) input.content.destroy();
      throw invalidInput(parsed.error);
    }
    const { content, ...meta } = parsed.data;
    return this.store(meta.incidentId, content, (stored) => ({
      type: 'artifact',
      time: this.timestamp(),
      stepId: meta.stepId,
      source: meta.source,
      name: meta.name,
      contentType: meta.contentType,
      ...stored,
    }));
  }

  async recordEvent(incidentId: string, event: EvidenceEvent): Promise<PreservedArtifact> {
    const id = parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
    const parsed = parseOrThrow(eventSchema, event, 'event');
    const body = Buffer.from(canonicalJson(parsed.data), 'utf8');
    return this.store(id, Readable.from([body]), (stored) => ({
      type: 'event',
      time: this.timestamp(),
      kind: parsed.kind,
      ...(parsed.stepId === undefined ? {} : { stepId: parsed.stepId }),
      contentType: 'application/json',
      ...stored,
    }));
  }

  async list(incidentId: string): Promise<ManifestEntry[]> {
    const paths = await this.existingIncident(incidentId);
    const { lines } = splitManifest((await readOptional(paths.manifest)) ?? '');
    return lines.map((raw, index) => {
      const parsed = parseEntryLine(raw);
      if (!parsed.ok) {
        throw new EvidenceError(
          `incident ${paths.incidentId}: manifest entry ${index} is damaged (${parsed.problem}); run evidence verify`,
          'integrity',
        );
      }
      return parsed.entry;
    });
  }

  async listIncidents(): Promise<string[]> {
    try {
      const names = await readdir(this.config.incidentsDir, { withFileTypes: true });
      return names
        .filter((entry) => entry.isDirectory() && incidentIdSchema.safeParse(entry.name).success)
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw error;
    }
  }

  async verify(incidentId: string, options: VerifyOptions = {}): Promise<VerificationReport> {
    const id = parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
    const paths = this.paths(id);
    const signingKey = await this.verificationKey();
    if (!(await this.incidentExists(paths))) {
      return {
        ok: false,
        incidentId: id,
        signer: signingKey?.fingerprint ?? '',
        entries: 0,
        artifacts: 0,
        notes: [],
        problem: { code: 'not-found', message: `no evidence recorded for incident ${id}` },
      };
    }
    if (!signingKey) {
      throw new EvidenceError(
        `evidence signing key ${this.config.signingKeyPath} is missing: the vault cannot be verified`,
        'key-error',
      );
    }
    const encryptionKey = options.deep ? await this.encryptionKey() : undefined;
    return this.verifyIncident(paths, signingKey, (entry) => this.checkObject(paths, entry, encryptionKey));
  }

  async open(incidentId: string, artifact: string, custody: CustodyContext): Promise<OpenedArtifact> {
    const id = parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
    const reference = parseOrThrow(artifactRefSchema, artifact, 'artifact');
    const who = parseOrThrow(custodySchema, custody);
    const paths = await this.existingIncident(id);
    const key = await this.encryptionKey();
    const signingKey = await this.signingKey();
    const chain = await this.verifyIncident(paths, signingKey);
    if (!chain.ok) {
      throw new EvidenceError(
        `refusing to open: the evidence of incident ${id} fails verification: ${chain.problem.message}`,
        'integrity',
      );
    }
    const entry = this.resolveArtifact(await this.list(id), reference, id);
    const objectProblem = await this.checkObject(paths, entry, undefined);
    if (objectProblem) throw new EvidenceError(`refusing to open: ${objectProblem.message}`, 'integrity');

    await this.append(paths, signingKey, () => ({
      type: 'access',
      time: this.timestamp(),
      actor: who.actor,
      reason: who.reason,
      artifact: entry.sha256,
    }));

    const content = pipelineCallback(
      createReadStream(join(paths.objects, entry.sha256)),
      new UnsealStream(key, describeArtifact(entry)),
      new PlaintextCheck(entry),
      // Failures surface as an 'error' on the returned stream, which is where the consumer listens.
      () => undefined,
    );
    return { entry, content };
  }

  async export(incidentId: string, options: CustodyContext & { out: string }): Promise<ExportResult> {
    const id = parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
    const who = parseOrThrow(custodySchema, { actor: options.actor, reason: options.reason });
    const out = parseOrThrow(z.string().min(1, 'must not be empty'), options.out, 'out');
    const paths = await this.existingIncident(id);
    const signingKey = await this.signingKey();
    const report = await this.verifyIncident(paths, signingKey, (entry) =>
      this.checkObject(paths, entry, undefined),
    );
    if (!report.ok) {
      throw new EvidenceError(
        `refusing to export: the evidence of incident ${id} fails verification: ${report.problem.message}`,
        'integrity',
      );
    }
    return writeBundle({
      out,
      incidentId: id,
      signingKey,
      stagingParent: paths.tmp,
      stagingName: `${randomSuffix()}.export`,
      objectPath: (sha256) => join(paths.objects, sha256),
      // The export entry goes into the manifest first, so the bundle itself carries the record of its export.
      recordExport: async (bundleName) =>
        this.withIncidentLock(paths, async () => {
          const state = await this.writerState(paths, signingKey);
          await this.appendLocked(paths, state, signingKey, [
            {
              type: 'export',
              time: this.timestamp(),
              actor: who.actor,
              reason: who.reason,
              bundle: bundleName,
            },
          ]);
          const manifest = await readFile(paths.manifest);
          return {
            manifest: manifest.subarray(0, state.manifestBytes),
            head: state.head,
            stored: [...state.stored.values()],
            entries: state.nextSeq,
          };
        }),
    });
  }

  async verifyBundle(bundlePath: string, options: BundleVerifyOptions = {}): Promise<VerificationReport> {
    const path = parseOrThrow(z.string().min(1, 'must not be empty'), bundlePath, 'bundle');
    return verifyBundleFile(path, options);
  }

  private async store(
    incidentId: string,
    content: Readable,
    draftFor: (stored: StoredContent) => StoredDraft,
  ): Promise<PreservedArtifact> {
    let encryptionKey: EncryptionKey;
    let signingKey: SigningKey;
    let paths: IncidentPaths;
    try {
      [encryptionKey, signingKey] = await Promise.all([this.encryptionKey(), this.signingKey()]);
      paths = await this.ensureIncident(incidentId, signingKey);
      await this.sweepAbandonedWrites(paths);
    } catch (error) {
      content.destroy();
      throw error;
    }

    const temp = join(paths.tmp, `${randomSuffix()}.partial`);
    const plaintext = new DigestTap();
    const sealed = new DigestTap();
    let sourceFailed = false;
    content.once('error', () => (sourceFailed = true));
    try {
      // Only ciphertext ever reaches the disk; a crash leaves an encrypted .partial that no entry names.
      await pipeline(
        content,
        plaintext,
        new SealStream(encryptionKey),
        sealed,
        createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true }),
      );
    } catch (error) {
      await rm(temp, { force: true });
      const code = errnoCode(error);
      throw new EvidenceError(
        sourceFailed
          ? `incident ${incidentId}: reading the content to preserve failed${code ? ` (${code})` : ''}`
          : `incident ${incidentId}: writing the sealed artifact failed${code ? ` (${code})` : ''}`,
        sourceFailed ? 'source-failed' : 'io',
      );
    }
    const ours = {
      sha256: plaintext.digest(),
      bytes: plaintext.bytes,
      sealedSha256: sealed.digest(),
      sealedBytes: sealed.bytes,
    };

    return new Promise((resolve, reject) => {
      const waiting = this.commits.get(paths.incidentId);
      const commit = { temp, ours, draftFor, resolve, reject };
      if (waiting) {
        waiting.push(commit);
        return;
      }
      this.commits.set(paths.incidentId, [commit]);
      void this.commitGroup(paths, signingKey);
    });
  }

  /**
   * Group commit: every artifact sealed while the incident's lock was taken or held is committed under the next
   * lock, with one objects fsync, one manifest write and fsync and one head, not one of each per artifact: a
   * fan-out step's hundreds of records were otherwise paced by the disk (4.5 ms each, one at a time).
   */
  private async commitGroup(paths: IncidentPaths, signingKey: SigningKey): Promise<void> {
    let group: PendingCommit[] = [];
    try {
      const results = await this.withIncidentLock(paths, async () => {
        group = this.commits.get(paths.incidentId) ?? [];
        this.commits.delete(paths.incidentId);
        const state = await this.writerState(paths, signingKey);
        const sealedNow = new Map<string, StoredContent>();
        const keys = new Set<string>();
        const drafts: StoredDraft[] = [];
        const preserved: PreservedArtifact[] = [];
        for (const { temp, ours, draftFor } of group) {
          const earlier = state.stored.get(ours.sha256);
          const existing = earlier ? storedContentOf(earlier) : sealedNow.get(ours.sha256);
          const draft = draftFor(existing ?? ours);
          if (existing) {
            // Content-addressed: the sealed copy already in the chain stands for this one too.
            await unlink(temp);
          } else {
            await rename(temp, join(paths.objects, ours.sha256));
            sealedNow.set(ours.sha256, ours);
          }
          // A retried activity that preserves the same thing again must not add a second entry.
          const key = dedupKey(draft);
          if (!state.dedupKeys.has(key) && !keys.has(key)) {
            keys.add(key);
            drafts.push(draft);
          }
          preserved.push({
            artifactId: draft.sha256,
            sha256: draft.sha256,
            bytes: existing?.bytes ?? ours.bytes,
          });
        }
        if (sealedNow.size > 0) await fsyncDirectory(paths.objects);
        if (drafts.length > 0) await this.appendLocked(paths, state, signingKey, drafts);
        return preserved;
      });
      group.forEach((commit, index) => commit.resolve(results[index]));
    } catch (error) {
      // Taken before the lock failed, or still queued: each caller hears of it and may try again.
      if (group.length === 0) {
        group = this.commits.get(paths.incidentId) ?? [];
        this.commits.delete(paths.incidentId);
      }
      group.forEach((commit) => commit.reject(error));
    }
  }

  private async append(
    paths: IncidentPaths,
    signingKey: SigningKey,
    draftFor: () => EntryDraft,
  ): Promise<void> {
    await this.withIncidentLock(paths, async () => {
      const state = await this.writerState(paths, signingKey);
      await this.appendLocked(paths, state, signingKey, [draftFor()]);
    });
  }

  private async withIncidentLock<T>(paths: IncidentPaths, critical: () => Promise<T>): Promise<T> {
    return withFileLock(paths.lock, `incident ${paths.incidentId}`, async () => {
      try {
        return await critical();
      } catch (error) {
        // After a failed append the cached view may be ahead of the file: rebuild it next time.
        this.writerStates.delete(paths.incidentId);
        throw error;
      }
    });
  }

  /**
   * The append protocol: write the entry lines and fsync the manifest, then atomically replace the signed head.
   * A crash after the first step leaves complete entries the head does not cover yet; the next append covers them.
   */
  private async appendLocked(
    paths: IncidentPaths,
    state: WriterState,
    signingKey: SigningKey,
    drafts: EntryDraft[],
  ): Promise<ManifestEntry[]> {
    const entries: ManifestEntry[] = [];
    let seq = state.nextSeq;
    let prev = state.lastHash;
    for (const draft of drafts) {
      const entry = sealEntry(draft, { incidentId: paths.incidentId, seq, prev }, signingKey);
      entries.push(entry);
      seq += 1;
      prev = entry.hash;
    }
    const text = entries.map(serializeEntry).join('');
    const handle = await open(paths.manifest, 'a', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    state.manifestBytes += Buffer.byteLength(text, 'utf8');
    for (const entry of entries) {
      state.nextSeq += 1;
      state.lastHash = entry.hash;
      if (isStoredEntry(entry)) {
        if (!state.stored.has(entry.sha256)) state.stored.set(entry.sha256, entry);
        state.dedupKeys.add(dedupKey(entry));
      }
    }
    const last = entries[entries.length - 1];
    state.head = signHead(
      { incidentId: paths.incidentId, seq: last.seq, hash: last.hash, time: last.time },
      signingKey,
    );
    await this.writeHead(paths, state.head);
    return entries;
  }

  private async writeHead(paths: IncidentPaths, head: ManifestHead): Promise<void> {
    const temp = join(paths.dir, `head.json.${randomSuffix()}.tmp`);
    await writeFile(temp, serializeHead(head), { mode: 0o600, flag: 'wx', flush: true });
    await rename(temp, paths.head);
    await fsyncDirectory(paths.dir);
  }

  private async writerState(paths: IncidentPaths, signingKey: SigningKey): Promise<WriterState> {
    const size = await stat(paths.manifest).then(
      (info) => info.size,
      () => -1,
    );
    const cached = this.writerStates.get(paths.incidentId);
    if (cached && cached.manifestBytes === size) return cached;
    const state = await this.loadWriterState(paths, signingKey);
    this.writerStates.set(paths.incidentId, state);
    return state;
  }

  /**
   * Rebuilds the appender's view from disk. Appending re-signs the head, so anything the head would have
   * exposed (a shortened or replaced manifest) is refused here rather than silently covered by a new head.
   */
  private async loadWriterState(paths: IncidentPaths, signingKey: SigningKey): Promise<WriterState> {
    const refuse = (problem: string) =>
      new EvidenceError(
        `cannot append to incident ${paths.incidentId}: ${problem}; run \`tourniquet evidence verify ${paths.incidentId}\``,
        'integrity',
      );
    const headText = await readOptional(paths.head);
    if (headText === undefined) throw refuse('the signed manifest head is missing');
    const headParsed = headSchema.safeParse(safeJson(headText));
    if (!headParsed.success) throw refuse('the signed manifest head is unreadable');
    const head = headParsed.data;
    if (head.signer !== signingKey.fingerprint) throw refuse('the manifest head is signed by another key');
    const text = await readOptional(paths.manifest);
    if (text === undefined) throw refuse('the manifest is missing');
    const { lines, tornTail } = splitManifest(text);
    let manifestBytes = Buffer.byteLength(text, 'utf8');
    if (tornTail !== undefined) {
      if (lines.length <= head.seq) throw refuse('the manifest ends inside an entry the head covers');
      // The tail of an append that never completed: no head covers it, so it is not evidence and goes.
      manifestBytes -= Buffer.byteLength(tornTail, 'utf8');
      const handle = await open(paths.manifest, 'r+');
      try {
        await handle.truncate(manifestBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    if (head.seq >= lines.length) throw refuse('the manifest is shorter than its signed head');
    const stored = new Map<string, StoredEntry>();
    const dedupKeys = new Set<string>();
    let lastHash = GENESIS_HASH;
    for (const [index, raw] of lines.entries()) {
      const parsed = parseEntryLine(raw);
      if (!parsed.ok) throw refuse(`manifest entry ${index} is damaged (${parsed.problem})`);
      const entry = parsed.entry;
      if (entry.seq !== index) throw refuse(`manifest line ${index + 1} holds entry ${entry.seq}`);
      if (index === lines.length - 1 && recomputeEntryHash(raw) !== entry.hash) {
        throw refuse(`manifest entry ${index} was altered`);
      }
      if (index === head.seq && entry.hash !== head.hash)
        throw refuse(`manifest entry ${index} does not match the head`);
      if (isStoredEntry(entry)) {
        if (!stored.has(entry.sha256)) stored.set(entry.sha256, entry);
        dedupKeys.add(dedupKey(entry));
      }
      lastHash = entry.hash;
    }
    if (head.seq === -1 && head.hash !== GENESIS_HASH) throw refuse('the manifest head is inconsistent');
    return { manifestBytes, nextSeq: lines.length, lastHash, head, stored, dedupKeys };
  }

  /**
   * Creates the incident's directory with its genesis head in a private staging directory and renames it into
   * place, so a half-created incident is never visible and a missing head always means tampering.
   */
  private async ensureIncident(incidentId: string, signingKey: SigningKey): Promise<IncidentPaths> {
    const paths = this.paths(incidentId);
    if (await this.incidentExists(paths)) return paths;
    await mkdir(this.config.incidentsDir, { recursive: true, mode: 0o700 });
    const staging = join(this.config.incidentsDir, `.new-${randomSuffix()}`);
    await mkdir(staging, { mode: 0o700 });
    try {
      await mkdir(join(staging, 'objects'), { mode: 0o700 });
      await mkdir(join(staging, 'tmp'), { mode: 0o700 });
      await writeFile(join(staging, 'manifest.jsonl'), '', { mode: 0o600, flag: 'wx', flush: true });
      const genesis = signHead(
        { incidentId, seq: -1, hash: GENESIS_HASH, time: this.timestamp() },
        signingKey,
      );
      await writeFile(join(staging, 'head.json'), serializeHead(genesis), {
        mode: 0o600,
        flag: 'wx',
        flush: true,
      });
      await fsyncDirectory(staging);
      await rename(staging, paths.dir);
      await fsyncDirectory(this.config.incidentsDir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      const code = errnoCode(error);
      // Another writer created the incident first; theirs is as good as ours.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await this.incidentExists(paths))) return paths;
      throw error;
    }
    return paths;
  }

  /** Removes encrypted leftovers of writers that died mid-stream; a live writer's files carry a live pid. */
  private async sweepAbandonedWrites(paths: IncidentPaths): Promise<void> {
    if (this.sweptIncidents.has(paths.incidentId)) return;
    this.sweptIncidents.add(paths.incidentId);
    for (const name of await readdir(paths.tmp)) {
      const pid = /^(\d+)-/.exec(name)?.[1];
      if (pid !== undefined && !processIsAlive(Number(pid))) {
        await rm(join(paths.tmp, name), { recursive: true, force: true });
      }
    }
  }

  private async verifyIncident(
    paths: IncidentPaths,
    signingKey: SigningKey,
    checkArtifact?: (entry: StoredEntry) => Promise<VerificationProblem | undefined>,
  ): Promise<VerificationReport> {
    // The head first: a concurrent append can then only add entries beyond it, never make it run ahead.
    const headText = await readOptional(paths.head);
    const manifestText = (await readOptional(paths.manifest)) ?? '';
    return verifyChain({
      incidentId: paths.incidentId,
      manifestText,
      headText,
      publicKey: signingKey.publicKey,
      fingerprint: signingKey.fingerprint,
      checkArtifact,
    });
  }

  private async checkObject(
    paths: IncidentPaths,
    entry: StoredEntry,
    deepWith: EncryptionKey | undefined,
  ): Promise<VerificationProblem | undefined> {
    const path = join(paths.objects, entry.sha256);
    const label = describeArtifact(entry);
    let digest: { sha256: string; bytes: number };
    try {
      digest = await digestFile(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return { code: 'missing-artifact', message: `${label} is missing` };
      throw error;
    }
    if (digest.sha256 !== entry.sealedSha256 || digest.bytes !== entry.sealedBytes) {
      return { code: 'artifact-mismatch', message: `${label} was altered (sealed file hash mismatch)` };
    }
    if (!deepWith) return undefined;
    try {
      await pipeline(
        createReadStream(path),
        new UnsealStream(deepWith, label),
        new PlaintextCheck(entry),
        new Writable({ write: (_chunk, _encoding, done) => done() }),
      );
    } catch (error) {
      if (error instanceof EvidenceError) return { code: 'artifact-mismatch', message: error.message };
      throw error;
    }
    return undefined;
  }

  private resolveArtifact(entries: ManifestEntry[], reference: string, incidentId: string): StoredEntry {
    const matches = new Map<string, StoredEntry>();
    for (const entry of entries) {
      if (isStoredEntry(entry) && entry.sha256.startsWith(reference) && !matches.has(entry.sha256)) {
        matches.set(entry.sha256, entry);
      }
    }
    if (matches.size === 0) {
      throw new EvidenceError(`artifact: no artifact ${reference} in incident ${incidentId}`, 'not-found');
    }
    if (matches.size > 1) {
      throw new EvidenceError(
        `artifact: ${reference} matches ${matches.size} artifacts of incident ${incidentId}; give more digits`,
        'invalid-input',
      );
    }
    return [...matches.values()][0];
  }

  private paths(incidentId: string): IncidentPaths {
    const dir = join(this.config.incidentsDir, incidentId);
    return {
      incidentId,
      dir,
      manifest: join(dir, 'manifest.jsonl'),
      head: join(dir, 'head.json'),
      objects: join(dir, 'objects'),
      tmp: join(dir, 'tmp'),
      lock: join(dir, '.lock'),
    };
  }

  private async existingIncident(incidentId: string): Promise<IncidentPaths> {
    const id = parseOrThrow(incidentIdSchema, incidentId, 'incidentId');
    const paths = this.paths(id);
    if (!(await this.incidentExists(paths))) {
      throw new EvidenceError(`no evidence recorded for incident ${id}`, 'not-found');
    }
    return paths;
  }

  private async incidentExists(paths: IncidentPaths): Promise<boolean> {
    try {
      return (await stat(paths.dir)).isDirectory();
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  private timestamp(): string {
    return this.now().toISOString();
  }

  private encryptionKey(): Promise<EncryptionKey> {
    this.encryptionKeyLoad ??= loadEncryptionKey(this.config.encryptionKey).catch((error: unknown) => {
      this.encryptionKeyLoad = undefined;
      throw error;
    });
    return this.encryptionKeyLoad;
  }

  private signingKey(): Promise<SigningKey> {
    this.signingKeyLoad ??= loadSigningKey(this.config.signingKeyPath, { create: true })
      .then((key) => {
        if (!key) throw new EvidenceError('evidence signing key could not be created', 'key-error');
        return key;
      })
      .catch((error: unknown) => {
        this.signingKeyLoad = undefined;
        throw error;
      });
    return this.signingKeyLoad;
  }

  /** Verification never creates a key: a vault without its signing key cannot be vouched for. */
  private async verificationKey(): Promise<SigningKey | undefined> {
    if (this.signingKeyLoad) return this.signingKeyLoad;
    return loadSigningKey(this.config.signingKeyPath, { create: false });
  }
}

/** Checks the decrypted whole against the manifest's SHA-256: per-chunk tags prove origin, this proves identity. */
class PlaintextCheck extends DigestTap {
  constructor(private readonly entry: StoredEntry) {
    super();
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (this.digest() !== this.entry.sha256 || this.bytes !== this.entry.bytes) {
      callback(
        new EvidenceError(
          `${describeArtifact(this.entry)}: plaintext does not match its SHA-256`,
          'integrity',
        ),
      );
      return;
    }
    callback();
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
