import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { cp, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { create as createTar, extract as extractTar } from 'tar';
import { openVault, type EvidenceVault, type VerificationReport } from '../evidence/index';
import { canonicalJson } from '../lib/runbook/canonical';
import { fingerprintPublicKey } from '../evidence/keys';
import {
  generatedContent,
  incidentDir,
  makeTempDir,
  manifestPath,
  objectPath,
  readManifestLines,
  removeDir,
  writeManifestLines,
} from './fixtures/evidence/helpers';

const INCIDENT = 'inc-tamper';

let dataDir: string;
let vault: EvidenceVault;
/** Plaintext SHA-256 of the artifacts seeded into every test's incident. */
let seeded: { runLog: string; audit: string; action: string; secondLog: string };

beforeEach(async () => {
  dataDir = await makeTempDir();
  vault = await openVault({ dataDir, env: {} });
  seeded = await seedIncident(vault, INCIDENT);
});
afterEach(async () => {
  await removeDir(dataDir);
});

/** Five entries: artifact, artifact, event, access, artifact. */
async function seedIncident(target: EvidenceVault, incidentId: string) {
  const base = { incidentId, stepId: 'capture-logs', source: 'github:acme/app', contentType: 'text/plain' };
  const runLog = await target.preserve({
    ...base,
    name: 'run-1.log',
    content: generatedContent(150_000, 'run-1'),
  });
  const audit = await target.preserve({
    ...base,
    name: 'audit.json',
    contentType: 'application/json',
    content: Readable.from([Buffer.from('[{"action":"secret.read"}]')]),
  });
  const action = await target.recordEvent(incidentId, {
    kind: 'action',
    stepId: 'disable-connector',
    data: { before: { enabled: true }, after: { enabled: false } },
  });
  const opened = await target.open(incidentId, runLog.sha256, { actor: 'alice', reason: 'triage' });
  opened.content.resume();
  const secondLog = await target.preserve({
    ...base,
    name: 'run-2.log',
    content: generatedContent(1000, 'run-2'),
  });
  return { runLog: runLog.sha256, audit: audit.sha256, action: action.sha256, secondLog: secondLog.sha256 };
}

function problemOf(report: VerificationReport) {
  if (report.ok) throw new Error('expected verification to fail');
  return report.problem;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] ^= 0x01;
  await writeFile(path, bytes);
}

const short = (sha256: string) => sha256.slice(0, 12);

