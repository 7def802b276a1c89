import { z } from 'zod';
import type { AlertLocation } from '../alert';
import { defineAdapter } from '../adapter';
import {
  isAbsoluteUrl,
  originsFromFields,
  parseVendorTime,
  readDotted,
  readDottedText,
  readTourniquetFields,
  severityOrDefault,
  siemCorrelationParts,
  type TourniquetFields,
} from '../fields';

/**
 * What a Kibana Webhook connector action on an Elastic Security detection rule posts. The connector has no body of
 * its own (its Body field starts empty), so three bodies are accepted:
 * - `template`: the body in docs/sources.md, rule variables plus `{{{context.alerts.asJSON}}}` (`alerts`);
 * - `document`: one alert document as Kibana renders it, the body `{{#context.alerts}}{{{.}}}{{/context.alerts}}`
 *   of a "For each alert" action: no template of fields to write, the documented `kibana.alert.*` fields are read
 *   (https://www.elastic.co/guide/en/security/current/alert-schema.html);
 * - `connector`: the Webhook connector page's example body, `{"short_description": "{{context.rule.name}}",
 *   "description": "{{context.rule.description}}", …}` (https://www.elastic.co/guide/en/kibana/current/
 *   webhook-action-type.html), with `rule.id`, `rule.url` and `date` as Kibana names those variables.
 */
type BodyKind = 'template' | 'document' | 'connector';

const alertDocumentSchema = z.record(z.string(), z.unknown());

/** The alert fields read from a document, stored dotted (`"kibana.alert.uuid"`) or nested; bounded like the rest. */
const DOCUMENT_TEXT_FIELDS: readonly [string, number][] = [
  ['_id', 256],
  ['kibana.alert.uuid', 256],
  ['kibana.alert.rule.name', 256],
  ['kibana.alert.rule.uuid', 256],
  ['kibana.alert.severity', 32],
  ['kibana.alert.workflow_status', 32],
  ['kibana.alert.status', 32],
  ['kibana.alert.url', 4096],
];
const DOCUMENT_TIME_FIELDS = ['kibana.alert.original_time', '@timestamp'];
const isoTime = z.iso.datetime({ offset: true });

const elasticBodySchema = z.looseObject({
  rule: z
    .looseObject({
      id: z.string().min(1).max(256).optional(),
      name: z.string().min(1).max(256).optional(),
      severity: z.string().max(32).optional(),
      tags: z.array(z.string().max(256)).max(100).optional(),
      url: z.string().max(4096).optional(),
    })
    .optional(),
  date: isoTime.optional(),
  results_link: z.string().max(4096).optional(),
  alerts: z.array(alertDocumentSchema).min(1).max(1000).optional(),
  short_description: z.string().min(1).max(256).optional(),
  description: z.string().max(65536).optional(),
});

type ElasticBody = z.infer<typeof elasticBodySchema>;

interface AlertDocument {
  record: Record<string, unknown>;
  /** Its vendor field path, `alerts.0`, or `` when the body is the document. */
  path: string;
}

function kindOf(body: ElasticBody): BodyKind {
  if (body.alerts !== undefined) return 'template';
  const isDocument =
    readDotted(body, 'kibana.alert.uuid') !== undefined ||
    readDotted(body, 'kibana.alert.rule.name') !== undefined;
  return isDocument ? 'document' : 'connector';
}

function documentsOf(body: ElasticBody, kind: BodyKind): AlertDocument[] {
  if (kind === 'template')
    return (body.alerts ?? []).map((record, index) => ({ record, path: `alerts.${index}` }));
  if (kind === 'document') return [{ record: body, path: '' }];
  return [];
}

const fieldPath = (document: AlertDocument, field: string): string =>
  document.path ? `${document.path}.${field}` : field;

/** A link a person can open: `javascript:` or `data:` parse as URLs too, and are never a place. */
function absolute(value: string | undefined): string | undefined {
  return isAbsoluteUrl(value) && /^https?:$/.test(new URL(value).protocol) ? value : undefined;
}

function ruleNameOf(body: ElasticBody, first: AlertDocument | undefined): string | undefined {
  return body.rule?.name ?? body.short_description ?? readDottedText(first?.record, 'kibana.alert.rule.name');
}

interface Placed {
  locations: AlertLocation[];
  /** The vendor field the first location's URL came from. */
  urlField: string;
}

/** Each document's own place (Tourniquet's `url`, else its alert page), else the rule's link to its alerts. */
/** As many places as a normalized alert holds (`normalizedAlertSchema`). */
const MAX_LOCATIONS = 100;

function placesOf(body: ElasticBody, kind: BodyKind, documents: AlertDocument[]): Placed {
  const sharedLink = absolute(body.results_link) ?? absolute(body.rule?.url);
  const sharedField = absolute(body.results_link) ? 'results_link' : 'rule.url';
  const sources = documents.length > 0 ? documents : [{ record: body, path: '' }];
  const locations: AlertLocation[] = [];
  let urlField: string | undefined;
  for (const source of sources) {
    const fields = readTourniquetFields([{ record: source.record, path: source.path }]);
    const alertPage = absolute(readDottedText(source.record, 'kibana.alert.url'));
    const url = fields.url?.value ?? alertPage ?? sharedLink;
    if (url === undefined) continue;
    urlField ??= fields.url?.path ?? (alertPage ? fieldPath(source, 'kibana.alert.url') : sharedField);
    const location: AlertLocation = { url };
    if (fields.repository) location.repository = fields.repository.value;
    if (fields.workflow) location.workflow = fields.workflow.value;
    if (fields.runId) location.runId = fields.runId.value;
    if (!locations.some((known) => JSON.stringify(known) === JSON.stringify(location)))
      locations.push(location);
    // A summary of many alerts keeps the places an alert can hold; the rest still count as alerts.
    if (locations.length >= MAX_LOCATIONS) break;
  }
  const missingField =
    kind === 'template' ? 'results_link' : kind === 'document' ? 'kibana.alert.url' : 'rule.url';
  return { locations, urlField: urlField ?? missingField };
}

