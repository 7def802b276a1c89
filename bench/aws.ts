/**
 * Benchmark 6: alert → AWS access key deactivated on moto, no human in the loop.
 *
 * A real moto server (auth enforced) holds one IAM user and access key per sample. Each sample is one leaked key
 * pair, one at a time:
 *  - Tourniquet: a signed generic SIEM alert carrying the pair is posted to the real gateway routes (HMAC, scrubbing,
 *    the credential inventory, which knows the key id), which start the `leaked-cloud-key` incident on the real
 *    Temporal dev server; the production worker in this process, live, with the real aws-iam provider (and the file
 *    destination, so the rotation waits for its owner instead of ending not-configured), quarantines the user and
 *    deactivates the key. Once the steps that need nobody are done the incident is terminated, so every sample starts
 *    from an idle system; or
 *  - direct (baseline): one AWS SDK `UpdateAccessKey` call (Status Inactive) on another user's key, same moto.
 * A sample ends when moto has answered the `UpdateAccessKey … Status=Inactive` request for that key: every AWS request
 * goes through a pass-through HTTP proxy in this process that notes `performance.now()` when moto's answer has been
 * relayed. Tourniquet and direct samples alternate, so both see the same machine load (and the same proxy).
 */
import { randomUUID } from 'node:crypto';
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { CredentialResolver } from '../client/credentials';
import { startGateway } from '../gateway/server';
import { createSiemWebhooks } from '../gateway/webhooks';
import { signGenericAlert } from '../gateway/siem';
import { buildInventory, validateInventory } from '../lib/inventory';
import { PROVIDER_DIRECTORY } from '../providers';
import { awsIamOptionsFromEnv } from '../providers/aws-iam/options';
import { createAwsIamProvider } from '../providers/aws-iam/provider';
import { createFileDestinationProvider } from '../providers/file/destination';
import { createProviderRegistry } from '../providers/registry';
import { runbookById, TEST_FINGERPRINT_KEY, TEST_GATEWAY_KEY } from '../test/harness/incidents';
import { startMoto, type MotoServer } from '../test/harness/moto';
import { silentLogger } from '../test/harness/worker';
import { startStack, startWorker, type BenchStack } from './lib/stack';
import { quiescent, unattendedSteps } from './lib/quiescent';
import { summarize, type Summary } from './lib/stats';

export interface AwsResult {
  /** POST of the alert → moto answered UpdateAccessKey(Inactive) for its key. */
  temporal: Summary;
  /** SDK UpdateAccessKey sent → moto answered it, through the same proxy. */
  direct: Summary;
  /** POST → the gateway answered 202 (the incident is started). */
  acked: Summary;
  /** The deactivation step's activity started → moto answered (the provider's own calls; ms-precision clocks). */
  activity: Summary;
  warmup: number;
}

const TASK_QUEUE = 'bench-aws';
const RUNBOOK = 'leaked-cloud-key';
const DEACTIVATE_STEP = 'deactivate-leaked-key';
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300);
const SIEM_SECRET = `bench-generic-${randomUUID()}`;

