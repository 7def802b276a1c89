import { readFileSync } from 'node:fs';
import { incidentAlertIds } from '../client';
import { runbookById } from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { sampleGitHubDeliveries, sampleSeed } from './fixtures/siem/github-samples';
import {
  post,
  signedHeaders,
  startGatewayStack,
  workflowIds,
  type Answer,
  type GatewayStack,
} from './fixtures/gateway/stack';

/**
 * Issue #16: the gateway answers GitHub as GitHub expects. The bodies are GitHub's own examples (its webhook
 * description, `@octokit/openapi-webhooks`, as shown on https://docs.github.com/webhooks/webhook-events-and-payloads)
 * and samples of each secret-scanning schema, signed with the hook's secret and posted over HTTP.
 */
const SPEC = JSON.parse(
  readFileSync(require.resolve('@octokit/openapi-webhooks/generated/api.github.com.json'), 'utf8'),
) as { components: { examples: Record<string, { value: Record<string, unknown> }> } };
const example = (name: string) => structuredClone(SPEC.components.examples[name].value);

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack({
    runbook: withoutApprovals(runbookById('leaked-workflow-secret')),
    enabled: ['github'],
  });
});

afterAll(async () => {
  await stack?.stop();
});

let deliveries = 0;
/** A delivery as GitHub sends it: its event, a fresh delivery id unless one is given, the body's signature. */
function deliver(
  event: string,
  body: unknown,
  delivery = `d${(deliveries += 1)}-0000-4000-8000-000000000000`,
) {
  const text = JSON.stringify(body);
  return post(stack.url, 'github', text, {
    ...signedHeaders('github', stack.secrets.github, text),
    'x-github-event': event,
    'x-github-delivery': delivery,
  });
}

/** GitHub's documented location example as a `secret_scanning_alert` of one action, about alert `number`. */
function alertEvent(action: string, number: number): Record<string, unknown> {
  const body = example('secret-scanning-alert-location-created') as Record<string, Record<string, unknown>>;
  delete (body as Record<string, unknown>).location;
  delete body.alert.secret;
  (body as Record<string, unknown>).action = action;
  body.alert.number = number;
  return body;
}

test("the hook's ping answers 200 and starts nothing; another event is ignored by name", async () => {
  const before = (await workflowIds(stack)).length;
  expect(await deliver('ping', example('ping'))).toEqual({ status: 200, body: { status: 'pong' } });
  expect(await deliver('push', { ref: 'refs/heads/main' })).toEqual({
    status: 202,
    body: { status: 'ignored', reason: 'not a secret-scanning event' },
  });
  // A ping still needs the hook's signature.
  const text = JSON.stringify(example('ping'));
  const unsigned = await post(stack.url, 'github', text, {
    'content-type': 'application/json',
    'x-github-event': 'ping',
    'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
  });
  expect(unsigned.status).toBe(401);
  expect((await workflowIds(stack)).length).toBe(before);
});

test('a redelivery (same X-GitHub-Delivery, same bytes) is told its incident and counted once', async () => {
  const body = alertEvent('created', 9001);
  const first = await deliver('secret_scanning_alert', body, 'a1b2c3d4-0000-4000-8000-000000000001');
  expect(first).toMatchObject({ status: 202, body: { status: 'created' } });
  const incidentId = first.body.incidentId as string;
  // GitHub's "Redeliver", and two copies in flight at once.
  const again = await Promise.all(
    [1, 2, 3].map(() => deliver('secret_scanning_alert', body, 'a1b2c3d4-0000-4000-8000-000000000001')),
  );
  for (const answer of again)
    expect(answer).toEqual({ status: 202, body: { incidentId, status: 'duplicate' } });
  expect(await incidentAlertIds(stack.temporal.client, incidentId)).toEqual([
    'octocat-repo/hello-world#9001',
  ]);

  // The id is not signed: reusing it on another body (a different action) cannot hide that alert.
  const reopened = await deliver(
    'secret_scanning_alert',
    alertEvent('reopened', 9001),
    'a1b2c3d4-0000-4000-8000-000000000001',
  );
  expect(reopened).toMatchObject({ status: 202, body: { incidentId, status: 'joined' } });
  expect(await incidentAlertIds(stack.temporal.client, incidentId)).toHaveLength(2);
});

test('validity confirmed active opens or joins at critical; a resolution is not containment', async () => {
  const validated = alertEvent('validated', 9002);
  (validated.alert as Record<string, unknown>).validity = 'active';
  const opened = await deliver('secret_scanning_alert', validated);
  expect(opened).toMatchObject({ status: 202, body: { status: 'created' } });
  const resolved = alertEvent('resolved', 9002);
  Object.assign(resolved.alert as object, { resolution: 'revoked', state: 'resolved' });
  expect(await deliver('secret_scanning_alert', resolved)).toMatchObject({ status: 202 });
});

test('property: every body a secret-scanning schema allows gets 202 (never 4xx or 5xx); every created one is an incident', async () => {
  const seed = sampleSeed();
  const samples = sampleGitHubDeliveries(seed, 6);
  const wrong: string[] = [];
  for (const { webhook, event, action, body } of samples) {
    const answer: Answer = await deliver(event, body);
    const incident = (answer.body.incidentId as string | undefined)?.startsWith('incident-');
    if (answer.status !== 202 || (action === 'created' && !incident)) {
      wrong.push(`${webhook} (seed ${seed}): ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  }
  expect(wrong).toEqual([]);
  expect(samples.length).toBeGreaterThan(20);
});
