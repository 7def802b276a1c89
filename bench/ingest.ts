/**
 * SIEM ingest under an alert storm, end to end.
 *
 *   npx tsx bench/ingest.ts [--alerts 10000] [--secrets 1000] [--concurrency 256,1024] [--distinct-concurrency 64]
 *                           [--distinct-within 10] [--compiled yes|no]
 *
 * Starts the real stack as users run it (`tourniquet up` from the compiled build unless `--compiled no`: Temporal
 * dev server on SQLite, worker and gateway in one process, SIEM_SECRET_GENERIC set) and, from this process, posts signed generic alerts over loopback with
 * a bounded number of connections:
 *   1. `--alerts` alerts about ONE secret (distinct alert ids, the same leaked value), once per `--concurrency`
 *      value (closed loop: each connection sends its next alert when the previous one is answered);
 *   2. `--secrets` alerts about as many distinct secrets (each opens an incident), posted at an even pace over
 *      `--distinct-within` seconds with at most `--distinct-concurrency` in flight, not retried (a 503 is a miss);
 *      then, per incident, the time from its alert to its first containment call (the simulated journal).
 * Then the same two loads against a bare node:http server (a child process) that only checks the HMAC, and
 * prints alerts/s, ack latency, incidents created, history events per incident and the gateway/bare ratio.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { authenticateSiemRequest, createReplayCache, signGenericAlert } from '../gateway/siem';
import { workflowBundlePath } from '../test/harness/temporal';
import { freePort } from '../test/harness/ports';
import { buildState } from '../bin/build-state';

const ROOT = join(__dirname, '..');
const argsSchema = z.object({
  alerts: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  secrets: z.coerce.number().int().min(0).max(100_000).default(1_000),
  /** Closed-loop connections; a comma-separated list runs the one-secret storm once per value. */
  concurrency: z
    .string()
    .default('256,1024')
    .transform((value) => value.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(4_096)).min(1)),
  /** New incidents are limited by how fast the worker runs their first workflow task, not by HTTP. */
  distinctConcurrency: z.coerce.number().int().min(1).max(4_096).default(64),
  /** The distinct secrets are posted at an even pace over this many seconds (0: as fast as answered). */
  distinctWithin: z.coerce.number().min(0).max(3_600).default(10),
  /** Run `tourniquet up` from the compiled build (`npm run build`); `no`: from the sources through tsx. */
  compiled: z.enum(['yes', 'no']).default('yes'),
});
export type IngestArgs = z.infer<typeof argsSchema>;
type Args = IngestArgs;

