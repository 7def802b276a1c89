import { z } from 'zod';
import type { AlertLifecycle, AlertLocation, Severity } from '../alert';
import { absoluteUrlSchema } from '../alert';
import { defineAdapter, pathIs } from '../adapter';
import { severityFromVendor } from '../fields';

const isoTime = z.iso.datetime({ offset: true });

/** GitGuardian custom webhook: incident and occurrence events (docs.gitguardian.com, "Custom webhook"). */
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

const RAISING_ACTIONS = new Set([
  'incident_triggered',
  'new_occurrence',
  'incident_regression',
  'incident_reopened',
]);
const RESOLVING_ACTIONS = new Set(['incident_resolved', 'incident_ignored']);

function lifecycle(action: string): AlertLifecycle {
  if (RAISING_ACTIONS.has(action)) return 'raised';
  if (RESOLVING_ACTIONS.has(action)) return 'resolved';
  return 'updated';
}

function severity(incident: GitGuardianBody['incident']): Severity {
  // A secret GitGuardian checked and found working is in use, whatever the triage says.
  if (incident.validity === 'valid') return 'critical';
  return severityFromVendor(incident.severity) ?? 'high';
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

export const gitguardianAdapter = defineAdapter({
  schema: gitguardianWebhookSchema,
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
    return {
      alertId: String(incident.id),
      detector: 'gitguardian',
      secretKind: incident.detector.name,
      locations,
      severity: severity(incident),
      observedAt: new Date(occurrence?.date ?? incident.date),
      correlationParts: ['gitguardian-incident', workspaceOf(incident.gitguardian_url), String(incident.id)],
      correlation: [`gitguardian:incident:${incident.id}`],
      lifecycle: lifecycle(body.action),
      origins: { ...origins, secretKind: 'incident.detector.name', observedAt: 'incident.date' },
    };
  },
});
