import { type KeyObject, createHash, sign, verify } from 'node:crypto';
import { z } from 'zod';
import {
  actorSchema,
  artifactNameSchema,
  contentTypeSchema,
  incidentIdSchema,
  reasonSchema,
  sha256Schema,
  sourceSchema,
  stepIdSchema,
} from './config';
import { canonicalJson } from '../lib/runbook/canonical';
import { describeZodError } from './errors';
import type { SigningKey } from './keys';

/*
 * The manifest of an incident is `manifest.jsonl`: one canonical-JSON entry per line, append-only. Each entry
 * carries the hash of the previous one (`prev`; the first carries 64 zeros), its own hash over every other field,
 * and an ed25519 signature over that hash. `head.json` is a signed statement of the last committed entry, so
 * dropping entries from the end is detected too; it is rewritten after every append.
 */

export const GENESIS_HASH = '0'.repeat(64);
const ENTRY_DOMAIN = 'tourniquet/evidence/v1/entry\n';
const HEAD_DOMAIN = 'tourniquet/evidence/v1/head\n';

export const eventKindSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, 'expected a lowercase kind such as action, approval or slack-thread');

const signatureSchema = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'expected an ed25519 signature in base64');

const entryCommon = {
  v: z.literal(1),
  incidentId: incidentIdSchema,
  seq: z.number().int().min(0),
  prev: sha256Schema,
  time: z.iso.datetime({ offset: true }),
  signer: sha256Schema,
  hash: sha256Schema,
  sig: signatureSchema,
};

const storedContent = {
  sha256: sha256Schema,
  bytes: z.number().int().min(0),
  contentType: contentTypeSchema,
  sealedSha256: sha256Schema,
  sealedBytes: z.number().int().min(0),
};

export const artifactEntrySchema = z.strictObject({
  ...entryCommon,
  type: z.literal('artifact'),
  stepId: stepIdSchema,
  source: sourceSchema,
  name: artifactNameSchema,
  ...storedContent,
});

export const eventEntrySchema = z.strictObject({
  ...entryCommon,
  type: z.literal('event'),
  kind: eventKindSchema,
  stepId: stepIdSchema.optional(),
  ...storedContent,
});

/** Chain of custody: somebody read an artifact's plaintext. */
export const accessEntrySchema = z.strictObject({
  ...entryCommon,
  type: z.literal('access'),
  actor: actorSchema,
  reason: reasonSchema,
  artifact: sha256Schema,
});

/** Chain of custody: the incident's evidence left the vault as a bundle. */
export const exportEntrySchema = z.strictObject({
  ...entryCommon,
  type: z.literal('export'),
  actor: actorSchema,
  reason: reasonSchema,
  bundle: artifactNameSchema,
});

export const manifestEntrySchema = z.discriminatedUnion('type', [
  artifactEntrySchema,
  eventEntrySchema,
  accessEntrySchema,
  exportEntrySchema,
]);

export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
export type ArtifactEntry = z.infer<typeof artifactEntrySchema>;
export type EventEntry = z.infer<typeof eventEntrySchema>;
export type StoredEntry = ArtifactEntry | EventEntry;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a writer supplies; the chain fields are filled in under the incident lock. */
export type EntryDraft = DistributiveOmit<
  ManifestEntry,
  'v' | 'incidentId' | 'seq' | 'prev' | 'signer' | 'hash' | 'sig'
>;

export const headSchema = z.strictObject({
  v: z.literal(1),
  incidentId: incidentIdSchema,
  /** -1 while the manifest is still empty. */
  seq: z.number().int().min(-1),
  hash: sha256Schema,
  time: z.iso.datetime({ offset: true }),
  signer: sha256Schema,
  sig: signatureSchema,
});
export type ManifestHead = z.infer<typeof headSchema>;

export function isStoredEntry(entry: ManifestEntry): entry is StoredEntry {
  return entry.type === 'artifact' || entry.type === 'event';
}

/** How messages name an artifact: a short hash and its name, never its content. */
export function describeArtifact(entry: StoredEntry): string {
  const label = entry.type === 'artifact' ? entry.name : `${entry.kind} record`;
  return `artifact ${entry.sha256.slice(0, 12)}… (${label})`;
}

function withoutSeal(entry: Record<string, unknown>): Record<string, unknown> {
  const { hash: _hash, sig: _sig, ...body } = entry;
  return body;
}

function entryDigest(body: Record<string, unknown>): string {
  return createHash('sha256')
    .update(ENTRY_DOMAIN + canonicalJson(body))
    .digest('hex');
}

function signatureMessage(domain: string, payload: string): Buffer {
  return Buffer.from(domain + payload, 'utf8');
}

/** The hash an entry line should carry, recomputed from its other fields. */
export function recomputeEntryHash(raw: string): string {
  return entryDigest(withoutSeal(JSON.parse(raw) as Record<string, unknown>));
}

