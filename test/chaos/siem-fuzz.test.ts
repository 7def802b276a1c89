import { createHash } from 'node:crypto';
import { SIEM_SOURCES, type SiemSource } from '../../gateway/siem';
import { MAX_BODY_BYTES } from '../../gateway/webhooks';
import { historyText } from '../harness/history';
import { makeCanaries, fixtureNames, fixtureText, type Canaries } from '../fixtures/siem/canaries';
import { signedHeaders, startGatewayStack, workflowIds, type GatewayStack } from '../fixtures/gateway/stack';
import {
  garbageBody,
  histogram,
  inParallel,
  mutateJson,
  pick,
  postRaw,
  randomValue,
  requestRandom,
  type HttpAnswer,
} from './fuzz';
import { CHAOS_SEED, recordChaos, report } from './support';

/**
 * Seeded fuzzing of `POST /webhooks/siem/:source`, CHAOS_SIEM_FUZZ (default 5,000) requests per source: unsigned,
 * wrongly signed, stale, garbage, oversized, odd headers, random JSON and structurally mutated (correctly
 * signed) bodies. The gateway must answer every one without a server error; what it could not authenticate, or
 * cannot read as an alert, it refuses (4xx, naming the field) and starts nothing from; a mutated alert that is
 * authenticated and still valid may open or join an incident, and exactly the incidents its 2xx answers name
 * as created exist afterwards. No leaked value is echoed or logged, and the gateway still works.
 *
 * Request `i` of source `s` is built from `requestRandom(CHAOS_SEED, 'siem', s, i)` alone: a failure names its
 * seed, source and index, and `CHAOS_SEED=<seed>` replays the same bytes.
 */

const PER_SOURCE = Number(process.env.CHAOS_SIEM_FUZZ ?? 5_000);
const PARALLEL = Number(process.env.CHAOS_SIEM_FUZZ_PARALLEL ?? 48);
/** Sources whose signature covers a timestamp: a stale one can be forged, and a replayed one is refused. */
const TIMESTAMPED: readonly SiemSource[] = ['generic', 'gitguardian'];
/** Sources that sign the body (HMAC); the others present a token, which does not depend on the body. */
const BODY_SIGNED: readonly SiemSource[] = ['generic', 'github', 'gitguardian'];
/** The header each source authenticates with, to repeat it. */
const AUTH_HEADER: Record<SiemSource, string> = {
  generic: 'x-tourniquet-signature',
  github: 'x-hub-signature-256',
  gitguardian: 'gitguardian-signature',
  splunk: 'authorization',
  'azure-monitor': 'authorization',
  elastic: 'authorization',
  datadog: 'authorization',
};

const KINDS = [
  'unsigned',
  'wrong-secret',
  'stale',
  'garbage-unsigned',
  'garbage-signed',
  'oversized',
  'odd-headers',
  'random-signed',
  'mutated-signed',
] as const;
type Kind = (typeof KINDS)[number];
/** Kinds that fail authentication (or are refused before it): the answer is 401, 413 or 415, never 2xx. */
const UNAUTHENTICATED: readonly Kind[] = ['unsigned', 'wrong-secret', 'stale', 'garbage-unsigned'];

interface Planned {
  kind: Kind;
  body: Buffer;
  headers: Record<string, string | string[]>;
  chunked?: boolean;
  /** What the kind must be answered with, when that is fixed. */
  expect?: number;
}

interface Sent {
  source: SiemSource;
  index: number;
  kind: Kind;
  /** sha256 of the body: a replayed body of a timestamped source may be refused as a replay. */
  digest: string;
  bytes: number;
  expect?: number;
  answer?: { status: number; body: Record<string, unknown> };
  error?: string;
  ms: number;
}

let stack: GatewayStack;
let canaries: Canaries;
/** No incident here must complete: what valid fuzzed alerts open waits for approvals, reported on its own line. */
const counts = { faultsInjected: 0, incidentsStarted: 0, incidentsCompleted: 0, duplicatesFound: 0 };

beforeAll(async () => {
  canaries = makeCanaries();
  stack = await startGatewayStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  recordChaos('SIEM endpoint fuzz', counts);
});

