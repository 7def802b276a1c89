/**
 * Collects items per key and hands each batch to one `flush` call, so a storm of alerts about one secret becomes
 * a few Temporal Updates instead of one per alert.
 *
 * - Leading edge: the first item of a quiet key flushes at once (the incident opens without waiting).
 * - A key's first flush (the one that opens its incident) is alone: nothing else of the key is sent until it has
 *   returned a result that {@link AlertBatcherOptions.established} accepts. Until then, and after a result it
 *   refuses, the key has one flush in flight at a time.
 * - Then, as before, items arriving meanwhile form the next batch, which flushes when the previous one is done and
 *   `windowMs` has passed since it started, or as soon as it holds `maxBatch` items. An established key may also
 *   have up to `maxInFlightPerKey` flushes in flight: beside those in flight, another one starts as soon as
 *   `minConcurrentBatch` items wait. So a key sees at most about
 *   duration / max(windowMs, round trip) + items / minConcurrentBatch flushes, whatever the arrival rate.
 * - Two pools of slots, so neither kind starves the other: at most `maxConcurrentFlushes` first flushes of new keys
 *   (incident starts) at once, and at most `maxConcurrentUpdates` flushes of established keys. Within a pool, ready
 *   keys take turns (a key goes to the back of its queue each time one of its flushes starts).
 * - `maxPending` bounds memory: beyond it `submit` refuses with {@link BatcherOverloadedError}; `maxWaitMs` bounds
 *   the wait for a flush slot: an item still queued after it is refused with {@link BatcherTimeoutError}, so a
 *   sender always gets an answer in bounded time (Temporal creating incidents slower than they arrive).
 * Every item of a batch receives the batch's result, or its error.
 */
export interface AlertBatcherOptions<T, R> {
  windowMs: number;
  maxBatch: number;
  maxPending: number;
  /** Flushes of keys that are not established (incident starts) in flight at once. */
  maxConcurrentFlushes: number;
  /** Flushes of established keys in flight at once, in a pool of their own (default `maxConcurrentFlushes`). */
  maxConcurrentUpdates?: number;
  /** Flushes of one established key in flight at once (default 1: one at a time, as for a new key). */
  maxInFlightPerKey?: number;
  /**
   * An established key starts another flush beside those in flight once this many items wait (default `maxBatch`).
   * Each such flush carries at least this many items, which bounds the flushes of a storm.
   */
  minConcurrentBatch?: number;
  /** An item still waiting (not yet in a flush) after this long is refused with {@link BatcherTimeoutError}. */
  maxWaitMs?: number;
  flush(key: string, items: T[]): Promise<R>;
  /**
   * Whether a key whose flush returned this result may have several flushes in flight (default: any result). A
   * key is established by its first successful flush and stays so until a result says otherwise.
   */
  established?(result: R): boolean;
  /** Told the number of items waiting or in flight whenever it changes (for a gauge). */
  onPendingChange?(pending: number): void;
}

export class BatcherOverloadedError extends Error {
  constructor() {
    super('too many alerts waiting: try again shortly');
  }
}

export class BatcherTimeoutError extends Error {
  constructor() {
    super('too many new incidents at once: try again shortly');
  }
}

export class BatcherClosedError extends Error {
  constructor() {
    super('the gateway is shutting down');
  }
}