export function sealEntry(
  draft: EntryDraft,
  chain: { incidentId: string; seq: number; prev: string },
  signingKey: SigningKey,
): ManifestEntry {
  const body = { ...draft, v: 1, ...chain, signer: signingKey.fingerprint } as Record<string, unknown>;
  const hash = entryDigest(body);
  const sig = sign(null, signatureMessage(ENTRY_DOMAIN, hash), signingKey.privateKey).toString('base64');
  return manifestEntrySchema.parse({ ...body, hash, sig });
}

export function serializeEntry(entry: ManifestEntry): string {
  return `${canonicalJson(entry)}\n`;
}

export function signHead(
  head: { incidentId: string; seq: number; hash: string; time: string },
  signingKey: SigningKey,
): ManifestHead {
  const body = { v: 1 as const, ...head, signer: signingKey.fingerprint };
  const sig = sign(null, signatureMessage(HEAD_DOMAIN, canonicalJson(body)), signingKey.privateKey).toString(
    'base64',
  );
  return { ...body, sig };
}

export function serializeHead(head: ManifestHead): string {
  return `${canonicalJson(head)}\n`;
}

function signatureValid(domain: string, payload: string, sig: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, signatureMessage(domain, payload), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** Complete lines, plus the tail after the last newline when a write was cut short. */
export function splitManifest(text: string): { lines: string[]; tornTail: string | undefined } {
  if (text === '') return { lines: [], tornTail: undefined };
  const parts = text.split('\n');
  const tail = parts.pop() ?? '';
  return { lines: parts, tornTail: tail === '' ? undefined : tail };
}

export type ParsedLine = { ok: true; entry: ManifestEntry; raw: string } | { ok: false; problem: string };

export function parseEntryLine(raw: string): ParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  const parsed = manifestEntrySchema.safeParse(json);
  if (!parsed.success) return { ok: false, problem: `malformed (${describeZodError(parsed.error)})` };
  return { ok: true, entry: parsed.data, raw };
}

export type ProblemCode =
  | 'malformed-entry'
  | 'wrong-incident'
  | 'altered-entry'
  | 'unknown-signer'
  | 'bad-signature'
  | 'reordered'
  | 'broken-chain'
  | 'dangling-reference'
  | 'missing-artifact'
  | 'artifact-mismatch'
  | 'missing-head'
  | 'malformed-head'
  | 'truncated'
  | 'head-mismatch'
  | 'untrusted-signer'
  | 'malformed-bundle'
  | 'not-found';

export interface VerificationProblem {
  code: ProblemCode;
  /** One line naming the first broken entry and what is wrong with it. */
  message: string;
  seq?: number;
}

interface ReportBase {
  incidentId: string;
  /** Fingerprint of the key the chain must be signed with. */
  signer: string;
  /** Entries that verified before the first problem (all of them on success). */
  entries: number;
  artifacts: number;
  notes: string[];
}
export type VerificationReport =
  | (ReportBase & { ok: true; headSeq: number; headHash: string })
  | (ReportBase & { ok: false; problem: VerificationProblem });

export interface ChainInput {
  incidentId: string;
  manifestText: string;
  headText: string | undefined;
  publicKey: KeyObject;
  fingerprint: string;
  /** Returns a problem (missing or mismatching sealed file) for a stored entry, or undefined when it checks out. */
  checkArtifact?: (entry: StoredEntry) => Promise<VerificationProblem | undefined>;
}

