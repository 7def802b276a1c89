import type { JournalEntry } from '../../providers/simulated/journal';
import { exactlyOnce } from './support';

/** The chaos suites' exactly-once check, on journals written by hand: what it lets pass and what it catches. */
const KEY = 'incident-1/rotate-credential';

function entry(
  action: string,
  system: string,
  attempt: number,
  effect: JournalEntry['effect'] = 'applied',
): JournalEntry {
  return {
    at: '2026-12-06T00:00:00.000Z',
    system,
    action,
    incidentId: 'incident-1',
    stepId: 'rotate-credential',
    idempotencyKey: KEY,
    attempt,
    exercise: false,
    effect,
    ...(action === 'storeSecret' ? { summary: { target: 'acme/app:DEPLOY_TOKEN', length: 32 } } : {}),
  };
}

test('an attempt killed between delivering and recording its rotation is superseded by the retry, not a duplicate', () => {
  const once = exactlyOnce([
    entry('storeSecret', 'github', 1),
    entry('storeSecret', 'github', 2),
    entry('rotateCredential', 'simulated', 2),
  ]);
  expect(once.duplicates).toEqual([]);
  expect(once.superseded.map((superseded) => superseded.attempt)).toEqual([1]);
  expect(once.effects.get(`${KEY} github.storeSecret`)).toBe(1);
});

test('two deliveries by the attempt that recorded the rotation are a duplicate', () => {
  const once = exactlyOnce([
    entry('storeSecret', 'github', 1),
    entry('storeSecret', 'github', 1),
    entry('rotateCredential', 'simulated', 1),
  ]);
  expect(once.duplicates).toEqual([`${KEY} github.storeSecret`]);
});

test('a destination left with a value no recorded rotation minted is caught', () => {
  const once = exactlyOnce([
    entry('storeSecret', 'github', 1),
    entry('rotateCredential', 'simulated', 1),
    entry('storeSecret', 'github', 2),
  ]);
  expect(once.duplicates).toEqual([`${KEY} github acme/app:DEPLOY_TOKEN: stale delivery`]);
});

test('a rotation applied twice is a duplicate', () => {
  const once = exactlyOnce([
    entry('rotateCredential', 'simulated', 1),
    entry('rotateCredential', 'simulated', 2),
    entry('rotateCredential', 'simulated', 3, 'replayed'),
  ]);
  expect(once.duplicates).toEqual([`${KEY} simulated.rotateCredential`]);
});
