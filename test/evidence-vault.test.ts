import { randomBytes } from 'node:crypto';
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EvidenceError, openVault } from '../evidence/index';
import { sealedSize } from '../evidence/sealed-stream';
import {
  generatedContent,
  incidentDir,
  listFiles,
  makeTempDir,
  objectPath,
  readAll,
  removeDir,
  sha256OfStream,
} from './fixtures/evidence/helpers';
import { createHash } from 'node:crypto';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let dataDir: string;
beforeEach(async () => {
  dataDir = await makeTempDir();
});
afterEach(async () => {
  await removeDir(dataDir);
});

function logOf(text: string) {
  return {
    incidentId: 'incident-0123456789abcdef01234567',
    stepId: 'capture-logs',
    source: 'github:acme/app/actions/runs/42',
    name: 'run-42.log',
    contentType: 'text/plain; charset=utf-8',
    content: Readable.from([Buffer.from(text)]),
  };
}

async function rejection(promise: Promise<unknown>): Promise<EvidenceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EvidenceError) return error;
    throw error;
  }
  throw new Error('expected the operation to fail');
}

describe('evidence vault', () => {
  it('preserves an artifact under its plaintext SHA-256 and lists it with its provenance', async () => {
    const clock = new Date('2025-03-01T10:00:00.000Z');
    const vault = await openVault({ dataDir, env: {}, now: () => clock });
    const text = 'step 1\nstep 2\n';
    const preserved = await vault.preserve(logOf(text));
    expect(preserved).toEqual({ artifactId: sha256(text), sha256: sha256(text), bytes: text.length });

    const [entry, ...rest] = await vault.list('incident-0123456789abcdef01234567');
    expect(rest).toHaveLength(0);
    expect(entry).toMatchObject({
      type: 'artifact',
      seq: 0,
      prev: '0'.repeat(64),
      incidentId: 'incident-0123456789abcdef01234567',
      stepId: 'capture-logs',
      source: 'github:acme/app/actions/runs/42',
      name: 'run-42.log',
      contentType: 'text/plain; charset=utf-8',
      sha256: sha256(text),
      bytes: text.length,
      sealedBytes: sealedSize(text.length),
      time: clock.toISOString(),
    });
    const sealedFile = objectPath(dataDir, 'incident-0123456789abcdef01234567', sha256(text));
    expect((await stat(sealedFile)).size).toBe(sealedSize(text.length));
  });

  it('commits records that arrive together as one group: every caller gets its own, the chain verifies, no duplicates', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const incident = 'incident-group0123456789abcdef0123';
    const events = Array.from({ length: 200 }, (_, index) => ({
      kind: 'action',
      stepId: 'rotate-each',
      data: { item: `item-${index % 150}`, outcome: 'done' },
    }));
    // 200 calls at once, 50 of them repeating an earlier record (a retried item): 150 entries.
    const preserved = await Promise.all(events.map((event) => vault.recordEvent(incident, event)));
    const entries = await vault.list(incident);
    expect(entries).toHaveLength(150);
    expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 150 }, (_, index) => index));
    expect(preserved[7]).toEqual(preserved[157]);
    expect(new Set(preserved.map((artifact) => artifact.sha256)).size).toBe(150);
    expect((await vault.verify(incident, { deep: true })).ok).toBe(true);
    // A second vault on the same directory (another worker) appends after the group.
    const other = await openVault({ dataDir, env: {} });
    await other.recordEvent(incident, { kind: 'action', stepId: 'verify', data: { item: 'late' } });
    expect(await vault.list(incident)).toHaveLength(151);
    expect((await vault.verify(incident, { deep: true })).ok).toBe(true);
  });

  it('records structured events as encrypted canonical JSON', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const approval = { decision: 'refused', approver: 'U123', reason: 'wrong repo', params: { b: 2, a: 1 } };
    const preserved = await vault.recordEvent('inc-7', {
      kind: 'approval',
      stepId: 'revoke',
      data: approval,
    });
    const canonical = '{"approver":"U123","decision":"refused","params":{"a":1,"b":2},"reason":"wrong repo"}';
    expect(preserved.sha256).toBe(sha256(canonical));

    const history = await vault.recordEvent('inc-7', {
      kind: 'temporal-history',
      data: { events: [1, 2, 3] },
    });
    const entries = await vault.list('inc-7');
    expect(entries.map((entry) => [entry.type, 'kind' in entry ? entry.kind : undefined])).toEqual([
      ['event', 'approval'],
      ['event', 'temporal-history'],
    ]);
    expect(entries[1]).not.toHaveProperty('stepId');

    const opened = await vault.open('inc-7', preserved.sha256, {
      actor: 'reviewer',
      reason: 'post-incident review',
    });
    expect((await readAll(opened.content)).toString()).toBe(canonical);
    const openedHistory = await vault.open('inc-7', history.sha256.slice(0, 8), {
      actor: 'r',
      reason: 'audit',
    });
    expect(JSON.parse((await readAll(openedHistory.content)).toString())).toEqual({ events: [1, 2, 3] });

    expect((await rejection(vault.recordEvent('inc-7', { kind: 'Bad Kind', data: {} }))).message).toBe(
      'event.kind: expected a lowercase kind such as action, approval or slack-thread',
    );
  });

  it('records who opened an artifact and why before releasing any plaintext', async () => {
    const clock = { now: new Date('2025-03-01T10:00:00.000Z') };
    const vault = await openVault({ dataDir, env: {}, now: () => clock.now });
    const preserved = await vault.preserve(logOf('secret-bearing log'));
    clock.now = new Date('2025-03-02T08:30:00.000Z');

    const opened = await vault.open('incident-0123456789abcdef01234567', preserved.sha256, {
      actor: 'alice@example.org',
      reason: 'confirm which secret leaked',
    });
    const entries = await vault.list('incident-0123456789abcdef01234567');
    expect(entries[1]).toMatchObject({
      type: 'access',
      seq: 1,
      prev: entries[0].hash,
      actor: 'alice@example.org',
      reason: 'confirm which secret leaked',
      artifact: preserved.sha256,
      time: '2025-03-02T08:30:00.000Z',
    });
    expect((await readAll(opened.content)).toString()).toBe('secret-bearing log');
    expect(opened.entry.sha256).toBe(preserved.sha256);
  });

  it('refuses to open without a reason, and names unknown artifacts', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const preserved = await vault.preserve(logOf('x'));
    const incident = 'incident-0123456789abcdef01234567';
    expect(
      (await rejection(vault.open(incident, preserved.sha256, { actor: 'a', reason: '' }))).message,
    ).toBe('reason: must not be empty');
    expect(
      (await rejection(vault.open(incident, preserved.sha256, { actor: 'a', reason: '  ' }))).message,
    ).toBe('reason: must say why (at least 3 characters)');
    expect((await rejection(vault.open(incident, 'abc', { actor: 'a', reason: 'why not' }))).message).toBe(
      'artifact: expected the artifact SHA-256 or a prefix of at least 8 lowercase hex digits',
    );
    expect(
      (await rejection(vault.open(incident, '00000000', { actor: 'a', reason: 'why not' }))).message,
    ).toBe(`artifact: no artifact 00000000 in incident ${incident}`);
    // Refused opens leave no custody entry: nothing was released.
    expect(await vault.list(incident)).toHaveLength(1);
  });

  it('validates every input and names the field', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const cases: [Partial<ReturnType<typeof logOf>>, string][] = [
      [{ incidentId: '../escape' }, 'incidentId: expected 1-128 letters'],
      [{ incidentId: 'a..b' }, 'incidentId: must not contain ".."'],
      [{ stepId: '' }, 'stepId: must not be empty'],
      [{ name: 'line\nbreak' }, 'name: must not contain control characters'],
      [{ contentType: 'text' }, 'contentType: expected a media type such as text/plain'],
    ];
    for (const [override, message] of cases) {
      const error = await rejection(vault.preserve({ ...logOf('x'), ...override }));
      expect(error.message.startsWith(message)).toBe(true);
      expect(error.code).toBe('invalid-input');
    }
    expect(await vault.listIncidents()).toEqual([]);
    expect((await rejection(vault.list('missing'))).message).toBe(
      'no evidence recorded for incident missing',
    );
    const report = await vault.verify('missing');
    expect(report.ok ? undefined : report.problem.code).toBe('not-found');
  });

  it('stores one sealed copy of identical content and does not duplicate a retried preserve', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const first = await vault.preserve(logOf('same bytes'));
    const retried = await vault.preserve(logOf('same bytes'));
    const renamed = await vault.preserve({ ...logOf('same bytes'), name: 'copy.log' });
    expect(retried).toEqual(first);
    expect(renamed).toEqual(first);
    const entries = await vault.list('incident-0123456789abcdef01234567');
    expect(entries.map((entry) => (entry.type === 'artifact' ? entry.name : ''))).toEqual([
      'run-42.log',
      'copy.log',
    ]);
    expect(
      await readdir(join(incidentDir(dataDir, 'incident-0123456789abcdef01234567'), 'objects')),
    ).toHaveLength(1);
    expect((await vault.verify('incident-0123456789abcdef01234567')).ok).toBe(true);
  });

  it('leaves nothing behind when the source stream fails', async () => {
    const vault = await openVault({ dataDir, env: {} });
    await vault.preserve(logOf('first'));
    const failing = new Readable({
      read() {
        this.push(randomBytes(100_000));
        this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      },
    });
    const error = await rejection(vault.preserve({ ...logOf(''), content: failing }));
    expect(error.code).toBe('source-failed');
    expect(error.message).toBe(
      'incident incident-0123456789abcdef01234567: reading the content to preserve failed (ECONNRESET)',
    );
    expect(await vault.list('incident-0123456789abcdef01234567')).toHaveLength(1);
    const tmp = join(incidentDir(dataDir, 'incident-0123456789abcdef01234567'), 'tmp');
    expect(await readdir(tmp)).toEqual([]);
  });

  it('round-trips a 20 MB artifact through the chunked encryption', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const size = 20 * 1024 * 1024 + 123;
    const expected = await sha256OfStream(generatedContent(size, 'twenty'));
    const preserved = await vault.preserve({ ...logOf(''), content: generatedContent(size, 'twenty') });
    expect(preserved).toEqual({ artifactId: expected.sha256, sha256: expected.sha256, bytes: size });
    const incident = 'incident-0123456789abcdef01234567';
    expect((await stat(objectPath(dataDir, incident, expected.sha256))).size).toBe(sealedSize(size));
    const deep = await vault.verify(incident, { deep: true });
    expect(deep.ok).toBe(true);
    const opened = await vault.open(incident, preserved.sha256, { actor: 'bench', reason: 'round trip' });
    expect(await sha256OfStream(opened.content)).toEqual(expected);
  });

  it('exports a bundle that verifies without any key and records the export', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const incident = 'incident-0123456789abcdef01234567';
    await vault.preserve(logOf('log'));
    await vault.recordEvent(incident, {
      kind: 'action',
      stepId: 'disable',
      data: { before: 'on', after: 'off' },
    });
    const out = join(dataDir, 'bundle.tar.gz');
    const result = await vault.export(incident, {
      out,
      actor: 'ic@example.org',
      reason: 'regulator request',
    });
    expect(result).toMatchObject({ bundlePath: out, incidentId: incident, entries: 3, artifacts: 2 });
    const entries = await vault.list(incident);
    expect(entries[2]).toMatchObject({
      type: 'export',
      actor: 'ic@example.org',
      reason: 'regulator request',
      bundle: 'bundle.tar.gz',
    });
    expect(result.headHash).toBe(entries[2].hash);

    const elsewhere = await makeTempDir('tq-evidence-verifier-');
    try {
      const verifier = await openVault({ dataDir: elsewhere, env: {} });
      const report = await verifier.verifyBundle(out);
      expect(report).toMatchObject({
        ok: true,
        incidentId: incident,
        entries: 3,
        artifacts: 2,
        signer: result.signer,
      });
      expect((await verifier.verifyBundle(out, { trustedSigner: result.signer })).ok).toBe(true);
      // Verifying needed no key and created none.
      expect(await listFiles(elsewhere)).toEqual([]);
    } finally {
      await removeDir(elsewhere);
    }
    expect((await rejection(vault.export(incident, { out, actor: 'ic', reason: 'again' }))).message).toBe(
      `out: ${out} already exists; bundles are never overwritten`,
    );
  });
});