describe('tampering with a vault', () => {
  it('verifies untouched evidence, deeply too', async () => {
    const report = await vault.verify(INCIDENT, { deep: true });
    expect(report).toMatchObject({ ok: true, entries: 5, artifacts: 4, headSeq: 4, notes: [] });
  });

  it('detects a flipped byte in an artifact and refuses to open it', async () => {
    const path = objectPath(dataDir, INCIDENT, seeded.runLog);
    await flipByte(path, (await stat(path)).size - 100);
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'artifact-mismatch',
      seq: 0,
      message: `entry 0: artifact ${short(seeded.runLog)}… (run-1.log) was altered (sealed file hash mismatch)`,
    });
    await expect(vault.open(INCIDENT, seeded.runLog, { actor: 'bob', reason: 'look' })).rejects.toThrow(
      `refusing to open: artifact ${short(seeded.runLog)}… (run-1.log) was altered (sealed file hash mismatch)`,
    );
  });

  it('detects a truncated artifact', async () => {
    await truncate(objectPath(dataDir, INCIDENT, seeded.runLog), 70_000);
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe(
      `entry 0: artifact ${short(seeded.runLog)}… (run-1.log) was altered (sealed file hash mismatch)`,
    );
  });

  it('detects a deleted artifact', async () => {
    await rm(objectPath(dataDir, INCIDENT, seeded.audit));
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'missing-artifact',
      seq: 1,
      message: `entry 1: artifact ${short(seeded.audit)}… (audit.json) is missing`,
    });
  });

  it('detects an edited manifest field', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    lines[1] = lines[1].replace('"name":"audit.json"', '"name":"audit.jsoN"');
    await writeManifestLines(dataDir, INCIDENT, lines);
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'altered-entry',
      seq: 1,
      message: 'entry 1: contents altered (entry hash mismatch)',
    });
  });

  it.each([0.2, 0.5, 0.8])('detects a flipped byte at %p of the manifest entry 2', async (position) => {
    const path = manifestPath(dataDir, INCIDENT);
    const lines = await readManifestLines(dataDir, INCIDENT);
    const offset = lines[0].length + lines[1].length + 2 + Math.floor(lines[2].length * position);
    await flipByte(path, offset);
    expect(problemOf(await vault.verify(INCIDENT)).message).toMatch(/^entry 2[ :]/);
  });

  it('detects reordered entries', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    [lines[2], lines[3]] = [lines[3], lines[2]];
    await writeManifestLines(dataDir, INCIDENT, lines);
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'reordered',
      seq: 2,
      message: 'line 3 holds entry 3 where entry 2 belongs: entries reordered or removed',
    });
  });

  it('detects a removed entry', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    lines.splice(1, 1);
    await writeManifestLines(dataDir, INCIDENT, lines);
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe(
      'line 2 holds entry 2 where entry 1 belongs: entries reordered or removed',
    );
  });

  it('detects a swapped signature', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    const sigOf = (line: string) => (JSON.parse(line) as { sig: string }).sig;
    lines[2] = lines[2].replace(sigOf(lines[2]), sigOf(lines[1]));
    await writeManifestLines(dataDir, INCIDENT, lines);
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'bad-signature',
      seq: 2,
      message: 'entry 2: bad signature',
    });
  });

  it('detects an entry rewritten and re-signed with a foreign key', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    const foreign = generateKeyPairSync('ed25519');
    const entry = JSON.parse(lines[1]) as Record<string, unknown> & { hash: string; sig: string };
    const {
      hash: _hash,
      sig: _sig,
      ...body
    } = {
      ...entry,
      name: 'innocent.json',
      signer: fingerprintPublicKey(foreign.publicKey),
    };
    const hash = createHash('sha256')
      .update(`tourniquet/evidence/v1/entry\n${canonicalJson(body)}`)
      .digest('hex');
    const sig = sign(null, Buffer.from(`tourniquet/evidence/v1/entry\n${hash}`), foreign.privateKey).toString(
      'base64',
    );
    lines[1] = canonicalJson({ ...body, hash, sig });
    await writeManifestLines(dataDir, INCIDENT, lines);
    const problem = problemOf(await vault.verify(INCIDENT));
    expect(problem.code).toBe('unknown-signer');
    expect(problem.message).toMatch(/^entry 1: signed by key [0-9a-f]{16}…, expected [0-9a-f]{16}…$/);
  });

  it('detects an entry spliced in from a fork of the chain', async () => {
    const dir = incidentDir(dataDir, INCIDENT);
    const fork = `${dir}.fork`;
    await cp(dir, fork, { recursive: true });
    const note = (text: string) => vault.recordEvent(INCIDENT, { kind: 'note', data: text });
    await note('original 5');
    await note('original 6');
    const original = await readManifestLines(dataDir, INCIDENT);
    await rename(dir, `${dir}.original`);
    await rename(fork, dir);
    const forkedVault = await openVault({ dataDir, env: {} });
    await forkedVault.recordEvent(INCIDENT, { kind: 'note', data: 'forked 5' });
    await forkedVault.recordEvent(INCIDENT, { kind: 'note', data: 'forked 6' });
    const forked = await readManifestLines(dataDir, INCIDENT);
    await cp(join(`${dir}.original`, 'objects'), join(dir, 'objects'), { recursive: true });
    // Every line is validly signed, and the head names the last one; only the links give the splice away.
    await writeManifestLines(dataDir, INCIDENT, [...original.slice(0, 6), forked[6]]);
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'broken-chain',
      seq: 6,
      message: 'entry 6: broken chain (its previous-entry hash does not match entry 5)',
    });
  });

  it('detects an entry moved in from another incident', async () => {
    await seedIncident(vault, 'inc-other');
    const ours = await readManifestLines(dataDir, INCIDENT);
    const theirs = await readManifestLines(dataDir, 'inc-other');
    ours[0] = theirs[0];
    await writeManifestLines(dataDir, INCIDENT, ours);
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe(
      'entry 0: belongs to incident inc-other, not inc-tamper',
    );
  });

  it('detects a manifest truncated at an entry boundary or inside an entry', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    await writeManifestLines(dataDir, INCIDENT, lines.slice(0, 4));
    expect(problemOf(await vault.verify(INCIDENT))).toEqual({
      code: 'truncated',
      seq: 4,
      message: 'manifest truncated: the signed head names entry 4 but the manifest ends at entry 3',
    });
    await writeFile(
      manifestPath(dataDir, INCIDENT),
      `${lines.slice(0, 4).join('\n')}\n${lines[4].slice(0, 40)}`,
    );
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe(
      'manifest truncated: the signed head names entry 4 but the manifest ends at entry 3',
    );
  });

  it('refuses to append on top of a shortened manifest rather than re-signing over it', async () => {
    const lines = await readManifestLines(dataDir, INCIDENT);
    await writeManifestLines(dataDir, INCIDENT, lines.slice(0, 3));
    await expect(vault.recordEvent(INCIDENT, { kind: 'note', data: 'after tampering' })).rejects.toThrow(
      'cannot append to incident inc-tamper: the manifest is shorter than its signed head; run `tourniquet evidence verify inc-tamper`',
    );
    expect(problemOf(await vault.verify(INCIDENT)).code).toBe('truncated');
  });

  it('detects a missing or forged head', async () => {
    const headPath = join(incidentDir(dataDir, INCIDENT), 'head.json');
    const head = await readFile(headPath, 'utf8');
    await rm(headPath);
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe('head: the signed manifest head is missing');

    const lines = await readManifestLines(dataDir, INCIDENT);
    const otherSig = (JSON.parse(lines[0]) as { sig: string }).sig;
    await writeFile(headPath, head.replace((JSON.parse(head) as { sig: string }).sig, otherSig));
    expect(problemOf(await vault.verify(INCIDENT)).message).toBe('head: bad signature');
  });
});

