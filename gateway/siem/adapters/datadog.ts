import { z } from 'zod';
import type { AlertLifecycle } from '../alert';
import { absoluteUrlSchema } from '../alert';
import { defineAdapter } from '../adapter';
import {
  locationFromFields,
  originsFromFields,
  parseVendorTime,
  readTourniquetFields,
  severityOrDefault,
  siemCorrelationParts,
} from '../fields';

/**
 * What `$ALERT_TRANSITION` (and a monitor event title's `[…]` prefix) can say, per the Webhooks integration page
 * (https://docs.datadoghq.com/integrations/webhooks/): Recovered, Triggered/Re-Triggered, No Data/Re-No Data,
 * Warn/Re-Warn, Renotify, and `Null` (no transition, as on a plain event). Keys are lower case.
 */
const TRANSITIONS = new Map<string, { lifecycle: AlertLifecycle; event?: string }>([
  ['triggered', { lifecycle: 'raised' }],
  ['re-triggered', { lifecycle: 'raised', event: 'monitor re-triggered' }],
  ['warn', { lifecycle: 'raised', event: 'monitor warning' }],
  ['re-warn', { lifecycle: 'raised', event: 'monitor warning again' }],
  ['no data', { lifecycle: 'raised', event: 'monitor reported no data' }],
  ['re-no data', { lifecycle: 'raised', event: 'monitor reported no data again' }],
  ['renotify', { lifecycle: 'raised', event: 'monitor renotified' }],
  ['recovered', { lifecycle: 'resolved', event: 'monitor recovered' }],
  ['null', { lifecycle: 'raised' }],
]);

const KNOWN_TRANSITIONS = [...TRANSITIONS.keys()].filter((name) => name !== 'null');

/**
 * Datadog renders a variable it has no value for as an empty string (`"alert_id": ""` on a plain event), so an
 * empty optional field reads as absent rather than being refused.
 */
function optionalText(max: number) {
  return z
    .string()
    .max(max)
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));
}

const transitionSchema = optionalText(64).refine(
  (value) => value === undefined || TRANSITIONS.has(value.toLowerCase()),
  `expected a Datadog alert transition: ${KNOWN_TRANSITIONS.join(', ')}`,
);

const epochMilliseconds = z.union([z.string().regex(/^\d{10,16}$/), z.number().int().positive()], {
  error: 'expected epoch milliseconds ($DATE)',
});

/**
 * A Datadog Webhooks integration payload. Datadog fills `$VARIABLES` into a JSON template; three are accepted:
 * - the payload Datadog pre-fills for a new webhook (`body`, `last_updated`, `event_type`, `title`, `date`, `org`,
 *   `id`): it carries no monitor id, transition or link, so those come from the title's `[Triggered]` prefix and
 *   the monitor link Datadog appends to `$EVENT_MSG`;
 * - that payload plus the monitor variables (`alert_id`, `alert_transition`, `alert_scope`, `alert_priority`,
 *   `link`, `tags`, …), the template in docs/sources.md;
 * - the earlier Cloud SIEM template (`transition`, `priority`, `security.*`, `message`).
 */
