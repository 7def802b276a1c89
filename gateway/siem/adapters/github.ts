import { z } from 'zod';
import type { AlertLifecycle, AlertLocation, Severity } from '../alert';
import { defineAdapter, pathIs, type AdapterHeaders } from '../adapter';
import { parseVendorTime } from '../fields';
import { checkGitHubDelivery, GITHUB_ALERT_EVENTS, type GitHubAlertEvent } from './github-webhook-schemas';

/** GitHub's schema says `format: uri`, which admits more than a link: read as text, used only when it is a link. */
const url = z.string().max(2048);

function link(value: string | undefined): string | undefined {
  return value !== undefined && /^https?:\/\//i.test(value) && URL.canParse(value) ? value : undefined;
}

/**
 * What Tourniquet reads of a `secret_scanning_alert` or `secret_scanning_alert_location` delivery. GitHub's schema
 * (`@octokit/openapi-webhooks`, checked first by `conformance`) requires nothing inside `alert`, so neither does this:
 * every body GitHub may send is read. The webhook usually carries no secret; an `alert.secret` is fingerprinted and
 * dropped by the scrubber before this sees the body.
 */
export const githubSecretScanningSchema = z.looseObject({
  action: z.string().min(1).max(64),
  alert: z.looseObject({
    number: z.number().int().optional(),
    created_at: z.string().max(64).nullable().optional(),
    updated_at: z.string().max(64).nullable().optional(),
    url: url.optional(),
    html_url: url.optional(),
    secret_type: z.string().max(128).optional(),
    validity: z.string().max(32).optional(),
    publicly_leaked: z.boolean().nullable().optional(),
    resolution: z.string().max(64).nullable().optional(),
  }),
  location: z
    .looseObject({
      type: z.string().max(64).optional(),
      details: z
        .looseObject({
          path: z.string().max(4096).optional(),
          start_line: z.number().optional(),
          commit_sha: z.string().max(128).optional(),
          html_url: url.optional(),
        })
        .nullable()
        .optional(),
    })
    .optional(),
  repository: z.looseObject({
    full_name: z.string().max(256),
    html_url: url,
  }),
});

type GitHubSecretScanningBody = z.infer<typeof githubSecretScanningSchema>;

/** Resolutions GitHub's schema lists: safe to quote on the timeline (`detector marked resolved (revoked)`). */
const RESOLUTIONS = new Set([
  'false_positive',
  'wont_fix',
  'revoked',
  'used_in_tests',
  'pattern_deleted',
  'pattern_edited',
]);

const single = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/**
 * The delivery's event: `X-GitHub-Event`, else (a relay that dropped the header) the body's shape. Returned only from
 * a fixed vocabulary, or `other`: the header is sender-controlled text.
 */