/** Walks the chain in order and reports the first problem; the checks run cheapest and most specific first. */
export async function verifyChain(input: ChainInput): Promise<VerificationReport> {
  const { incidentId, fingerprint } = input;
  const notes: string[] = [];
  const artifacts = new Set<string>();
  let verified = 0;
  const fail = (problem: VerificationProblem): VerificationReport => ({
    ok: false,
    incidentId,
    signer: fingerprint,
    entries: verified,
    artifacts: artifacts.size,
    notes,
    problem,
  });

  const head = parseHead(input);
  const { lines, tornTail } = splitManifest(input.manifestText);
  const checkedArtifacts = new Map<string, VerificationProblem | undefined>();
  const entries: ManifestEntry[] = [];
  let prev = GENESIS_HASH;

  for (const [index, raw] of lines.entries()) {
    const parsed = parseEntryLine(raw);
    if (!parsed.ok) {
      return fail({
        code: 'malformed-entry',
        seq: index,
        message: `entry ${index} (line ${index + 1}): ${parsed.problem}`,
      });
    }
    const entry = parsed.entry;
    const label = `entry ${entry.seq === index ? index : `${index} (line ${index + 1})`}`;
    if (recomputeEntryHash(raw) !== entry.hash) {
      return fail({
        code: 'altered-entry',
        seq: index,
        message: `${label}: contents altered (entry hash mismatch)`,
      });
    }
    if (entry.signer !== fingerprint) {
      return fail({
        code: 'unknown-signer',
        seq: index,
        message: `${label}: signed by key ${entry.signer.slice(0, 16)}…, expected ${fingerprint.slice(0, 16)}…`,
      });
    }
    if (!signatureValid(ENTRY_DOMAIN, entry.hash, entry.sig, input.publicKey)) {
      return fail({ code: 'bad-signature', seq: index, message: `${label}: bad signature` });
    }
    if (entry.incidentId !== incidentId) {
      return fail({
        code: 'wrong-incident',
        seq: index,
        message: `${label}: belongs to incident ${entry.incidentId}, not ${incidentId}`,
      });
    }
    if (entry.seq !== index) {
      return fail({
        code: 'reordered',
        seq: index,
        message: `line ${index + 1} holds entry ${entry.seq} where entry ${index} belongs: entries reordered or removed`,
      });
    }
    if (entry.prev !== prev) {
      return fail({
        code: 'broken-chain',
        seq: index,
        message:
          index === 0
            ? `entry 0: broken chain (the first entry must start the chain)`
            : `entry ${index}: broken chain (its previous-entry hash does not match entry ${index - 1})`,
      });
    }
    if (entry.type === 'access' && !artifacts.has(entry.artifact)) {
      return fail({
        code: 'dangling-reference',
        seq: index,
        message: `entry ${index}: records access to artifact ${entry.artifact.slice(0, 12)}… that no earlier entry preserved`,
      });
    }
    if (isStoredEntry(entry) && input.checkArtifact) {
      if (!checkedArtifacts.has(entry.sealedSha256)) {
        checkedArtifacts.set(entry.sealedSha256, await input.checkArtifact(entry));
      }
      const problem = checkedArtifacts.get(entry.sealedSha256);
      if (problem) return fail({ ...problem, seq: index, message: `entry ${index}: ${problem.message}` });
    }
    if (isStoredEntry(entry)) artifacts.add(entry.sha256);
    entries.push(entry);
    prev = entry.hash;
    verified += 1;
  }

  if (!head.ok) return fail(head.problem);
  const headEntry = head.head;
  if (headEntry.seq >= entries.length) {
    const last = entries.length - 1;
    return fail({
      code: 'truncated',
      seq: entries.length,
      message:
        `manifest truncated: the signed head names entry ${headEntry.seq} but the manifest ` +
        (last < 0 ? 'has no complete entry' : `ends at entry ${last}`),
    });
  }
  const expectedHeadHash = headEntry.seq < 0 ? GENESIS_HASH : entries[headEntry.seq].hash;
  if (expectedHeadHash !== headEntry.hash) {
    return fail({
      code: 'head-mismatch',
      seq: headEntry.seq,
      message: `entry ${headEntry.seq}: does not match the signed head (entries replaced)`,
    });
  }
  if (tornTail !== undefined) notes.push('ignored an incomplete last line left by an interrupted append');
  if (entries.length - 1 > headEntry.seq) {
    notes.push(
      `entries ${headEntry.seq + 1}..${entries.length - 1} are not yet covered by the signed head ` +
        '(an append was interrupted); they verify on their own',
    );
  }
  return {
    ok: true,
    incidentId,
    signer: fingerprint,
    entries: entries.length,
    artifacts: artifacts.size,
    notes,
    headSeq: headEntry.seq,
    headHash: headEntry.hash,
  };
}

type HeadResult = { ok: true; head: ManifestHead } | { ok: false; problem: VerificationProblem };

function parseHead(input: ChainInput): HeadResult {
  if (input.headText === undefined) {
    return {
      ok: false,
      problem: { code: 'missing-head', message: 'head: the signed manifest head is missing' },
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(input.headText);
  } catch {
    return { ok: false, problem: { code: 'malformed-head', message: 'head: not valid JSON' } };
  }
  const parsed = headSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problem: { code: 'malformed-head', message: `head: malformed (${describeZodError(parsed.error)})` },
    };
  }
  const head = parsed.data;
  const { sig, ...body } = head;
  if (head.signer !== input.fingerprint) {
    return {
      ok: false,
      problem: {
        code: 'unknown-signer',
        message: `head: signed by key ${head.signer.slice(0, 16)}…, expected ${input.fingerprint.slice(0, 16)}…`,
      },
    };
  }
  if (!signatureValid(HEAD_DOMAIN, canonicalJson(body), sig, input.publicKey)) {
    return { ok: false, problem: { code: 'bad-signature', message: 'head: bad signature' } };
  }
  if (head.incidentId !== input.incidentId) {
    return {
      ok: false,
      problem: {
        code: 'wrong-incident',
        message: `head: belongs to incident ${head.incidentId}, not ${input.incidentId}`,
      },
    };
  }
  return { ok: true, head };
}
