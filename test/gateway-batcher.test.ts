import {
  AlertBatcher,
  BatcherClosedError,
  BatcherOverloadedError,
  BatcherTimeoutError,
} from '../gateway/alert-batcher';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recorder(delayMs = 20) {
  const flushes: { key: string; items: number[]; at: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const perKey = new Map<string, number>();
  let maxPerKey = 0;
  return {
    flushes,
    get maxInFlight() {
      return maxInFlight;
    },
    get maxPerKey() {
      return maxPerKey;
    },
    flush: async (key: string, items: number[]) => {
      flushes.push({ key, items: [...items], at: Date.now() });
      inFlight += 1;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      maxInFlight = Math.max(maxInFlight, inFlight);
      maxPerKey = Math.max(maxPerKey, perKey.get(key)!);
      await sleep(delayMs);
      inFlight -= 1;
      perKey.set(key, perKey.get(key)! - 1);
      return `${key}:${flushes.length}`;
    },
  };
}

test('the first item flushes at once; the rest batch behind it, one flush in flight per key, at most one per window', async () => {
  const record = recorder(30);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 100,
    maxBatch: 1000,
    maxPending: 10_000,
    maxConcurrentFlushes: 8,
    flush: record.flush,
  });
  const startedAt = Date.now();
  const first = batcher.submit('a', 0);
  expect(record.flushes).toHaveLength(1);
  expect(record.flushes[0].items).toEqual([0]);

  // 1,000 items over ~500 ms: a handful of flushes, never two at once for the key.
  const results: Promise<string>[] = [first];
  for (let index = 1; index < 1000; index += 1) {
    results.push(batcher.submit('a', index));
    if (index % 100 === 0) await sleep(50);
  }
  const answers = await Promise.all(results);
  expect(record.flushes.flatMap((flush) => flush.items).sort((x, y) => x - y)).toEqual(
    Array.from({ length: 1000 }, (_, index) => index),
  );
  expect(record.maxPerKey).toBe(1);
  const elapsed = Date.now() - startedAt;
  expect(record.flushes.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
  for (let index = 1; index < record.flushes.length; index += 1) {
    expect(record.flushes[index].at - record.flushes[index - 1].at).toBeGreaterThanOrEqual(95);
  }
  // Every item gets its own batch's result.
  expect(answers[0]).toBe('a:1');
  expect(new Set(answers).size).toBe(record.flushes.length);
  await batcher.close();
});

test('maxBatch splits a backlog; keys flush independently up to maxConcurrentFlushes', async () => {
  const record = recorder(40);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 10,
    maxBatch: 50,
    maxPending: 10_000,
    maxConcurrentFlushes: 3,
    flush: record.flush,
  });
  const all: Promise<string>[] = [];
  for (const key of ['a', 'b', 'c', 'd', 'e']) {
    for (let index = 0; index < 120; index += 1) all.push(batcher.submit(key, index));
  }
  await Promise.all(all);
  expect(record.maxInFlight).toBeLessThanOrEqual(3);
  expect(Math.max(...record.flushes.map((flush) => flush.items.length))).toBeLessThanOrEqual(50);
  for (const key of ['a', 'b', 'c', 'd', 'e']) {
    const items = record.flushes.filter((flush) => flush.key === key).flatMap((flush) => flush.items);
    expect(items.sort((x, y) => x - y)).toEqual(Array.from({ length: 120 }, (_, index) => index));
  }
  await batcher.close();
});

test('a failed flush rejects exactly its batch; the next batch still flushes', async () => {
  let calls = 0;
  const batcher = new AlertBatcher<number, string>({
    windowMs: 0,
    maxBatch: 100,
    maxPending: 100,
    maxConcurrentFlushes: 1,
    flush: async (_key, items) => {
      calls += 1;
      await sleep(10);
      if (calls === 1) throw new Error('temporal down');
      return `ok:${items.length}`;
    },
  });
  const first = batcher.submit('k', 1);
  const second = batcher.submit('k', 2);
  const third = batcher.submit('k', 3);
  await expect(first).rejects.toThrow('temporal down');
  await expect(second).resolves.toBe('ok:2');
  await expect(third).resolves.toBe('ok:2');
  await batcher.close();
});

test('maxPending refuses beyond the bound; close flushes what waits and refuses the rest', async () => {
  const record = recorder(20);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 10_000,
    maxBatch: 1000,
    maxPending: 3,
    maxConcurrentFlushes: 1,
    flush: record.flush,
  });
  const a = batcher.submit('k', 1); // leading edge: in flight
  const b = batcher.submit('k', 2); // waits for the 10 s window
  const c = batcher.submit('k', 3);
  await expect(batcher.submit('k', 4)).rejects.toBeInstanceOf(BatcherOverloadedError);
  const closing = batcher.close();
  await expect(batcher.submit('k', 5)).rejects.toBeInstanceOf(BatcherClosedError);
  const startedAt = Date.now();
  await closing;
  expect(Date.now() - startedAt).toBeLessThan(1000);
  await expect(Promise.all([a, b, c])).resolves.toEqual(['k:1', 'k:2', 'k:2']);
  expect(batcher.pending).toBe(0);
});

test('maxWaitMs: items that cannot get a flush slot in time are refused, the others still flush', async () => {
  const flushed: string[] = [];
  const batcher = new AlertBatcher<number, string>({
    windowMs: 0,
    maxBatch: 10,
    maxPending: 1000,
    maxConcurrentFlushes: 1,
    maxWaitMs: 150,
    flush: async (key) => {
      flushed.push(key);
      await sleep(400);
      return key;
    },
  });
  // One slot, 400 ms per flush: every key behind the first waits too long.
  const outcomes = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((key) => batcher.submit(key, 1)));
  expect(outcomes.map((outcome) => outcome.status)).toEqual([
    'fulfilled',
    'rejected',
    'rejected',
    'rejected',
    'rejected',
  ]);
  expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(BatcherTimeoutError);
  expect(flushed).toEqual(['a']);
  expect(batcher.pending).toBe(0);
  // The refused keys may be submitted again.
  await expect(batcher.submit('c', 2)).resolves.toBe('c');
  await batcher.close();
});
