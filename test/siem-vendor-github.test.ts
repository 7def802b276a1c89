import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deliveryKind, normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { checkGitHubDelivery, secretScanningWebhooks } from '../gateway/siem/adapters/github-webhook-schemas';
import { makeCanaries } from './fixtures/siem/canaries';
import { sampleGitHubDeliveries, sampleSeed } from './fixtures/siem/github-samples';

/**
 * Issue #16: GitHub deliveries as GitHub describes them. The examples are GitHub's own, from its webhook description
 * (`@octokit/openapi-webhooks`, `components.examples`), which is what
 * https://docs.github.com/webhooks/webhook-events-and-payloads#secret_scanning_alert_location and #ping show; the
 * other actions have no example there, so they are GitHub's example with the action changed, and samples of each
 * action's schema.
 */
const SPEC = JSON.parse(
  readFileSync(require.resolve('@octokit/openapi-webhooks/generated/api.github.com.json'), 'utf8'),
) as { components: { examples: Record<string, { value: Record<string, unknown> }> } };
const example = (name: string) =>
  structuredClone(SPEC.components.examples[name].value) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const fingerprintKey = randomBytes(32);
const normalize = (body: unknown, event?: string): NormalizeResult =>
  normalizeSiemAlert('github', body, {
    fingerprintKey,
    headers: event ? { 'x-github-event': event } : {},
  });

function accepted(result: NormalizeResult): Extract<NormalizeResult, { ok: true }> {
  if (!result.ok) throw new Error(`refused: ${result.field}: ${result.message}`);
  return result;
}

/** GitHub's documented location example, as a `secret_scanning_alert` of another action. */
function alertEvent(action: string, alert: Record<string, unknown> = {}): Record<string, unknown> {
  const body = example('secret-scanning-alert-location-created');
  delete body.location;
  body.action = action;
  // GitHub's example holds a placeholder secret; a real alert event carries none.
  delete body.alert.secret;
  Object.assign(body.alert, alert);
  return body;
}

describe("GitHub's documented examples", () => {
  test('the location example is schema-valid and raises a leak at the commit it names', () => {
    const body = example('secret-scanning-alert-location-created');
    expect(checkGitHubDelivery('secret_scanning_alert_location', body)).toEqual({
      webhook: 'secret-scanning-alert-location-created',
      drift: [],
    });
    const { alert, lifecycle, drift } = accepted(normalize(body, 'secret_scanning_alert_location'));
    expect(lifecycle).toBe('raised');
    expect(drift).toEqual([]);
    expect(alert.alertId).toBe('octocat-repo/hello-world#42');
    expect(alert.secretKind).toBe('mailchimp_api_key');
    expect(alert.locations[1].url).toBe(
      'https://github.com/octocat-repo/hello-world/blob/f14d7debf9775f957cf4f1e8176da0786431f72b/example/secrets.txt#L1',
    );
    // The example's `alert.secret` is fingerprinted and dropped.
    expect(JSON.stringify(alert)).not.toContain('XXXXXXXX');
  });

  test('the ping example is a ping, by header or by shape; nothing else is', () => {
    const ping = example('ping');
    expect(deliveryKind('github', ping, { 'x-github-event': 'ping' })).toEqual({ kind: 'ping' });
    expect(deliveryKind('github', ping, {})).toEqual({ kind: 'ping' });
    // A signed alert body is never swallowed as a ping because of its shape...
    const alert = alertEvent('created');
    expect(deliveryKind('github', { ...alert, zen: 'x', hook_id: 1 }, {})).toEqual({ kind: 'alert' });
    // ...and a ping body sent as an alert event is read (and refused) as an alert.
    expect(deliveryKind('github', ping, { 'x-github-event': 'secret_scanning_alert' })).toEqual({
      kind: 'alert',
    });
    expect(normalize(ping, 'secret_scanning_alert')).toMatchObject({ ok: false, field: 'action' });
  });

  test('another event of a hook subscribed to more is ignored by a fixed word, never echoed', () => {
    const marker = `push-${makeCanaries().githubToken}`;
    expect(deliveryKind('github', alertEvent('created'), { 'x-github-event': 'push' })).toEqual({
      kind: 'other-event',
      event: 'other',
    });
    expect(deliveryKind('github', {}, { 'x-github-event': marker })).toEqual({
      kind: 'other-event',
      event: 'other',
    });
  });
});

