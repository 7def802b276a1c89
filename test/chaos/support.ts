import { existsSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_CATALOGS } from '../../providers';
import type { IncidentStatus } from '../../lib/runbook/types';
import type { JournalEntry } from '../../providers/simulated/journal';

/** The seed of every pseudo-random choice in the chaos suites; `CHAOS_SEED=<n>` replays another run. */
export const CHAOS_SEED = Number(process.env.CHAOS_SEED ?? 20_250_917);

/** mulberry32: a tiny seeded generator, so a failing chaos run can be replayed with the same choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

export interface ExactlyOnceReport {
  /** `<idempotency key> <action>` → times the system really changed. */
  effects: Map<string, number>;
  /** Effects that happened more than once, or a destination left with a value no recorded rotation minted. */
  duplicates: string[];
  /** Deliveries by an attempt killed before it recorded its rotation, overwritten by the retry's. */
  superseded: JournalEntry[];
}

/**
 * From the simulation journal: every non-idempotent action must have changed the simulated system at most once per
 * step, whatever was retried. A secret delivery belongs to the rotation that minted it: an attempt killed between
 * delivering and recording its rotation is retried, mints again and overwrites the destination, as a real retry
 * does. So deliveries count for the attempt that recorded the rotation, each destination must end with that
 * attempt's value, and the killed attempt's delivery is reported as superseded.
 */
export function exactlyOnce(entries: JournalEntry[]): ExactlyOnceReport {
  const rotatedBy = new Map<string, number>();
  for (const entry of entries) {
    if (entry.action === 'rotateCredential' && entry.effect === 'applied') {
      rotatedBy.set(entry.idempotencyKey, entry.attempt);
    }
  }
  const effects = new Map<string, number>();
  const superseded: JournalEntry[] = [];
  const lastDelivery = new Map<string, JournalEntry>();
  for (const entry of entries) {
    const spec = PROVIDER_CATALOGS[entry.system]?.[entry.action];
    const delivery = entry.action === 'storeSecret';
    if (!delivery && (!spec || spec.idempotent)) continue;
    if (delivery && entry.effect === 'applied') {
      lastDelivery.set(`${entry.idempotencyKey} ${entry.system} ${String(entry.summary?.target)}`, entry);
      const rotation = rotatedBy.get(entry.idempotencyKey);
      if (rotation !== undefined && entry.attempt !== rotation) {
        superseded.push(entry);
        continue;
      }
    }
    const key = `${entry.idempotencyKey} ${entry.system}.${entry.action}`;
    effects.set(key, (effects.get(key) ?? 0) + (entry.effect === 'applied' ? 1 : 0));
  }
  const duplicates = [...effects.entries()].filter(([, count]) => count > 1).map(([key]) => key);
  for (const [destination, entry] of lastDelivery) {
    const rotation = rotatedBy.get(entry.idempotencyKey);
    if (rotation !== undefined && entry.attempt !== rotation)
      duplicates.push(`${destination}: stale delivery`);
  }
  return { effects, duplicates, superseded };
}

export function expectCompletedExactlyOnce(statuses: IncidentStatus[], once: ExactlyOnceReport): void {
  for (const status of statuses) {
    expect({ id: status.incidentId, state: status.state }).toEqual({
      id: status.incidentId,
      state: 'completed',
    });
    expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
    for (const effect of [
      'rotate-credential simulated.rotateCredential',
      'rotate-credential github.storeSecret',
      'revoke-old-credential simulated.revokeCredential',
    ]) {
      expect(once.effects.get(`${status.incidentId}/${effect}`)).toBe(1);
    }
  }
}

export interface ChaosCounts {
  faultsInjected: number;
  incidentsStarted: number;
  incidentsCompleted: number;
  duplicatesFound: number;
}

/**
 * One tally per jest process (`--runInBand` runs every chaos file in it): each suite adds its counts and prints
 * the running totals, so the last line of the chaos run is the run's total.
 */
function tallyPath(): string {
  // Field 22 of /proc/self/stat is the process start time: the tally of an earlier process with the same pid is
  // never picked up.
  let started = '0';
  try {
    started = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19];
  } catch {
    // Not Linux: the pid alone.
  }
  return join(tmpdir(), `tourniquet-chaos-${process.pid}-${started}.json`);
}

export function recordChaos(suite: string, counts: ChaosCounts): void {
  const path = tallyPath();
  const tally: { suites: Record<string, ChaosCounts> } = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as { suites: Record<string, ChaosCounts> })
    : { suites: {} };
  tally.suites[suite] = counts;
  writeFileSync(path, JSON.stringify(tally));
  const total = Object.values(tally.suites).reduce(
    (sum, next) => ({
      faultsInjected: sum.faultsInjected + next.faultsInjected,
      incidentsStarted: sum.incidentsStarted + next.incidentsStarted,
      incidentsCompleted: sum.incidentsCompleted + next.incidentsCompleted,
      duplicatesFound: sum.duplicatesFound + next.duplicatesFound,
    }),
    { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 },
  );
  const line = (name: string, c: ChaosCounts) =>
    `${name}: faults injected ${c.faultsInjected}, incidents completed ${c.incidentsCompleted}/${c.incidentsStarted}, duplicates found ${c.duplicatesFound}`;
  report(
    [
      `\nchaos (seed ${CHAOS_SEED}) ${line(suite, counts)}`,
      `chaos total so far (${Object.keys(tally.suites).join(', ')}): ${line('all', total)}\n`,
    ].join('\n'),
  );
}

/** Straight to stdout, synchronously: jest's forceExit must not swallow the last suite's totals. */
export function report(text: string): void {
  writeSync(1, text.endsWith('\n') ? text : `${text}\n`);
}