/** Kibana's rule and alert ids are opaque strings: bounded here, since the documents are otherwise free-form. */
function checkDocuments(body: ElasticBody, kind: BodyKind, context: z.RefinementCtx): void {
  const documents = documentsOf(body, kind);
  for (const document of documents) {
    for (const [field, max] of DOCUMENT_TEXT_FIELDS) {
      const value = readDotted(document.record, field);
      if (value !== undefined && (typeof value !== 'string' || value.length > max)) {
        context.addIssue({
          code: 'custom',
          path: document.path ? [...document.path.split('.'), field] : [field],
          message: `expected text of at most ${max} characters`,
        });
      }
    }
    for (const field of DOCUMENT_TIME_FIELDS) {
      const value = readDotted(document.record, field);
      if (value !== undefined && !isoTime.safeParse(value).success) {
        context.addIssue({
          code: 'custom',
          path: document.path ? [...document.path.split('.'), field] : [field],
          message: 'expected an ISO 8601 time with its offset',
        });
      }
    }
  }
  if (ruleNameOf(body, documents[0]) === undefined) {
    const path =
      kind === 'template'
        ? ['rule', 'name']
        : kind === 'document'
          ? ['kibana.alert.rule.name']
          : ['short_description'];
    context.addIssue({ code: 'custom', path, message: 'expected the name of the detection rule' });
  }
  const placed = placesOf(body, kind, documents);
  if (placed.locations.length === 0) {
    context.addIssue({
      code: 'custom',
      path: placed.urlField.split('.'),
      message:
        'expected a link to the alert: results_link ({{{context.results_link}}}), rule.url ({{{rule.url}}}), ' +
        'kibana.alert.url, or url.full on the source event (Kibana leaves links empty without server.publicBaseUrl)',
    });
  }
}

export const elasticWebhookSchema = elasticBodySchema.superRefine((body, context) =>
  checkDocuments(body, kindOf(body), context),
);

/** Closed in the Alerts table, or recovered (rules that track state): the detector is done with it. */
function isSettled(document: AlertDocument): boolean {
  const workflowStatus = readDottedText(document.record, 'kibana.alert.workflow_status')?.toLowerCase();
  const status = readDottedText(document.record, 'kibana.alert.status')?.toLowerCase();
  return workflowStatus === 'closed' || status === 'recovered';
}

export const elasticAdapter = defineAdapter({
  schema: elasticWebhookSchema,
  map(body, { now }) {
    const kind = kindOf(body);
    const documents = documentsOf(body, kind);
    const first = documents[0];
    const firstFields: TourniquetFields = readTourniquetFields([
      first ? { record: first.record, path: first.path } : { record: body, path: '' },
    ]);
    const { locations, urlField } = placesOf(body, kind, documents);

    // The schema refused a body without any rule name, so the fallback is never reached.
    const detector = firstFields.detector?.value ?? ruleNameOf(body, first) ?? 'elastic';
    const ruleId = body.rule?.id ?? readDottedText(first?.record, 'kibana.alert.rule.uuid');
    const originalTime = parseVendorTime(readDottedText(first?.record, 'kibana.alert.original_time'));
    const createdTime = parseVendorTime(readDottedText(first?.record, '@timestamp'));
    const observedAt = originalTime ?? createdTime ?? parseVendorTime(body.date) ?? now;
    const timeField = first
      ? fieldPath(first, originalTime ? 'kibana.alert.original_time' : '@timestamp')
      : 'date';
    const settled = documents.length > 0 && documents.every(isSettled);
    return {
      alertId:
        firstFields.alertId?.value ??
        readDottedText(first?.record, 'kibana.alert.uuid') ??
        readDottedText(first?.record, '_id') ??
        `${ruleId ?? detector}@${body.date ?? observedAt.toISOString()}`,
      detector,
      secretKind: firstFields.secretKind?.value,
      locations,
      severity: severityOrDefault(
        firstFields.severity?.value,
        body.rule?.severity,
        readDottedText(first?.record, 'kibana.alert.severity'),
      ),
      observedAt,
      connector: firstFields.connector?.value,
      declaredFingerprint: firstFields.secretFingerprint?.value.toLowerCase(),
      correlationParts: siemCorrelationParts('elastic', detector, firstFields),
      correlation: ruleId ? [`elastic:rule:${ruleId}`] : [],
      lifecycle: settled ? 'resolved' : 'raised',
      ...(settled ? { event: 'detector marked resolved' } : {}),
      origins: {
        ...originsFromFields(firstFields, urlField),
        locations: urlField,
        observedAt: timeField,
      },
    };
  },
});
