import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIEM_SOURCES, type SiemSource } from '../gateway/siem';
import { runbookById } from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { fixtureText, makeCanaries, type Canaries } from './fixtures/siem/canaries';
import {
  post,
  send,
  signedHeaders,
  startGatewayStack,
  workflowIds,
  type Answer,
  type GatewayStack,
} from './fixtures/gateway/stack';

let stack: GatewayStack;
let canaries: Canaries;

beforeAll(async () => {
  canaries = makeCanaries();
  // Every source enabled; no approvals, so each incident runs every step and closes: the most history to search.
  stack = await startGatewayStack({ runbook: withoutApprovals(runbookById('leaked-workflow-secret')) });
});

afterAll(async () => {
  await stack?.stop();
});

/** One body per source carrying the same leaked token (besides the fixture's own canaries). */
function bodiesWithToken(token: string): Record<SiemSource, string> {
  const load = <T>(source: SiemSource, name: string) => JSON.parse(fixtureText(source, name, canaries)) as T;
  const github = load<{ alert: Record<string, unknown> }>('github', 'secret-scanning-alert-created');
  github.alert.secret = token;
  const gitguardian = load<{ occurrence: Record<string, unknown> }>('gitguardian', 'new-occurrence');
  gitguardian.occurrence.matches = [{ type: 'apikey', match: token }];
  const azure = load<{ data: { essentials: { description: string } } }>('azure-monitor', 'sentinel-playbook');
  azure.data.essentials.description += ` and later GITHUB_TOKEN=${token}`;
  const datadog = load<{ message: string }>('datadog', 'cloud-siem-signal');
  datadog.message += ` (log line: Authorization: token ${token})`;
  const elastic = load<{ alerts: { message: string }[] }>('elastic', 'detection-rule-webhook');
  elastic.alerts[0].message += ` and ${token}`;
  return {
    generic: fixtureText('generic', 'alert-with-secret', canaries),
    github: JSON.stringify(github),
    gitguardian: JSON.stringify(gitguardian),
    splunk: fixtureText('splunk', 'webhook-alert', canaries),
    'azure-monitor': JSON.stringify(azure),
    datadog: JSON.stringify(datadog),
    elastic: JSON.stringify(elastic),
  };
}

/** Every string and byte array in a history, bytes decoded as UTF-8: payloads are JSON inside bytes. */
function historyText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) historyText(item, out);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      historyText(item, out);
    }
  }
  return out;
}

test('a leaked value sent through every source never reaches Temporal history, its SQLite file, the logs or /metrics', async () => {
  const token = canaries.githubToken;
  const answers: Answer[] = [];
  for (const [source, body] of Object.entries(bodiesWithToken(token)) as [SiemSource, string][]) {
    const answer = await send(stack, source, body);
    expect({ source, status: answer.status }).toEqual({ source, status: 202 });
    answers.push(answer);
  }
  // Refused requests carrying it too: bad JSON, bad signature, as a bearer token, as the source name, too large.
  const unsigned = `{"secret": "${token}", "broken": `;
  answers.push(await send(stack, 'generic', unsigned));
  answers.push(await post(stack.url, 'generic', unsigned, signedHeaders('generic', 'wrong', unsigned)));
  answers.push(await post(stack.url, 'splunk', '{}', { authorization: `Bearer ${token}` }));
  answers.push(await post(stack.url, token, '{}', { 'content-type': 'application/json' }));
  const big = JSON.stringify({ secret: token, pad: 'x'.repeat(1024 * 1024) });
  answers.push(await send(stack, 'generic', big));
  expect(answers.slice(-5).map((answer) => answer.status)).toEqual([400, 401, 401, 404, 413]);

  // Let every incident run to its end, so the history holds every step's parameters and results.
  const ids = await workflowIds(stack);
  expect(ids.length).toBeGreaterThanOrEqual(1);
  const closed = await Promise.all(
    ids.map((id) => stack.temporal.client.workflow.getHandle(id).result() as Promise<{ state: string }>),
  );
  expect(closed.map((status) => status.state)).toEqual(ids.map(() => 'completed'));

  const needles: string[] = [
    token,
    ...Object.values(canaries),
    ...Object.values(stack.secrets),
    Buffer.from(stack.secrets['azure-monitor']).toString('base64'),
  ];
  const histories: string[] = [];
  for (const id of ids) {
    const history = await stack.temporal.client.workflow.getHandle(id).fetchHistory();
    histories.push(historyText(history).join('\n'));
  }
  const historyDump = histories.join('\n');
  // Positive controls: the history does hold the alerts and the keyed fingerprints.
  expect(historyDump).toContain('acme/payments#42');
  expect(historyDump).toMatch(/"fingerprint":"[0-9a-f]{64}"/);

  const sqliteDir = join(stack.temporal.dataDir, 'temporal');
  const sqlite = ['temporal.sqlite', 'temporal.sqlite-wal'].map((file) => {
    try {
      return readFileSync(join(sqliteDir, file));
    } catch {
      return Buffer.alloc(0);
    }
  });
  expect(sqlite.some((bytes) => bytes.includes('acme/payments#42'))).toBe(true);

  const logs = `${stack.logs.text()}\n${stack.workerLogs.text()}`;
  expect(stack.logs.lines().some((line) => line.msg === 'incident created from SIEM alerts')).toBe(true);
  expect(stack.logs.lines().some((line) => line.msg === 'SIEM webhook refused')).toBe(true);
  const metrics = await (await fetch(`${stack.url}/metrics`)).text();
  expect(metrics).toContain('tourniquet_siem_alerts_accepted_total{source="azure-monitor"} 1');
  const responses = JSON.stringify(answers);

  for (const needle of needles) {
    const found = {
      history: historyDump.includes(needle),
      sqlite: sqlite.some((bytes) => bytes.includes(needle)),
      logs: logs.includes(needle),
      metrics: metrics.includes(needle),
      responses: responses.includes(needle),
    };
    expect({ needle: needle.slice(0, 6), ...found }).toEqual({
      needle: needle.slice(0, 6),
      history: false,
      sqlite: false,
      logs: false,
      metrics: false,
      responses: false,
    });
  }
  // Nor does a fingerprint or an incident id become a metric label.
  for (const id of ids) expect(metrics).not.toContain(id.slice('incident-'.length));
  expect(SIEM_SOURCES.every((source) => metrics.includes(`source="${source}"`))).toBe(true);
});
