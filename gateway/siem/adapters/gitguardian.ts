import { z } from 'zod';
import type { AlertLifecycle, AlertLocation, Severity } from '../alert';
import { absoluteUrlSchema } from '../alert';
import { defineAdapter, pathIs } from '../adapter';
import { severityFromVendor } from '../fields';

const isoTime = z.iso.datetime({ offset: true });

/**
 * GitGuardian custom webhook: incident, occurrence and note events
 * (https://docs.gitguardian.com/platform/configure-alerting/notifiers-integrations/custom-webhook, "Payload structure").
 */
export const gitguardianWebhookSchema = z.looseObject({
  source: z.string().max(64).optional(),
  timestamp: isoTime,
  action: z.string().min(1).max(64),
  incident: z.looseObject({
    id: z.number().int().nonnegative(),
    date: isoTime,
    detector: z.looseObject({
      name: z.string().min(1).max(128),
      display_name: z.string().max(256).optional(),
    }),
    severity: z.string().max(32).nullable().optional(),
    validity: z.string().max(32).nullable().optional(),
    gitguardian_url: absoluteUrlSchema,
  }),
  occurrence: z
    .looseObject({
      id: z.number().int().nonnegative().optional(),
      date: isoTime.optional(),
      url: absoluteUrlSchema.optional(),
      filepath: z.string().max(4096).optional(),
      source: z
        .looseObject({
          url: absoluteUrlSchema.optional(),
          type: z.string().max(64).optional(),
          full_name: z.string().max(256).optional(),
          name: z.string().max(256).optional(),
        })
        .optional(),
    })
    .optional(),
});

type GitGuardianBody = z.infer<typeof gitguardianWebhookSchema>;
type Incident = GitGuardianBody['incident'];

/** What an event means for containment, and the timeline entry when it is more than a new alert. */
interface Meaning {
  lifecycle: AlertLifecycle;
  event?: string;
}

/** Actions that are a leak again or somewhere new: they open or join an incident. */
const RAISING_EVENTS: Record<string, string | undefined> = {
  incident_triggered: undefined,
  new_occurrence: 'new occurrence detected',
  incident_regression: 'regression detected',
  incident_reopened: 'detector reopened the incident',
};
const RESOLVING_ACTIONS = new Set(['incident_resolved', 'incident_ignored']);

/**
 * GitGuardian's validity words (the `validity` of its incidents API). The event names only these: any other text
 * could be anything the sender put there, a secret included.
 */
const VALIDITY_WORDS = new Set([
  'valid',
  'invalid',
  'failed_to_check',
  'no_checker',
  'not_checked',
  'unknown',
]);

function validityOf(incident: Incident): string | undefined {
  const word = incident.validity?.trim().toLowerCase();
  return word !== undefined && VALIDITY_WORDS.has(word) ? word : undefined;
}

function severity(incident: Incident): Severity {
  // A secret GitGuardian checked and found working is in use, whatever the triage says.
  if (validityOf(incident) === 'valid') return 'critical';
  return severityFromVendor(incident.severity) ?? 'high';
}

function validityChanged(incident: Incident): Meaning {
  const validity = validityOf(incident);
  if (validity === 'valid') return { lifecycle: 'escalated', event: 'validity confirmed active' };
  // Invalid or unchecked never lowers anything: a revoked-looking secret may still be in use somewhere.
  return { lifecycle: 'updated', event: validity ? `validity changed to ${validity}` : 'validity changed' };
}

/**
 * The webhook carries only the new severity, so "raised" is read as "now critical or high": lowering from critical
 * to high is reported the same way, which is harmless since an escalation never lowers an incident.
 */
function severityChanged(incident: Incident): Meaning {
  // The normalized word, never the vendor's text: the event must hold nothing the sender chose freely.
  const stated = severityFromVendor(incident.severity);
  if (stated === 'critical' || stated === 'high') {
    return { lifecycle: 'escalated', event: `severity raised to ${stated}` };
  }
  return { lifecycle: 'updated', event: stated ? `severity changed to ${stated}` : 'severity changed' };
}

function meaningOf(action: string, incident: Incident): Meaning {
  if (Object.hasOwn(RAISING_EVENTS, action)) {
    const event = RAISING_EVENTS[action];
    return event === undefined ? { lifecycle: 'raised' } : { lifecycle: 'raised', event };
  }
  if (RESOLVING_ACTIONS.has(action)) return { lifecycle: 'resolved', event: 'detector marked resolved' };
  if (action === 'incident_validity_changed') return validityChanged(incident);
  if (action === 'incident_severity_changed') return severityChanged(incident);
  // Assignment, access, sharing, feedback, notes, and actions GitGuardian adds later: nothing to contain.
  return { lifecycle: 'updated' };
}