export function githubEvent(rawBody: unknown, headers: AdapterHeaders): GitHubAlertEvent | 'ping' | 'other' {
  const named = single(headers['x-github-event'])?.trim().toLowerCase();
  const known = (candidate: string | undefined) =>
    candidate === 'ping' || (GITHUB_ALERT_EVENTS as readonly string[]).includes(candidate ?? '')
      ? (candidate as GitHubAlertEvent | 'ping')
      : 'other';
  if (named) return known(named);
  const body = (rawBody ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object') return 'secret_scanning_alert';
  if ('zen' in body && 'hook_id' in body && !('alert' in body)) return 'ping';
  return 'location' in body ? 'secret_scanning_alert_location' : 'secret_scanning_alert';
}

interface Meaning {
  lifecycle: AlertLifecycle;
  severity: Severity;
  event?: string;
}

/** A token known to work, or already public, is being used by someone: critical. */
function baseSeverity(body: GitHubSecretScanningBody): Severity {
  return body.alert.validity === 'active' || body.alert.publicly_leaked === true ? 'critical' : 'high';
}

function meaningOf(event: GitHubAlertEvent, body: GitHubSecretScanningBody): Meaning {
  const severity = baseSeverity(body);
  // A new location of a known alert is a fresh leak of the same secret.
  if (event === 'secret_scanning_alert_location') return { lifecycle: 'raised', severity };
  switch (body.action) {
    case 'created':
      return { lifecycle: 'raised', severity };
    case 'reopened':
      return { lifecycle: 'raised', severity, event: 'detector reopened the alert' };
    case 'publicly_leaked':
      return { lifecycle: 'escalated', severity: 'critical', event: 'secret found public' };
    case 'validated':
      return body.alert.validity === 'active'
        ? { lifecycle: 'escalated', severity: 'critical', event: 'validity confirmed active' }
        : { lifecycle: 'updated', severity, event: `validity checked: ${body.alert.validity ?? 'unknown'}` };
    case 'resolved': {
      const resolution = body.alert.resolution ?? '';
      return {
        lifecycle: 'resolved',
        severity,
        event: `detector marked resolved${RESOLUTIONS.has(resolution) ? ` (${resolution})` : ''}`,
      };
    }
    default:
      // assigned, unassigned, and actions GitHub adds later: nothing containment acts on.
      return { lifecycle: 'updated', severity };
  }
}

const COMMIT_SHA = /^[0-9a-f]{40,64}$/;
/** GitHub's pattern names (`github_personal_access_token`, `mailchimp_api_key`): anything else is not a name. */
const SECRET_TYPE = /^[A-Za-z0-9_.-]{1,128}$/;

/** The alert's secret type when it is one, else ours: it is the kind every redaction and hint is labelled with. */
function secretTypeOf(value: unknown): string {
  return typeof value === 'string' && SECRET_TYPE.test(value) ? value : 'github_secret_scanning';
}

/** GitHub's schema allows an empty name; a location names a repository only when it has one. */
function repositoryOf(body: GitHubSecretScanningBody): { repository?: string } {
  return body.repository.full_name ? { repository: body.repository.full_name } : {};
}

function commitLocation(body: GitHubSecretScanningBody): AlertLocation | undefined {
  const details = body.location?.details;
  // The sha goes into a link: only a real one (GitHub's schema types it as any string).
  if (body.location?.type !== 'commit' || !COMMIT_SHA.test(details?.commit_sha ?? '') || !details?.path)
    return undefined;
  const path = details.path.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
  const line =
    Number.isInteger(details.start_line) && details.start_line! > 0 ? `#L${details.start_line}` : '';
  const repositoryUrl = link(body.repository.html_url);
  if (!repositoryUrl) return undefined;
  return { url: `${repositoryUrl}/blob/${details.commit_sha}/${path}${line}`, ...repositoryOf(body) };
}

/** Another kind of location (an issue, a wiki page, a discussion): GitHub links it. */
function linkedLocation(body: GitHubSecretScanningBody): AlertLocation | undefined {
  const url = link(body.location?.details?.html_url);
  return url ? { url, ...repositoryOf(body) } : undefined;
}

export const githubAdapter = defineAdapter({
  schema: githubSecretScanningSchema,
  isPing: (rawBody, headers) => githubEvent(rawBody, headers) === 'ping',
  otherEvent: (rawBody, headers) => (githubEvent(rawBody, headers) === 'other' ? 'other' : undefined),
  conformance: (rawBody, headers) => {
    const event = githubEvent(rawBody, headers);
    if (event === 'ping' || event === 'other') return { drift: [] };
    const verdict = checkGitHubDelivery(event, rawBody);
    return { ...(verdict.refusal ? { refusal: verdict.refusal } : {}), drift: verdict.drift };
  },
  declaredSecretKind: (rawBody) => {
    const kind = secretTypeOf((rawBody as { alert?: { secret_type?: unknown } } | null)?.alert?.secret_type);
    return (path) => (pathIs(path, 'alert', 'secret') ? kind : undefined);
  },
  map(body, context) {
    const { alert, repository } = body;
    const event = githubEvent(body, context.headers);
    const meaning = meaningOf(
      event === 'secret_scanning_alert_location' ? event : 'secret_scanning_alert',
      body,
    );
    // GitHub's schema makes every alert field optional: the alert's own page, else the repository's alerts.
    const repositoryUrl = link(repository.html_url) ?? 'https://github.com';
    const alertUrl = link(alert.html_url) ?? `${repositoryUrl}/security/secret-scanning`;
    const locations: AlertLocation[] = [{ url: alertUrl, ...repositoryOf(body) }];
    const place = commitLocation(body) ?? linkedLocation(body);
    if (place) locations.push(place);
    const number = alert.number !== undefined ? String(alert.number) : (alert.url ?? alertUrl);
    const stamp = body.action === 'created' ? alert.created_at : (alert.updated_at ?? alert.created_at);
    return {
      alertId: `${repository.full_name}#${number}`,
      detector: 'github-secret-scanning',
      secretKind: secretTypeOf(alert.secret_type),
      locations,
      severity: meaning.severity,
      observedAt: parseVendorTime(stamp) ?? context.now,
      correlationParts: ['github-secret-scanning', repository.full_name, number],
      correlation: [`github:${repository.full_name}#${number}`],
      lifecycle: meaning.lifecycle,
      ...(meaning.event ? { event: meaning.event } : {}),
      origins: {
        alertId: 'repository.full_name',
        'locations.0.url': 'alert.html_url',
        'locations.0.repository': 'repository.full_name',
        'locations.1.url': 'location.details',
        secretKind: 'alert.secret_type',
        observedAt: 'alert.created_at',
      },
    };
  },
});