interface Entry<T, R> {
  item: T;
  at: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

type Pool = 'starts' | 'updates';

interface KeyState<T, R> {
  queue: Entry<T, R>[];
  timer?: NodeJS.Timeout;
  /** Flushes of this key in flight. */
  inFlight: number;
  /** A flush of this key returned a result `established` accepted (and no later one was refused). */
  established: boolean;
  /** Waiting in a ready queue for a flush slot. */
  ready: boolean;
  /** When the last flush of this key started; the next one waits until `windowMs` after it. */
  lastFlushAt?: number;
  /** Forgets a quiet key once its window has passed. */
  expiry?: NodeJS.Timeout;
}

export const DEFAULT_BATCHER_OPTIONS = {
  windowMs: 150,
  maxBatch: 500,
  maxPending: 50_000,
  maxConcurrentFlushes: 32,
  maxConcurrentUpdates: 32,
  maxInFlightPerKey: 4,
  minConcurrentBatch: 64,
} as const;

/** How long a forgotten key that was established still counts as established, and how many such keys are kept. */
const ESTABLISHED_MEMORY_MS = 60_000;
const MAX_REMEMBERED_KEYS = 10_000;

export class AlertBatcher<T, R> {
  private readonly keys = new Map<string, KeyState<T, R>>();
  /**
   * Keys forgotten while established, and until when they count as such: a trickle of alerts to an open incident
   * (one per window or slower) keeps to the updates pool instead of queueing behind a burst of new incidents.
   */
  private readonly recentlyEstablished = new Map<string, number>();
  private readonly ready: Record<Pool, string[]> = { starts: [], updates: [] };
  private readonly inFlight: Record<Pool, number> = { starts: 0, updates: 0 };
  private readonly slots: Record<Pool, number>;
  private readonly maxInFlightPerKey: number;
  private readonly minConcurrentBatch: number;
  private pendingCount = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly options: AlertBatcherOptions<T, R>) {
    const optional = new Set(['maxConcurrentUpdates', 'maxInFlightPerKey', 'minConcurrentBatch']);
    for (const name of [
      'windowMs',
      'maxBatch',
      'maxPending',
      'maxConcurrentFlushes',
      'maxConcurrentUpdates',
      'maxInFlightPerKey',
      'minConcurrentBatch',
    ] as const) {
      const value = options[name];
      if (value === undefined && optional.has(name)) continue;
      if (!Number.isInteger(value) || value! < (name === 'windowMs' ? 0 : 1)) {
        throw new RangeError(
          `${name}: expected a ${name === 'windowMs' ? 'non-negative' : 'positive'} integer`,
        );
      }
    }
    this.slots = {
      starts: options.maxConcurrentFlushes,
      updates: options.maxConcurrentUpdates ?? options.maxConcurrentFlushes,
    };
    this.maxInFlightPerKey = options.maxInFlightPerKey ?? 1;
    this.minConcurrentBatch = Math.min(options.minConcurrentBatch ?? options.maxBatch, options.maxBatch);
  }

  /** Items waiting or in flight. */
  get pending(): number {
    return this.pendingCount;
  }

