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

test('maxBatch splits a backlog; keys flush independently up to maxConcurrentFlushes starts plus maxConcurrentUpdates', async () => {
  const record = recorder(40);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 10,
    maxBatch: 50,
    maxPending: 10_000,
    maxConcurrentFlushes: 3,
    maxConcurrentUpdates: 2,
    flush: record.flush,
  });
  const all: Promise<string>[] = [];
  for (const key of ['a', 'b', 'c', 'd', 'e']) {
    for (let index = 0; index < 120; index += 1) all.push(batcher.submit(key, index));
  }
  await Promise.all(all);
  expect(record.maxInFlight).toBeLessThanOrEqual(5);
  expect(record.maxPerKey).toBe(1);
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

/** Like `recorder`, with the end of each flush and a delay per key. */
function timedRecorder(delayOf: (key: string) => number) {
  const flushes: { key: string; items: number[]; at: number; end?: number }[] = [];
  const perKey = new Map<string, number>();
  let maxPerKey = 0;
  return {
    flushes,
    get maxPerKey() {
      return maxPerKey;
    },
    flush: async (key: string, items: number[]) => {
      const flush: (typeof flushes)[number] = { key, items: [...items], at: Date.now() };
      flushes.push(flush);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, perKey.get(key)!);
      await sleep(delayOf(key));
      perKey.set(key, perKey.get(key)! - 1);
      flush.end = Date.now();
      return key;
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

test('an established key has up to maxInFlightPerKey flushes in flight, and only after its first flush returned', async () => {
  const record = timedRecorder(() => 60);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 10_000,
    maxBatch: 20,
    maxPending: 10_000,
    maxConcurrentFlushes: 8,
    maxInFlightPerKey: 3,
    minConcurrentBatch: 20,
    flush: record.flush,
  });
  // The first item opens the key; 200 more arrive while that flush is out.
  const all = [batcher.submit('a', 0), ...range(1, 201).map((index) => batcher.submit('a', index))];
  await Promise.all(all);
  expect(record.flushes.flatMap((flush) => flush.items).sort((x, y) => x - y)).toEqual(range(0, 201));
  expect(record.flushes[0].items).toEqual([0]);
  // Nothing else of the key left before its first flush had returned...
  expect(record.flushes[1].at).toBeGreaterThanOrEqual(record.flushes[0].end!);
  // ...then three at once (the window is 10 s: only full batches go), never more.
  expect(record.maxPerKey).toBe(3);
  expect(record.flushes.length).toBe(11);
  await batcher.close();
});

test('a key whose result is not established, or whose first flush failed, keeps one flush in flight', async () => {
  let failFirst = true;
  const record = timedRecorder(() => 30);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 0,
    maxBatch: 10,
    maxPending: 10_000,
    maxConcurrentFlushes: 8,
    maxInFlightPerKey: 4,
    minConcurrentBatch: 10,
    flush: async (key, items) => {
      if (key === 'failing' && failFirst) {
        failFirst = false;
        await sleep(30);
        throw new Error('temporal down');
      }
      return record.flush(key, items);
    },
    established: (result) => result !== 'closed',
  });
  const closed = range(0, 100).map((index) => batcher.submit('closed', index));
  const failing = range(0, 100).map((index) => batcher.submit('failing', index));
  const settled = await Promise.allSettled([...closed, ...failing]);
  expect(settled.filter((outcome) => outcome.status === 'rejected')).toHaveLength(1);
  const perKey = (key: string) => record.flushes.filter((flush) => flush.key === key);
  // Never two at once for the key whose incident is closed.
  const closedFlushes = perKey('closed');
  expect(closedFlushes.length).toBeGreaterThan(5);
  for (let index = 1; index < closedFlushes.length; index += 1) {
    expect(closedFlushes[index].at).toBeGreaterThanOrEqual(closedFlushes[index - 1].end!);
  }
  const failingFlushes = perKey('failing');
  expect(failingFlushes[1].at).toBeGreaterThanOrEqual(failingFlushes[0].end!);
  // After the failure the key's next flush was a first one again; once it returned, the key went concurrent.
  expect(
    Math.max(
      ...failingFlushes.map(
        (flush) => failingFlushes.filter((other) => other.at <= flush.at && other.end! > flush.at).length,
      ),
    ),
  ).toBeGreaterThan(1);
  await batcher.close();
});