describe('evidence keys', () => {
  it('creates the key files 0600 in a 0700 directory on first use', async () => {
    const vault = await openVault({ dataDir, env: {} });
    expect(await listFiles(dataDir)).toEqual([]);
    await vault.preserve(logOf('x'));
    const mode = async (path: string) => (await stat(path)).mode & 0o777;
    expect(await mode(join(dataDir, 'keys'))).toBe(0o700);
    expect(await mode(join(dataDir, 'keys', 'evidence.key'))).toBe(0o600);
    expect(await mode(join(dataDir, 'keys', 'evidence-signing.key'))).toBe(0o600);
  });

  it('takes the key from TOURNIQUET_EVIDENCE_KEY and refuses to decrypt under another key', async () => {
    const keyA = randomBytes(32);
    const vaultA = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY: keyA.toString('base64') } });
    const preserved = await vaultA.preserve(logOf('sealed under A'));
    expect(await readdir(join(dataDir, 'keys'))).toEqual(['evidence-signing.key']);

    const sameKeyAsHex = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY: keyA.toString('hex') } });
    const opened = await sameKeyAsHex.open('incident-0123456789abcdef01234567', preserved.sha256, {
      actor: 'a',
      reason: 'same key, other encoding',
    });
    expect((await readAll(opened.content)).toString()).toBe('sealed under A');

    const vaultB = await openVault({
      dataDir,
      env: { TOURNIQUET_EVIDENCE_KEY: randomBytes(32).toString('hex') },
    });
    const report = await vaultB.verify('incident-0123456789abcdef01234567', { deep: true });
    expect(report.ok ? '' : report.problem.message).toMatch(
      /^entry 0: artifact [0-9a-f]{12}… \(run-42\.log\): sealed under a different evidence key \(key id [0-9a-f]{16}, configured key id [0-9a-f]{16}\)$/,
    );
  });

  it('reports bad key configuration by name without echoing the value', async () => {
    const notAKey = 'hunter2-is-not-32-bytes';
    const vault = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY: notAKey } });
    const error = await rejection(vault.preserve(logOf('x')));
    expect(error.message).toBe(
      'environment variable TOURNIQUET_EVIDENCE_KEY: expected 32 bytes as 64 hex digits or base64',
    );
    expect(error.message).not.toContain(notAKey);

    await expect(openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY: '' } })).rejects.toThrow(
      'environment variable TOURNIQUET_EVIDENCE_KEY: must not be empty',
    );

    const missingFile = join(dataDir, 'mounted', 'evidence.key');
    const fromMissing = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY_FILE: missingFile } });
    expect((await rejection(fromMissing.preserve(logOf('x')))).message).toBe(
      `TOURNIQUET_EVIDENCE_KEY_FILE: ${missingFile} does not exist`,
    );

    const loose = join(dataDir, 'loose.key');
    await writeFile(loose, randomBytes(32).toString('hex'), { mode: 0o644 });
    await chmod(loose, 0o644);
    const fromLoose = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY_FILE: loose } });
    expect((await rejection(fromLoose.preserve(logOf('x')))).message).toBe(
      `TOURNIQUET_EVIDENCE_KEY_FILE: ${loose} has permissions 0644, which lets other users read it; run chmod 600`,
    );

    const strict = join(dataDir, 'strict.key');
    await writeFile(strict, randomBytes(32), { mode: 0o600 });
    const fromRaw = await openVault({ dataDir, env: { TOURNIQUET_EVIDENCE_KEY_FILE: strict } });
    await expect(fromRaw.preserve(logOf('raw 32-byte key file'))).resolves.toMatchObject({ bytes: 20 });
  });
});
