import { incidentAlertIds, incidentStatus } from '../client';
import { fixtureText, makeCanaries, type Canaries } from './fixtures/siem/canaries';
import {
  historyEventCount,
  send,
  startGatewayStack,
  workflowIds,
  type Answer,
  type GatewayStack,
} from './fixtures/gateway/stack';
import type { SiemSource } from '../gateway/siem';

let stack: GatewayStack;
let canaries: Canaries;

beforeAll(async () => {
  canaries = makeCanaries();
  stack = await startGatewayStack({ enabled: ['generic', 'github', 'gitguardian'] });
});

afterAll(async () => {
  await stack?.stop();
});

/** Alert `index` about the one leaked token, from one of three detectors, each with its own alert id. */
function stormAlert(index: number): { source: SiemSource; body: string; alertId: string } {
  const token = canaries.githubToken;
  switch (index % 3) {
    case 0: {
      const body = JSON.parse(fixtureText('generic', 'alert-with-secret', canaries)) as Record<
        string,
        unknown
      >;
      body.alertId = `storm-generic-${index}`;
      return { source: 'generic', body: JSON.stringify(body), alertId: `storm-generic-${index}` };
    }
    case 1: {
      const body = JSON.parse(fixtureText('github', 'secret-scanning-alert-created', canaries)) as {
        alert: Record<string, unknown>;
      };
      body.alert.number = index + 1;
      body.alert.secret = token;
      return { source: 'github', body: JSON.stringify(body), alertId: `acme/payments#${index + 1}` };
    }
    default: {
      const body = JSON.parse(fixtureText('gitguardian', 'new-occurrence', canaries)) as {
        incident: Record<string, unknown>;
        occurrence: Record<string, unknown>;
      };
      body.incident.id = 500_000 + index;
      body.occurrence.matches = [{ type: 'apikey', match: token }];
      return { source: 'gitguardian', body: JSON.stringify(body), alertId: String(500_000 + index) };
    }
  }
}

test('2,000 concurrent alerts about one secret from three detectors: one incident, every alert recorded, bounded history', async () => {
  const alerts = Array.from({ length: 2000 }, (_, index) => stormAlert(index));
  const startedAt = Date.now();
  const answers: Answer[] = await Promise.all(alerts.map((alert) => send(stack, alert.source, alert.body)));
  const elapsedMs = Date.now() - startedAt;

  const unexpected = answers.filter((answer) => answer.status !== 202);
  expect(unexpected.slice(0, 3)).toEqual([]);
  const incidentIds = new Set(answers.map((answer) => answer.body.incidentId));
  expect(incidentIds.size).toBe(1);
  const [incidentId] = [...incidentIds] as string[];
  expect(incidentId).toMatch(/^incident-[0-9a-f]{24}$/);
  const created = answers.filter((answer) => answer.body.status === 'created').length;
  const joined = answers.filter((answer) => answer.body.status === 'joined').length;
  // The first alert opens the incident on its own; every other one joins it.
  expect(created).toBe(1);
  expect(joined).toBe(1999);

  expect(await workflowIds(stack)).toEqual([incidentId]);
  const recorded = await incidentAlertIds(stack.temporal.client, incidentId);
  expect([...recorded].sort()).toEqual(alerts.map((alert) => alert.alertId).sort());

  // Several batches were in flight at once, each with its own seal and nonce: every one's details were taken in.
  const status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.alerts.count).toBe(2000);
  expect(status.flags).not.toContain('unsigned-alert-details-ignored');

  const events = await historyEventCount(stack, incidentId);
  expect(events).toBeLessThan(300);

  const metrics = await (await fetch(`${stack.url}/metrics`)).text();
  const batches = /^tourniquet_siem_batch_alerts_count (\d+)/m.exec(metrics)?.[1];
  expect(metrics).toMatch(/^tourniquet_siem_incidents_created_total\{source="\w+"\} 1$/m);
  const accepted = [...metrics.matchAll(/^tourniquet_siem_alerts_accepted_total\{source="\w+"\} (\d+)$/gm)];
  expect(accepted.reduce((sum, match) => sum + Number(match[1]), 0)).toBe(2000);

  process.stderr.write(
    `storm: 2000 alerts in ${elapsedMs} ms, ${batches} attachAlerts updates, ${events} history events\n`,
  );
});