test('a burst of new keys does not hold back a flush of an established key beyond its window', async () => {
  const record = timedRecorder((key) => (key === 'storm' ? 20 : 300));
  const batcher = new AlertBatcher<number, string>({
    windowMs: 100,
    maxBatch: 500,
    maxPending: 10_000,
    maxConcurrentFlushes: 2,
    maxConcurrentUpdates: 2,
    maxInFlightPerKey: 4,
    flush: record.flush,
  });
  await batcher.submit('storm', 0);
  // 20 new incidents, two slots, 300 ms each: the last one starts about 3 s from now.
  const starts = range(0, 20).map((index) => batcher.submit(`new-${index}`, index));
  await sleep(120);
  const submittedAt = Date.now();
  await batcher.submit('storm', 1);
  const stormFlush = record.flushes.find((flush) => flush.key === 'storm' && flush.items.includes(1))!;
  expect(stormFlush.at - submittedAt).toBeLessThan(50);
  // Meanwhile the starts kept to their own two slots.
  expect(
    record.flushes.filter((flush) => flush.key.startsWith('new-') && flush.at <= stormFlush.at),
  ).toHaveLength(2);
  await Promise.all(starts);
  await batcher.close();
});

test('established keys with a backlog do not hold back the first flush of a new key, nor take more than their slots', async () => {
  let updatesInFlight = 0;
  let maxUpdatesInFlight = 0;
  const record = timedRecorder(() => 100);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 0,
    maxBatch: 10,
    maxPending: 10_000,
    maxConcurrentFlushes: 2,
    maxConcurrentUpdates: 3,
    maxInFlightPerKey: 2,
    minConcurrentBatch: 10,
    flush: async (key, items) => {
      const update = key.startsWith('storm-') && items[0] !== 0;
      if (update) maxUpdatesInFlight = Math.max(maxUpdatesInFlight, ++updatesInFlight);
      try {
        return await record.flush(key, items);
      } finally {
        if (update) updatesInFlight -= 1;
      }
    },
  });
  const keys = ['storm-a', 'storm-b', 'storm-c'];
  await Promise.all(keys.map((key) => batcher.submit(key, 0)));
  // Three storms, 300 items each in batches of 10: update slots busy, a backlog waiting, for about 3 s.
  const storms = keys.flatMap((key) => range(1, 301).map((index) => batcher.submit(key, index)));
  await sleep(150);
  const submittedAt = Date.now();
  await batcher.submit('fresh', 1);
  const fresh = record.flushes.find((flush) => flush.key === 'fresh')!;
  expect(fresh.at - submittedAt).toBeLessThan(30);
  expect(record.maxPerKey).toBeLessThanOrEqual(2);
  expect(maxUpdatesInFlight).toBe(3);
  await Promise.all(storms);
  await batcher.close();
});

test('a trickle to an established key stays one flush at a time, one per window: only a big batch goes beside one', async () => {
  const record = timedRecorder(() => 150);
  const batcher = new AlertBatcher<number, string>({
    windowMs: 100,
    maxBatch: 500,
    maxPending: 10_000,
    maxConcurrentFlushes: 8,
    maxInFlightPerKey: 4,
    minConcurrentBatch: 100,
    flush: record.flush,
  });
  await batcher.submit('a', 0);
  // 5 items every 20 ms for 600 ms: about 40 per flush, well under minConcurrentBatch.
  const all: Promise<string>[] = [];
  for (let index = 1; index <= 150; index += 1) {
    all.push(batcher.submit('a', index));
    if (index % 5 === 0) await sleep(20);
  }
  await Promise.all(all);
  expect(record.maxPerKey).toBe(1);
  // Then a burst: big batches go beside the one in flight.
  await Promise.all(range(1000, 1400).map((index) => batcher.submit('a', index)));
  expect(record.maxPerKey).toBeGreaterThan(1);
  await batcher.close();
});