export const datadogWebhookSchema = z.looseObject({
  id: z
    .union([z.string().min(1).max(128), z.number().int().nonnegative()], {
      error: 'expected the event id ($ID): text of 1 to 128 characters, or a number',
    })
    .transform(String),
  title: optionalText(1024),
  date: epochMilliseconds,
  last_updated: z.union([epochMilliseconds, z.literal('')]).optional(),
  event_type: optionalText(128),
  body: z.string().max(65536).optional(),
  message: z.string().max(65536).optional(),
  link: z
    .union(
      [
        // Zod runs this after a failed URL check too, so it must not throw on text that is not a URL.
        absoluteUrlSchema.refine(
          (url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol),
          'expected an http(s) URL',
        ),
        z.literal(''),
      ],
      { error: 'expected the event link ($LINK): an http(s) URL' },
    )
    .optional(),
  alert_id: optionalText(20).refine(
    (value) => value === undefined || /^\d+$/.test(value),
    'expected the numeric id of a Datadog monitor',
  ),
  alert_transition: transitionSchema,
  transition: transitionSchema,
  alert_title: optionalText(1024),
  alert_status: z.string().max(4096).optional(),
  alert_scope: optionalText(4096),
  alert_cycle_key: optionalText(256),
  alert_type: optionalText(32),
  alert_priority: optionalText(16),
  priority: optionalText(16),
  tags: z.string().max(16384).optional(),
  org: z
    .looseObject({
      id: z.union([z.string().max(64), z.number()]).optional(),
      name: z.string().max(256).optional(),
    })
    .optional(),
  security: z
    .looseObject({
      signal_id: z.string().max(256).optional(),
      rule_id: z.string().max(256).optional(),
      rule_name: z.string().max(256).optional(),
      severity: z.string().max(32).optional(),
      attributes: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});

type DatadogWebhook = z.infer<typeof datadogWebhookSchema>;

/** `$TAGS` is `key:value, key:value`; values keep their own colons (`url:https://…`). */
function parseTags(tags: string | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const tag of (tags ?? '').split(',')) {
    const trimmed = tag.trim();
    const colon = trimmed.indexOf(':');
    if (colon > 0 && !(trimmed.slice(0, colon) in record))
      record[trimmed.slice(0, colon)] = trimmed.slice(colon + 1);
  }
  return record;
}

/**
 * `[P1] [Triggered on {host:web-1}] Name`: Datadog prefixes a monitor event's title with its priority and
 * transition (and, for a multi-alert monitor, the group). Only those words are taken off; any other bracket is
 * part of the monitor's name.
 */
const TITLE_PREFIX =
  /^\[(?:(?<priority>P[1-5])|(?<transition>Triggered|Re-Triggered|Recovered|Warn|Re-Warn|No Data|Re-No Data|Renotify)(?: on (?<group>\{[^{}[\]]{0,512}\}))?)\]\s*/i;

interface MonitorTitle {
  name: string;
  transition?: string;
  priority?: string;
  group?: string;
}

function parseMonitorTitle(title: string | undefined): MonitorTitle {
  let rest = (title ?? '').trim();
  const parsed: MonitorTitle = { name: '' };
  for (let prefixes = 0; prefixes < 3; prefixes += 1) {
    const match = TITLE_PREFIX.exec(rest);
    if (!match?.groups) break;
    parsed.priority ??= match.groups.priority;
    parsed.transition ??= match.groups.transition;
    parsed.group ??= match.groups.group;
    rest = rest.slice(match[0].length);
  }
  parsed.name = rest.trim();
  return parsed;
}

/**
 * The monitor link Datadog appends to a monitor's `$EVENT_MSG` (`[[Monitor Status](https://app.datadoghq.com/
 * monitors/1234?…)]`). The message is free text, read here only after scrubbing and only for a Datadog site host
 * and a number, so nothing else of it can reach the alert.
 */
const MONITOR_LINK =
  /https:\/\/(?<host>(?:[a-z0-9-]{1,63}\.){0,4}(?:datadoghq\.com|datadoghq\.eu|ddog-gov\.com))\/monitors(?:#|\/|\/#)(?<id>\d{1,20})/i;

function monitorLinkIn(text: string | undefined): { host: string; id: string } | undefined {
  const match = MONITOR_LINK.exec(text ?? '');
  return match?.groups ? { host: match.groups.host.toLowerCase(), id: match.groups.id } : undefined;
}

/** `{host:web-1,env:prod}` (title) and `host:web-1, env:prod` (`$ALERT_SCOPE`) name one group the same way. */
function groupKey(scope: string | undefined): string {
  return (scope ?? '')
    .replace(/^\{|\}$/g, '')
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '')
    .sort()
    .join(',');
}

/** Datadog's "P1"…"P5"; `$PRIORITY` (`normal`, `low`) is the event's display priority, not a severity. */
function monitorPriority(...candidates: (string | undefined)[]): string | undefined {
  return candidates.find((candidate) => candidate !== undefined && /^P[1-5]$/i.test(candidate));
}

/** The page a person opens for this alert, on the organisation's own Datadog site when the message names it. */
function evidenceLink(body: DatadogWebhook, monitorId: string | undefined): { url: string; field: string } {
  if (body.link) return { url: body.link, field: 'link' };
  const linked = monitorLinkIn(body.body ?? body.message);
  const host = linked?.host ?? 'app.datadoghq.com';
  if (monitorId !== undefined)
    return { url: `https://${host}/monitors/${monitorId}`, field: body.alert_id ? 'alert_id' : 'body' };
  // The `$LINK` form the Webhooks page documents, for an event that names no monitor.
  return { url: `https://${host}/event/jump_to?event_id=${encodeURIComponent(body.id)}`, field: 'id' };
}

export const datadogAdapter = defineAdapter({
  schema: datadogWebhookSchema,
  map(body, { now }) {
    const security = body.security;
    const fields = readTourniquetFields([
      { record: parseTags(body.tags), path: 'tags' },
      { record: security?.attributes, path: 'security.attributes' },
    ]);
    const title = parseMonitorTitle(body.title ?? body.alert_title);
    const monitorId = body.alert_id ?? monitorLinkIn(body.body ?? body.message)?.id;
    const detector =
      fields.detector?.value ??
      (security?.rule_name ||
        title.name ||
        (monitorId === undefined ? 'datadog' : `datadog monitor ${monitorId}`));
    const evidence = evidenceLink(body, monitorId);
    const location = locationFromFields(fields, evidence.url);

    const transitionWord = body.alert_transition ?? body.transition ?? title.transition ?? 'null';
    const transition = TRANSITIONS.get(transitionWord.toLowerCase()) ?? { lifecycle: 'raised' as const };

    // A renotification gets a new event id, date and `[Re-Triggered]` title: the incident is keyed on what stays,
    // the monitor and its group, so every notification about one monitor joins one incident.
    const group = groupKey(body.alert_scope ?? title.group);
    const correlationParts = [
      ...siemCorrelationParts('datadog', detector, fields),
      `monitor:${monitorId ?? ''}`,
      `group:${group}`,
    ];
    const correlation = security?.rule_id
      ? `datadog:rule:${security.rule_id}`
      : monitorId !== undefined
        ? `datadog:monitor:${monitorId}`
        : `datadog:event:${body.id}`;
    return {
      alertId: fields.alertId?.value ?? (security?.signal_id || body.id),
      detector,
      secretKind: fields.secretKind?.value,
      locations: [location],
      severity: severityOrDefault(
        fields.severity?.value,
        security?.severity,
        monitorPriority(body.alert_priority, body.priority, title.priority),
      ),
      observedAt: parseVendorTime(body.date) ?? now,
      connector: fields.connector?.value,
      declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
      correlationParts,
      correlation: [correlation],
      lifecycle: transition.lifecycle,
      ...(transition.event ? { event: transition.event } : {}),
      origins: { ...originsFromFields(fields, evidence.field), observedAt: 'date' },
    };
  },
});