function plan(source: SiemSource, valid: string, random: () => number): Planned {
  const secret = stack.secrets[source];
  const signed = (body: string | Buffer, timestamp?: number) =>
    signedHeaders(source, secret, body, timestamp);
  const mutated = () => JSON.stringify(mutateJson(JSON.parse(valid), random));
  const roll = random();
  if (roll < 0.08) {
    // No credentials, or (for body-signing sources) a correct signature made for another body.
    const body = mutated();
    const replayed = BODY_SIGNED.includes(source) && random() < 0.5;
    return {
      kind: 'unsigned',
      body: Buffer.from(body),
      headers: replayed ? signed(valid) : { 'content-type': 'application/json' },
      expect: 401,
    };
  }
  if (roll < 0.15) {
    const body = random() < 0.5 ? valid : mutated();
    const wrong = pick(random, [`${secret}-wrong`, '', secret.slice(0, -1), secret.toUpperCase()]);
    return {
      kind: 'wrong-secret',
      body: Buffer.from(body),
      headers: signedHeaders(source, wrong, body),
      expect: 401,
    };
  }
  if (roll < 0.2 && TIMESTAMPED.includes(source)) {
    const stale = Math.floor(Date.now() / 1000) - pick(random, [301, 3_600, 86_400 * 365]);
    return { kind: 'stale', body: Buffer.from(valid), headers: signed(valid, stale), expect: 401 };
  }
  if (roll < 0.27) {
    const body = garbageBody(random, valid);
    const headers: Record<string, string> = {
      'content-type': pick(random, ['application/json', 'text/plain']),
    };
    if (random() < 0.5)
      headers[AUTH_HEADER[source]] = pick(random, ['sha256=', 'Bearer ', 'Basic !!', 'v0=x', '\t']);
    return { kind: 'garbage-unsigned', body, headers, expect: 401 };
  }
  if (roll < 0.4) {
    const body = garbageBody(random, valid);
    return { kind: 'garbage-signed', body, headers: signed(body) };
  }
  if (roll < 0.43) {
    // Past the limit, declared up front or only found out while reading a chunked body; signed or not.
    const body = Buffer.from(
      JSON.stringify({
        ...(JSON.parse(valid) as object),
        padding: 'x'.repeat(MAX_BODY_BYTES + random() * 1000),
      }),
    );
    const headers = random() < 0.7 ? signed(body) : { 'content-type': 'application/json' };
    return { kind: 'oversized', body, headers, chunked: random() < 0.5, expect: 413 };
  }
  if (roll < 0.46) {
    // A compressed body the gateway does not inflate, or the credential twice (which one would count?).
    if (random() < 0.5) {
      return {
        kind: 'odd-headers',
        body: Buffer.from(valid),
        headers: {
          ...signed(valid),
          'content-encoding': pick(random, ['gzip', 'br', 'deflate', 'x-custom']),
        },
        expect: 415,
      };
    }
    // Node keeps the first of a repeated Authorization header and joins other repeated headers: either way a
    // wrong credential first must not let the right one behind it through.
    const headers: Record<string, string | string[]> = signed(valid);
    const name = AUTH_HEADER[source];
    const wrong = signedHeaders(source, `${secret}-wrong`, valid);
    headers[name] = [wrong[name], headers[name] as string];
    return { kind: 'odd-headers', body: Buffer.from(valid), headers, expect: 401 };
  }
  if (roll < 0.52) {
    const body = JSON.stringify(randomValue(random));
    return { kind: 'random-signed', body: Buffer.from(body), headers: signed(body) };
  }
  const body = mutated();
  return { kind: 'mutated-signed', body: Buffer.from(body), headers: signed(body) };
}

async function deliver(source: SiemSource, index: number, fixtures: string[]): Promise<Sent> {
  const random = requestRandom(CHAOS_SEED, 'siem', source, index);
  const planned = plan(source, pick(random, fixtures), random);
  const sent: Sent = {
    source,
    index,
    kind: planned.kind,
    digest: createHash('sha256').update(planned.body).digest('hex'),
    bytes: planned.body.length,
    ...(planned.expect ? { expect: planned.expect } : {}),
    ms: 0,
  };
  const startedAt = Date.now();
  try {
    const answer: HttpAnswer = await postRaw(
      `${stack.url}/webhooks/siem/${source}`,
      planned.body,
      planned.headers,
      { chunked: planned.chunked },
    );
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(answer.text) as Record<string, unknown>;
    } catch {
      body = { text: answer.text.slice(0, 500) };
    }
    sent.answer = { status: answer.status, body };
  } catch (error) {
    sent.error =
      error instanceof Error ? `${(error as { code?: string }).code ?? ''} ${error.message}` : String(error);
  }
  sent.ms = Date.now() - startedAt;
  return sent;
}