function parseArgs(argv: string[]): Args {
  const raw: Record<string, string> = {};
  for (let index = 0; index < argv.length; index += 1) {
    const match = /^--([\w-]+)$/.exec(argv[index]);
    if (match && argv[index + 1] !== undefined) {
      raw[match[1].replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase())] = argv[(index += 1)];
    }
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function fakeToken(): string {
  let token = 'ghp_';
  for (let index = 0; index < 36; index += 1) token += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return token;
}

function alertBody(alertId: string, secret: string): string {
  return JSON.stringify({
    alertId,
    detector: 'bench-log-scanner',
    secretKind: 'github_personal_access_token',
    secret,
    severity: 'critical',
    observedAt: new Date().toISOString(),
    location: {
      url: 'https://github.com/acme/payments/actions/runs/9012345678/job/24712345678',
      repository: 'acme/payments',
      workflow: '.github/workflows/deploy.yml',
      runId: '9012345678',
    },
  });
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

export interface LoadResult {
  alerts: number;
  seconds: number;
  perSecond: number;
  /** From the first attempt to the final answer, retries included. */
  p50: number;
  p99: number;
  /** Final answers. */
  statuses: Record<string, number>;
  /** 503 answers that were retried after their Retry-After. */
  retried: number;
  created: number;
  incidentIds: Set<string>;
  /** Per incident named in an answer: when its first alert was first sent (epoch ms). */
  firstSentAt: Map<string, number>;
  /** When each "created" answer arrived (epoch ms), and when the load began. */
  createdAt: number[];
  startedAtEpoch: number;
}

interface Answer {
  status: number;
  incidentId?: string;
  created: boolean;
  retryAfterMs?: number;
}

/**
 * Posts every body with at most `concurrency` requests in flight, each signed just before it is sent. With
 * `retry`, a 503 is sent again (signed afresh) after its Retry-After, like a sender that must not drop alerts.
 * With `withinMs`, body i is not sent before i × withinMs / bodies after the start (an even pace, open loop while
 * connections are free).
 */
async function load(
  url: string,
  secret: string,
  bodies: string[],
  concurrency: number,
  options: { retry?: boolean; withinMs?: number } = {},
): Promise<LoadResult> {
  const { retry = false, withinMs = 0 } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const incidentIds = new Set<string>();
  const firstSentAt = new Map<string, number>();
  const createdAt: number[] = [];
  let created = 0;
  let retried = 0;
  let next = 0;
  const attempt = (payload: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${url}/webhooks/siem/generic`,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': String(payload.length),
            ...signGenericAlert(secret, payload),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let answer: { incidentId?: string; status?: string } = {};
            try {
              answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof answer;
            } catch {
              // the bare server answers an empty body
            }
            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              incidentId: answer.incidentId,
              created: answer.status === 'created',
              retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const one = async (body: string, index: number): Promise<void> => {
    const payload = Buffer.from(body, 'utf8');
    const due = startedAtEpoch + (index * withinMs) / bodies.length;
    if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const sentAt = Date.now();
    const startedAt = performance.now();
    let answer = await attempt(payload);
    for (let tries = 1; retry && answer.status === 503 && tries < 20; tries += 1) {
      retried += 1;
      await new Promise((resolve) => setTimeout(resolve, answer.retryAfterMs ?? 1000));
      answer = await attempt(payload);
    }
    latencies.push(performance.now() - startedAt);
    statuses[String(answer.status)] = (statuses[String(answer.status)] ?? 0) + 1;
    if (answer.incidentId) {
      incidentIds.add(answer.incidentId);
      if (!firstSentAt.has(answer.incidentId) || firstSentAt.get(answer.incidentId)! > sentAt)
        firstSentAt.set(answer.incidentId, sentAt);
    }
    if (answer.created) {
      created += 1;
      createdAt.push(Date.now());
    }
  };
  const startedAtEpoch = Date.now();
  const workers = Array.from({ length: Math.min(concurrency, bodies.length) }, async () => {
    while (next < bodies.length) {
      const index = next++;
      await one(bodies[index], index);
    }
  });
  const startedAt = performance.now();
  await Promise.all(workers);
  const seconds = (performance.now() - startedAt) / 1000;
  agent.destroy();
  return {
    alerts: bodies.length,
    seconds,
    perSecond: bodies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    retried,
    created,
    incidentIds,
    firstSentAt,
    createdAt,
    startedAtEpoch,
  };
}

/** The baseline: node:http, read the body, check the HMAC (the same function the gateway uses), answer 202. */
async function runBareServer(): Promise<void> {
  const secret = process.env.SIEM_SECRET_GENERIC ?? '';
  const replayCache = createReplayCache();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const auth = authenticateSiemRequest('generic', req.headers, Buffer.concat(chunks), {
        secrets: { generic: secret },
        replayCache,
      });
      res.writeHead(auth.ok ? 202 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
  process.once('disconnect', () => server.close(() => process.exit(0)));
}

async function startBareServer(secret: string): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(__filename, ['--bare-server'], {
    env: { ...process.env, SIEM_SECRET_GENERIC: secret },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

interface Stack {
  child: ChildProcess;
  url: string;
  temporalAddress: string;
  dataDir: string;
  stop(): Promise<void>;
}

async function startStack(secret: string, compiled: boolean): Promise<Stack> {
  if (compiled && buildState() !== 'current') throw new Error('dist/ is not a current build: npm run build');
  const dataDir = mkdtempSync(join(tmpdir(), 'tourniquet-bench-ingest-'));
  const port = await freePort();
  const temporalPort = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tourniquet.js'), 'up'], {
    env: {
      ...process.env,
      TOURNIQUET_DATA_DIR: dataDir,
      TOURNIQUET_PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(await freePort()),
      ...(compiled
        ? { TOURNIQUET_FROM_SOURCE: '0' }
        : { TOURNIQUET_FROM_SOURCE: '1', TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath() }),
      TOURNIQUET_LOG_LEVEL: 'warn',
      SIEM_SECRET_GENERIC: secret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 180_000;
  while (!output.includes('Press Ctrl-C')) {
    if (child.exitCode !== null) throw new Error(`tourniquet up exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`tourniquet up did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    temporalAddress: `127.0.0.1:${temporalPort}`,
    dataDir,
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * When each incident's first containment call happened: the first entry of the simulated providers' journal (in
 * the stack's data dir) for it. Waits up to a minute for every incident to have one.
 */
async function firstCallTimes(dataDir: string, incidentIds: Set<string>): Promise<Map<string, number>> {
  const first = new Map<string, number>();
  const journal = join(dataDir, 'simulated', 'journal.jsonl');
  const deadline = Date.now() + 60_000;
  for (;;) {
    first.clear();
    const text = existsSync(journal) ? readFileSync(journal, 'utf8') : '';
    for (const line of text.split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { at: string; incidentId: string };
      const at = Date.parse(entry.at);
      if (incidentIds.has(entry.incidentId) && !(first.get(entry.incidentId)! <= at))
        first.set(entry.incidentId, at);
    }
    if (first.size >= incidentIds.size || Date.now() > deadline) return first;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function historyEvents(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events?.length ?? 0;
}

/** Updates sent so far and the alerts they carried, from the gateway's own /metrics. */
async function scrapeBatches(url: string): Promise<{ batches: number; alerts: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    batches: value('tourniquet_siem_batch_alerts_count'),
    alerts: value('tourniquet_siem_batch_alerts_sum'),
  };
}

function row(name: string, concurrency: number, result: LoadResult, extra: string[]): string {
  return `| ${[
    name,
    String(concurrency),
    String(result.alerts),
    result.perSecond.toFixed(0),
    `${result.p50.toFixed(0)} ms`,
    `${result.p99.toFixed(0)} ms`,
    Object.entries(result.statuses)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ') + (result.retried > 0 ? ` (${result.retried} retried 503)` : ''),
    ...extra,
  ].join(' | ')} |`;
}

export interface StormResult {
  concurrency: number;
  gateway: LoadResult;
  bare: LoadResult;
  /** Incidents the storm's answers named: must be exactly one. */
  incidents: number;
  historyEvents?: number;
  /** `attachAlerts` Updates the gateway sent for the storm (its /metrics). */
  updates: number;
}

export interface IngestResult {
  alertsPerStorm: number;
  storms: StormResult[];
  distinct?: {
    concurrency: number;
    /** The pace: every alert was due within this many seconds of the first. */
    withinSeconds: number;
    gateway: LoadResult;
    bare: LoadResult;
    incidents: number;
    meanHistoryEvents: number;
    /** Alert first sent → the incident's first containment call (the simulated journal's first entry), ms. */
    firstCall: { n: number; p50: number; p99: number; max: number; missing: number };
    /** "created" answers per second, from the first alert sent to the last incident created. */
    creationPerSecond: number;
    /**
     * Incidents Temporal started for the burst (its workflows started after the first alert was sent), answered
     * `created` or not (a 503 may come after the start went through), and how fast: count / (last start − first alert).
     */
    started: { incidents: number; perSecond: number };
  };
  /** Workflows in Temporal at the end: one per storm plus one per distinct secret, if nothing was duplicated. */
  workflows: number;
}

/**
 * Runs the storms and the distinct-secret load against the bare baseline first (alone on the machine: the
 * HTTP + HMAC ceiling of this box), then against `tourniquet up`.
 */
export async function benchIngest(
  options: Partial<Args> = {},
  log: (line: string) => void = () => undefined,
): Promise<IngestResult> {
  const args: Args = { ...argsSchema.parse({}), ...options };
  const secret = randomBytes(24).toString('hex');
  const runId = Date.now().toString(36);
  // One storm per concurrency level, each about its own secret (so each opens exactly one incident).
  const storms = args.concurrency.map((concurrency) => {
    const leaked = fakeToken();
    return {
      concurrency,
      bodies: Array.from({ length: args.alerts }, (_, index) =>
        alertBody(`bench-${runId}-c${concurrency}-${index}`, leaked),
      ),
    };
  });
  const distinct = Array.from({ length: args.secrets }, (_, index) =>
    alertBody(`bench-${runId}-distinct-${index}`, fakeToken()),
  );

  const bare = await startBareServer(secret);
  const bareStorms: LoadResult[] = [];
  for (const storm of storms) bareStorms.push(await load(bare.url, secret, storm.bodies, storm.concurrency));
  const bareDistinct =
    args.secrets > 0
      ? await load(bare.url, secret, distinct, args.distinctConcurrency, {
          withinMs: args.distinctWithin * 1000,
        })
      : undefined;
  bare.child.disconnect();

  log('starting tourniquet up …');
  const stack = await startStack(secret, args.compiled === 'yes');
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  try {
    const result: IngestResult = { alertsPerStorm: args.alerts, storms: [], workflows: 0 };
    let batchesBefore = 0;
    for (const [index, storm] of storms.entries()) {
      const gateway = await load(stack.url, secret, storm.bodies, storm.concurrency);
      const batches = (await scrapeBatches(stack.url)).batches;
      const incidents = [...gateway.incidentIds];
      result.storms.push({
        concurrency: storm.concurrency,
        gateway,
        bare: bareStorms[index],
        incidents: incidents.length,
        ...(incidents.length === 1 ? { historyEvents: await historyEvents(client, incidents[0]) } : {}),
        updates: batches - batchesBefore,
      });
      batchesBefore = batches;
    }
    if (bareDistinct) {
      // No retry: a 503 is a miss here (every alert of the burst must be accepted the first time).
      const gateway = await load(stack.url, secret, distinct, args.distinctConcurrency, {
        withinMs: args.distinctWithin * 1000,
      });
      const sample = [...gateway.incidentIds].slice(0, 50);
      const events = await Promise.all(sample.map((id) => historyEvents(client, id)));
      const firstCalls = await firstCallTimes(stack.dataDir, gateway.incidentIds);
      const delays = [...gateway.firstSentAt].flatMap(([id, sentAt]) => {
        const calledAt = firstCalls.get(id);
        return calledAt === undefined ? [] : [calledAt - sentAt];
      });
      const lastCreated = Math.max(...gateway.createdAt);
      const startTimes: number[] = [];
      for await (const execution of client.workflow.list()) {
        const at = execution.startTime.getTime();
        if (at >= gateway.startedAtEpoch) startTimes.push(at);
      }
      result.distinct = {
        concurrency: args.distinctConcurrency,
        withinSeconds: args.distinctWithin,
        gateway,
        bare: bareDistinct,
        incidents: gateway.incidentIds.size,
        meanHistoryEvents: events.reduce((sum, value) => sum + value, 0) / (sample.length || 1),
        firstCall: {
          n: delays.length,
          p50: percentile(delays, 50),
          p99: percentile(delays, 99),
          max: Math.max(...delays),
          missing: gateway.incidentIds.size - delays.length,
        },
        creationPerSecond: gateway.created / ((lastCreated - gateway.startedAtEpoch) / 1000),
        started: {
          incidents: startTimes.length,
          perSecond: startTimes.length / ((Math.max(...startTimes) - gateway.startedAtEpoch) / 1000),
        },
      };
    }
    for await (const _execution of client.workflow.list()) result.workflows += 1;
    return result;
  } finally {
    await connection.close().catch(() => undefined);
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cpu = cpus();
  const load1 = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' / ');
  process.stdout.write(
    `machine: ${cpu.length} vCPU ${cpu[0]?.model.trim() ?? ''}, Node ${process.version}, load ${load1()}\n`,
  );
  const result = await benchIngest(args, (line) => process.stdout.write(`${line}\n`));
  const lines = [
    '',
    `| load | connections | alerts | alerts/s | p50 ack | p99 ack | answers | incidents | history events / incident | updates |`,
    `| ---- | ----------: | -----: | -------: | ------: | ------: | ------- | --------: | -----------------------: | ------: |`,
    ...result.storms.map((storm) =>
      row('gateway, one secret', storm.concurrency, storm.gateway, [
        String(storm.incidents),
        storm.historyEvents === undefined ? 'n/a' : String(storm.historyEvents),
        String(storm.updates),
      ]),
    ),
    ...(result.distinct
      ? [
          row('gateway, distinct secrets', result.distinct.concurrency, result.distinct.gateway, [
            String(result.distinct.incidents),
            `${result.distinct.meanHistoryEvents.toFixed(0)} (mean of ≤ 50)`,
            '–',
          ]),
        ]
      : []),
    ...result.storms.map((storm) =>
      row('bare node:http + HMAC', storm.concurrency, storm.bare, ['–', '–', '–']),
    ),
    ...(result.distinct
      ? [row('bare node:http + HMAC', result.distinct.concurrency, result.distinct.bare, ['–', '–', '–'])]
      : []),
    '',
    ...result.storms.map(
      (storm) =>
        `concurrency ${storm.concurrency}: gateway / bare ${(storm.gateway.perSecond / storm.bare.perSecond).toFixed(2)}, ` +
        `${storm.gateway.created} request(s) answered "created"`,
    ),
    ...(result.distinct
      ? [
          `distinct secrets within ${result.distinct.withinSeconds} s: alert → first containment call p50 ${result.distinct.firstCall.p50.toFixed(0)} ms, p99 ${result.distinct.firstCall.p99.toFixed(0)} ms, max ${result.distinct.firstCall.max.toFixed(0)} ms (${result.distinct.firstCall.missing} without a call); ${result.distinct.creationPerSecond.toFixed(1)} incidents answered "created"/s; ${result.distinct.started.incidents} incidents started by Temporal, ${result.distinct.started.perSecond.toFixed(1)}/s`,
        ]
      : []),
    `workflows in Temporal: ${result.workflows}; load average after: ${load1()}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv.includes('--bare-server')) {
  void runBareServer();
} else if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