describe('tampering with an exported bundle', () => {
  let work: string;
  let bundle: string;
  let root: string;

  beforeEach(async () => {
    work = await makeTempDir('tq-evidence-bundle-');
    bundle = join(work, 'original.tar.gz');
    await vault.export(INCIDENT, { out: bundle, actor: 'ic', reason: 'send to regulator' });
    await extractTar({ file: bundle, cwd: work });
    root = join(work, INCIDENT);
  });
  afterEach(async () => {
    await removeDir(work);
  });

  async function repack(): Promise<string> {
    const out = join(work, `tampered-${Date.now()}.tar.gz`);
    await createTar({ gzip: true, file: out, cwd: work, portable: true }, [INCIDENT]);
    return out;
  }

  it('verifies the untouched bundle, also against the trusted signer', async () => {
    const report = await vault.verifyBundle(bundle);
    expect(report).toMatchObject({ ok: true, incidentId: INCIDENT, entries: 6, artifacts: 4 });
    expect((await vault.verifyBundle(await repack(), { trustedSigner: report.signer })).ok).toBe(true);
  });

  it('detects a flipped byte in a bundled artifact', async () => {
    await flipByte(join(root, 'objects', seeded.secondLog), 70);
    expect(problemOf(await vault.verifyBundle(await repack()))).toEqual({
      code: 'artifact-mismatch',
      seq: 4,
      message: `entry 4: artifact ${short(seeded.secondLog)}… (run-2.log) was altered (sealed file hash mismatch)`,
    });
  });

  it('detects an artifact removed from the bundle', async () => {
    await rm(join(root, 'objects', seeded.action));
    expect(problemOf(await vault.verifyBundle(await repack())).message).toBe(
      `entry 2: artifact ${short(seeded.action)}… (action record) is missing from the bundle`,
    );
  });

  it('detects reordered and dropped manifest entries in the bundle', async () => {
    const manifest = join(root, 'manifest.jsonl');
    const lines = (await readFile(manifest, 'utf8')).split('\n').filter(Boolean);
    await writeFile(manifest, [lines[1], lines[0], ...lines.slice(2)].map((line) => `${line}\n`).join(''));
    expect(problemOf(await vault.verifyBundle(await repack())).message).toBe(
      'line 1 holds entry 1 where entry 0 belongs: entries reordered or removed',
    );
    await writeFile(
      manifest,
      lines
        .slice(0, 5)
        .map((line) => `${line}\n`)
        .join(''),
    );
    expect(problemOf(await vault.verifyBundle(await repack())).message).toBe(
      'manifest truncated: the signed head names entry 5 but the manifest ends at entry 4',
    );
  });

  it('detects a swapped public key', async () => {
    const foreign = generateKeyPairSync('ed25519');
    await writeFile(
      join(root, 'signing-public-key.pem'),
      foreign.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    expect(problemOf(await vault.verifyBundle(await repack())).message).toMatch(
      /^entry 0: signed by key [0-9a-f]{16}…, expected [0-9a-f]{16}…$/,
    );
  });

  it('rejects a consistent bundle re-signed by someone else when the trusted signer is given', async () => {
    const forgerDir = await makeTempDir('tq-evidence-forger-');
    try {
      const forger = await openVault({ dataDir: forgerDir, env: {} });
      await seedIncident(forger, INCIDENT);
      const forged = join(work, 'forged.tar.gz');
      await forger.export(INCIDENT, { out: forged, actor: 'mallory', reason: 'replace the evidence' });
      const ours = await vault.verifyBundle(bundle);
      const selfConsistent = await vault.verifyBundle(forged);
      expect(selfConsistent.ok).toBe(true);
      expect(selfConsistent.notes.join(' ')).toContain('compare this fingerprint with a trusted copy');
      const problem = problemOf(await vault.verifyBundle(forged, { trustedSigner: ours.signer }));
      expect(problem.code).toBe('untrusted-signer');
      expect(problem.message).toBe(
        `bundle is signed by key ${selfConsistent.signer}, not by the trusted key ${ours.signer}`,
      );
    } finally {
      await removeDir(forgerDir);
    }
  });

  it('detects a truncated bundle file and unexpected content', async () => {
    const cut = join(work, 'cut.tar.gz');
    const bytes = await readFile(bundle);
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(problemOf(await vault.verifyBundle(cut)).message).toMatch(/^bundle: not a readable tar\.gz \(/);

    await writeFile(join(root, 'run-me.sh'), '#!/bin/sh\n');
    expect(problemOf(await vault.verifyBundle(await repack())).message).toBe(
      `bundle: unexpected file ${INCIDENT}/run-me.sh in bundle`,
    );
  });
});