/** Why an answer is wrong for what was sent; undefined when it is right. */
function wrongAnswer(sent: Sent, replayable: Set<string>): string | undefined {
  if (sent.error) {
    // The gateway closes the connection after refusing an oversized body unread; the client may still be
    // writing it. That is the designed answer, not a failure.
    if (sent.kind === 'oversized' && /ECONNRESET|EPIPE/.test(sent.error)) return undefined;
    return `no answer: ${sent.error}`;
  }
  const { status, body } = sent.answer!;
  if (status >= 500) return `server error ${status}`;
  if (sent.expect !== undefined) return status === sent.expect ? undefined : `expected ${sent.expect}`;
  // A body past the limit is refused unread, whatever produced it.
  if (sent.bytes > MAX_BODY_BYTES) return status === 413 ? undefined : 'expected 413 (too large)';
  if (status === 202) {
    if (sent.kind === 'garbage-signed' && body.status !== 'ignored') return 'garbage accepted as an alert';
    if (body.status === 'ignored') return undefined;
    return (body.status === 'created' || body.status === 'joined') && typeof body.incidentId === 'string'
      ? undefined
      : '202 without an incident';
  }
  if (status === 401) {
    // Authenticated by its signature, but the same signature was already used: a replay, refused.
    return TIMESTAMPED.includes(sent.source) && replayable.has(`${sent.source} ${sent.digest}`)
      ? undefined
      : '401 for a correctly signed request that is no replay';
  }
  if (status === 400) {
    return typeof body.field === 'string' && body.field !== '' && typeof body.error === 'string'
      ? undefined
      : '400 without naming the field';
  }
  return `unexpected ${status}`;
}

