/**
 * Collects items per key and hands each batch to one `flush` call, so a storm of alerts about one secret becomes
 * a few Temporal Updates instead of one per alert.
 *
 * - Leading edge: the first item of a quiet key flushes at once (the incident opens without waiting).
 * - Then at most one flush per key per `windowMs`, and at most one in flight: items arriving meanwhile form the
 *   next batch, which flushes when the previous one is done and `windowMs` has passed since it started, or as
 *   soon as it holds `maxBatch` items (still one in flight). So a key sees at most about
 *   duration / max(windowMs, round trip) flushes, whatever the arrival rate.
 * - At most `maxConcurrentFlushes` keys flush at once; other ready keys wait for a slot (and keep batching).
 * - `maxPending` bounds memory: beyond it `submit` refuses with {@link BatcherOverloadedError}; `maxWaitMs` bounds
 *   the wait for a flush slot: an item still queued after it is refused with {@link BatcherTimeoutError}, so a
 *   sender always gets an answer in bounded time (Temporal creating incidents slower than they arrive).
 * Every item of a batch receives the batch's result, or its error.
 */
export interface AlertBatcherOptions<T, R> {
  windowMs: number;
  maxBatch: number;
  maxPending: number;
  maxConcurrentFlushes: number;
  /** An item still waiting (not yet in a flush) after this long is refused with {@link BatcherTimeoutError}. */
  maxWaitMs?: number;
  flush(key: string, items: T[]): Promise<R>;
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

interface KeyState<T, R> {
  queue: Entry<T, R>[];
  timer?: NodeJS.Timeout;
  flushing: boolean;
  /** Waiting in `ready` for a flush slot. */
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
} as const;

export class AlertBatcher<T, R> {
  private readonly keys = new Map<string, KeyState<T, R>>();
  private readonly ready: string[] = [];
  private inFlight = 0;
  private pendingCount = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly options: AlertBatcherOptions<T, R>) {
    for (const name of ['windowMs', 'maxBatch', 'maxPending', 'maxConcurrentFlushes'] as const) {
      const value = options[name];
      if (!Number.isInteger(value) || value < (name === 'windowMs' ? 0 : 1)) {
        throw new RangeError(
          `${name}: expected a ${name === 'windowMs' ? 'non-negative' : 'positive'} integer`,
        );
      }
    }
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
        state = { queue: [], flushing: false, ready: false };
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
      if (state.queue.length === 0 && !state.flushing) this.keys.delete(key);
      else this.markReady(key, state);
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
          if (keep.length === 0 && !state.flushing) {
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

  private schedule(key: string, state: KeyState<T, R>): void {
    if (state.flushing || state.ready || state.queue.length === 0) return;
    const due =
      this.closed || state.lastFlushAt === undefined
        ? 0
        : state.lastFlushAt + this.options.windowMs - Date.now();
    if (state.queue.length >= this.options.maxBatch || due <= 0) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      this.markReady(key, state);
      this.pump();
      return;
    }
    state.timer ??= setTimeout(() => {
      state.timer = undefined;
      this.markReady(key, state);
      this.pump();
    }, due);
  }

  private markReady(key: string, state: KeyState<T, R>): void {
    if (state.ready || state.flushing || state.queue.length === 0) return;
    state.ready = true;
    this.ready.push(key);
  }

  private pump(): void {
    while (this.inFlight < this.options.maxConcurrentFlushes && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const state = this.keys.get(key);
      // A stale entry: the key was swept (and maybe queued again) since it was marked ready.
      if (!state || !state.ready) continue;
      state.ready = false;
      if (state.flushing || state.queue.length === 0) continue;
      void this.run(key, state);
    }
  }

  private async run(key: string, state: KeyState<T, R>): Promise<void> {
    state.flushing = true;
    state.lastFlushAt = Date.now();
    this.inFlight += 1;
    const batch = state.queue.splice(0, this.options.maxBatch);
    try {
      const result = await this.options.flush(
        key,
        batch.map((entry) => entry.item),
      );
      for (const entry of batch) entry.resolve(result);
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.setPending(this.pendingCount - batch.length);
      this.inFlight -= 1;
      state.flushing = false;
      if (state.queue.length > 0) {
        this.schedule(key, state);
      } else if (this.closed) {
        this.keys.delete(key);
      } else {
        // Remember the flush for one window, so a trickle of alerts is still throttled.
        const remaining = Math.max(0, state.lastFlushAt + this.options.windowMs - Date.now());
        state.expiry = setTimeout(() => {
          if (this.keys.get(key) === state && state.queue.length === 0 && !state.flushing)
            this.keys.delete(key);
        }, remaining);
        state.expiry.unref();
      }
      this.pump();
      this.notifyIdle();
    }
  }
}
