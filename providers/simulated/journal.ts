import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SummaryValue } from '../types';

/**
 * The simulated systems' durable state: one JSON line per call, shared by every worker process, so a retry
 * after a worker crash sees what the dead worker already did (the way a real API honours idempotency keys).
 */
export interface JournalEntry {
  at: string;
  system: string;
  action: string;
  incidentId: string;
  stepId: string;
  idempotencyKey: string;
  attempt: number;
  /** `applied`: the system changed; `replayed`: a retry of an applied non-idempotent call; `fault`: injected. */
  effect: 'applied' | 'replayed' | 'fault';
  exercise: boolean;
  summary?: Record<string, SummaryValue>;
}

export class SimulationJournal {
  constructor(readonly path: string) {}

  async append(entry: JournalEntry): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    // One write of one line with O_APPEND: concurrent writers never interleave within a line.
    await appendFile(this.path, `${JSON.stringify(entry)}\n`, { flag: 'a' });
  }

  async entries(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as JournalEntry);
  }

  async findApplied(idempotencyKey: string, action: string): Promise<JournalEntry | undefined> {
    return (await this.entries()).find(
      (entry) =>
        entry.effect === 'applied' && entry.idempotencyKey === idempotencyKey && entry.action === action,
    );
  }
}