test(`${PER_SOURCE} fuzzed requests per SIEM source (${SIEM_SOURCES.length} sources): no server error, nothing unauthenticated or invalid accepted, incidents only from valid alerts, no leaked value echoed or logged`, async () => {
  const startedAt = Date.now();
  const sent: Sent[] = [];
  for (const source of SIEM_SOURCES) {
    const fixtures = fixtureNames(source).map((name) => fixtureText(source, name, canaries));
    const sourceStarted = Date.now();
    const answers = await inParallel(PER_SOURCE, PARALLEL, (index) => deliver(source, index, fixtures));
    sent.push(...answers);
    report(
      `SIEM fuzz ${source}: ${answers.length} requests in ${((Date.now() - sourceStarted) / 1000).toFixed(1)} s → ${JSON.stringify(
        histogram(answers.map((entry) => entry.answer?.status ?? 'no answer')),
      )}`,
    );
  }
  counts.faultsInjected = sent.length;
  const byKind = (kind: Kind) => sent.filter((entry) => entry.kind === kind);
  report(
    `SIEM fuzz: ${sent.length} requests in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (seed ${CHAOS_SEED}); ${KINDS.map(
      (kind) =>
        `${kind} ${byKind(kind).length} → ${JSON.stringify(histogram(byKind(kind).map((entry) => entry.answer?.status ?? 'no answer')))} (mean ${Math.round(byKind(kind).reduce((sum, entry) => sum + entry.ms, 0) / Math.max(1, byKind(kind).length))} ms)`,
    ).join('; ')}`,
  );

  // Every answer is the right one for what was sent: no 5xx, nothing unauthenticated let through, every 400
  // names its field. A failure prints the seed, source and index that rebuild the request.
  const digests = histogram(sent.map((entry) => `${entry.source} ${entry.digest}`));
  const replayable = new Set(Object.keys(digests).filter((key) => digests[key] > 1));
  const wrong = sent
    .map((entry) => ({ entry, why: wrongAnswer(entry, replayable) }))
    .filter(({ why }) => why !== undefined)
    .map(
      ({ entry, why }) =>
        `${why}: CHAOS_SEED=${CHAOS_SEED} siem ${entry.source} #${entry.index} (${entry.kind}, ${entry.bytes} bytes) → ${entry.answer ? `${entry.answer.status} ${JSON.stringify(entry.answer.body).slice(0, 300)}` : entry.error}`,
    );
  if (wrong.length > 0)
    report(
      `SIEM fuzz: ${wrong.length} wrong answers (seed ${CHAOS_SEED}):\n${wrong.slice(0, 20).join('\n')}`,
    );
  expect(wrong.slice(0, 20)).toEqual([]);
  for (const kind of UNAUTHENTICATED) {
    expect(byKind(kind).filter((entry) => entry.answer && entry.answer.status < 400)).toEqual([]);
  }

  // Incidents: exactly those the 2xx answers said they created, one per answer that said so; joins land in
  // one of them. No 4xx answer started anything.
  const accepted = sent.filter((entry) => entry.answer?.status === 202);
  const created = accepted.filter((entry) => entry.answer!.body.status === 'created');
  const createdIds = new Set(created.map((entry) => entry.answer!.body.incidentId as string));
  const joinedIds = new Set(
    accepted
      .filter((entry) => entry.answer!.body.status === 'joined')
      .map((entry) => entry.answer!.body.incidentId as string),
  );
  const executions = await workflowIds(stack);
  const incidents = new Set(executions);
  report(
    `SIEM fuzz: ${accepted.length} authenticated valid alerts accepted (${created.length} created, ${accepted.length - created.length} joined or ignored); ${incidents.size} incidents opened, each named created by a 2xx answer (left waiting for approvals)`,
  );
  expect([...incidents].sort()).toEqual([...createdIds].sort());
  expect(executions).toHaveLength(incidents.size);
  expect(created).toHaveLength(createdIds.size);
  expect([...joinedIds].filter((id) => !incidents.has(id))).toEqual([]);

  // No leaked value in any answer, any log line, or any incident's history.
  const answers = JSON.stringify(sent.map((entry) => entry.answer));
  const logs = `${stack.logs.text()}\n${stack.workerLogs.text()}`;
  const histories = await Promise.all(
    [...incidents].map(async (id) =>
      historyText(await stack.temporal.client.workflow.getHandle(id).fetchHistory()),
    ),
  );
  for (const [name, value] of Object.entries(canaries)) {
    expect({ name, inAnswers: answers.includes(value), inLogs: logs.includes(value) }).toEqual({
      name,
      inAnswers: false,
      inLogs: false,
    });
    expect({ name, inHistories: histories.some((text) => text.includes(value)) }).toEqual({
      name,
      inHistories: false,
    });
  }
  // The gateway never failed on its own: nothing was logged as an internal error.
  expect(stack.logs.lines().filter((line) => (line.level as number) >= 50)).toEqual([]);

  // Still serving: healthy, metrics answer, and a genuine alert about a new secret opens exactly one incident,
  // which the same alert sent again joins.
  expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${stack.url}/metrics`)).status).toBe(200);
  const genuine = fixtureText('generic', 'alert-with-secret', makeCanaries());
  const now = Math.floor(Date.now() / 1000);
  const first = await postRaw(
    `${stack.url}/webhooks/siem/generic`,
    Buffer.from(genuine),
    signedHeaders('generic', stack.secrets.generic, genuine, now),
  );
  expect(first.status).toBe(202);
  const opened = JSON.parse(first.text) as { incidentId: string; status: string };
  expect(opened.status).toBe('created');
  expect(incidents.has(opened.incidentId)).toBe(false);
  const again = await postRaw(
    `${stack.url}/webhooks/siem/generic`,
    Buffer.from(genuine),
    signedHeaders('generic', stack.secrets.generic, genuine, now - 1),
  );
  expect(JSON.parse(again.text)).toMatchObject({ incidentId: opened.incidentId, status: 'joined' });
  const after = await workflowIds(stack);
  expect(after.filter((id) => !incidents.has(id))).toEqual([opened.incidentId]);
  report(`SIEM fuzz: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}, 540_000);
