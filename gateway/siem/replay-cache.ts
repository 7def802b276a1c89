export interface ReplayCacheOptions {
  /** How long a seen signature is remembered; at least the timestamp window, or a replay slips through. */
  ttlMs?: number;
  /** Upper bound on memory; the oldest entries go first when it is reached. */
  maxEntries?: number;
}

export interface ReplayCache {
  /** Records `key` as used at `nowMs`; false when it was already used and has not expired. */
  checkAndRemember(key: string, nowMs: number): boolean;
  readonly size: number;
  clear(): void;
}

export const DEFAULT_REPLAY_TTL_MS = 10 * 60 * 1000;
export const DEFAULT_REPLAY_MAX_ENTRIES = 100_000;

/**
 * Bounded TTL cache of signatures already accepted. The default TTL is twice the 5-minute timestamp window
 * because a timestamp may be up to 5 minutes in the future as well as in the past.
 *
 * Only signed senders can add entries (the caller checks the signature first), so the bound protects memory
 * against a misbehaving sender rather than an anonymous flood.
 */
export function createReplayCache(options: ReplayCacheOptions = {}): ReplayCache {
  const ttlMs = options.ttlMs ?? DEFAULT_REPLAY_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_MAX_ENTRIES;
  if (!(ttlMs > 0)) throw new RangeError('ttlMs: expected a positive number of milliseconds');
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries: expected a positive integer');

  // A Map iterates in insertion order, and every entry gets the same TTL, so the first entries are the oldest.
  const expiresAtByKey = new Map<string, number>();

  function evictExpired(nowMs: number): void {
    for (const [key, expiresAt] of expiresAtByKey) {
      if (expiresAt > nowMs) break;
      expiresAtByKey.delete(key);
    }
  }

  return {
    checkAndRemember(key: string, nowMs: number): boolean {
      evictExpired(nowMs);
      const expiresAt = expiresAtByKey.get(key);
      if (expiresAt !== undefined && expiresAt > nowMs) return false;
      while (expiresAtByKey.size >= maxEntries) {
        const oldest = expiresAtByKey.keys().next().value;
        if (oldest === undefined) break;
        expiresAtByKey.delete(oldest);
      }
      expiresAtByKey.set(key, nowMs + ttlMs);
      return true;
    },
    get size() {
      return expiresAtByKey.size;
    },
    clear() {
      expiresAtByKey.clear();
    },
  };
}
