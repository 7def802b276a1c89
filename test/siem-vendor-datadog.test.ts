/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- fixtures are vendor JSON, read back untyped */
import { randomBytes } from 'node:crypto';
import { correlationFingerprint } from '../lib/fingerprint';
import { normalizeSiemAlert, type NormalizeResult } from '../gateway/siem';
import { fixtureNames, loadFixture, makeCanaries, type Canaries } from './fixtures/siem/canaries';

/**
 * Fixtures, from Datadog's Webhooks integration page (https://docs.datadoghq.com/integrations/webhooks/), whose
 * "Variables" section defines every `$VARIABLE` and its example values ($DATE epoch milliseconds, $EVENT_TITLE
 * `[Triggered] [Memory Alert]`, $ALERT_TITLE `[Triggered on {host:ip-012345}] Host is Down`, $ALERT_TRANSITION
 * Recovered, Triggered/Re-Triggered, No Data/Re-No Data, Warn/Re-Warn, Renotify):
 * - `webhook-default-payload`: the payload the integration tile pre-fills for a new webhook, unchanged —
 *   `body` ($EVENT_MSG), `last_updated`, `event_type`, `title` ($EVENT_TITLE), `date`, `org` {`id`, `name`}, `id`
 *   (the same shape Datadog's integration pages extend, e.g. https://docs.datadoghq.com/integrations/ilert/).
 *   The body ends with the monitor links Datadog appends to every monitor notification.
 * - `monitor-payload`: that payload plus the monitor variables ($ALERT_ID, $ALERT_TRANSITION, $ALERT_TITLE,
 *   $ALERT_STATUS, $ALERT_PRIORITY, $ALERT_SCOPE, $ALERT_CYCLE_KEY, $ALERT_TYPE, $LINK, $TAGS): the template
 *   docs/sources.md asks users to paste.
 * - `cloud-siem-signal`: the earlier Cloud SIEM template ($SECURITY_* variables), kept working.
 */
const WEBHOOKS_PAGE = 'https://docs.datadoghq.com/integrations/webhooks/';

const fingerprintKey = randomBytes(32);
type Success = Extract<NormalizeResult, { ok: true }>;

function normalize(body: unknown): NormalizeResult {
  return normalizeSiemAlert('datadog', body, { fingerprintKey });
}

function expectSuccess(result: NormalizeResult): Success {
  if (!result.ok) throw new Error(`expected success, got ${result.field}: ${result.message}`);
  return result;
}

function fixture(name: string, canaries: Canaries): Record<string, any> {
  return loadFixture('datadog', name, canaries) as Record<string, any>;
}

/** The same monitor notifying again: Datadog gives every notification a new event id, date and title prefix. */
function renotified(body: Record<string, any>, prefix: string, minutesLater: number): Record<string, any> {
  const date = String(Number(body.date) + minutesLater * 60_000);
  return {
    ...body,
    id: String(BigInt(body.id) + BigInt(minutesLater)),
    date,
    last_updated: date,
    title: String(body.title).replace(/^\[Triggered\]/, prefix),
  };
}

