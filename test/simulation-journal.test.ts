import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulationJournal, type JournalEntry } from '../providers/simulated/journal';

const entry = (idempotencyKey: string, effect: JournalEntry['effect'], target = 'é'): JournalEntry => ({
  at: '2026-12-07T00:00:00.000Z',
  system: 'simulated',
  action: 'rotateCredential',
  incidentId: 'incident-1',
  stepId: 'rotate',
  idempotencyKey,
  attempt: 1,
  effect,
  exercise: false,
  summary: { target },
});

test('findApplied sees what another process appended since, a line split mid-character, and a replaced file', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tourniquet-journal-')), 'journal.jsonl');
  const reader = new SimulationJournal(path);
  const writer = new SimulationJournal(path);
  expect(await reader.findApplied('a', 'rotateCredential')).toBeUndefined();

  await writer.append(entry('a', 'fault'));
  await writer.append(entry('a', 'applied'));
  expect(await reader.findApplied('a', 'rotateCredential')).toMatchObject({ effect: 'applied' });
  expect(await reader.findApplied('a', 'revokeCredential')).toBeUndefined();

  // Half a line, cut inside the two bytes of "é", then the rest: nothing until the line is whole, then all of it.
  const line = Buffer.from(`${JSON.stringify(entry('b', 'applied', 'café'))}\n`);
  const cut = line.indexOf(Buffer.from('é')) + 1;
  appendFileSync(path, line.subarray(0, cut));
  expect(await reader.findApplied('b', 'rotateCredential')).toBeUndefined();
  appendFileSync(path, line.subarray(cut));
  expect((await reader.findApplied('b', 'rotateCredential'))?.summary).toEqual({ target: 'café' });

  // Concurrent lookups each see an append that finished before they asked.
  const lookups = await Promise.all(
    ['c', 'd', 'e'].map(async (key) => {
      await writer.append(entry(key, 'applied'));
      return reader.findApplied(key, 'rotateCredential');
    }),
  );
  expect(lookups.map((found) => found?.idempotencyKey)).toEqual(['c', 'd', 'e']);

  writeFileSync(path, `${JSON.stringify(entry('z', 'applied'))}\n`);
  expect(await reader.findApplied('a', 'rotateCredential')).toBeUndefined();
  expect(await reader.findApplied('z', 'rotateCredential')).toBeDefined();
});
