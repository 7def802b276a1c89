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
 * A Datadog Webhooks integration payload rendered from the template in docs/sources.md: Datadog substitutes
 * `$VARIABLES` (event id, `$DATE` in epoch milliseconds, `$TAGS`, and the Cloud SIEM signal variables).
 */
export const datadogWebhookSchema = z.looseObject({
  id: z.string().min(1).max(128),
  title: z.string().max(1024).optional(),
  date: z.union([
    z.string().regex(/^\d{10,16}$/, 'expected epoch milliseconds'),
    z.number().int().positive(),
  ]),
  link: absoluteUrlSchema,
  transition: z.string().max(64).optional(),
  priority: z.string().max(16).optional(),
  tags: z.string().max(16384).optional(),
  security: z
    .looseObject({
      signal_id: z.string().max(256).optional(),
      rule_id: z.string().max(256).optional(),
      rule_name: z.string().max(256).optional(),
      severity: z.string().max(32).optional(),
      attributes: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  message: z.string().max(65536).optional(),
});

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

function lifecycle(transition: string | undefined): AlertLifecycle {
  const normalised = (transition ?? '').trim().toLowerCase();
  if (normalised.startsWith('recover')) return 'resolved';
  if (['', 'triggered', 're-triggered', 'warn', 'renotify'].includes(normalised)) return 'raised';
  return 'updated';
}

export const datadogAdapter = defineAdapter({
  schema: datadogWebhookSchema,
  map(body, { now }) {
    const security = body.security;
    const fields = readTourniquetFields([
      { record: parseTags(body.tags), path: 'tags' },
      { record: security?.attributes, path: 'security.attributes' },
    ]);
    const detector = fields.detector?.value ?? (security?.rule_name || body.title || 'datadog');
    const location = locationFromFields(fields, body.link);
    return {
      alertId: fields.alertId?.value ?? (security?.signal_id || body.id),
      detector,
      secretKind: fields.secretKind?.value,
      locations: [location],
      severity: severityOrDefault(fields.severity?.value, security?.severity, body.priority),
      observedAt: parseVendorTime(body.date) ?? now,
      connector: fields.connector?.value,
      declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
      correlationParts: siemCorrelationParts('datadog', detector, fields),
      correlation: [security?.rule_id ? `datadog:rule:${security.rule_id}` : `datadog:event:${body.id}`],
      lifecycle: lifecycle(body.transition),
      origins: { ...originsFromFields(fields, 'link'), observedAt: 'date' },
    };
  },
});
