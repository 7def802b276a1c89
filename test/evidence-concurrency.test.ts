import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openVault, type EvidenceVault, type ManifestEntry } from '../evidence/index';
import { generatedContent, incidentDir, makeTempDir, removeDir, runTs } from './fixtures/evidence/helpers';

const WRITER = join(__dirname, 'fixtures', 'evidence', 'writer.ts');

let dataDir: string;
beforeEach(async () => {
  dataDir = await makeTempDir();
});
afterEach(async () => {
  await removeDir(dataDir);
});

function writes(vault: EvidenceVault, incidentId: string, count: number, label: string): Promise<unknown>[] {
  return Array.from({ length: count }, (_, index) =>
    index % 4 === 3
      ? vault.recordEvent(incidentId, { kind: 'approval', stepId: label, data: { label, index } })
      : vault.preserve({
          incidentId,
          stepId: label,
          source: 'concurrency-test',
          name: `${label}-${index}.log`,
          contentType: 'text/plain',
          // Sizes from empty to several chunks, so streams finish in a different order than they start.
          content: generatedContent((index * 37_000) % 200_000, `${incidentId}-${label}-${index}`),
        }),
  );
}

/** Sequence numbers 0..n-1 in order, each entry chained to the one before: what a consistent chain looks like. */
function expectConsistentChain(entries: ManifestEntry[]): void {
  entries.forEach((entry, index) => {
    expect(entry.seq).toBe(index);
    expect(entry.prev).toBe(index === 0 ? '0'.repeat(64) : entries[index - 1].hash);
  });
}

describe('concurrent evidence writers', () => {
  it('keeps one consistent chain per incident while several incidents write at once', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const incidents = ['inc-a', 'inc-b', 'inc-c', 'inc-d'];
    await Promise.all(incidents.flatMap((incidentId) => writes(vault, incidentId, 12, 'capture')));
    for (const incidentId of incidents) {
      const report = await vault.verify(incidentId, { deep: true });
      expect(report).toMatchObject({ ok: true, entries: 12, artifacts: 12 });
      const entries = await vault.list(incidentId);
      expectConsistentChain(entries);
      expect(new Set(entries.map((entry) => entry.incidentId))).toEqual(new Set([incidentId]));
    }
    expect(await vault.listIncidents()).toEqual(incidents);
  });

  it('serialises many concurrent writes to one incident, including identical content', async () => {
    const vault = await openVault({ dataDir, env: {} });
    const same = (name: string) =>
      vault.preserve({
        incidentId: 'inc-one',
        stepId: 'capture',
        source: 'dup',
        name,
        contentType: 'text/plain',
        content: Readable.from([Buffer.from('the same bytes from several steps')]),
      });
    const results = await Promise.all([
      ...writes(vault, 'inc-one', 30, 'capture'),
      same('copy-1.log'),
      same('copy-2.log'),
      same('copy-1.log'),
    ]);
    expect(results).toHaveLength(33);
    const entries = await vault.list('inc-one');
    // The repeated (copy-1.log, same bytes) preserve is recorded once.
    expect(entries).toHaveLength(32);
    expectConsistentChain(entries);
    expect(await vault.verify('inc-one', { deep: true })).toMatchObject({
      ok: true,
      entries: 32,
      artifacts: 31,
    });
    expect(await readdir(join(incidentDir(dataDir, 'inc-one'), 'objects'))).toHaveLength(31);
  });

  it('keeps the chain consistent when separate processes write to the same incident', async () => {
    const vault = await openVault({ dataDir, env: {} });
    // Create the keys first so every process signs with the same one rather than racing to create it.
    await vault.recordEvent('inc-shared', { kind: 'note', data: 'opened' });
    const children = [1, 2, 3].map((n) => runTs(WRITER, [dataDir, 'inc-shared', 'count', '10', `proc${n}`]));
    const inProcess = Promise.all(writes(vault, 'inc-shared', 10, 'parent'));
    const [results] = await Promise.all([Promise.all(children), inProcess]);
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split('\n')).toHaveLength(10);
    }
    const entries = await vault.list('inc-shared');
    expect(entries).toHaveLength(41);
    expectConsistentChain(entries);
    expect(await vault.verify('inc-shared', { deep: true })).toMatchObject({ ok: true, entries: 41 });
  });

  it('agrees on one key pair and one incident when processes create both at the same moment', async () => {
    const results = await Promise.all(
      [1, 2, 3].map((n) => runTs(WRITER, [dataDir, 'inc-race', 'count', '2', `proc${n}`])),
    );
    for (const result of results) expect(result.stderr).toBe('');
    const vault = await openVault({ dataDir, env: {} });
    const report = await vault.verify('inc-race', { deep: true });
    expect(report.ok ? report.entries : report.problem.message).toBe(6);
    expectConsistentChain(await vault.list('inc-race'));
  });
});
