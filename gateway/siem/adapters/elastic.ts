import { z } from 'zod';
import type { AlertLocation } from '../alert';
import { defineAdapter } from '../adapter';
import {
  isAbsoluteUrl,
  originsFromFields,
  parseVendorTime,
  readDottedText,
  readTourniquetFields,
  severityOrDefault,
  siemCorrelationParts,
  type TourniquetFields,
} from '../fields';

/**
 * The body of a Kibana Webhook connector action on an Elastic Security detection rule, rendered from the
 * template in docs/sources.md: rule variables plus `{{{context.alerts.asJSON}}}` (the alert documents).
 */
export const elasticWebhookSchema = z.looseObject({
  rule: z.looseObject({
    id: z.string().min(1).max(256),
    name: z.string().min(1).max(256),
    severity: z.string().max(32).optional(),
    tags: z.array(z.string().max(256)).max(100).optional(),
  }),
  date: z.iso.datetime({ offset: true }),
  results_link: z.string().max(4096).optional(),
  alerts: z.array(z.record(z.string(), z.unknown())).min(1).max(1000),
});

function locationOf(fields: TourniquetFields, fallbackUrl: string | undefined): AlertLocation | undefined {
  const url = fields.url?.value ?? fallbackUrl;
  if (url === undefined) return undefined;
  const location: AlertLocation = { url };
  if (fields.repository) location.repository = fields.repository.value;
  if (fields.workflow) location.workflow = fields.workflow.value;
  if (fields.runId) location.runId = fields.runId.value;
  return location;
}

export const elasticAdapter = defineAdapter({
  schema: elasticWebhookSchema,
  map(body) {
    const { rule, alerts } = body;
    const resultsLink = isAbsoluteUrl(body.results_link) ? body.results_link : undefined;
    const fieldsPerAlert = alerts.map((alert, index) =>
      readTourniquetFields([{ record: alert, path: `alerts.${index}` }]),
    );
    const first = alerts[0];
    const firstFields = fieldsPerAlert[0];

    const locations: AlertLocation[] = [];
    for (const fields of fieldsPerAlert) {
      const location = locationOf(fields, resultsLink);
      if (location && !locations.some((known) => JSON.stringify(known) === JSON.stringify(location))) {
        locations.push(location);
      }
    }

    const detector = firstFields.detector?.value ?? rule.name;
    const observedAt =
      parseVendorTime(readDottedText(first, 'kibana.alert.original_time')) ??
      parseVendorTime(readDottedText(first, '@timestamp')) ??
      new Date(body.date);
    return {
      alertId:
        firstFields.alertId?.value ??
        readDottedText(first, 'kibana.alert.uuid') ??
        readDottedText(first, '_id') ??
        `${rule.id}@${body.date}`,
      detector,
      secretKind: firstFields.secretKind?.value,
      locations,
      severity: severityOrDefault(
        firstFields.severity?.value,
        rule.severity,
        readDottedText(first, 'kibana.alert.severity'),
      ),
      observedAt,
      connector: firstFields.connector?.value,
      declaredFingerprint: firstFields.secretFingerprint?.value.toLowerCase(),
      correlationParts: siemCorrelationParts('elastic', detector, firstFields),
      correlation: [`elastic:rule:${rule.id}`],
      lifecycle: 'raised',
      origins: {
        ...originsFromFields(firstFields, 'results_link'),
        locations: 'results_link',
        observedAt: 'alerts.0.@timestamp',
      },
    };
  },
});