describe('every secret_scanning_alert action', () => {
  const cases: [string, Record<string, unknown>, { lifecycle: string; severity: string; event?: string }][] =
    [
      ['created', {}, { lifecycle: 'raised', severity: 'high' }],
      ['created', { validity: 'active' }, { lifecycle: 'raised', severity: 'critical' }],
      ['reopened', {}, { lifecycle: 'raised', severity: 'high', event: 'detector reopened the alert' }],
      [
        'publicly_leaked',
        { publicly_leaked: true },
        { lifecycle: 'escalated', severity: 'critical', event: 'secret found public' },
      ],
      [
        'validated',
        { validity: 'active' },
        { lifecycle: 'escalated', severity: 'critical', event: 'validity confirmed active' },
      ],
      [
        'validated',
        { validity: 'inactive' },
        { lifecycle: 'updated', severity: 'high', event: 'validity checked: inactive' },
      ],
      [
        'resolved',
        { resolution: 'revoked', state: 'resolved' },
        { lifecycle: 'resolved', severity: 'high', event: 'detector marked resolved (revoked)' },
      ],
      ['assigned', {}, { lifecycle: 'updated', severity: 'high' }],
      ['unassigned', {}, { lifecycle: 'updated', severity: 'high' }],
    ];
  test.each(cases)('%s %j', (action, alert, expected) => {
    const result = accepted(normalize(alertEvent(action, alert), 'secret_scanning_alert'));
    expect({
      lifecycle: result.lifecycle,
      severity: result.alert.severity,
      ...(result.event ? { event: result.event } : {}),
    }).toEqual(expected);
    // Every action is about the same alert: one incident.
    expect(result.alert.alertId).toBe('octocat-repo/hello-world#42');
  });

  test('a resolution outside the schema is not quoted on the timeline', () => {
    const body = alertEvent('resolved', { resolution: 'revoked' });
    // Past the schema check (which would refuse it), the adapter still quotes only known words.
    const result = accepted(normalize(body, 'secret_scanning_alert'));
    expect(result.event).toBe('detector marked resolved (revoked)');
    expect(
      normalize(alertEvent('resolved', { resolution: 'see ghp_x' }), 'secret_scanning_alert'),
    ).toMatchObject({ ok: false, field: 'alert.resolution' });
  });
});

describe("what GitHub's schema allows is accepted", () => {
  test('an alert with no number, time, link or type (the schema requires none) still raises the leak', () => {
    const body = alertEvent('created');
    for (const field of ['number', 'created_at', 'updated_at', 'html_url', 'url', 'secret_type']) {
      delete (body.alert as Record<string, unknown>)[field];
    }
    const now = new Date('2026-12-07T00:00:00Z');
    const result = normalizeSiemAlert('github', body, {
      fingerprintKey,
      now,
      headers: { 'x-github-event': 'secret_scanning_alert' },
    });
    const { alert, lifecycle } = accepted(result);
    expect(lifecycle).toBe('raised');
    expect(alert.secretKind).toBe('github_secret_scanning');
    expect(alert.observedAt).toBe(now.toISOString());
    expect(alert.locations[0].url).toBe(
      'https://github.com/octocat-repo/hello-world/security/secret-scanning',
    );
  });

  test('a negative alert number and a created event without updated_at are accepted', () => {
    const body = alertEvent('created', { number: -3 });
    delete (body.alert as Record<string, unknown>).updated_at;
    expect(accepted(normalize(body, 'secret_scanning_alert')).alert.alertId).toBe(
      'octocat-repo/hello-world#-3',
    );
  });

  test('a field Tourniquet does not read may drift from the schema: accepted, and reported', () => {
    const body = alertEvent('created');
    delete (body.repository as Record<string, unknown>).archive_url;
    const result = accepted(normalize(body, 'secret_scanning_alert'));
    expect(result.drift).toEqual(['repository.archive_url']);
  });

  test('a field Tourniquet reads that breaks the schema is refused, naming it, never quoting it', () => {
    const token = makeCanaries().githubToken;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- vendor JSON, spoiled field by field
    const refusals: [string, (body: Record<string, any>) => void][] = [
      ['alert.number', (body) => (body.alert.number = token)],
      ['alert.validity', (body) => (body.alert.validity = token)],
      ['alert.html_url', (body) => (body.alert.html_url = token)],
      ['repository.full_name', (body) => delete body.repository.full_name],
      ['action', (body) => (body.action = 7)],
    ];
    for (const [field, spoil] of refusals) {
      const body = alertEvent('created');
      spoil(body);
      const result = normalize(body, 'secret_scanning_alert');
      expect({ field, result: result.ok ? 'accepted' : result.field }).toEqual({ field, result: field });
      expect(JSON.stringify(result)).not.toContain(token);
    }
  });
});

test('property: every body a secret-scanning schema allows is read, and every created one raises a leak', () => {
  const seed = sampleSeed();
  const samples = sampleGitHubDeliveries(seed, 12);
  const wrong: string[] = [];
  for (const { webhook, event, action, body } of samples) {
    const result = normalize(body, event);
    const outcome = result.ok ? result.lifecycle : `refused ${result.field}: ${result.message}`;
    if (!result.ok || (action === 'created' && outcome !== 'raised'))
      wrong.push(`${webhook} (seed ${seed}): ${outcome}`);
  }
  expect(wrong).toEqual([]);
  // Every webhook is sampled, several times.
  for (const { webhook } of secretScanningWebhooks()) {
    expect([webhook, samples.filter((sample) => sample.webhook === webhook).length >= 4]).toEqual([
      webhook,
      true,
    ]);
  }
});
