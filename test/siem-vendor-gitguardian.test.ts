/* eslint-disable @typescript-eslint/no-explicit-any -- fixtures are vendor JSON, read back untyped */
import { randomBytes } from 'node:crypto';
import { normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { gitguardianAdapter } from '../gateway/siem/adapters/gitguardian';
import { fixtureNames, loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

/**
 * Every fixture here is built from GitGuardian's custom webhook page, "Payload structure" (event bodies) and
 * "How to test the webhook" (the test message):
 * https://docs.gitguardian.com/platform/configure-alerting/notifiers-integrations/custom-webhook
 * The page's JSON carries `// only for … incidents` comments, which JSON cannot hold: they are left out, the fields
 * they annotate are kept. Ids, hashes and URLs are realistic substitutes for the page's `xxx`.
 */
const CUSTOM_WEBHOOK_PAGE =
  'https://docs.gitguardian.com/platform/configure-alerting/notifiers-integrations/custom-webhook';

const fingerprintKey = randomBytes(32);
type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(body: unknown): NormalizeResult {
  return normalizeSiemAlert('gitguardian', body, { fingerprintKey });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(name: string, canaries: Canaries): Record<string, any> {
  return loadFixture('gitguardian', name, canaries) as Record<string, any>;
}

/** The test message lives apart: it is not an alert, and every fixture beside the others must normalize. */
const TEST_MESSAGE = 'pings/test-message';

const isPing = (body: unknown): boolean => gitguardianAdapter.isPing!(body, {});

describe(`GitGuardian custom webhook (${CUSTOM_WEBHOOK_PAGE})`, () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  describe('documented events', () => {
    // Page section "Payload structure": one example per event; the `-valid`/`-critical` variants change only the
    // value that decides the outcome.
    it.each([
      ['incident-triggered', 'raised', undefined],
      ['new-occurrence', 'raised', 'new occurrence detected'],
      ['incident-regression', 'raised', 'regression detected'],
      ['incident-reopened', 'raised', 'detector reopened the incident'],
      ['incident-resolved', 'resolved', 'detector marked resolved'],
      ['incident-ignored', 'resolved', 'detector marked resolved'],
      ['incident-validity-changed', 'updated', 'validity changed to invalid'],
      ['incident-validity-changed-valid', 'escalated', 'validity confirmed active'],
      ['incident-severity-changed', 'updated', 'severity changed to medium'],
      ['incident-severity-changed-critical', 'escalated', 'severity raised to critical'],
      ['incident-assigned', 'updated', undefined],
      ['incident-note-created', 'updated', undefined],
    ])('%s → %s (%s)', (name, lifecycle, event) => {
      const body = fixture(name, canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe(lifecycle);
      expect(result.event).toBe(event);
      expect(result.alert.alertId).toBe(String(body.incident.id));
      expect(result.alert.secretKind).toBe(body.incident.detector.name);
    });

    it('covers every fixture of the directory', () => {
      expect(fixtureNames('gitguardian').sort()).toEqual(
        [
          'incident-assigned',
          'incident-ignored',
          'incident-note-created',
          'incident-reopened',
          'incident-regression',
          'incident-resolved',
          'incident-severity-changed',
          'incident-severity-changed-critical',
          'incident-triggered',
          'incident-validity-changed',
          'incident-validity-changed-valid',
          'new-occurrence',
        ].sort(),
      );
    });

    it('validity changed to valid: escalated and critical, whatever the triage severity says', () => {
      // "Validity change" example, validity set to `valid`; the example's severity is `medium`.
      const body = fixture('incident-validity-changed-valid', canaries);
      expect(body.incident.severity).toBe('medium');
      const { alert, lifecycle, event } = expectSuccess(normalize(body));
      expect({ lifecycle, event, severity: alert.severity }).toEqual({
        lifecycle: 'escalated',
        event: 'validity confirmed active',
        severity: 'critical',
      });
    });

    it.each(['invalid', 'failed_to_check', 'no_checker', 'not_checked', 'unknown', null])(
      'validity changed to %s: updated, never an escalation',
      (validity) => {
        const body = fixture('incident-validity-changed', canaries);
        body.incident.validity = validity;
        const { lifecycle, event } = expectSuccess(normalize(body));
        expect(lifecycle).toBe('updated');
        expect(event).toBe(validity === null ? 'validity changed' : `validity changed to ${validity}`);
      },
    );

    it.each([
      ['critical', 'critical'],
      ['high', 'high'],
    ])('severity changed to %s: escalated at that severity', (stated, severity) => {
      // "Severity change" example (validity `no_checker`), severity set upward.
      const body = fixture('incident-severity-changed', canaries);
      body.incident.severity = stated;
      const { alert, lifecycle, event } = expectSuccess(normalize(body));
      expect({ lifecycle, event, severity: alert.severity }).toEqual({
        lifecycle: 'escalated',
        event: `severity raised to ${severity}`,
        severity,
      });
    });

    it('severity changed to high on a secret known to be valid: stays critical', () => {
      const body = fixture('incident-severity-changed', canaries);
      body.incident.severity = 'high';
      body.incident.validity = 'valid';
      const { alert, lifecycle } = expectSuccess(normalize(body));
      expect({ lifecycle, severity: alert.severity }).toEqual({
        lifecycle: 'escalated',
        severity: 'critical',
      });
    });

    it.each([
      ['medium', 'severity changed to medium'],
      ['low', 'severity changed to low'],
      ['info', 'severity changed to low'],
      ['unknown', 'severity changed'],
      [null, 'severity changed'],
    ])('severity changed to %s: updated (%s)', (stated, event) => {
      const body = fixture('incident-severity-changed', canaries);
      body.incident.severity = stated;
      const result = expectSuccess(normalize(body));
      expect({ lifecycle: result.lifecycle, event: result.event }).toEqual({ lifecycle: 'updated', event });
    });

    it('events about one incident share its fingerprint', () => {
      // Assign, severity and validity examples are all about incident 31450 of workspace 1.
      const fingerprints = [
        'incident-assigned',
        'incident-severity-changed',
        'incident-severity-changed-critical',
        'incident-validity-changed',
        'incident-validity-changed-valid',
      ].map((name) => expectSuccess(normalize(fixture(name, canaries))).alert.fingerprint);
      expect(new Set(fingerprints).size).toBe(1);
    });
  });

  describe('test message ("How to test the webhook")', () => {
    it('is recognised as a ping, and would not normalize as an alert', () => {
      const body = fixture(TEST_MESSAGE, canaries);
      expect(isPing(body)).toBe(true);
      // Without isPing this is the 400 the "Test" button got.
      expect(normalize(body)).toMatchObject({ ok: false });
    });

    it('is recognised whatever its values: the real one carries the matched value in plain text', () => {
      // Page note: "your response message will contain the matched secret in plain text".
      const body = fixture(TEST_MESSAGE, canaries);
      body.matches[0].match = canaries.awsAccessKeyId;
      body.matches[1].match = canaries.awsSecretAccessKey;
      body.severity = 'critical';
      body.validity = 'valid';
      expect(isPing(body)).toBe(true);
      // `validity` is not in the v1 scan result's required fields.
      delete body.validity;
      expect(isPing(body)).toBe(true);
    });

    it('no documented event is a ping', () => {
      for (const name of fixtureNames('gitguardian'))
        expect([name, isPing(fixture(name, canaries))]).toEqual([name, false]);
    });

    it.each(['action', 'incident', 'occurrence', 'timestamp'])(
      'the test fields alongside an event field (%s) are not a ping',
      (field) => {
        const triggered = fixture('incident-triggered', canaries);
        const body = { ...fixture(TEST_MESSAGE, canaries), [field]: triggered[field] };
        expect(isPing(body)).toBe(false);
      },
    );

    it('a real incident that also carries every test field is not swallowed: it is raised', () => {
      for (const name of ['incident-triggered', 'new-occurrence', 'incident-validity-changed-valid']) {
        const body = { ...fixture(TEST_MESSAGE, canaries), ...fixture(name, canaries) };
        expect(isPing(body)).toBe(false);
        expect(['raised', 'escalated']).toContain(expectSuccess(normalize(body)).lifecycle);
      }
    });

    it.each([
      ['a field missing', (body: any) => delete body.matches],
      ['matches not an array', (body: any) => (body.matches = 'none')],
      ['author not an object', (body: any) => (body.author = ['Sample'])],
      ['a string field null', (body: any) => (body.gitguardian_link = null)],
    ])('a body with %s is not a ping', (_, spoil) => {
      const body = fixture(TEST_MESSAGE, canaries);
      spoil(body);
      expect(isPing(body)).toBe(false);
    });

    it.each([null, 'test', 42, [], [{ origin: 'GitGuardian' }]])('%p is not a ping', (body) => {
      expect(isPing(body)).toBe(false);
    });
  });

  describe('attacker cases', () => {
    it('a validity change to valid with secrets in every free-text field leaks nothing', () => {
      const body = fixture('incident-validity-changed-valid', canaries);
      body.message = `Validity updated: ${canaries.githubToken}`;
      body.target_user = `John Doe password=${canaries.password}`;
      body.custom_webhook_name = canaries.slackToken;
      // A bare 40-character AWS secret looks like nothing; named, as it would be in a note, it is found.
      body.incident.detector.display_name = `AWS aws_secret_access_key=${canaries.awsSecretAccessKey}`;
      body.incident_note = { id: 1, comment: `still live: ${canaries.n8nApiKey}` };
      const result = expectSuccess(normalize(body));
      expect(result.event).toBe('validity confirmed active');
      expect(result.lifecycle).toBe('escalated');
      const stored = JSON.stringify(result);
      for (const value of [
        canaries.githubToken,
        canaries.password,
        canaries.slackToken,
        canaries.awsSecretAccessKey,
        canaries.n8nApiKey,
      ]) {
        expect(stored).not.toContain(value);
      }
    });

    it('text in the validity or severity is neither an escalation nor quoted in the event', () => {
      // Short enough for the schema, and shaped like nothing the scrubber knows: only the vocabulary protects it.
      const validity = fixture('incident-validity-changed', canaries);
      validity.incident.validity = `valid ${canaries.password}`;
      const severity = fixture('incident-severity-changed', canaries);
      severity.incident.severity = `critical ${canaries.password}`;
      for (const body of [validity, severity]) {
        const result = expectSuccess(normalize(body));
        expect(result.lifecycle).toBe('updated');
        expect(result.event).toMatch(/^(validity|severity) changed$/);
      }
    });

    it.each([
      'incident_access_granted',
      'incident_shared_publicly',
      'incident_feedback_received',
      'incident_something_gitguardian_adds_later',
      'constructor',
      '__proto__',
      'toString',
      'INCIDENT_TRIGGERED',
    ])('unknown or non-alert action %s → updated, never an error', (action) => {
      const body = fixture('incident-triggered', canaries);
      body.action = action;
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('updated');
      expect(result.event).toBeUndefined();
    });

    it('an action holding a secret is updated and the secret is gone', () => {
      const body = fixture('incident-validity-changed-valid', canaries);
      body.action = `incident_${canaries.githubToken}`;
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('updated');
      expect(JSON.stringify(result)).not.toContain(canaries.githubToken);
    });

    it('names the vendor field when a documented event is malformed', () => {
      const body = fixture('incident-validity-changed-valid', canaries);
      body.incident.gitguardian_url = 'dashboard/incidents/31450';
      expect(normalize(body)).toMatchObject({ ok: false, field: 'incident.gitguardian_url' });
      const long = fixture('incident-severity-changed-critical', canaries);
      long.incident.severity = 'c'.repeat(33);
      expect(normalize(long)).toMatchObject({ ok: false, field: 'incident.severity' });
    });
  });
});
