/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- fixtures are vendor JSON, read back untyped */
import { randomBytes } from 'node:crypto';
import { correlationFingerprint, fingerprintSecret } from '../lib/fingerprint';
import { normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

/**
 * Fixtures and the pages they come from (values are realistic substitutes; every field the page shows is kept):
 * - log-alerts-v2-test-action, metric-alert-static-threshold, activity-log-administrative, log-alert-v1-search-results:
 *   the "Sample test action" payloads (`Log alert V2`, `Metric alert - Static threshold`, `Activity log alert`,
 *   `Log alert V1 - Number of results`) of SAMPLE_PAYLOADS_PAGE; field meanings from COMMON_SCHEMA_PAGE.
 * - sentinel-incident-created: the envelope of the "Microsoft Sentinel incident" trigger (SENTINEL_TRIGGERS_PAGE:
 *   incident properties, alerts, entities, workspace info), the incident of SENTINEL_INCIDENT_GET_PAGE's example,
 *   its alert and entity from the "Incidents - List Alerts / List Entities" examples of the same REST reference.
 */
const COMMON_SCHEMA_PAGE =
  'https://learn.microsoft.com/en-us/azure/azure-monitor/alerts/alerts-common-schema';
const SAMPLE_PAYLOADS_PAGE =
  'https://learn.microsoft.com/en-us/azure/azure-monitor/alerts/alerts-payload-samples';
const SENTINEL_TRIGGERS_PAGE =
  'https://learn.microsoft.com/en-us/azure/sentinel/automation/playbook-triggers-actions';
const SENTINEL_INCIDENT_GET_PAGE =
  'https://learn.microsoft.com/en-us/rest/api/securityinsights/incidents/get';

const fingerprintKey = randomBytes(32);
type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(body: unknown): NormalizeResult {
  return normalizeSiemAlert('azure-monitor', body, { fingerprintKey, now: new Date('2025-05-01T14:00:00Z') });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(name: string, canaries: Canaries): Record<string, any> {
  return loadFixture('azure-monitor', name, canaries) as Record<string, any>;
}

const parts = (rule: string, kind: string, place: string, workflow = ''): string[] => [
  'siem',
  'azure-monitor',
  rule,
  kind,
  place,
  workflow,
];

let canaries: Canaries;
beforeEach(() => {
  canaries = makeCanaries();
});

describe(`Azure Monitor common alert schema (${COMMON_SCHEMA_PAGE})`, () => {
  describe(`Log Alerts V2 (${SAMPLE_PAYLOADS_PAGE}, "Sample test action Log alert V2")`, () => {
    it('reads the kind from a dimension and the affected computer as the place', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      const { alert, lifecycle } = expectSuccess(normalize(body));
      const { essentials } = body.data;
      const criterion = body.data.alertContext.condition.allOf[0];
      expect(lifecycle).toBe('raised');
      expect(alert).toMatchObject({
        alertId: essentials.alertId,
        detector: essentials.alertRule,
        secretKind: 'github_personal_access_token',
        severity: 'medium',
        observedAt: new Date(essentials.firedDateTime).toISOString(),
        // No URL or repository in the split: the filtered query is where an analyst sees it.
        locations: [{ url: criterion.linkToFilteredSearchResultsUI }],
        fingerprint: correlationFingerprint(
          fingerprintKey,
          parts(essentials.alertRule, 'github_personal_access_token', 'resource:build-agent-07'),
        ),
        correlation: [`azure-monitor:rule:${essentials.alertRule}`, 'azure-monitor:resource:build-agent-07'],
      });
    });

    it('joins a later evaluation about the same computer, and keeps another computer apart', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      const first = expectSuccess(normalize(body)).alert;
      const later = structuredClone(body);
      later.data.essentials.alertId += '-2';
      later.data.essentials.firedDateTime = '2025-04-15T19:08:03.626Z';
      later.data.alertContext.condition.allOf[0].linkToFilteredSearchResultsUI += '&later';
      const elsewhere = structuredClone(body);
      elsewhere.data.alertContext.condition.allOf[0].dimensions[0].value = 'build-agent-08';
      expect(expectSuccess(normalize(later)).alert.fingerprint).toBe(first.fingerprint);
      const other = expectSuccess(normalize(elsewhere)).alert;
      expect(other.fingerprint).not.toBe(first.fingerprint);
      expect(other.correlation).toContain('azure-monitor:resource:build-agent-08');
    });

    it("the page's test payload as sent by Test action group (no kind, no secret) is not a secret exposure", () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      body.data.alertContext.properties = { customKey1: 'value1', customKey2: 'value2' };
      body.data.alertContext.condition.allOf[0].dimensions = [{ name: 'Computer', value: 'test-computer' }];
      body.data.alertContext.condition.allOf[0].searchQuery = 'Heartbeat';
      const { lifecycle, findings } = expectSuccess(normalize(body));
      expect(findings).toEqual([]);
      expect(lifecycle).toBe('not-a-secret');
    });

    it('a budget test payload (alertRule and severity null) is refused, naming data.essentials.alertRule', () => {
      // "Sample test action Budget alert" of the samples page, essentials as shown.
      const budget = {
        schemaId: 'azureMonitorCommonAlertSchema',
        data: {
          essentials: {
            monitoringService: 'CostAlerts',
            firedDateTime: '2025-04-15T17:49:34.022Z',
            description:
              'Delivery Confirmation: This is a sample budget alert from Azure Monitor Action Groups.',
            essentialsVersion: '1.0',
            alertContextVersion: '1.0',
            alertId:
              '/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/providers/Microsoft.CostManagement/alerts/Test_Alert',
            alertRule: null,
            severity: null,
            signalType: null,
            monitorCondition: 'Fired',
            alertTargetIDs: null,
            configurationItems: ['budgets'],
            originAlertId: null,
          },
          alertContext: { AlertCategory: 'budgets', AlertData: { BudgetName: 'Test_forcasted_budget' } },
        },
      };
      expect(normalize(budget)).toMatchObject({ ok: false, field: 'data.essentials.alertRule' });
    });

    it('without a resource dimension, takes the place from essentials.configurationItems', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      body.data.alertContext.condition.allOf[0].dimensions.splice(0, 1);
      body.data.essentials.configurationItems = ['Build-Agent-07'];
      const { alert } = expectSuccess(normalize(body));
      expect(alert.correlation).toContain('azure-monitor:resource:build-agent-07');
    });
  });

  describe(`metric alert, monitoringService Platform (${SAMPLE_PAYLOADS_PAGE}, "Metric alert - Static threshold")`, () => {
    it('takes the kind and connector from custom properties and the resource as the place', () => {
      const body = fixture('metric-alert-static-threshold', canaries);
      const { alert, lifecycle, event } = expectSuccess(normalize(body));
      const { essentials } = body.data;
      expect(lifecycle).toBe('raised');
      expect(event).toBeUndefined();
      expect(alert).toMatchObject({
        secretKind: 'azure_storage_account_key',
        connector: 'azure-storage:acmepaymentsartifacts',
        severity: 'high',
        locations: [{ url: expect.stringContaining(encodeURIComponent(essentials.alertId)) }],
        correlation: [
          `azure-monitor:rule:${essentials.alertRule}`,
          'azure-monitor:resource:acmepaymentsartifacts',
        ],
      });
    });

    it('a Resolved monitorCondition is resolved, recorded as "detector marked resolved"', () => {
      const body = fixture('metric-alert-static-threshold', canaries);
      body.data.essentials.monitorCondition = 'Resolved';
      body.data.essentials.resolvedDateTime = '2025-04-15T18:27:12.851Z';
      const { lifecycle, event } = expectSuccess(normalize(body));
      expect(lifecycle).toBe('resolved');
      expect(event).toBe('detector marked resolved');
    });

    it("the page's own custom properties name no secret: not a secret exposure, resolved or not", () => {
      const body = fixture('metric-alert-static-threshold', canaries);
      body.data.customProperties = { customKey1: 'value1', customKey2: 'value2' };
      expect(expectSuccess(normalize(body)).lifecycle).toBe('not-a-secret');
      body.data.essentials.monitorCondition = 'Resolved';
      expect(expectSuccess(normalize(body)).lifecycle).toBe('not-a-secret');
    });
  });

  describe(`activity log alert, Activity Log - Administrative (${SAMPLE_PAYLOADS_PAGE}, "Activity log alert")`, () => {
    it('a VM restart names no secret and holds none: not a secret exposure', () => {
      const body = fixture('activity-log-administrative', canaries);
      const { lifecycle, findings } = expectSuccess(normalize(body));
      expect(findings).toEqual([]);
      expect(lifecycle).toBe('not-a-secret');
    });

    it('with a secret kind in its custom properties it is a leak, placed at the affected resource', () => {
      const body = fixture('activity-log-administrative', canaries);
      body.data.customProperties = { secret_kind: 'azure_vm_extension_secret' };
      const { alert, lifecycle } = expectSuccess(normalize(body));
      expect(lifecycle).toBe('raised');
      expect(alert.severity).toBe('low');
      expect(alert.correlation).toContain('azure-monitor:resource:ci-runner-03');
    });

    it("the logged event's own properties are data, not the rule's settings", () => {
      const body = fixture('activity-log-administrative', canaries);
      body.data.customProperties = { secret_kind: 'azure_vm_extension_secret' };
      // A caller can shape an activity log event; a bad value there must not get the alert refused.
      body.data.alertContext.properties.url = 'not a url';
      body.data.alertContext.properties.secret_fingerprint = 'nope';
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations[0].url).toMatch(/^https:\/\/portal\.azure\.com\//);
    });
  });

  describe(`log search alert V1 with SearchResults (${SAMPLE_PAYLOADS_PAGE}, "Log alert V1 - Number of results")`, () => {
    it('each result row is a place: columns Repository, Workflow, RunId and Url, and the kind in SecretKind', () => {
      const body = fixture('log-alert-v1-search-results', canaries);
      const { alert, lifecycle } = expectSuccess(normalize(body));
      const [first, second] = body.data.alertContext.SearchResults.tables[0].rows;
      expect(lifecycle).toBe('raised');
      expect(alert).toMatchObject({
        secretKind: 'github_personal_access_token',
        severity: 'high',
        locations: [
          { url: first[6], repository: first[3], workflow: first[4], runId: first[5] },
          { url: second[6], repository: second[3], workflow: second[4], runId: second[5] },
        ],
        // The token printed in the Message column keys the incident; it is never kept.
        fingerprint: fingerprintSecret(fingerprintKey, canaries.githubToken),
      });
      expect(alert.correlation).toEqual(
        expect.arrayContaining([
          'azure-monitor:repository:acme/payments',
          'azure-monitor:workflow:acme/payments/release',
          'azure-monitor:workflow:acme/payments/nightly',
          `azure-monitor:url:${first[6]}`,
          'azure-monitor:resource:build-agent-07',
        ]),
      );
      expect(JSON.stringify(alert)).not.toContain(canaries.githubToken);
    });

    it('column names compare without case', () => {
      const body = fixture('log-alert-v1-search-results', canaries);
      const { columns, rows } = body.data.alertContext.SearchResults.tables[0];
      for (const column of columns) column.name = String(column.name).toUpperCase();
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations[0]).toEqual({
        url: rows[0][6],
        repository: rows[0][3],
        workflow: rows[0][4],
        runId: rows[0][5],
      });
      expect(alert.secretKind).toBe('github_personal_access_token');
    });

    it('Log Alerts V2 dimensions can carry the same columns (Dimensions of a V1 context too)', () => {
      const body = fixture('log-alert-v1-search-results', canaries);
      delete body.data.alertContext.SearchResults;
      body.data.alertContext.Dimensions = [
        { name: 'repository', value: 'acme/payments' },
        { name: 'URL', value: 'https://dev.azure.com/acme/payments/_build/results?buildId=7' },
        { name: 'secretkind', value: 'aws_access_key_id' },
      ];
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations).toEqual([
        { url: 'https://dev.azure.com/acme/payments/_build/results?buildId=7', repository: 'acme/payments' },
      ]);
      expect(alert.secretKind).toBe('aws_access_key_id');
    });
  });

  describe('attacks through the logged data', () => {
    it('a secret in a column value never reaches the alert, even in a column not named like one', () => {
      const body = fixture('log-alert-v1-search-results', canaries);
      const table = body.data.alertContext.SearchResults.tables[0];
      table.columns.push({ name: 'Password', type: 'string' }, { name: 'api_key', type: 'string' });
      table.rows[0].push(canaries.password, 'k3y-value-without-a-format');
      table.rows[1].push(null, 12345678);
      table.rows[0][3] = canaries.slackToken; // Repository
      const result = expectSuccess(normalize(body));
      const stored = JSON.stringify([result.alert, result.redactedBody, result.findings]);
      for (const secret of [
        canaries.password,
        canaries.slackToken,
        'k3y-value-without-a-format',
        '12345678',
      ]) {
        expect(stored).not.toContain(secret);
      }
      // A column named like a secret is the secret: it keys the incident.
      expect(result.alert.fingerprint).toBe(fingerprintSecret(fingerprintKey, canaries.password));
      expect(result.alert.hint).toEqual({
        kind: 'password',
        length: canaries.password.length,
        last4: canaries.password.slice(-4),
      });
      // The row whose Repository held a token names no repository, not a redaction marker.
      expect(result.alert.locations[0].repository).toBeUndefined();
      expect(JSON.stringify(result.alert.locations)).not.toContain('REDACTED');
    });

    it('a dimension named like a secret is redacted and fingerprinted, never read as a field', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      body.data.alertContext.condition.allOf[0].dimensions.push({
        name: 'ClientSecret',
        value: 'plain-text-s3cret',
      });
      const result = expectSuccess(normalize(body));
      expect(JSON.stringify([result.alert, result.redactedBody])).not.toContain('plain-text-s3cret');
      expect(result.alert.fingerprint).toBe(fingerprintSecret(fingerprintKey, 'plain-text-s3cret'));
    });

    it.each([
      ['text', 'not a url'],
      ['a script URL', 'javascript:alert(1)'],
      ['a relative path', '/relative/path'],
      ['an over-long URL', `https://x.example/${'a'.repeat(2100)}`],
    ])(
      'a Url column holding %s is ignored: the row keeps its other fields, at the evidence link',
      (_label, value) => {
        const body = fixture('log-alert-v1-search-results', canaries);
        body.data.alertContext.SearchResults.tables[0].rows[0][6] = value;
        const { alert } = expectSuccess(normalize(body));
        expect(alert.locations[0]).toEqual({
          url: body.data.alertContext.LinkToFilteredSearchResultsUI,
          repository: 'acme/payments',
          workflow: 'release',
          runId: '20250415.3',
        });
      },
    );

    it('a bad Url set by the rule author in custom properties is refused, naming the field', () => {
      const body = fixture('metric-alert-static-threshold', canaries);
      body.data.customProperties.url = 'not a url';
      expect(normalize(body)).toMatchObject({ ok: false, field: 'data.customProperties.url' });
      body.data.customProperties.url = 'https://dev.azure.com/acme/payments';
      body.data.customProperties.secret_fingerprint = 'not-hex';
      expect(normalize(body)).toMatchObject({ ok: false, field: 'data.customProperties.secret_fingerprint' });
    });

    it('over-long or malformed values from the data are ignored rather than refusing the alert', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      body.data.alertContext.condition.allOf[0].dimensions.push(
        { name: 'RunId', value: '9'.repeat(65) },
        { name: 'Repository', value: 'r'.repeat(257) },
        { name: 'secret_fingerprint', value: 'zz' },
        { name: 'SecretKindExtra', value: 'x' },
      );
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations).toEqual([{ url: expect.any(String) }]);
      expect(alert.secretKind).toBe('github_personal_access_token');
    });

    it('a huge table is bounded: the first 100 rows are read, the alert holds at most 100 places', () => {
      const body = fixture('log-alert-v1-search-results', canaries);
      const table = body.data.alertContext.SearchResults.tables[0];
      const template = table.rows[1];
      table.rows = Array.from({ length: 20_000 }, (_, index) => {
        const row = [...template];
        row[5] = String(index); // RunId
        row[6] = `https://dev.azure.com/acme/payments/_build/results?buildId=${index}`;
        row[8] = 'ok';
        return row;
      });
      // A row beyond the bound cannot change what the alert says.
      table.rows[150][7] = 'aws_access_key_id';
      const started = Date.now();
      const { alert } = expectSuccess(normalize(body));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(alert.locations).toHaveLength(100);
      expect(alert.locations.at(-1)?.runId).toBe('99');
      expect(alert.secretKind).toBe('github_personal_access_token');
      expect(alert.correlation.length).toBeLessThanOrEqual(100);
    });

    it('free text never becomes a correlation key', () => {
      const body = fixture('log-alerts-v2-test-action', canaries);
      const dimensions = body.data.alertContext.condition.allOf[0].dimensions;
      dimensions[0].value = 'build agent 07 printed the deploy key'; // Computer, with spaces
      dimensions.push(
        { name: 'Message', value: 'token=abc' },
        { name: 'Repository', value: 'acme/payments' },
      );
      const { alert } = expectSuccess(normalize(body));
      expect(alert.correlation).toEqual([
        `azure-monitor:rule:${body.data.essentials.alertRule}`,
        'azure-monitor:repository:acme/payments',
      ]);
    });
  });
});