interface KeyPair {
  user: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Seen on moto: when (performance.now() and wall clock) its answer to a deactivation of `accessKeyId` was relayed. */
type Deactivation = { accessKeyId: string; at: number; wall: number };

/**
 * A pass-through proxy in front of moto: every byte forwarded unchanged (SigV4 signs the Host header, which is
 * forwarded as sent), and each answered `UpdateAccessKey` with `Status=Inactive` reported once its answer is relayed.
 */
async function startMotoProxy(
  moto: MotoServer,
  observe: (seen: Deactivation) => void,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const upstream = new URL(moto.endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString('utf8'));
      const deactivating =
        form.get('Action') === 'UpdateAccessKey' && form.get('Status') === 'Inactive'
          ? form.get('AccessKeyId')
          : null;
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => {
            if (deactivating && answer.statusCode === 200) {
              observe({ accessKeyId: deactivating, at: performance.now(), wall: Date.now() });
            }
          });
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function createKeys(iam: IAMClient, prefix: string, count: number): Promise<KeyPair[]> {
  const pairs: KeyPair[] = [];
  for (let index = 0; index < count; index += 1) {
    const user = `${prefix}-${index}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    pairs.push({ user, accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
  }
  return pairs;
}

/** `promise`, or an error naming `what` once `ms` have passed: a sample that never completes must end the run. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not seen on moto within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** POST a signed generic alert; resolves with the answer (status, body) once it is fully read. */
function postAlert(
  url: string,
  body: string,
  agent: Agent,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = Buffer.from(body, 'utf8');
  const headers = {
    'content-type': 'application/json',
    'content-length': String(payload.length),
    ...signGenericAlert(SIEM_SECRET, payload),
  };
  return new Promise((resolve, reject) => {
    const req = request(`${url}/webhooks/siem/generic`, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function benchAws(options: { alerts: number; warmup: number }): Promise<AwsResult> {
  const total = options.warmup + options.alerts;
  const moto = await startMoto();
  const waiting = new Map<string, (seen: Deactivation) => void>();
  const proxy = await startMotoProxy(moto, (seen) => waiting.get(seen.accessKeyId)?.(seen));
  const seenOnMoto = (accessKeyId: string) =>
    new Promise<Deactivation>((resolve) =>
      waiting.set(accessKeyId, (seen) => {
        waiting.delete(accessKeyId);
        resolve(seen);
      }),
    );
  const admin = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.admin });
  const direct = new IAMClient({ endpoint: proxy.endpoint, region: moto.region, credentials: moto.admin });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let stack: BenchStack | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  try {
    // One user and key per sample, each path its own: nothing a sample changes is seen by another.
    const alerted = await createKeys(admin, 'bench-alerted', total);
    const called = await createKeys(admin, 'bench-direct', total);
    const validated = validateInventory(
      {
        credentials: alerted.map((pair, index) => ({
          id: `bench-aws-${index}`,
          kind: 'aws-access-key',
          issuer: `aws-iam:${moto.accountId}/${pair.user}`,
          consumers: [
            { provider: 'file', target: `bench/${pair.user}/access-key-id`, part: 'accessKeyId' },
            { provider: 'file', target: `bench/${pair.user}/secret-access-key`, part: 'secretAccessKey' },
          ],
          owners: ['iam'],
          identifiers: { awsAccessKeyId: pair.accessKeyId },
        })),
      },
      { providers: PROVIDER_DIRECTORY },
    );
    if (!validated.ok) throw new Error(`bench inventory: ${JSON.stringify(validated.issues[0])}`);

    stack = await startStack();
    const awsOptions = awsIamOptionsFromEnv({
      TOURNIQUET_AWS_ACCOUNT_ID: moto.accountId,
      TOURNIQUET_AWS_ENDPOINT: proxy.endpoint,
      AWS_REGION: moto.region,
    })!;
    const files = createFileDestinationProvider({ baseDirectory: `${stack.dataDir}/bench-destinations` });
    const registry = createProviderRegistry({
      real: [
        createAwsIamProvider({ ...awsOptions, credentials: { ...moto.admin }, secretReaders: {} }),
        files,
      ],
      journal: stack.journal,
      mode: 'live',
    });
    const worker = await startWorker({ stack, taskQueue: TASK_QUEUE, registry });
    stops.push(() => worker.stop());
    const runbook = runbookById(RUNBOOK);
    const webhooks = createSiemWebhooks({
      client: stack.temporal.client,
      taskQueue: TASK_QUEUE,
      runbook,
      fingerprintKey: TEST_FINGERPRINT_KEY,
      gatewayKey: TEST_GATEWAY_KEY.privateKey,
      secrets: { generic: SIEM_SECRET },
      logger: silentLogger,
      credentials: new CredentialResolver(buildInventory(validated.inventory.credentials), stack.dataDir),
    });
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      temporalHealthy: () => Promise.resolve(true),
      mount: (app) => webhooks.mount(app),
    });
    stops.unshift(
      () => webhooks.close(),
      () => gateway.close(),
    );
    const unattended = unattendedSteps(runbook);

    const temporal: number[] = [];
    const directSamples: number[] = [];
    const acked: number[] = [];
    const activity: number[] = [];
    for (let index = 0; index < total; index += 1) {
      const measured = index >= options.warmup;

      // Tourniquet: the alert goes through the gateway; the worker deactivates the key.
      const pair = alerted[index];
      const body = JSON.stringify({
        alertId: `bench-${randomUUID()}`,
        detector: 'bench',
        secretKind: 'aws_secret_access_key',
        secret: pair.secretAccessKey,
        accessKeyId: pair.accessKeyId,
        severity: 'critical',
        observedAt: new Date().toISOString(),
        location: { url: `https://ci.example.com/bench/${index}` },
      });
      const seen = seenOnMoto(pair.accessKeyId);
      const t0 = performance.now();
      const answer = await postAlert(gateway.url, body, agent);
      const answeredAt = performance.now();
      if (answer.status !== 202 || answer.body.status !== 'created') {
        throw new Error(`alert ${index}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      const deactivated = await within(seen, 20_000, `alert ${index}`);
      const incidentId = answer.body.incidentId as string;
      const settled = await quiescent(stack, incidentId, unattended, {
        timeoutMs: 20_000,
        settled: (status) => {
          const deactivate = status.steps.find((step) => step.id === DEACTIVATE_STEP)!;
          if (deactivate.state !== 'succeeded') {
            throw new Error(
              `${incidentId}: ${DEACTIVATE_STEP} ${deactivate.state}: ${deactivate.error ?? ''}`,
            );
          }
        },
      });
      const stepStartedAt = settled.steps.find((step) => step.id === DEACTIVATE_STEP)!.startedAt!;
      if (measured) {
        temporal.push(deactivated.at - t0);
        acked.push(answeredAt - t0);
        activity.push(deactivated.wall - Date.parse(stepStartedAt));
      }
      await stack.temporal.client.workflow.getHandle(incidentId).terminate('benchmark sample taken');
      await sleep(SETTLE_MS);

      // Direct: one SDK call on another user's key, through the same proxy to the same moto.
      const target = called[index];
      const directSeen = seenOnMoto(target.accessKeyId);
      const d0 = performance.now();
      await direct.send(
        new UpdateAccessKeyCommand({
          UserName: target.user,
          AccessKeyId: target.accessKeyId,
          Status: 'Inactive',
        }),
      );
      const directAt = await within(directSeen, 20_000, `direct call ${index}`);
      if (measured) directSamples.push(directAt.at - d0);
    }
    return {
      temporal: summarize(temporal),
      direct: summarize(directSamples),
      acked: summarize(acked),
      activity: summarize(activity),
      warmup: options.warmup,
    };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await stack?.stop();
    agent.destroy();
    admin.destroy();
    direct.destroy();
    await proxy.close();
    await moto.stop();
  }
}
