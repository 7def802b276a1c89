import { z } from 'zod';
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

const resultValue = z.union([z.string(), z.number(), z.array(z.string()), z.null()]);

/**
 * Splunk's webhook alert action: the search id, a link to the results, owner, app and the first result row
 * (https://help.splunk.com/splunk-enterprise/alert-and-respond/alerting-manual/10.0/configure-alert-actions/use-a-webhook-alert-action).
 * Its body is fixed; Tourniquet's fields come from the row, which the search shapes.
 */
export const splunkWebhookSchema = z.looseObject({
  sid: z.string().min(1).max(512),
  search_name: z.string().max(256).nullable().optional(),
  app: z.string().max(256).nullable().optional(),
  owner: z.string().max(256).nullable().optional(),
  results_link: absoluteUrlSchema,
  result: z.record(z.string(), resultValue),
});

/** Scheduled searches have ids like `scheduler__admin__search__RMD5…_at_1714564800_132`: the run time. */
function scheduledTime(sid: string): Date | undefined {
  const match = /_at_(\d{9,11})_/.exec(sid);
  return match ? parseVendorTime(match[1]) : undefined;
}

export const splunkAdapter = defineAdapter({
  schema: splunkWebhookSchema,
  map(body, { now, findings }) {
    const fields = readTourniquetFields([{ record: body.result, path: 'result' }]);
    const detector = fields.detector?.value ?? body.search_name ?? 'splunk';
    const location = locationFromFields(fields, body.results_link);
    const time = body.result._time;
    const observedAt =
      parseVendorTime(typeof time === 'string' || typeof time === 'number' ? time : undefined) ??
      scheduledTime(body.sid) ??
      now;
    // Any search can carry the webhook action: a row that names no secret kind, no fingerprint, and holds nothing
    // secret-like (the scrubber found nothing anywhere in the body) is some other alert, not a leak.
    const aboutASecret =
      fields.secretKind !== undefined || fields.secretFingerprint !== undefined || findings.length > 0;
    return {
      alertId: fields.alertId?.value ?? body.sid,
      detector,
      secretKind: fields.secretKind?.value,
      locations: [location],
      severity: severityOrDefault(fields.severity?.value),
      observedAt,
      connector: fields.connector?.value,
      declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
      correlationParts: siemCorrelationParts('splunk', detector, fields),
      correlation: [`splunk:sid:${body.sid}`],
      lifecycle: aboutASecret ? 'raised' : 'not-a-secret',
      origins: originsFromFields(fields, 'results_link'),
    };
  },
});
