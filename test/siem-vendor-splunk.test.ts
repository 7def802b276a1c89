/* eslint-disable @typescript-eslint/no-explicit-any -- fixtures are vendor JSON, read back untyped */
import { randomBytes } from 'node:crypto';
import { correlationFingerprint, fingerprintSecret } from '../lib/fingerprint';
import { normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

/**
 * `webhook-alert-documented.json` is the example body of Splunk's "Use a webhook alert action", section "Webhook
 * data payload", byte for byte:
 * https://help.splunk.com/splunk-enterprise/alert-and-respond/alerting-manual/10.0/configure-alert-actions/use-a-webhook-alert-action
 * (the same example on 9.0–9.4; formerly https://docs.splunk.com/Documentation/Splunk/latest/Alert/Webhooks).
 * The body is fixed: `result` (the first result row), `sid`, `results_link`, `search_name`, `owner`, `app`.
 */
const WEBHOOK_ALERT_ACTION_PAGE =
  'https://help.splunk.com/splunk-enterprise/alert-and-respond/alerting-manual/10.0/configure-alert-actions/use-a-webhook-alert-action';

const fingerprintKey = randomBytes(32);
const now = new Date('2024-05-01T12:00:00Z');
type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(body: unknown): NormalizeResult {
  return normalizeSiemAlert('splunk', body, { fingerprintKey, now });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(name: string, canaries: Canaries): Record<string, any> {
  return loadFixture('splunk', name, canaries) as Record<string, any>;
}

describe(`Splunk webhook alert action (${WEBHOOK_ALERT_ACTION_PAGE})`, () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  describe('the documented body', () => {
    it('is accepted as documented, and a row with no secret in it is not a secret exposure', () => {
      const body = fixture('webhook-alert-documented', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('not-a-secret');
      expect(result.findings).toEqual([]);
      // Read as documented: no search name (`null`), the results link as the place, no scheduled time in the sid.
      expect(result.alert).toEqual({
        source: 'splunk',
        alertId: body.sid,
        detector: 'splunk',
        secretKind: 'unknown',
        locations: [{ url: body.results_link }],
        severity: 'high',
        observedAt: now.toISOString(),
        fingerprint: correlationFingerprint(fingerprintKey, ['siem', 'splunk', 'splunk', '', '', '']),
        hint: null,
        correlation: [`splunk:sid:${body.sid}`],
      });
    });

    it('takes the saved search name as the detector when the search is saved', () => {
      const body = fixture('webhook-alert-documented', canaries);
      body.search_name = 'Tourniquet - secrets in CI logs';
      expect(expectSuccess(normalize(body)).alert.detector).toBe(body.search_name);
    });

    it.each([
      ['secret_kind', { secret_kind: 'github_personal_access_token' }],
      ['secret_type', { secret_type: 'github_personal_access_token' }],
      ['tourniquet_secret_kind', { tourniquet_secret_kind: 'github_personal_access_token' }],
      ['SecretKind', { SecretKind: 'github_personal_access_token' }],
      ['tourniquet.secret_kind', { 'tourniquet.secret_kind': 'github_personal_access_token' }],
      ['labels.secret_kind', { 'labels.secret_kind': 'github_personal_access_token' }],
      ['a multi-value secret_kind', { secret_kind: ['github_personal_access_token', 'slack_token'] }],
    ])("a row naming the secret kind through Tourniquet's field %s is raised", (_, fields) => {
      const body = fixture('webhook-alert-documented', canaries);
      Object.assign(body.result, fields);
      const { alert, lifecycle } = expectSuccess(normalize(body));
      expect(lifecycle).toBe('raised');
      expect(alert.secretKind).toBe('github_personal_access_token');
    });

    it('a row naming no kind but carrying a secret-like value is raised, keyed by that value', () => {
      const body = fixture('webhook-alert-documented', canaries);
      body.result._raw = `mongod: connecting with token ${canaries.githubToken}`;
      const { alert, lifecycle, redactedBody } = expectSuccess(normalize(body));
      expect(lifecycle).toBe('raised');
      expect(alert.secretKind).toBe('github_personal_access_token');
      expect(alert.fingerprint).toBe(fingerprintSecret(fingerprintKey, canaries.githubToken));
      expect(JSON.stringify(redactedBody)).not.toContain(canaries.githubToken);
    });

    it('a row carrying only a fingerprint computed with our key is raised', () => {
      const body = fixture('webhook-alert-documented', canaries);
      body.result.secret_fingerprint = fingerprintSecret(fingerprintKey, canaries.githubToken);
      const { alert, lifecycle } = expectSuccess(normalize(body));
      expect(lifecycle).toBe('raised');
      expect(alert.fingerprint).toBe(body.result.secret_fingerprint);
    });

    it('the fixtures that name a kind or hold a value stay raised', () => {
      for (const name of ['webhook-alert', 'webhook-alert-minimal']) {
        expect([name, expectSuccess(normalize(fixture(name, canaries))).lifecycle]).toEqual([name, 'raised']);
      }
    });
  });

  describe('attacker cases', () => {
    it.each([
      ['an empty secret_kind', { secret_kind: '' }],
      ['a blank secret_kind', { secret_kind: '   ' }],
      ['an empty multi-value secret_kind', { secret_kind: [] }],
      ['a null secret_kind', { secret_kind: null }],
      ['a kind under an unrelated name', { kind_of_secret: 'github_personal_access_token' }],
    ])('%s does not make a secret exposure', (_, fields) => {
      const body = fixture('webhook-alert-documented', canaries);
      Object.assign(body.result, fields);
      expect(expectSuccess(normalize(body)).lifecycle).toBe('not-a-secret');
    });

    it('a secret outside the row (in the search name) still counts: it was exposed, and is gone', () => {
      const body = fixture('webhook-alert-documented', canaries);
      body.search_name = `alert on ${canaries.slackToken}`;
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(JSON.stringify(result)).not.toContain(canaries.slackToken);
    });

    it('a not-a-secret answer still refuses an invalid field, naming it', () => {
      const body = fixture('webhook-alert-documented', canaries);
      body.result.url = 'mongod/logs';
      expect(normalize(body)).toMatchObject({ ok: false, field: 'result.url' });
      const nested = fixture('webhook-alert-documented', canaries);
      nested.result = { sourcetype: { nested: 'object' } };
      expect(normalize(nested)).toMatchObject({ ok: false, field: 'result.sourcetype' });
    });

    it('a documented body missing a documented field is refused, naming it', () => {
      for (const field of ['result', 'sid', 'results_link']) {
        const body = fixture('webhook-alert-documented', canaries);
        delete body[field];
        expect([field, normalize(body)]).toEqual([field, expect.objectContaining({ ok: false, field })]);
      }
    });
  });
});
