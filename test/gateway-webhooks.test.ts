import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connectorFor } from '../gateway/ingest';
import { startGateway } from '../gateway/server';
import { normalizeSiemAlert, type SiemSource } from '../gateway/siem';
import { createSiemWebhooks } from '../gateway/webhooks';
import { incidentAlertIds, incidentStatus } from '../client';
import { runCli } from './harness/cli';
import {
  cancelForTest,
  runbookById,
  TASK_QUEUE,
  TEST_FINGERPRINT_KEY,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { fixtureText, makeCanaries, type Canaries } from './fixtures/siem/canaries';
import {
  CapturedLogs,
  post,
  send,
  signedHeaders,
  startGatewayStack,
  workflowIds,
  type GatewayStack,
} from './fixtures/gateway/stack';

let stack: GatewayStack;
let canaries: Canaries;
const ENABLED: SiemSource[] = ['generic', 'github', 'gitguardian', 'splunk'];

beforeAll(async () => {
  canaries = makeCanaries();
  // No approvals: an incident runs to its end by itself, so the test can reach "closed and contained".
  stack = await startGatewayStack({
    runbook: withoutApprovals(runbookById('leaked-workflow-secret')),
    enabled: ENABLED,
  });
});

afterAll(async () => {
  await stack?.stop();
});

let sequence = 0;
/** A generic alert about `secret` (a fresh token by default), with a unique alert id. */
function genericAlert(overrides: Record<string, unknown> = {}, secret = makeCanaries().githubToken): string {
  sequence += 1;
  const body = JSON.parse(fixtureText('generic', 'alert-with-secret', canaries)) as Record<string, unknown>;
  return JSON.stringify({ ...body, secret, alertId: `webhook-test-${sequence}`, ...overrides });
}

function metricValue(text: string, series: string): number {
  const escaped = series.replace(/[{}"=,.\\]/g, (char) => `\\${char}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

async function metrics(): Promise<string> {
  return (await fetch(`${stack.url}/metrics`)).text();
}

describe('refused requests start nothing', () => {
  test('every authentication failure answers 401 (or 404 for a source that is not configured)', async () => {
    const body = genericAlert();
    const now = Math.floor(Date.now() / 1000);
    const { secrets } = stack;
    const cases: { name: string; source: string; headers: Record<string, string>; status: number }[] = [
      {
        name: 'generic: signed with another secret',
        source: 'generic',
        headers: signedHeaders('generic', 'not-the-secret', body),
        status: 401,
      },
      {
        name: 'generic: no signature',
        source: 'generic',
        headers: { 'content-type': 'application/json', 'x-tourniquet-timestamp': String(now) },
        status: 401,
      },
      {
        name: 'generic: stale timestamp (10 minutes old)',
        source: 'generic',
        headers: signedHeaders('generic', secrets.generic, body, now - 600),
        status: 401,
      },
      {
        name: 'generic: timestamp 10 minutes in the future',
        source: 'generic',
        headers: signedHeaders('generic', secrets.generic, body, now + 600),
        status: 401,
      },
      {
        name: 'generic: signature over other bytes',
        source: 'generic',
        headers: signedHeaders('generic', secrets.generic, `${body} `),
        status: 401,
      },
      {
        name: 'github: wrong webhook secret',
        source: 'github',
        headers: signedHeaders('github', 'not-the-secret', body),
        status: 401,
      },
      {
        name: 'gitguardian: wrong signature token',
        source: 'gitguardian',
        headers: signedHeaders('gitguardian', 'not-the-secret', body),
        status: 401,
      },
      {
        name: 'splunk: wrong bearer token',
        source: 'splunk',
        headers: signedHeaders('splunk', 'not-the-token', body),
        status: 401,
      },
      {
        name: 'splunk: no Authorization header',
        source: 'splunk',
        headers: { 'content-type': 'application/json' },
        status: 401,
      },
      {
        name: 'datadog: not configured',
        source: 'datadog',
        headers: signedHeaders('datadog', stack.secrets.datadog, body),
        status: 404,
      },
      {
        name: 'an unknown source',
        source: 'pagerduty',
        headers: signedHeaders('generic', secrets.generic, body),
        status: 404,
      },
    ];
    for (const { name, source, headers, status } of cases) {
      const answer = await post(stack.url, source, body, headers);
      expect({ name, status: answer.status }).toEqual({ name, status });
    }
    const unauthorized = await post(stack.url, 'generic', body, signedHeaders('generic', 'wrong', body));
    expect(unauthorized.body).toEqual({
      error: 'unauthorized',
      message: 'x-tourniquet-signature does not match',
    });
  });

  test('a replayed signature is refused; so is a delivery signed for one source sent to another', async () => {
    // A resolved GitGuardian incident is valid and authenticated but starts nothing, so it can be replayed.
    const body = fixtureText('gitguardian', 'incident-resolved', canaries);
    const headers = signedHeaders('gitguardian', stack.secrets.gitguardian, body);
    const first = await post(stack.url, 'gitguardian', body, headers);
    expect(first).toEqual({
      status: 202,
      body: { status: 'ignored', lifecycle: 'resolved', reason: 'no open incident for this alert' },
    });
    const replay = await post(stack.url, 'gitguardian', body, headers);
    expect(replay.status).toBe(401);
    expect(replay.body.message).toMatch(/replayed/);

    const generic = genericAlert();
    const signed = signedHeaders('generic', stack.secrets.generic, generic);
    expect((await post(stack.url, 'github', generic, signed)).status).toBe(401);
  });

  test('a body over 1 MiB answers 413, declared or streamed; a malformed body answers 400 naming the field', async () => {
    const big = `{"pad":"${'x'.repeat(1024 * 1024)}"}`;
    const tooLarge = await post(
      stack.url,
      'generic',
      big,
      signedHeaders('generic', stack.secrets.generic, big),
    );
    expect(tooLarge).toEqual({ status: 413, body: { error: 'body too large', limit: 1048576 } });

    // Chunked, no content-length: the gateway stops reading at the limit.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${stack.url}/webhooks/siem/generic`,
        { method: 'POST', headers: signedHeaders('generic', stack.secrets.generic, big) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let offset = 0; offset < big.length; offset += 64 * 1024)
        req.write(big.slice(offset, offset + 64 * 1024));
      req.end();
    });
    expect(streamed).toBe(413);

    const malformed: { name: string; source: SiemSource; body: string; field: string }[] = [
      { name: 'not JSON', source: 'generic', body: `{"secret": "${canaries.githubToken}"`, field: '(body)' },
      {
        name: 'generic without detector',
        source: 'generic',
        body: (() => {
          const alert = JSON.parse(genericAlert()) as Record<string, unknown>;
          delete alert.detector;
          return JSON.stringify(alert);
        })(),
        field: 'detector',
      },
      {
        name: 'generic with an unknown field',
        source: 'generic',
        body: genericAlert({ extra: 1 }),
        field: 'extra',
      },
      {
        name: 'generic with a bad severity',
        source: 'generic',
        body: genericAlert({ severity: 'sev0' }),
        field: 'severity',
      },
      {
        name: "github with an alert number GitHub's schema would not send (a string)",
        source: 'github',
        body: (() => {
          const event = JSON.parse(fixtureText('github', 'secret-scanning-alert-created', canaries)) as {
            alert: Record<string, unknown>;
          };
          event.alert.number = '42';
          return JSON.stringify(event);
        })(),
        field: 'alert.number',
      },
      { name: 'a JSON array', source: 'gitguardian', body: '[]', field: '(body)' },
    ];
    for (const { name, source, body, field } of malformed) {
      const answer = await send(stack, source, body);
      expect({ name, status: answer.status, field: answer.body.field }).toEqual({ name, status: 400, field });
    }
    // The parser's message would quote the body: the answer never does.
    const invalid = await send(stack, 'generic', `{"secret": "${canaries.githubToken}" `);
    expect(JSON.stringify(invalid.body)).not.toContain(canaries.githubToken);
  });

  test('none of the refused requests started a workflow, and /metrics counts them by reason', async () => {
    expect(await workflowIds(stack)).toEqual([]);
    const text = await metrics();
    expect(
      metricValue(text, 'tourniquet_siem_alerts_rejected_total{source="generic",reason="unauthorized"}'),
    ).toBeGreaterThanOrEqual(6);
    expect(
      metricValue(text, 'tourniquet_siem_alerts_rejected_total{source="unknown",reason="unknown_source"}'),
    ).toBe(1);
    expect(
      metricValue(text, 'tourniquet_siem_alerts_rejected_total{source="datadog",reason="unknown_source"}'),
    ).toBe(1);
    expect(
      metricValue(text, 'tourniquet_siem_alerts_rejected_total{source="generic",reason="too_large"}'),
    ).toBe(2);
    expect(
      metricValue(text, 'tourniquet_siem_alerts_rejected_total{source="generic",reason="invalid_json"}'),
    ).toBe(2);
    expect(
      metricValue(text, 'tourniquet_siem_alerts_ignored_total{source="gitguardian",lifecycle="resolved"}'),
    ).toBe(1);
    expect(metricValue(text, 'tourniquet_siem_incidents_created_total{source="generic"}')).toBe(0);
    expect(text).not.toContain('pagerduty');
  });
});

describe('raised alerts open one incident per secret', () => {
  test('the first alert creates the incident, later ones join it, with the runbook input mapped from the alert', async () => {
    const token = makeCanaries().githubToken;
    const first = await send(stack, 'generic', genericAlert({}, token));
    expect(first.status).toBe(202);
    expect(first.body).toEqual({
      incidentId: expect.stringMatching(/^incident-[0-9a-f]{24}$/),
      status: 'created',
    });
    const incidentId = first.body.incidentId as string;

    // GitHub secret scanning about the same value joins it; a resolved event about it starts nothing.
    const event = JSON.parse(fixtureText('github', 'secret-scanning-alert-created', canaries)) as {
      alert: Record<string, unknown>;
    };
    event.alert.secret = token;
    event.alert.number = 4242;
    const second = await send(stack, 'github', JSON.stringify(event));
    expect(second).toEqual({ status: 202, body: { incidentId, status: 'joined' } });

    const status = await incidentStatus(stack.temporal.client, incidentId);
    expect(status.connector).toBe('github:acme/payments/.github/workflows/deploy.yml');
    expect(status.severity).toBe('critical');
    expect(status.runbookId).toBe('leaked-workflow-secret');
    expect(status.alerts).toEqual({
      count: 2,
      sources: { generic: 1, github: 1 },
      latest: [`webhook-test-${sequence}`, 'acme/payments#4242'],
    });
    expect(await incidentAlertIds(stack.temporal.client, incidentId)).toEqual([
      `webhook-test-${sequence}`,
      'acme/payments#4242',
    ]);
    const description = await stack.temporal.client.workflow.getHandle(incidentId).describe();
    expect(description.taskQueue).toBe(TASK_QUEUE);
  });

  test('a closed, contained incident is joined (closed: true) and never started again; a cancelled one is', async () => {
    const token = makeCanaries().githubToken;
    const first = await send(stack, 'generic', genericAlert({}, token));
    expect(first.body.status).toBe('created');
    const incidentId = first.body.incidentId as string;
    const handle = stack.temporal.client.workflow.getHandle(incidentId);
    const result = (await handle.result()) as { state: string };
    expect(result.state).toBe('completed');
    const { runId } = await handle.describe();

    const again = await send(stack, 'generic', genericAlert({}, token));
    expect(again).toEqual({ status: 202, body: { incidentId, status: 'joined', closed: true } });
    expect((await stack.temporal.client.workflow.getHandle(incidentId).describe()).runId).toBe(runId);
    let runs = 0;
    for await (const execution of stack.temporal.client.workflow.list({
      query: `WorkflowId = '${incidentId}'`,
    })) {
      if (execution.workflowId === incidentId) runs += 1;
    }
    expect(runs).toBe(1);

    // A cancelled incident did not contain anything: the next alert starts it again.
    const other = makeCanaries().githubToken;
    const opened = await send(stack, 'generic', genericAlert({}, other));
    const otherId = opened.body.incidentId as string;
    await cancelForTest(stack.temporal.client, otherId);
    await waitFor(async () =>
      (await stack.temporal.client.workflow.getHandle(otherId).describe()).status.name === 'COMPLETED' &&
      (await incidentStatus(stack.temporal.client, otherId)).state === 'cancelled'
        ? true
        : undefined,
    );
    const reopened = await send(stack, 'generic', genericAlert({}, other));
    expect(reopened).toEqual({ status: 202, body: { incidentId: otherId, status: 'created' } });
    const text = await metrics();
    expect(metricValue(text, 'tourniquet_siem_incidents_joined_total{source="generic",closed="true"}')).toBe(
      1,
    );
  });

  test('connectors: a platform connector when it names one, else the GitHub workflow where it leaked, else simulated', () => {
    const connectorOf = (source: SiemSource, name: string, edit = (text: string) => text) => {
      const normalized = normalizeSiemAlert(source, JSON.parse(edit(fixtureText(source, name, canaries))), {
        fingerprintKey: TEST_FINGERPRINT_KEY,
      });
      if (!normalized.ok) throw new Error(normalized.field);
      return connectorFor(normalized.alert);
    };
    expect(connectorOf('generic', 'alert-with-secret')).toBe(
      'github:acme/payments/.github/workflows/deploy.yml',
    );
    expect(connectorOf('splunk', 'webhook-alert')).toBe('github:acme/payments/deploy.yml');
    expect(connectorOf('datadog', 'cloud-siem-signal')).toBe('github:acme/infra/terraform-apply.yml');
    expect(connectorOf('azure-monitor', 'sentinel-playbook')).toBe('n8n:workflow-42');
    // A platform this build has no provider for: simulated, never guessed.
    expect(
      connectorOf('azure-monitor', 'sentinel-playbook', (text) =>
        text.replace('n8n:workflow-42', 'zapier:zap-42'),
      ),
    ).toBe('simulated:azure-monitor');
    expect(connectorOf('github', 'secret-scanning-alert-created')).toBe('github:acme/payments');
  });
});

test('Temporal unreachable: 503 with Retry-After, and the sender may retry the same signed delivery', async () => {
  const logs = new CapturedLogs();
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const webhooks = createSiemWebhooks({
    client: new Client({ connection }),
    taskQueue: TASK_QUEUE,
    runbook: runbookById('leaked-workflow-secret'),
    fingerprintKey: TEST_FINGERPRINT_KEY,
    gatewayKey: TEST_GATEWAY_KEY.privateKey,
    secrets: { generic: stack.secrets.generic },
    logger: logs.logger,
    flushTimeoutMs: 1_000,
  });
  const gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    logger: logs.logger,
    temporalHealthy: () => Promise.resolve(false),
    mount: (app) => webhooks.mount(app),
  });
  try {
    const body = genericAlert();
    const headers = signedHeaders('generic', stack.secrets.generic, body);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(`${gateway.url}/webhooks/siem/generic`, { method: 'POST', headers, body });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
    }
  } finally {
    await webhooks.close();
    await gateway.close();
    await connection.close().catch(() => undefined);
  }
});