/** `…/workspace/8/incidents/…` → `dashboard.gitguardian.com/workspace/8`: incident ids are per workspace. */
function workspaceOf(incidentUrl: string): string {
  const url = new URL(incidentUrl);
  const workspace = /^\/workspace\/[^/]+/.exec(url.pathname)?.[0] ?? '';
  return `${url.host}${workspace}`;
}

/** A GitHub/GitLab source's `full_name` is the repository; other sources have no repository. */
function repositoryOf(occurrence: NonNullable<GitGuardianBody['occurrence']>): string | undefined {
  const source = occurrence.source;
  if (!source || !['github', 'gitlab', 'bitbucket', 'azure_devops'].includes(source.type ?? ''))
    return undefined;
  return source.full_name ?? source.name;
}

/**
 * The test message ("How to test the webhook" on the custom webhook page) keeps the v1 scan-result shape: these
 * fields, with these JSON types. `validity` is optional, as in the v1 schema.
 */
const TEST_MESSAGE_FIELDS: Record<string, 'object' | 'string' | 'array'> = {
  author: 'object',
  origin: 'string',
  date: 'string',
  type: 'string',
  policy: 'string',
  gitguardian_link: 'string',
  break_url: 'string',
  severity: 'string',
  matches: 'array',
};
/** What every incident event carries (and the schema requires): a body with any of them is never a test. */
const EVENT_FIELDS = ['action', 'incident', 'occurrence', 'timestamp'];

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/** Recognises the test message by its shape alone; a body the schema could accept is never one. */
function isTestMessage(rawBody: unknown): boolean {
  if (jsonType(rawBody) !== 'object') return false;
  const body = rawBody as Record<string, unknown>;
  if (EVENT_FIELDS.some((field) => Object.hasOwn(body, field))) return false;
  return Object.entries(TEST_MESSAGE_FIELDS).every(
    ([field, type]) => Object.hasOwn(body, field) && jsonType(body[field]) === type,
  );
}

export const gitguardianAdapter = defineAdapter({
  schema: gitguardianWebhookSchema,
  isPing: isTestMessage,
  declaredSecretKind: (rawBody) => {
    const detector = (rawBody as { incident?: { detector?: { name?: unknown } } } | null)?.incident?.detector;
    const kind = typeof detector?.name === 'string' ? detector.name : 'gitguardian_secret';
    // Occurrence matches (as in GitGuardian's API and scan results) carry the matched value itself.
    return (path) =>
      pathIs(path, 'incident', 'secret') ||
      pathIs(path, 'occurrence', 'matches', '*', 'match') ||
      pathIs(path, 'matches', '*', 'match')
        ? kind
        : undefined;
  },
  // Unkeyed hashes of the secret (HasMySecretLeaked's is public): kept, they would let anyone test guesses.
  derivedSecretKind: (path) =>
    pathIs(path, 'incident', 'secret_hash') || pathIs(path, 'incident', 'hmsl_hash')
      ? 'secret_hash'
      : undefined,
  map(body) {
    const { incident, occurrence } = body;
    const locations: AlertLocation[] = [];
    const origins: Record<string, string> = {};
    const occurrenceUrl = occurrence?.url ?? occurrence?.source?.url;
    if (occurrence && occurrenceUrl) {
      const repository = repositoryOf(occurrence);
      locations.push(repository ? { url: occurrenceUrl, repository } : { url: occurrenceUrl });
      origins['locations.0.url'] = 'occurrence.url';
      origins['locations.0.repository'] = 'occurrence.source.full_name';
    } else {
      locations.push({ url: incident.gitguardian_url });
      origins['locations.0.url'] = 'incident.gitguardian_url';
    }
    const { lifecycle, event } = meaningOf(body.action, incident);
    return {
      alertId: String(incident.id),
      detector: 'gitguardian',
      secretKind: incident.detector.name,
      locations,
      severity: severity(incident),
      observedAt: new Date(occurrence?.date ?? incident.date),
      correlationParts: ['gitguardian-incident', workspaceOf(incident.gitguardian_url), String(incident.id)],
      correlation: [`gitguardian:incident:${incident.id}`],
      lifecycle,
      ...(event === undefined ? {} : { event }),
      origins: { ...origins, secretKind: 'incident.detector.name', observedAt: 'incident.date' },
    };
  },
});
