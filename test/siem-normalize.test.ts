/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- fixtures are vendor JSON, read back untyped as the expected values */
import { randomBytes } from 'node:crypto';
import { correlationFingerprint, fingerprintSecret } from '../lib/fingerprint';
import { normalizeSiemAlert, SIEM_SOURCES, type NormalizeResult, type SiemSource } from '../gateway/siem';
import { canariesIn, fixtureNames, loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

const fingerprintKey = randomBytes(32);

type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(source: SiemSource, body: unknown, now?: Date): NormalizeResult {
  return normalizeSiemAlert(source, body, { fingerprintKey, now });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(source: SiemSource, name: string, canaries: Canaries): Record<string, any> {
  return loadFixture(source, name, canaries) as Record<string, any>;
}

function hintOf(kind: string, value: string) {
  return { kind, length: value.length, last4: value.slice(-4) };
}

describe('normalizeSiemAlert', () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  describe('generic', () => {
    it('fingerprints the secret, drops it, and keeps the documented fields', () => {
      const body = fixture('generic', 'alert-with-secret', canaries);
      const { alert, redactedBody, lifecycle } = expectSuccess(normalize('generic', body));
      expect(alert).toEqual({
        source: 'generic',
        alertId: body.alertId,
        detector: body.detector,
        secretKind: body.secretKind,
        locations: [{ ...body.location, runId: String(body.location.runId) }],
        severity: body.severity,
        observedAt: new Date(body.observedAt).toISOString(),
        fingerprint: fingerprintSecret(fingerprintKey, canaries.githubToken),
        hint: hintOf(body.secretKind, canaries.githubToken),
        connector: body.connector,
        correlation: [`generic:${body.detector}:${body.alertId}`],
      });
      expect(lifecycle).toBe('raised');
      expect((redactedBody as { secret: string }).secret).toBe(
        `[REDACTED:${body.secretKind}:${canaries.githubToken.slice(-4)}]`,
      );
    });

    it('uses a sender-computed fingerprint as the incident key, normalized to lower case', () => {
      const body = fixture('generic', 'alert-with-fingerprint', canaries);
      const { alert } = expectSuccess(normalize('generic', body));
      expect(alert.fingerprint).toBe(body.secretFingerprint.toLowerCase());
      expect(alert.hint).toBeNull();
      expect(alert.observedAt).toBe(new Date(body.observedAt).toISOString());
    });

    it('falls back to the correlation rule: same detector, kind and place give one incident', () => {
      const body = fixture('generic', 'alert-correlation-only', canaries);
      const first = expectSuccess(normalize('generic', body)).alert;
      const repeat = expectSuccess(normalize('generic', { ...body, alertId: 'another-run' })).alert;
      const elsewhere = expectSuccess(
        normalize('generic', {
          ...body,
          location: { ...body.location, url: 'https://ci.acme.example/job/other/1' },
        }),
      ).alert;
      expect(first.fingerprint).toBe(
        correlationFingerprint(fingerprintKey, [
          'generic',
          body.detector,
          body.secretKind,
          body.location.url,
        ]),
      );
      expect(repeat.fingerprint).toBe(first.fingerprint);
      expect(elsewhere.fingerprint).not.toBe(first.fingerprint);
    });

    it.each([
      ['location.url', (body: Record<string, any>) => ({ ...body, location: { repository: 'acme/x' } })],
      ['location.url', (body: Record<string, any>) => ({ ...body, location: { url: 'not a url' } })],
      ['severity', (body: Record<string, any>) => ({ ...body, severity: 'urgent' })],
      ['observedAt', (body: Record<string, any>) => ({ ...body, observedAt: 'yesterday' })],
      ['secretFingerprint', (body: Record<string, any>) => ({ ...body, secretFingerprint: 'abc' })],
      ['alertId', (body: Record<string, any>) => ({ ...body, alertId: undefined })],
      ['surprise', (body: Record<string, any>) => ({ ...body, surprise: 1 })],
    ])('names the field %s when it is invalid', (field, mutate) => {
      const result = normalize('generic', mutate(fixture('generic', 'alert-correlation-only', canaries)));
      expect(result).toMatchObject({ ok: false, field });
    });

    it('never echoes a secret in an error, even when the secret sits in the invalid field', () => {
      const body = fixture('generic', 'alert-with-secret', canaries);
      const results = [
        normalize('generic', { ...body, severity: canaries.githubToken }),
        normalize('generic', { ...body, observedAt: `password=${canaries.password}` }),
        normalize('generic', { ...body, [canaries.slackToken]: 'unexpected key' }),
        normalize('generic', { ...body, location: { url: canaries.privateKey } }),
      ];
      for (const result of results) {
        expect(result.ok).toBe(false);
        const text = JSON.stringify(result);
        for (const canary of [
          canaries.githubToken,
          canaries.password,
          canaries.slackToken,
          canaries.privateKey,
        ]) {
          expect(text).not.toContain(canary);
        }
      }
    });
  });

  describe('github', () => {
    it('maps secret_scanning_alert created: repository + alert number key the incident', () => {
      const body = fixture('github', 'secret-scanning-alert-created', canaries);
      const { alert, lifecycle } = expectSuccess(normalize('github', body));
      expect(alert).toEqual({
        source: 'github',
        alertId: `${body.repository.full_name}#${body.alert.number}`,
        detector: 'github-secret-scanning',
        secretKind: body.alert.secret_type,
        locations: [{ url: body.alert.html_url, repository: body.repository.full_name }],
        severity: 'critical',
        observedAt: new Date(body.alert.created_at).toISOString(),
        fingerprint: correlationFingerprint(fingerprintKey, [
          'github-secret-scanning',
          body.repository.full_name,
          String(body.alert.number),
        ]),
        hint: null,
        correlation: [`github:${body.repository.full_name}#${body.alert.number}`],
      });
      expect(lifecycle).toBe('raised');
    });

    it('joins the resolved event to the same incident and reports it as resolved', () => {
      const created = expectSuccess(
        normalize('github', fixture('github', 'secret-scanning-alert-created', canaries)),
      );
      const resolvedBody = fixture('github', 'secret-scanning-alert-resolved', canaries);
      const resolved = expectSuccess(normalize('github', resolvedBody));
      expect(resolved.alert.fingerprint).toBe(created.alert.fingerprint);
      expect(resolved.lifecycle).toBe('resolved');
      expect(resolved.alert.severity).toBe('high');
      expect(resolved.alert.observedAt).toBe(new Date(resolvedBody.alert.updated_at).toISOString());
    });

    it('fingerprints alert.secret when GitHub includes it, so other detectors of that value join', () => {
      const body = fixture('github', 'secret-scanning-alert-location-created', canaries);
      const github = expectSuccess(normalize('github', body));
      const generic = expectSuccess(normalize('generic', fixture('generic', 'alert-with-secret', canaries)));
      expect(github.alert.fingerprint).toBe(fingerprintSecret(fingerprintKey, canaries.githubToken));
      expect(github.alert.fingerprint).toBe(generic.alert.fingerprint);
      expect(github.alert.hint).toEqual(hintOf(body.alert.secret_type, canaries.githubToken));
      expect(github.alert.severity).toBe('critical');
      const { details } = body.location;
      expect(github.alert.locations[1]).toEqual({
        url: `${body.repository.html_url}/blob/${details.commit_sha}${details.path}#L${details.start_line}`,
        repository: body.repository.full_name,
      });
    });

    it('names the missing field of a body that is not a secret scanning alert (a ping)', () => {
      const result = normalize('github', { zen: 'Keep it logically awesome.', hook_id: 1, hook: {} });
      expect(result).toMatchObject({ ok: false, field: 'action' });
    });
  });

  describe('gitguardian', () => {
    it('maps incident_triggered; a working secret is critical whatever its triage', () => {
      const body = fixture('gitguardian', 'incident-triggered', canaries);
      const { alert, redactedBody, lifecycle } = expectSuccess(normalize('gitguardian', body));
      expect(alert).toMatchObject({
        source: 'gitguardian',
        alertId: String(body.incident.id),
        detector: 'gitguardian',
        secretKind: body.incident.detector.name,
        locations: [{ url: body.incident.gitguardian_url }],
        severity: 'critical',
        observedAt: new Date(body.incident.date).toISOString(),
        hint: null,
        correlation: [`gitguardian:incident:${body.incident.id}`],
      });
      expect(lifecycle).toBe('raised');
      // GitGuardian's unkeyed hashes would let anyone test guesses offline: they are not stored.
      const stored = JSON.stringify(redactedBody);
      expect(stored).not.toContain(body.incident.secret_hash);
      expect(stored).not.toContain(body.incident.hmsl_hash);
    });

    it('joins occurrences and resolution of one incident, with the occurrence as location', () => {
      const triggered = expectSuccess(
        normalize('gitguardian', fixture('gitguardian', 'incident-triggered', canaries)),
      );
      const occurrenceBody = fixture('gitguardian', 'new-occurrence', canaries);
      const occurrence = expectSuccess(normalize('gitguardian', occurrenceBody));
      const resolved = expectSuccess(
        normalize('gitguardian', fixture('gitguardian', 'incident-resolved', canaries)),
      );
      expect(occurrence.alert.fingerprint).toBe(triggered.alert.fingerprint);
      expect(resolved.alert.fingerprint).toBe(triggered.alert.fingerprint);
      expect(occurrence.alert.locations).toEqual([
        { url: occurrenceBody.occurrence.url, repository: occurrenceBody.occurrence.source.full_name },
      ]);
      expect(occurrence.alert.severity).toBe('high');
      expect(occurrence.alert.observedAt).toBe(new Date(occurrenceBody.occurrence.date).toISOString());
      expect(resolved.lifecycle).toBe('resolved');
    });

    it('fingerprints a matched value when the occurrence carries one', () => {
      const body = fixture('gitguardian', 'new-occurrence', canaries);
      body.occurrence.matches = [{ type: 'client_id', match: canaries.awsAccessKeyId, indice_start: 10 }];
      const { alert, redactedBody } = expectSuccess(normalize('gitguardian', body));
      expect(alert.fingerprint).toBe(fingerprintSecret(fingerprintKey, canaries.awsAccessKeyId));
      expect(alert.hint).toEqual(hintOf(body.incident.detector.name, canaries.awsAccessKeyId));
      expect(JSON.stringify(redactedBody)).not.toContain(canaries.awsAccessKeyId);
    });
  });

  describe('splunk', () => {
    it("reads Tourniquet's fields from the result row and fingerprints the token in _raw", () => {
      const body = fixture('splunk', 'webhook-alert', canaries);
      const { alert } = expectSuccess(normalize('splunk', body));
      const { result } = body;
      expect(alert).toEqual({
        source: 'splunk',
        alertId: result.alert_id,
        detector: result.detector,
        secretKind: result.secret_kind,
        locations: [
          { url: result.url, repository: result.repository, workflow: result.workflow, runId: result.run_id },
        ],
        severity: 'critical',
        observedAt: new Date(Number(result._time) * 1000).toISOString(),
        fingerprint: fingerprintSecret(fingerprintKey, canaries.githubToken),
        hint: hintOf('github_personal_access_token', canaries.githubToken),
        connector: result.connector,
        correlation: [`splunk:sid:${body.sid}`],
      });
    });

    it('falls back to the search link, the scheduled time in the sid and the kind of the value found', () => {
      const body = fixture('splunk', 'webhook-alert-minimal', canaries);
      const { alert } = expectSuccess(normalize('splunk', body));
      const scheduledAt = Number(/_at_(\d+)_/.exec(body.sid)![1]);
      expect(alert).toMatchObject({
        alertId: body.sid,
        detector: 'splunk',
        secretKind: 'password',
        locations: [{ url: body.results_link }],
        severity: 'high',
        observedAt: new Date(scheduledAt * 1000).toISOString(),
        fingerprint: fingerprintSecret(fingerprintKey, canaries.password),
      });
    });

    it('names result fields that are invalid', () => {
      const body = fixture('splunk', 'webhook-alert', canaries);
      body.result.url = 'runner-17/logs';
      expect(normalize('splunk', body)).toMatchObject({ ok: false, field: 'result.url' });
      delete body.results_link;
      expect(normalize('splunk', body)).toMatchObject({ ok: false, field: 'results_link' });
    });
  });

  describe('azure-monitor', () => {
    it('maps a Log Alerts V2 alert: dimensions give the place, Sev1 is high', () => {
      const body = fixture('azure-monitor', 'log-alert-v2', canaries);
      const { alert, lifecycle } = expectSuccess(normalize('azure-monitor', body));
      const dimensions = Object.fromEntries(
        body.data.alertContext.condition.allOf[0].dimensions.map((entry: { name: string; value: string }) => [
          entry.name,
          entry.value,
        ]),
      );
      const { essentials } = body.data;
      expect(alert).toEqual({
        source: 'azure-monitor',
        alertId: essentials.alertId,
        detector: essentials.alertRule,
        secretKind: dimensions.SecretKind,
        locations: [
          {
            url: dimensions.Url,
            repository: dimensions.Repository,
            workflow: dimensions.Workflow,
            runId: dimensions.RunId,
          },
        ],
        severity: 'high',
        observedAt: new Date(essentials.firedDateTime).toISOString(),
        fingerprint: correlationFingerprint(fingerprintKey, [
          'siem',
          'azure-monitor',
          essentials.alertRule,
          dimensions.SecretKind,
          dimensions.Url,
          dimensions.Workflow,
        ]),
        hint: null,
        connector: body.data.alertContext.properties.tourniquet_connector,
        // The place the dimensions name joins alerts about it (issue #16), beside the rule.
        correlation: [
          `azure-monitor:rule:${essentials.alertRule}`,
          `azure-monitor:repository:${dimensions.Repository}`,
          `azure-monitor:workflow:${dimensions.Repository}/${dimensions.Workflow}`,
          `azure-monitor:url:${dimensions.Url}`,
        ],
      });
      expect(lifecycle).toBe('raised');
    });

    it('takes custom properties from a Sentinel playbook and fingerprints the key in the description', () => {
      const body = fixture('azure-monitor', 'sentinel-playbook', canaries);
      const { alert, redactedBody } = expectSuccess(normalize('azure-monitor', body));
      expect(alert).toMatchObject({
        secretKind: 'n8n_api_key',
        severity: 'critical',
        connector: body.data.customProperties.tourniquet_connector,
        fingerprint: fingerprintSecret(fingerprintKey, canaries.n8nApiKey),
        hint: hintOf('n8n_api_key', canaries.n8nApiKey),
        locations: [{ url: 'https://n8n.acme.example/workflow/42' }],
      });
      expect((redactedBody as any).data.essentials.description).toMatch(
        /^Workflow export contained X-N8N-API-KEY: \[REDACTED:n8n_api_key:.{4}\]$/,
      );
    });

    it('reports a resolved metric alert and links to it in the portal when it names no place', () => {
      const body = fixture('azure-monitor', 'metric-alert-resolved', canaries);
      const { alert, lifecycle } = expectSuccess(normalize('azure-monitor', body));
      expect(lifecycle).toBe('resolved');
      expect(alert.severity).toBe('low');
      expect(alert.locations).toEqual([
        {
          url: expect.stringContaining(encodeURIComponent(body.data.essentials.alertId)),
          repository: body.data.customProperties.repository,
        },
      ]);
    });

    it('names an unknown severity', () => {
      const body = fixture('azure-monitor', 'log-alert-v2', canaries);
      body.data.essentials.severity = 'Sev9';
      expect(normalize('azure-monitor', body)).toMatchObject({
        ok: false,
        field: 'data.essentials.severity',
      });
    });
  });

  describe('elastic', () => {
    it('maps a detection rule action: first alert keys it, every alert adds its place', () => {
      const body = fixture('elastic', 'detection-rule-webhook', canaries);
      const { alert } = expectSuccess(normalize('elastic', body));
      const [first, second] = body.alerts;
      expect(alert).toEqual({
        source: 'elastic',
        alertId: first['kibana.alert.uuid'],
        detector: body.rule.name,
        secretKind: first.labels.secret_kind,
        locations: [{ url: first.url.full }, { url: second.url.full }],
        severity: 'high',
        observedAt: new Date(first['kibana.alert.original_time']).toISOString(),
        fingerprint: fingerprintSecret(fingerprintKey, canaries.slackToken),
        hint: hintOf('slack_token', canaries.slackToken),
        connector: first.labels.connector,
        correlation: [`elastic:rule:${body.rule.id}`],
      });
    });

    it('needs at least one alert document', () => {
      const body = fixture('elastic', 'detection-rule-webhook', canaries);
      expect(normalize('elastic', { ...body, alerts: [] })).toMatchObject({ ok: false, field: 'alerts' });
    });

    // A single alert document and the Webhook connector's example body: test/siem-vendor-elastic.test.ts.
  });

  describe('datadog', () => {
    it('maps a Cloud SIEM signal: tags and attributes give the place, the key id outranks a password guess', () => {
      const body = fixture('datadog', 'cloud-siem-signal', canaries);
      const { alert, lifecycle } = expectSuccess(normalize('datadog', body));
      expect(alert).toEqual({
        source: 'datadog',
        alertId: body.security.signal_id,
        detector: body.security.rule_name,
        secretKind: 'aws_access_key_id',
        locations: [
          {
            url: body.security.attributes.url,
            repository: 'acme/infra',
            workflow: 'terraform-apply.yml',
            runId: '9012349999',
          },
        ],
        severity: 'critical',
        observedAt: new Date(Number(body.date)).toISOString(),
        fingerprint: fingerprintSecret(fingerprintKey, canaries.awsAccessKeyId),
        hint: hintOf('aws_access_key_id', canaries.awsAccessKeyId),
        connector: 'github-actions:acme/infra',
        // The key id names the key to act on; its secret half was only fingerprinted.
        identifiers: { awsAccessKeyId: canaries.awsAccessKeyId },
        correlation: [
          `datadog:rule:${body.security.rule_id}`,
          `fingerprint:${fingerprintSecret(fingerprintKey, canaries.awsSecretAccessKey)}`,
        ],
      });
      expect(lifecycle).toBe('raised');
    });

    it('reports a recovered monitor as resolved', () => {
      const body = fixture('datadog', 'cloud-siem-signal', canaries);
      const recovered = expectSuccess(normalize('datadog', { ...body, transition: 'Recovered' }));
      expect(recovered.lifecycle).toBe('resolved');
      expect(recovered.event).toBe('monitor recovered');
    });

    // The default Webhooks payload and the monitor template: test/siem-vendor-datadog.test.ts.
  });

  describe('toxic data', () => {
    /**
     * The result as stored, but for the one place an AWS access key id may stay: it names the key the incident acts
     * on and grants nothing without its secret (`IDENTIFIER_KINDS`). Everywhere else it is redacted like a secret.
     */
    const beyondIdentifiers = (result: unknown): string =>
      JSON.stringify(result, (key: string, value: unknown) =>
        key === 'identifiers' || key === 'identifier' ? undefined : value,
      );

    const cases = SIEM_SOURCES.flatMap((source) =>
      fixtureNames(source).map((name) => [source, name] as const),
    );

    it('has fixtures for every source', () => {
      expect(new Set(cases.map(([source]) => source))).toEqual(new Set(SIEM_SOURCES));
    });

    it.each(cases)(
      '%s/%s: no canary survives into the alert, the redacted body or the findings',
      (source, name) => {
        const planted = canariesIn(source, name, canaries);
        const result = expectSuccess(normalize(source, loadFixture(source, name, canaries)));
        const stored = beyondIdentifiers(result);
        for (const canary of planted) {
          expect(stored).not.toContain(canary);
          // The private key's lines and the middle of every token are gone too, not just the whole string.
          expect(stored).not.toContain(canary.slice(4, -4));
        }
      },
    );

    it.each(SIEM_SOURCES.filter((source) => source !== 'generic'))(
      '%s: canaries added as extra fields and keys of every object are accepted and never survive',
      (source) => {
        for (const name of fixtureNames(source)) {
          const planted = plant(loadFixture(source, name, canaries), canaries, { strings: false });
          const result = expectSuccess(normalize(source, planted, new Date()));
          expect(result.findings.length).toBeGreaterThanOrEqual(3);
          const text = beyondIdentifiers(result);
          for (const canary of [canaries.githubToken, canaries.slackToken, canaries.awsAccessKeyId]) {
            expect(text).not.toContain(canary);
          }
        }
      },
    );

    it.each(SIEM_SOURCES)(
      '%s: a canary appended to every string never survives, accepted or not',
      (source) => {
        for (const name of fixtureNames(source)) {
          const planted = plant(loadFixture(source, name, canaries), canaries, { strings: true });
          const text = beyondIdentifiers(normalize(source, planted, new Date()));
          for (const canary of [canaries.githubToken, canaries.slackToken, canaries.awsAccessKeyId]) {
            expect(text).not.toContain(canary);
          }
        }
      },
    );
  });

  it('rejects a fingerprint key too short to be a key', () => {
    expect(() => normalizeSiemAlert('generic', {}, { fingerprintKey: Buffer.alloc(4) })).toThrow(
      /fingerprintKey/,
    );
  });
});

/** Adds tokens to every object (as a note field and as a key) and, optionally, to every string. */
function plant(value: unknown, canaries: Canaries, options: { strings: boolean }): unknown {
  const tokens = [canaries.githubToken, canaries.slackToken, canaries.awsAccessKeyId];
  let next = 0;
  const token = () => tokens[next++ % tokens.length];
  const visit = (node: unknown): unknown => {
    if (typeof node === 'string') return options.strings ? `${node} ${token()}` : node;
    if (Array.isArray(node)) return node.map(visit);
    if (node && typeof node === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(node)) copy[name] = visit(child);
      copy.planted_note = `seen in job output: ${token()} (copied)`;
      copy[token()] = 'planted';
      return copy;
    }
    return node;
  };
  return visit(value);
}