describe(`Microsoft Sentinel incident trigger (${SENTINEL_TRIGGERS_PAGE}; incident: ${SENTINEL_INCIDENT_GET_PAGE})`, () => {
  it('a new incident is raised: custom details give the kind and place, the URL entity the link', () => {
    const body = fixture('sentinel-incident-created', canaries);
    const { alert, lifecycle, redactedBody } = expectSuccess(normalize(body));
    const incident = body.object;
    expect(lifecycle).toBe('raised');
    expect(alert).toEqual({
      source: 'azure-monitor',
      alertId: incident.id,
      detector: incident.properties.title,
      secretKind: 'slack_token',
      locations: [
        {
          url: 'https://github.com/acme/chatops/actions/runs/9012345678',
          repository: 'acme/chatops',
          workflow: 'deploy.yml',
          runId: '9012345678',
        },
      ],
      severity: 'high',
      observedAt: new Date(incident.properties.createdTimeUtc).toISOString(),
      // The token in the description keys the incident, whoever else reports it.
      fingerprint: fingerprintSecret(fingerprintKey, canaries.slackToken),
      hint: { kind: 'slack_token', length: canaries.slackToken.length, last4: canaries.slackToken.slice(-4) },
      correlation: [
        `azure-monitor:sentinel-incident:${incident.name}`,
        'azure-monitor:sentinel-rule:fab3d2d4-747f-46a7-8ef0-9c0be8112bf7',
        'azure-monitor:repository:acme/chatops',
        'azure-monitor:workflow:acme/chatops/deploy.yml',
        'azure-monitor:url:https://github.com/acme/chatops/actions/runs/9012345678',
      ],
    });
    expect(JSON.stringify(redactedBody)).not.toContain(canaries.slackToken);
  });

  it.each([
    ['High', 'high'],
    ['Medium', 'medium'],
    ['Low', 'low'],
    ['Informational', 'low'],
  ])('severity %s is %s', (severity, expected) => {
    const body = fixture('sentinel-incident-created', canaries);
    body.object.properties.severity = severity;
    expect(expectSuccess(normalize(body)).alert.severity).toBe(expected);
  });

  it.each([
    ['New', 'raised', undefined],
    ['Active', 'raised', undefined],
    ['Closed', 'resolved', 'detector marked resolved'],
  ])('status %s is %s', (status, lifecycle, event) => {
    const body = fixture('sentinel-incident-created', canaries);
    body.objectEventType = 'Update';
    body.object.properties.status = status;
    if (status === 'Closed') {
      // As in the REST example of a closed incident.
      Object.assign(body.object.properties, {
        classification: 'TruePositive',
        classificationComment: 'Token revoked',
        classificationReason: 'SuspiciousActivity',
      });
    }
    const result = expectSuccess(normalize(body));
    expect(result.lifecycle).toBe(lifecycle);
    expect(result.event).toBe(event);
  });

  it('an incident that names no secret and holds none is not a secret exposure', () => {
    const body = fixture('sentinel-incident-created', canaries);
    body.object.properties.description = 'Sign-ins from an unfamiliar location';
    delete body.object.properties.alerts[0].properties.additionalData['Custom Details'];
    expect(expectSuccess(normalize(body)).lifecycle).toBe('not-a-secret');
  });

  it('custom details may also sit in additionalData as plain fields', () => {
    const body = fixture('sentinel-incident-created', canaries);
    const additionalData = body.object.properties.alerts[0].properties.additionalData;
    delete additionalData['Custom Details'];
    additionalData.SecretKind = 'aws_access_key_id';
    const { alert } = expectSuccess(normalize(body));
    expect(alert.secretKind).toBe('aws_access_key_id');
    expect(alert.locations).toEqual([{ url: 'https://github.com/acme/chatops/actions/runs/9012345678' }]);
  });

  it('without a URL entity, the place is linked to the incident in the portal', () => {
    const body = fixture('sentinel-incident-created', canaries);
    body.object.properties.relatedEntities.pop();
    const { alert } = expectSuccess(normalize(body));
    expect(alert.locations[0].url).toBe(body.object.properties.incidentUrl);
  });

  it.each([
    ['objectSchemaType', (body: any) => (body.objectSchemaType = 'Alert')],
    ['object.properties.status', (body: any) => (body.object.properties.status = 'Dismissed')],
    ['object.properties.severity', (body: any) => (body.object.properties.severity = 'Sev1')],
    ['object.properties.title', (body: any) => delete body.object.properties.title],
    ['object.id', (body: any) => (body.object.id = 'x'.repeat(600))],
    [
      'object.properties.createdTimeUtc',
      (body: any) => (body.object.properties.createdTimeUtc = 'yesterday'),
    ],
  ])('refuses a bad %s, naming it', (field, spoil) => {
    const body = fixture('sentinel-incident-created', canaries);
    spoil(body);
    expect(normalize(body)).toMatchObject({ ok: false, field });
  });

  it('a Url entity that is not a web URL, or oversized custom details, are ignored', () => {
    const body = fixture('sentinel-incident-created', canaries);
    body.object.properties.relatedEntities[1].properties.url = 'javascript:alert(1)';
    const additionalData = body.object.properties.alerts[0].properties.additionalData;
    additionalData['Custom Details'] = JSON.stringify({ SecretKind: ['x'.repeat(40_000)] });
    const { alert } = expectSuccess(normalize(body));
    expect(alert.locations).toEqual([{ url: body.object.properties.incidentUrl }]);
    expect(alert.secretKind).toBe('slack_token'); // the kind of the token found in the description
  });
});

describe('the common alert schema is still what a body without objectSchemaType is read as', () => {
  it('names schemaId for a body of neither format', () => {
    expect(normalize({ hello: 'world' })).toMatchObject({ ok: false, field: 'schemaId' });
  });
});