describe('tourniquet alert send', () => {
  test('signs and posts a generic alert, prints the answer; errors are one line with a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tourniquet-alert-'));
    const file = join(dir, 'alert.json');
    writeFileSync(file, genericAlert());
    const env = { SIEM_SECRET_GENERIC: stack.secrets.generic, TOURNIQUET_DATA_DIR: dir };
    const sent = await runCli(
      ['alert', 'send', '--source', 'generic', '--file', file, '--url', stack.url],
      env,
    );
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toEqual({
      incidentId: expect.stringMatching(/^incident-[0-9a-f]{24}$/),
      status: 'created',
    });

    writeFileSync(join(dir, 'bad.json'), genericAlert({ severity: 'sev0' }));
    writeFileSync(join(dir, 'broken.json'), `{"secret": "${canaries.githubToken}"`);
    // In parallel: each run starts a CLI process.
    const [refused, noSecret, notJson, unreachable] = await Promise.all([
      runCli(['alert', 'send', '--file', join(dir, 'bad.json'), '--url', stack.url], env),
      runCli(['alert', 'send', '--file', file, '--url', stack.url, '--secret-env', 'NOPE_NOT_SET'], env),
      runCli(['alert', 'send', '--file', join(dir, 'broken.json'), '--url', stack.url], env),
      runCli(['alert', 'send', '--file', file, '--url', 'http://127.0.0.1:1'], env),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^tourniquet: gateway answered 400: severity: .+\n$/);
    expect(noSecret).toEqual({
      code: 2,
      stdout: '',
      stderr: 'tourniquet: --secret-env: NOPE_NOT_SET is not set\n',
    });
    expect(notJson).toEqual({
      code: 2,
      stdout: '',
      stderr: `tourniquet: --file: ${join(dir, 'broken.json')} is not valid JSON\n`,
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^tourniquet: cannot reach the gateway at http:\/\/127\.0\.0\.1:1.*\n$/,
    );
  });
});
