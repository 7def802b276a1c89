import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { seededRandom } from './support';

/**
 * Seeded mutations of JSON payloads and raw bodies for the endpoint fuzzers, and a small HTTP client that sends
 * them with bounded parallelism. Every request draws from its own generator, seeded from the run's seed and the
 * request's name, so one failing request can be rebuilt alone (`requestRandom(seed, name)`).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A generator for one request: same seed and name, same bytes. */
export function requestRandom(seed: number, ...name: (string | number)[]): () => number {
  const digest = createHash('sha256')
    .update(`${seed}:${name.join(':')}`)
    .digest();
  return seededRandom(digest.readUInt32LE(0));
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** Strings a parser, a schema or a log line might choke on. */
export const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '%s%s%s%n',
  '${jndi:ldap://127.0.0.1/x}',
  '{{incident.id}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  "'; DROP TABLE incidents; --",
  '\u202eevil',
  // Slack ids of real owners in the fixtures: a mutation may turn a click into an owner's.
  'U0IAM1',
  'U0IAM2',
  '1e309',
  '-0',
  'null',
  'true',
  '__proto__',
  '9'.repeat(400),
];

/** Nesting far beyond what any payload has: recursive code must refuse it, not overflow. */
export const DEEP_NESTING = 100_000;

export function deeplyNested(depth = DEEP_NESTING, open = '[', close = ']'): string {
  return `${open.repeat(depth)}${close.repeat(depth)}`;
}

function randomString(random: () => number): string {
  const roll = random();
  if (roll < 0.5) return pick(random, NASTY_STRINGS);
  if (roll < 0.9) {
    const length = Math.floor(random() * 64);
    return Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 0x2fff))).join('');
  }
  // Long, though within every body limit on its own.
  return 'x'.repeat(Math.floor(random() * 100_000));
}

export function randomValue(random: () => number, depth = 0): Json {
  const roll = random();
  if (roll < 0.15) return null;
  if (roll < 0.25) return random() < 0.5;
  if (roll < 0.4) return pick(random, [0, -1, 1.5, 2 ** 53 + 1, -(2 ** 31), 1e308, Number.MAX_SAFE_INTEGER]);
  if (roll < 0.7 || depth > 3) return randomString(random);
  if (roll < 0.85)
    return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  if (roll < 0.97) {
    return Object.fromEntries(
      Array.from({ length: Math.floor(random() * 4) }, () => [
        randomString(random).slice(0, 20),
        randomValue(random, depth + 1),
      ]),
    );
  }
  // Deep nesting, built iteratively, which recursive code must survive.
  let nested: Json = 'bottom';
  for (let level = 0; level < 2_000; level += 1) nested = random() < 0.5 ? [nested] : { n: nested };
  return nested;
}

/**
 * Paths (keys and indexes) to values inside `value`, down to `maxDepth`, where the payloads' real fields live.
 * Iterative: a mutated value may already nest thousands of levels deep.
 */
export function paths(root: Json, maxDepth = 12): (string | number)[][] {
  const found: (string | number)[][] = [];
  const pending: { value: Json; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    found.push(path);
    if (path.length >= maxDepth || value === null || typeof value !== 'object') continue;
    const entries: [string | number, Json][] = Array.isArray(value)
      ? value.map((item, index): [number, Json] => [index, item])
      : Object.entries(value);
    for (const [key, item] of entries) pending.push({ value: item, path: [...path, key] });
  }
  return found;
}

/** One to three random edits of a copy of `value`: delete, retype, replace, add hostile keys. */
export function mutateJson(value: unknown, random: () => number): unknown {
  let root = structuredClone(value) as Json;
  const edits = 1 + Math.floor(random() * 3);
  for (let edit = 0; edit < edits; edit += 1) {
    const path = pick(random, paths(root));
    if (path.length === 0) {
      // The whole payload: rarely replaced (most edits should reach the fields), else left for the next edit.
      if (random() < 0.15) root = randomValue(random);
      continue;
    }
    let parent: Json = root;
    for (const part of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[part];
    const key = path[path.length - 1];
    const container = parent as Record<string | number, Json>;
    const roll = random();
    if (roll < 0.25) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete container[key];
    } else if (roll < 0.85) container[key] = randomValue(random);
    else if (!Array.isArray(parent)) {
      // Keys a careless merge would honour.
      Object.defineProperty(container, pick(random, ['__proto__', 'constructor', 'prototype']), {
        value: { polluted: true, isAdmin: true },
        enumerable: true,
        configurable: true,
        writable: true,
      });
    } else parent.push(randomValue(random));
  }
  return root;
}

/** A raw body that is not what the endpoint expects: random bytes, truncated text, another encoding, nesting. */
export function garbageBody(random: () => number, valid: string): Buffer {
  const roll = random();
  if (roll < 0.25)
    return Buffer.from(Array.from({ length: Math.floor(random() * 2048) }, () => Math.floor(random() * 256)));
  if (roll < 0.5) {
    // Cut inside the document (a cut in trailing whitespace would leave it whole).
    const whole = valid.trimEnd();
    return Buffer.from(whole.slice(0, Math.floor(random() * (whole.length - 1))));
  }
  if (roll < 0.65) return Buffer.from(valid, 'utf16le');
  if (roll < 0.8) return Buffer.from(`${valid}${valid}`);
  if (roll < 0.9) return Buffer.from(deeplyNested(Math.floor(1_000 + random() * DEEP_NESTING)));
  return Buffer.from(deeplyNested(Math.floor(1_000 + random() * DEEP_NESTING), '{"a":', '}'));
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Keep-alive sockets for every fuzzed request; requests beyond them queue in the agent. */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * POSTs exactly these bytes. `chunked` sends no content-length, so a size limit must be enforced while reading.
 * A request not answered within `timeoutMs` rejects: a hung gateway is a failure, not a slow test.
 */
export function postRaw(
  url: string,
  body: Buffer,
  /** An array value is sent as that header repeated. */
  headers: Record<string, string | string[]>,
  options: { chunked?: boolean; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: options.chunked
          ? { ...headers, 'transfer-encoding': 'chunked' }
          : { ...headers, 'content-length': String(body.length) },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    if (options.chunked) {
      // A few chunks, so the server sees a stream rather than one buffer.
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let offset = 0; offset < body.length; offset += step)
        req.write(body.subarray(offset, offset + step));
      req.end();
    } else req.end(body);
  });
}

/**
 * Runs `task(0..count-1)` with at most `parallel` in flight, in index order. The task builds its request
 * synchronously from its own seeded generator, so what is sent never depends on timing.
 */
export async function inParallel<T>(
  count: number,
  parallel: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return results;
}

/** `{ 400: 12, 401: 30 }` for a report line. */
export function histogram(values: (number | string)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
