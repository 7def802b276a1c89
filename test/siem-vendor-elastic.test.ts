/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- fixtures are vendor JSON, read back untyped */
import { randomBytes } from 'node:crypto';
import { correlationFingerprint, fingerprintSecret } from '../lib/fingerprint';
import { normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { fixtureNames, loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

/**
 * Fixtures, from Elastic's documentation:
 * - `alert-document`: one detection alert as a "For each alert" Webhook action renders it with the body
 *   `{{#context.alerts}}{{{.}}}{{/context.alerts}}` (no template of fields): the fields of the Alert schema page
 *   (https://www.elastic.co/guide/en/security/current/alert-schema.html, and "Alert storage and schema",
 *   https://www.elastic.co/docs/solutions/security/detect-and-alert/alert-storage-and-schema), stored dotted as
 *   the alert index holds them, with the ECS fields copied from the source event (`message`, `labels`, `url`).
 *   `{{context.alerts}}` is the action variable of "Create a detection rule" → "Alert notification placeholders"
 *   (https://www.elastic.co/guide/en/security/current/rules-ui-create.html#rule-action-variables).
 * - `webhook-connector-body`: the Webhook connector page's example body
 *   (https://www.elastic.co/guide/en/kibana/current/webhook-action-type.html):
 *   `{"short_description": "{{context.rule.name}}", "description": "{{context.rule.description}}", …}`, its `…`
 *   continued with the rule action variables `rule.id`, `rule.url` and `date`
 *   (https://www.elastic.co/guide/en/kibana/current/rule-action-variables.html).
 * - `detection-rule-webhook`: Tourniquet's template in docs/sources.md (rule variables plus
 *   `{{{context.alerts.asJSON}}}`), kept working.
 */
const ALERT_SCHEMA_PAGE = 'https://www.elastic.co/guide/en/security/current/alert-schema.html';

const fingerprintKey = randomBytes(32);
type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(body: unknown): NormalizeResult {
  return normalizeSiemAlert('elastic', body, { fingerprintKey });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(name: string, canaries: Canaries): Record<string, any> {
  return loadFixture('elastic', name, canaries) as Record<string, any>;
}

/** The same alert document with nested objects, the other form Kibana renders alert fields in. */
function nested(document: Record<string, any>): Record<string, any> {
  const result: Record<string, any> = {};
  for (const [name, value] of Object.entries(document)) {
    if (!name.startsWith('kibana.')) {
      result[name] = value;
      continue;
    }
    const segments = name.split('.');
    let node = result;
    for (const segment of segments.slice(0, -1)) node = node[segment] ??= {};
    node[segments[segments.length - 1]] = value;
  }
  return result;
}

describe(`Elastic Security rule actions (${ALERT_SCHEMA_PAGE})`, () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  it('has a test for every fixture of the directory', () => {
    expect(fixtureNames('elastic').sort()).toEqual([
      'alert-document',
      'detection-rule-webhook',
      'webhook-connector-body',
    ]);
  });

  describe('an alert document, without a template', () => {
    it('is accepted and raised from the documented kibana.alert fields', () => {
      const body = fixture('alert-document', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.event).toBeUndefined();
      expect(result.alert).toEqual({
        source: 'elastic',
        alertId: body['kibana.alert.uuid'],
        detector: body['kibana.alert.rule.name'],
        secretKind: body.labels.secret_kind,
        locations: [{ url: body.url.full }],
        severity: 'high',
        observedAt: new Date(body['kibana.alert.original_time']).toISOString(),
        // The message carried the token: the value itself keys the incident.
        fingerprint: fingerprintSecret(fingerprintKey, canaries.slackToken),
        hint: {
          kind: 'slack_token',
          length: canaries.slackToken.length,
          last4: canaries.slackToken.slice(-4),
        },
        connector: body.labels.connector,
        correlation: [`elastic:rule:${body['kibana.alert.rule.uuid']}`],
      });
    });

    it('reads the nested form the same way', () => {
      const body = fixture('alert-document', canaries);
      expect(expectSuccess(normalize(nested(body))).alert).toEqual(expectSuccess(normalize(body)).alert);
    });

    it('links to the alert page (kibana.alert.url) when the source event names no place', () => {
      const { url: _url, ...body } = fixture('alert-document', canaries);
      expect(expectSuccess(normalize(body)).alert.locations).toEqual([{ url: body['kibana.alert.url'] }]);
    });

    it('falls back to the alert time, then the rule run, for the time', () => {
      const body = fixture('alert-document', canaries);
      delete body['kibana.alert.original_time'];
      expect(expectSuccess(normalize(body)).alert.observedAt).toBe(
        new Date(body['@timestamp']).toISOString(),
      );
    });

    it('joins repeated alerts of one rule about one place when no value arrived', () => {
      const body = fixture('alert-document', canaries);
      body.message = 'Run "Notify Slack" failed: invalid_auth';
      const again = {
        ...body,
        'kibana.alert.uuid': 'f'.repeat(64),
        'kibana.alert.original_time': '2024-05-01T13:07:41.003Z',
        '@timestamp': '2024-05-01T13:08:00.412Z',
      };
      const first = expectSuccess(normalize(body));
      const second = expectSuccess(normalize(again));
      expect(second.alert.fingerprint).toBe(first.alert.fingerprint);
      expect(first.alert.fingerprint).toBe(
        correlationFingerprint(fingerprintKey, [
          'siem',
          'elastic',
          body['kibana.alert.rule.name'],
          body.labels.secret_kind,
          body.url.full,
          '',
        ]),
      );
      const elsewhere = { ...body, url: { full: 'https://n8n.acme.example/workflow/18/executions/1' } };
      expect(expectSuccess(normalize(elsewhere)).alert.fingerprint).not.toBe(first.alert.fingerprint);
    });

    it.each([
      ['closed in the Alerts table', { 'kibana.alert.workflow_status': 'closed' }],
      ['recovered', { 'kibana.alert.status': 'recovered' }],
    ])('%s → resolved', (_name, change) => {
      const result = expectSuccess(normalize({ ...fixture('alert-document', canaries), ...change }));
      expect(result.lifecycle).toBe('resolved');
      expect(result.event).toBe('detector marked resolved');
    });

    it('acknowledged is still a leak', () => {
      const body = { ...fixture('alert-document', canaries), 'kibana.alert.workflow_status': 'acknowledged' };
      expect(expectSuccess(normalize(body)).lifecycle).toBe('raised');
    });
  });

  describe('the Webhook connector example body', () => {
    it('is accepted and raised: the rule names, links and keys it', () => {
      const body = fixture('webhook-connector-body', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.alert).toEqual({
        source: 'elastic',
        alertId: `${body.rule.id}@${body.date}`,
        detector: body.short_description,
        secretKind: 'unknown',
        locations: [{ url: body.rule.url }],
        severity: 'high',
        observedAt: new Date(body.date).toISOString(),
        fingerprint: correlationFingerprint(fingerprintKey, [
          'siem',
          'elastic',
          body.short_description,
          '',
          '',
          '',
        ]),
        hint: null,
        correlation: [`elastic:rule:${body.rule.id}`],
      });
    });

    it('runs of one rule join one incident', () => {
      const body = fixture('webhook-connector-body', canaries);
      const later = { ...body, date: '2024-05-01T12:13:00.512Z' };
      expect(expectSuccess(normalize(later)).alert.fingerprint).toBe(
        expectSuccess(normalize(body)).alert.fingerprint,
      );
    });

    it('takes Tourniquet fields beside the example keys', () => {
      const body = {
        ...fixture('webhook-connector-body', canaries),
        url: 'https://github.com/acme/payments/actions/runs/9012345678',
        repository: 'acme/payments',
        secret_kind: 'github_personal_access_token',
      };
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations).toEqual([{ url: body.url, repository: 'acme/payments' }]);
      expect(alert.secretKind).toBe('github_personal_access_token');
    });
  });

  describe("Tourniquet's template", () => {
    it('still maps every alert to a place, keyed by the first', () => {
      const body = fixture('detection-rule-webhook', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.alert.locations).toEqual(body.alerts.map((alert: any) => ({ url: alert.url.full })));
      expect(result.alert.alertId).toBe(body.alerts[0]['kibana.alert.uuid']);
    });

    it('is resolved only when every alert is closed', () => {
      const body = fixture('detection-rule-webhook', canaries);
      const closed = (alert: any) => ({ ...alert, 'kibana.alert.workflow_status': 'closed' });
      expect(expectSuccess(normalize({ ...body, alerts: body.alerts.map(closed) })).lifecycle).toBe(
        'resolved',
      );
      const oneOpen = [closed(body.alerts[0]), body.alerts[1]];
      expect(expectSuccess(normalize({ ...body, alerts: oneOpen })).lifecycle).toBe('raised');
    });
  });

  describe('refused with 400 naming the field', () => {
    it('an empty object names the rule name the example body carries', () => {
      expect(normalize({})).toMatchObject({ ok: false, field: 'short_description' });
    });

    it('the connector example reduced to its two documented keys has no link to the alert', () => {
      const { rule: _rule, date: _date, ...body } = fixture('webhook-connector-body', canaries);
      expect(normalize(body)).toMatchObject({ ok: false, field: 'rule.url' });
    });

    it.each([
      ['a relative rule.url (no server.publicBaseUrl)', { rule: { url: '/app/security/rules/id/4b3f' } }],
      ['a javascript: rule.url', { rule: { url: 'javascript:alert(1)' } }],
    ])('%s', (_name, change) => {
      const body = { ...fixture('webhook-connector-body', canaries), ...change };
      expect(normalize(body)).toMatchObject({ ok: false, field: 'rule.url' });
    });

    it.each([
      [
        'an original time that is not a time',
        { 'kibana.alert.original_time': 'yesterday' },
        'kibana.alert.original_time',
      ],
      ['an alert id that is a number', { 'kibana.alert.uuid': 42 }, 'kibana.alert.uuid'],
      [
        'an alert id longer than 256 characters',
        { 'kibana.alert.uuid': 'a'.repeat(257) },
        'kibana.alert.uuid',
      ],
      [
        'a rule name longer than 256 characters',
        { 'kibana.alert.rule.name': 'r'.repeat(257) },
        'kibana.alert.rule.name',
      ],
      [
        'a severity that is an object',
        { 'kibana.alert.severity': { level: 'high' } },
        'kibana.alert.severity',
      ],
      ['no place and no alert page', { url: undefined, 'kibana.alert.url': undefined }, 'kibana.alert.url'],
    ])('an alert document with %s', (_name, change, field) => {
      const body = { ...fixture('alert-document', canaries), ...change };
      expect(normalize(body)).toMatchObject({ ok: false, field });
      expect(normalize(nested(body))).toMatchObject({ ok: false, field });
    });

    it.each([
      ['no alert document', { alerts: [] }, 'alerts'],
      ['an alert time that is not a time', 'time', 'alerts.1.@timestamp'],
      ['a date that is not a time', { date: 'today' }, 'date'],
      ['a description longer than 64 KiB', { description: 'd'.repeat(65537) }, 'description'],
      ['a rule id longer than 256 characters', { rule: { id: 'i'.repeat(257), name: 'n' } }, 'rule.id'],
    ])('the template with %s', (_name, change, field) => {
      const body = fixture('detection-rule-webhook', canaries);
      const changed =
        change === 'time'
          ? { ...body, alerts: [body.alerts[0], { ...body.alerts[1], '@timestamp': 'soon' }] }
          : { ...body, ...(change as object) };
      expect(normalize(changed)).toMatchObject({ ok: false, field });
    });

    it('a body that is not an object', () => {
      expect(normalize('Rule Slack token generated 2 alerts')).toMatchObject({ ok: false, field: '(body)' });
    });

    it('never echoes the refused value', () => {
      const body = {
        ...fixture('alert-document', canaries),
        'kibana.alert.original_time': 'not-a-time-9c1e',
      };
      expect(JSON.stringify(normalize(body))).not.toContain('9c1e');
    });
  });

  describe('secrets in free text', () => {
    it.each([
      ['alert-document', 'message'],
      ['alert-document', 'kibana.alert.reason'],
      ['webhook-connector-body', 'description'],
      ['webhook-connector-body', 'short_description'],
    ])('%s: a token in %s never reaches the normalized alert, its event or its findings', (name, field) => {
      const body = fixture(name, canaries);
      body[field] = `${String(body[field]).slice(0, 100)} ${canaries.githubToken}`;
      const result = expectSuccess(normalize(body));
      const stored = JSON.stringify(result);
      for (const secret of [canaries.githubToken, canaries.slackToken]) {
        expect(stored).not.toContain(secret);
        expect(stored).not.toContain(secret.slice(4, -4));
      }
      expect(result.findings.some((finding) => finding.hint.last4 === canaries.githubToken.slice(-4))).toBe(
        true,
      );
    });
  });
});

test('a summary naming more places than an alert holds keeps the first 100, and is still an alert', () => {
  const documents = Array.from({ length: 150 }, (_, index) => ({
    'kibana.alert.uuid': `uuid-${index}`,
    'kibana.alert.rule.name': 'Leaked secret',
    'kibana.alert.url': `https://kibana.example.com/app/security/alerts/${index}`,
    'kibana.alert.original_time': '2024-05-01T12:00:00.000Z',
  }));
  const result = normalizeSiemAlert(
    'elastic',
    {
      rule: { id: 'rule-1', name: 'Leaked secret' },
      date: '2024-05-01T12:00:00.000Z',
      results_link: 'https://kibana.example.com/app/security/rules/id/rule-1',
      alerts: documents,
    },
    { fingerprintKey: randomBytes(32) },
  );
  if (!result.ok) throw new Error(`refused: ${result.field}: ${result.message}`);
  expect(result.alert.locations).toHaveLength(100);
});