describe(`Datadog Webhooks integration (${WEBHOOKS_PAGE})`, () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  it('has a test for every fixture of the directory', () => {
    expect(fixtureNames('datadog').sort()).toEqual([
      'cloud-siem-signal',
      'monitor-payload',
      'webhook-default-payload',
    ]);
  });

  describe('the default payload', () => {
    it('is accepted and raised: the title without its prefix names it, the monitor link locates and keys it', () => {
      const body = fixture('webhook-default-payload', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.event).toBeUndefined();
      expect(result.alert).toEqual({
        source: 'datadog',
        alertId: body.id,
        detector: 'GitHub token printed in CI logs',
        secretKind: 'unknown',
        locations: [{ url: 'https://app.datadoghq.com/monitors/18692904' }],
        severity: 'high',
        observedAt: new Date(Number(body.date)).toISOString(),
        fingerprint: correlationFingerprint(fingerprintKey, [
          'siem',
          'datadog',
          'GitHub token printed in CI logs',
          '',
          '',
          '',
          'monitor:18692904',
          'group:',
        ]),
        hint: null,
        correlation: ['datadog:monitor:18692904'],
      });
    });

    it('needs no link: without a monitor link in the message it points at the event, on the documented $LINK form', () => {
      const body: Record<string, any> = {
        ...fixture('webhook-default-payload', canaries),
        body: 'Secret printed in CI logs',
      };
      const { alert } = expectSuccess(normalize(body));
      expect(alert.locations).toEqual([
        { url: `https://app.datadoghq.com/event/jump_to?event_id=${body.id}` },
      ]);
      expect(alert.correlation).toEqual([`datadog:event:${body.id}`]);
    });

    it('keeps the Datadog site of the monitor link (EU)', () => {
      const body = fixture('webhook-default-payload', canaries);
      body.body = String(body.body).replaceAll('app.datadoghq.com', 'app.datadoghq.eu');
      expect(expectSuccess(normalize(body)).alert.locations).toEqual([
        { url: 'https://app.datadoghq.eu/monitors/18692904' },
      ]);
    });

    it('takes a monitor link only from a Datadog site: a look-alike host is not a location nor a key', () => {
      for (const link of [
        'https://evil.example/monitors/18692904',
        'https://app.datadoghq.com.evil.example/monitors/18692904',
        'http://app.datadoghq.com/monitors/18692904',
      ]) {
        const body: Record<string, any> = {
          ...fixture('webhook-default-payload', canaries),
          body: `[[Monitor Status](${link})]`,
        };
        const { alert } = expectSuccess(normalize(body));
        expect(alert.locations).toEqual([
          { url: `https://app.datadoghq.com/event/jump_to?event_id=${body.id}` },
        ]);
        expect(alert.correlation).toEqual([`datadog:event:${body.id}`]);
      }
    });

    it('takes off only the priority and transition prefixes: other brackets belong to the name', () => {
      // The page's own $EVENT_TITLE example.
      const body = {
        ...fixture('webhook-default-payload', canaries),
        title: '[P2] [Triggered] [Memory Alert]',
      };
      const { alert } = expectSuccess(normalize(body));
      expect(alert.detector).toBe('[Memory Alert]');
      expect(alert.severity).toBe('high');
    });

    it('reads P1 in the title prefix as critical', () => {
      const body = {
        ...fixture('webhook-default-payload', canaries),
        title: '[P1] [Triggered] Token leaked',
      };
      expect(expectSuccess(normalize(body)).alert.severity).toBe('critical');
    });
  });

  describe('renotifications of one monitor join one incident', () => {
    it.each([
      ['[Re-Triggered]', 'raised', 'monitor re-triggered'],
      ['[Renotify]', 'raised', 'monitor renotified'],
      ['[Warn]', 'raised', 'monitor warning'],
      ['[No Data]', 'raised', 'monitor reported no data'],
      ['[Recovered]', 'resolved', 'monitor recovered'],
    ])('default payload titled %s: same fingerprint, %s (%s)', (prefix, lifecycle, event) => {
      const first = fixture('webhook-default-payload', canaries);
      const again = renotified(first, prefix, 15);
      const opened = expectSuccess(normalize(first));
      const next = expectSuccess(normalize(again));
      expect(next.alert.fingerprint).toBe(opened.alert.fingerprint);
      expect(next.alert.detector).toBe(opened.alert.detector);
      expect(next.alert.alertId).not.toBe(opened.alert.alertId);
      expect(next.lifecycle).toBe(lifecycle);
      expect(next.event).toBe(event);
    });

    it('a multi-alert monitor keys each group apart, the same in the title and in $ALERT_SCOPE', () => {
      const body = fixture('monitor-payload', canaries);
      const payments = expectSuccess(normalize(body)).alert.fingerprint;
      const sameGroupFromTitle = expectSuccess(
        normalize({
          ...body,
          alert_scope: '',
          alert_transition: '',
          title: String(body.title).replace('P1', 'P2'),
        }),
      ).alert.fingerprint;
      expect(sameGroupFromTitle).toBe(payments);
      const billing = expectSuccess(
        normalize({
          ...body,
          alert_scope: 'repository:acme/billing',
          title: String(body.title).replace('acme/payments', 'acme/billing'),
        }),
      ).alert.fingerprint;
      expect(billing).not.toBe(payments);
    });

    it('another monitor with the same name opens its own incident', () => {
      const body = fixture('webhook-default-payload', canaries);
      const other = { ...body, body: String(body.body).replaceAll('18692904', '18692905') };
      expect(expectSuccess(normalize(other)).alert.fingerprint).not.toBe(
        expectSuccess(normalize(body)).alert.fingerprint,
      );
    });
  });

  describe('the monitor payload', () => {
    it('is accepted and raised: $ALERT_ID keys it, $TAGS place it, $ALERT_PRIORITY sets severity', () => {
      const body = fixture('monitor-payload', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.event).toBeUndefined();
      expect(result.alert).toMatchObject({
        alertId: body.id,
        detector: 'GitHub token printed in CI logs',
        secretKind: 'github_personal_access_token',
        locations: [{ url: body.link, repository: 'acme/payments' }],
        severity: 'critical',
        observedAt: new Date(Number(body.date)).toISOString(),
        correlation: ['datadog:monitor:18692904'],
      });
    });

    it.each([
      ['Re-Triggered', 'raised', 'monitor re-triggered'],
      ['Re-Warn', 'raised', 'monitor warning again'],
      ['Re-No Data', 'raised', 'monitor reported no data again'],
      ['Recovered', 'resolved', 'monitor recovered'],
    ])('$ALERT_TRANSITION %s → %s, joining the first notification', (transition, lifecycle, event) => {
      const body = fixture('monitor-payload', canaries);
      const first = expectSuccess(normalize(body));
      const next = expectSuccess(
        normalize({
          ...renotified(body, '', 30),
          alert_transition: transition,
          title: String(body.title).replace('Triggered', transition),
        }),
      );
      expect(next.alert.fingerprint).toBe(first.alert.fingerprint);
      expect(next.lifecycle).toBe(lifecycle);
      expect(next.event).toBe(event);
    });

    it('$ALERT_TRANSITION outranks the title prefix', () => {
      const body = { ...fixture('monitor-payload', canaries), alert_transition: 'Recovered' };
      expect(expectSuccess(normalize(body)).lifecycle).toBe('resolved');
    });

    it('reads $PRIORITY words (normal, low) as no severity: a leak is not lowered by the event display priority', () => {
      const body = fixture('monitor-payload', canaries);
      const withoutPriority = {
        ...body,
        alert_priority: '',
        priority: 'low',
        title: String(body.title).replace('[P1] ', ''),
      };
      expect(expectSuccess(normalize(withoutPriority)).alert.severity).toBe('high');
    });

    it('treats variables Datadog rendered empty as absent', () => {
      const body: Record<string, any> = {
        ...fixture('monitor-payload', canaries),
        alert_id: '',
        link: '',
        alert_scope: '',
      };
      const { alert } = expectSuccess(normalize(body));
      // The monitor id then comes from the monitor link in the message, as for the default payload.
      expect(alert.correlation).toEqual(['datadog:monitor:18692904']);
      expect(alert.locations[0].url).toBe(body.body.match(/https:\/\/app\.datadoghq\.com\/monitors\/\d+/)[0]);
    });
  });

  describe('the Cloud SIEM template', () => {
    it('still maps a signal, keyed by the secret it carries', () => {
      const body = fixture('cloud-siem-signal', canaries);
      const result = expectSuccess(normalize(body));
      expect(result.lifecycle).toBe('raised');
      expect(result.alert.detector).toBe(body.security.rule_name);
      expect(result.alert.correlation[0]).toBe(`datadog:rule:${body.security.rule_id}`);
    });
  });

  describe('refused with 400 naming the field', () => {
    it.each([
      ['a missing event id', { id: undefined }, 'id'],
      ['a missing date', { date: undefined }, 'date'],
      ['a date that is not epoch milliseconds', { date: '2024-05-01' }, 'date'],
      ['an unknown transition', { alert_transition: 'Exploded' }, 'alert_transition'],
      ['an inherited property name as transition', { alert_transition: 'constructor' }, 'alert_transition'],
      ['a transition in the earlier template field', { transition: 'Exploded' }, 'transition'],
      ['a monitor id that is not a number', { alert_id: '18692904; drop' }, 'alert_id'],
      ['a link that is not a URL', { link: 'app.datadoghq.com/event' }, 'link'],
      ['a javascript: link', { link: 'javascript:alert(1)' }, 'link'],
      ['a title longer than 1024 characters', { title: 'x'.repeat(1025) }, 'title'],
      ['a message longer than 64 KiB', { body: 'x'.repeat(65537) }, 'body'],
      ['tags that are not text', { tags: ['repository:acme/payments'] }, 'tags'],
      ['an event id that is an object', { id: { value: 1 } }, 'id'],
    ])('%s', (_name, change, field) => {
      const body = { ...fixture('monitor-payload', canaries), ...change };
      const result = normalize(body);
      expect(result).toMatchObject({ ok: false, field });
    });

    it('an empty object, naming the first field Datadog always sends', () => {
      expect(normalize({})).toMatchObject({ ok: false, field: 'id' });
    });

    it('a body that is not an object', () => {
      expect(normalize('[Triggered] token leaked')).toMatchObject({ ok: false, field: '(body)' });
      expect(normalize([fixture('webhook-default-payload', canaries)])).toMatchObject({
        ok: false,
        field: '(body)',
      });
    });

    it('never echoes the refused value', () => {
      const result = normalize({
        ...fixture('monitor-payload', canaries),
        alert_transition: 'Exploded-7f3c',
      });
      expect(JSON.stringify(result)).not.toContain('7f3c');
    });
  });

  describe('secrets in free text', () => {
    it.each(['body', 'alert_status', 'title', 'alert_title'])(
      'a token in %s never reaches the normalized alert, its event or its findings',
      (field) => {
        const body = fixture('monitor-payload', canaries);
        body[field] = `${String(body[field])} token=${canaries.githubToken} key=${canaries.slackToken}`;
        const result = expectSuccess(normalize(body));
        const stored = JSON.stringify({ ...result, redactedBody: result.redactedBody });
        for (const secret of [canaries.githubToken, canaries.slackToken]) {
          expect(stored).not.toContain(secret);
          expect(stored).not.toContain(secret.slice(4, -4));
        }
        // The token found is what keys the incident: alerts about that value from any detector join.
        expect(result.alert.hint?.last4).toBe(canaries.githubToken.slice(-4));
        expect(result.lifecycle).toBe('raised');
      },
    );

    it('a token in the default payload message is fingerprinted, and the monitor link is still read', () => {
      const body = fixture('webhook-default-payload', canaries);
      body.body = `${canaries.githubToken}\n${String(body.body)}`;
      const result = expectSuccess(normalize(body));
      expect(JSON.stringify(result)).not.toContain(canaries.githubToken);
      expect(result.alert.locations).toEqual([{ url: 'https://app.datadoghq.com/monitors/18692904' }]);
    });
  });
});
