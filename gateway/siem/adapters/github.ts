import { z } from 'zod';
import type { AlertLifecycle, AlertLocation } from '../alert';
import { absoluteUrlSchema } from '../alert';
import { defineAdapter, pathIs } from '../adapter';

const isoTime = z.iso.datetime({ offset: true });

/**
 * The `secret_scanning_alert` webhook (and `secret_scanning_alert_location`, which adds `location`), as in
 * GitHub's OpenAPI description (`webhook-secret-scanning-alert-*`). The webhook usually carries no secret;
 * when `alert.secret` is present it is fingerprinted and dropped.
 */
export const githubSecretScanningSchema = z.looseObject({
  action: z.string().min(1).max(64),
  alert: z.looseObject({
    number: z.number().int().positive(),
    created_at: isoTime,
    updated_at: isoTime.nullable().optional(),
    html_url: absoluteUrlSchema,
    secret_type: z.string().min(1).max(128),
    secret_type_display_name: z.string().max(256).optional(),
    validity: z.enum(['active', 'inactive', 'unknown']).optional(),
    publicly_leaked: z.boolean().nullable().optional(),
  }),
  location: z
    .looseObject({
      type: z.string().min(1).max(64),
      details: z
        .looseObject({
          path: z.string().max(4096).optional(),
          start_line: z.number().int().nonnegative().optional(),
          commit_sha: z
            .string()
            .regex(/^[0-9a-f]{40,64}$/)
            .optional(),
        })
        .optional(),
    })
    .optional(),
  repository: z.looseObject({
    full_name: z.string().min(3).max(256),
    html_url: absoluteUrlSchema,
  }),
});

type GitHubSecretScanningBody = z.infer<typeof githubSecretScanningSchema>;

const RESOLVING_ACTIONS = new Set(['resolved']);
const RAISING_ACTIONS = new Set(['created', 'reopened', 'publicly_leaked']);

function lifecycle(body: GitHubSecretScanningBody): AlertLifecycle {
  if (RESOLVING_ACTIONS.has(body.action)) return 'resolved';
  // A new location of a known alert is a fresh leak of the same secret.
  if (RAISING_ACTIONS.has(body.action) || body.location) return 'raised';
  return 'updated';
}

function commitLocation(body: GitHubSecretScanningBody): AlertLocation | undefined {
  const details = body.location?.details;
  if (body.location?.type !== 'commit' || !details?.commit_sha || !details.path) return undefined;
  const path = details.path.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
  const line = details.start_line ? `#L${details.start_line}` : '';
  return {
    url: `${body.repository.html_url}/blob/${details.commit_sha}/${path}${line}`,
    repository: body.repository.full_name,
  };
}

export const githubAdapter = defineAdapter({
  schema: githubSecretScanningSchema,
  declaredSecretKind: (rawBody) => {
    const alert = (rawBody as { alert?: { secret_type?: unknown } } | null)?.alert;
    const kind = typeof alert?.secret_type === 'string' ? alert.secret_type : 'github_secret_scanning';
    return (path) => (pathIs(path, 'alert', 'secret') ? kind : undefined);
  },
  map(body) {
    const { alert, repository } = body;
    const locations: AlertLocation[] = [{ url: alert.html_url, repository: repository.full_name }];
    const commit = commitLocation(body);
    if (commit) locations.push(commit);
    const observed = body.action === 'created' ? alert.created_at : (alert.updated_at ?? alert.created_at);
    return {
      alertId: `${repository.full_name}#${alert.number}`,
      detector: 'github-secret-scanning',
      secretKind: alert.secret_type,
      locations,
      // GitHub rates no severity: a token known to work, or already public, is being used by someone.
      severity: alert.validity === 'active' || alert.publicly_leaked === true ? 'critical' : 'high',
      observedAt: new Date(observed),
      correlationParts: ['github-secret-scanning', repository.full_name, String(alert.number)],
      correlation: [`github:${repository.full_name}#${alert.number}`],
      lifecycle: lifecycle(body),
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
