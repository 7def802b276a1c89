import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
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

  /**
   * The first applied entry of each action and key, read from the file incrementally: re-reading the whole journal on
   * every call made 5,000 rotations quadratic (30 ms each). Other processes append too, so each lookup reads what was
   * appended since the last one.
   */
  private readonly applied = new Map<string, JournalEntry>();
  private readBytes = 0;
  /** A line cut by the end of the last read, as bytes: a character may be split across reads. */
  private tail = Buffer.alloc(0);
  private reading: Promise<void> = Promise.resolve();

  async findApplied(idempotencyKey: string, action: string): Promise<JournalEntry | undefined> {
    // Each lookup waits for a read that starts after it was asked: one already under way may predate an append.
    const read = this.reading.then(() => this.readAppended());
    this.reading = read.catch(() => undefined);
    await read;
    return this.applied.get(`${action}\u0000${idempotencyKey}`);
  }

  private async readAppended(): Promise<void> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size < this.readBytes) {
        // Replaced or truncated: start over.
        this.applied.clear();
        this.readBytes = 0;
        this.tail = Buffer.alloc(0);
      }
      if (size === this.readBytes) return;
      const appended = Buffer.alloc(size - this.readBytes);
      const { bytesRead } = await handle.read(appended, 0, appended.length, this.readBytes);
      this.readBytes += bytesRead;
      const bytes = Buffer.concat([this.tail, appended.subarray(0, bytesRead)]);
      const end = bytes.lastIndexOf(0x0a);
      this.tail = Buffer.from(bytes.subarray(end + 1));
      for (const line of bytes
        .subarray(0, end + 1)
        .toString('utf8')
        .split('\n')) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as JournalEntry;
        const key = `${entry.action}\u0000${entry.idempotencyKey}`;
        if (entry.effect === 'applied' && !this.applied.has(key)) this.applied.set(key, entry);
      }
    } finally {
      await handle.close();
    }
  }
}