  submit(key: string, item: T): Promise<R> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (this.pendingCount >= this.options.maxPending) return Promise.reject(new BatcherOverloadedError());
    return new Promise<R>((resolve, reject) => {
      let state = this.keys.get(key);
      if (!state) {
        const until = this.recentlyEstablished.get(key);
        this.recentlyEstablished.delete(key);
        state = {
          queue: [],
          inFlight: 0,
          established: until !== undefined && until > Date.now(),
          ready: false,
        };
        this.keys.set(key, state);
      }
      if (state.expiry) clearTimeout(state.expiry);
      state.expiry = undefined;
      state.queue.push({ item, at: Date.now(), resolve, reject });
      this.setPending(this.pendingCount + 1);
      this.schedule(key, state);
      this.startSweeper();
    });
  }

  /** Refuses new items, flushes everything waiting at once, and resolves when every flush has finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, state] of this.keys) {
      if (state.timer) clearTimeout(state.timer);
      if (state.expiry) clearTimeout(state.expiry);
      state.timer = undefined;
      state.expiry = undefined;
      if (state.queue.length === 0 && state.inFlight === 0) this.keys.delete(key);
      else this.schedule(key, state, false);
    }
    this.pump();
    if (this.keys.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses items that waited longer than `maxWaitMs` without being flushed. Runs only while items wait. */
  private startSweeper(): void {
    const maxWaitMs = this.options.maxWaitMs;
    if (maxWaitMs === undefined || this.sweeper) return;
    this.sweeper = setInterval(
      () => {
        const cutoff = Date.now() - maxWaitMs;
        let expired = 0;
        for (const [key, state] of this.keys) {
          if (state.queue.length === 0 || state.queue[0].at > cutoff) continue;
          const keep = state.queue.filter((entry) => entry.at > cutoff);
          for (const entry of state.queue) if (entry.at <= cutoff) entry.reject(new BatcherTimeoutError());
          expired += state.queue.length - keep.length;
          state.queue = keep;
          if (keep.length === 0 && state.inFlight === 0) {
            if (state.timer) clearTimeout(state.timer);
            this.keys.delete(key);
          }
        }
        if (expired > 0) this.setPending(this.pendingCount - expired);
        this.notifyIdle();
        if (this.pendingCount === 0) {
          clearInterval(this.sweeper);
          this.sweeper = undefined;
        }
      },
      Math.max(50, Math.min(500, maxWaitMs / 4)),
    );
    this.sweeper.unref();
  }

  private notifyIdle(): void {
    if (this.keys.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private setPending(value: number): void {
    this.pendingCount = value;
    this.options.onPendingChange?.(value);
  }

  private rememberEstablished(key: string): void {
    const now = Date.now();
    this.recentlyEstablished.set(key, now + ESTABLISHED_MEMORY_MS);
    // Bounded: the oldest entries go first (a Map iterates in insertion order), expired or beyond the cap.
    for (const [oldest, until] of this.recentlyEstablished) {
      if (until > now && this.recentlyEstablished.size <= MAX_REMEMBERED_KEYS) break;
      this.recentlyEstablished.delete(oldest);
    }
  }

  /** Flushes of this key allowed in flight at once: one until its first flush has established it. */
  private capOf(state: KeyState<T, R>): number {
    return state.established ? this.maxInFlightPerKey : 1;
  }

  /** Marks the key ready now if it may flush, else sets its timer for when its window has passed. */
  private schedule(key: string, state: KeyState<T, R>, pump = true): void {
    if (state.ready || state.queue.length === 0 || state.inFlight >= this.capOf(state)) return;
    const enough =
      state.queue.length >= this.options.maxBatch ||
      (state.established && state.queue.length >= this.minConcurrentBatch);
    // Beside a flush in flight only a batch big enough goes; otherwise that flush schedules the key when it returns.
    if (state.inFlight > 0 && !enough && !this.closed) return;
    const due =
      this.closed || state.lastFlushAt === undefined
        ? 0
        : state.lastFlushAt + this.options.windowMs - Date.now();
    if (enough || due <= 0) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      this.markReady(key, state);
      if (pump) this.pump();
      return;
    }
    state.timer ??= setTimeout(() => {
      state.timer = undefined;
      if (this.keys.get(key) === state) this.schedule(key, state);
    }, due);
  }

  private markReady(key: string, state: KeyState<T, R>): void {
    if (state.ready || state.queue.length === 0) return;
    state.ready = true;
    this.ready[state.established ? 'updates' : 'starts'].push(key);
  }

  private pump(): void {
    for (const pool of ['updates', 'starts'] as const) {
      const ready = this.ready[pool];
      while (this.inFlight[pool] < this.slots[pool] && ready.length > 0) {
        const key = ready.shift()!;
        const state = this.keys.get(key);
        // A stale entry: the key was swept (and maybe queued again) since it was marked ready.
        if (!state || !state.ready) continue;
        state.ready = false;
        // Its flush in flight has since come back refused: it waits for that one, and is scheduled again after.
        if (state.queue.length === 0 || state.inFlight >= this.capOf(state)) continue;
        void this.run(key, state, pool);
      }
    }
  }

  private async run(key: string, state: KeyState<T, R>, pool: Pool): Promise<void> {
    state.inFlight += 1;
    state.lastFlushAt = Date.now();
    this.inFlight[pool] += 1;
    const batch = state.queue.splice(0, this.options.maxBatch);
    // What is left may go at once (an established key under its cap), or waits for its window or this flush.
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    this.schedule(key, state, false);
    try {
      const result = await this.options.flush(
        key,
        batch.map((entry) => entry.item),
      );
      state.established = this.options.established?.(result) ?? true;
      for (const entry of batch) entry.resolve(result);
    } catch (error) {
      // A failed first flush leaves the key as it was: not established, so its next flush is a first one again.
      for (const entry of batch) entry.reject(error);
    } finally {
      this.setPending(this.pendingCount - batch.length);
      this.inFlight[pool] -= 1;
      state.inFlight -= 1;
      if (state.queue.length > 0) {
        this.schedule(key, state, false);
      } else if (state.inFlight > 0) {
        // Another flush of the key is still out: it decides what comes next.
      } else if (this.closed) {
        this.keys.delete(key);
      } else {
        // Remember the flush for one window, so a trickle of alerts is still throttled.
        const remaining = Math.max(0, state.lastFlushAt + this.options.windowMs - Date.now());
        state.expiry = setTimeout(() => {
          if (this.keys.get(key) !== state || state.queue.length > 0 || state.inFlight > 0) return;
          this.keys.delete(key);
          if (state.established) this.rememberEstablished(key);
        }, remaining);
        state.expiry.unref();
      }
      this.pump();
      this.notifyIdle();
    }
  }
}
