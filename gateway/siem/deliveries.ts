import { createHash } from 'node:crypto';
import type { AdapterHeaders } from './adapter';

/** Headers that name one delivery, which the sender repeats when it redelivers it. */
const DELIVERY_HEADERS = ['x-github-delivery'];
const DELIVERY_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The key of one delivery: its id and a hash of its exact bytes. GitHub signs the body only, so the id alone could be
 * set by anyone replaying a signed body: with the body in the key, a forged id can only make a copy of that same body
 * a duplicate, never hide a different alert.
 */
export function deliveryKey(headers: AdapterHeaders, rawBody: Buffer): string | undefined {
  for (const name of DELIVERY_HEADERS) {
    const value = headers[name];
    const id = Array.isArray(value) ? value[0] : value;
    if (id !== undefined && DELIVERY_ID.test(id)) {
      return `${id}:${createHash('sha256').update(rawBody).digest('base64url')}`;
    }
  }
  return undefined;
}

/**
 * What became of each recent delivery, so a redelivery (GitHub's "Redeliver", or its retry after a timeout) is told
 * the first one's incident instead of counting as a second alert. A delivery still in flight is shared; one that
 * failed is forgotten, so its retry goes through. Bounded: the oldest are dropped first.
 */
export class DeliveryLog<Outcome> {
  private readonly outcomes = new Map<string, Promise<Outcome>>();

  constructor(private readonly limit = 10_000) {}

  /** Runs `deliver` for a new key; for a key already seen, the first run's outcome and `repeated: true`. */
  once(key: string, deliver: () => Promise<Outcome>): { outcome: Promise<Outcome>; repeated: boolean } {
    const known = this.outcomes.get(key);
    if (known) return { outcome: known, repeated: true };
    const outcome = deliver();
    void outcome.catch(() => this.outcomes.delete(key));
    if (this.outcomes.size >= this.limit) this.outcomes.delete(this.outcomes.keys().next().value!);
    this.outcomes.set(key, outcome);
    return { outcome, repeated: false };
  }

  get size(): number {
    return this.outcomes.size;
  }
}
