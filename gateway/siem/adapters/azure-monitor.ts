import { z } from 'zod';
import { secretKindOfFieldName, type JsonPath } from '../../../lib/scrub';
import { defineAdapter, type AdapterContext, type AdapterOutput } from '../adapter';
import type { AlertLocation } from '../alert';
import {
  isAbsoluteUrl,
  normaliseName,
  originsFromFields,
  readTourniquetFields,
  severityOrDefault,
  siemCorrelationParts,
  type FoundValue,
  type TourniquetField,
  type TourniquetFields,
} from '../fields';

/** Rows read from `SearchResults`: Azure drops the results above 256 KB, so a longer table is forged or runaway. */
const MAX_ROWS_READ = 100;
/** Sentinel alerts read from one incident (an incident groups at most 150). */
const MAX_SENTINEL_ALERTS_READ = 150;
/** The normalized alert's own limit. */
const MAX_LOCATIONS = 100;
const MAX_PLACE_CORRELATIONS = 20;
/** Sentinel's `Custom Details` arrive as JSON text; a longer one is not parsed. */
const MAX_CUSTOM_DETAILS_CHARS = 32_768;

const dimension = z.looseObject({ name: z.string().max(256), value: z.unknown() });

/** Log search alerts (V1, `monitoringService: Log Analytics`) embed their results unless they exceed 256 KB. */
const searchResultsTable = z.looseObject({
  name: z.string().max(256).optional(),
  columns: z
    .array(z.looseObject({ name: z.string().max(256), type: z.string().max(64).optional() }))
    .max(1000),
  rows: z.array(z.array(z.unknown())),
});

/**
 * Azure Monitor's common alert schema (https://learn.microsoft.com/en-us/azure/azure-monitor/alerts/alerts-common-schema):
 * `essentials` is the same for every alert type, `alertContext` varies with `monitoringService`. Sentinel playbooks
 * and Logic Apps may forward the same shape.
 */
export const azureMonitorCommonAlertSchema = z.looseObject({
  schemaId: z.literal('azureMonitorCommonAlertSchema'),
  data: z.looseObject({
    essentials: z.looseObject({
      alertId: z.string().min(1).max(512),
      alertRule: z.string().min(1).max(256),
      severity: z.enum(['Sev0', 'Sev1', 'Sev2', 'Sev3', 'Sev4']),
      signalType: z.string().max(64).optional(),
      monitorCondition: z.enum(['Fired', 'Resolved']),
      monitoringService: z.string().max(128).optional(),
      configurationItems: z.array(z.string().max(1024)).max(1000).nullable().optional(),
      firedDateTime: z.iso.datetime({ offset: true }),
      description: z.string().max(8192).nullable().optional(),
    }),
    alertContext: z
      .looseObject({
        properties: z.record(z.string(), z.unknown()).nullable().optional(),
        condition: z
          .looseObject({
            allOf: z
              .array(
                z.looseObject({
                  dimensions: z.array(dimension).max(1000).nullable().optional(),
                  linkToFilteredSearchResultsUI: z.string().max(8192).nullable().optional(),
                  linkToSearchResultsUI: z.string().max(8192).nullable().optional(),
                }),
              )
              .max(100)
              .nullable()
              .optional(),
          })
          .nullable()
          .optional(),
        Dimensions: z.array(dimension).max(1000).nullable().optional(),
        SearchResults: z
          .looseObject({ tables: z.array(searchResultsTable).max(100).nullable().optional() })
          .nullable()
          .optional(),
        LinkToFilteredSearchResultsUI: z.string().max(8192).nullable().optional(),
        LinkToSearchResults: z.string().max(8192).nullable().optional(),
      })
      .nullable()
      .optional(),
    customProperties: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

const sentinelTime = z.iso.datetime({ offset: true });

/**
 * What a Microsoft Sentinel automation rule hands a playbook started by the "Microsoft Sentinel incident" trigger
 * (https://learn.microsoft.com/en-us/azure/sentinel/automation/playbook-triggers-actions): the incident (the ARM
 * resource of https://learn.microsoft.com/en-us/rest/api/securityinsights/incidents/get) with its alerts and
 * entities, wrapped with the event and workspace.
 */
export const sentinelIncidentTriggerSchema = z.looseObject({
  objectSchemaType: z.literal('Incident'),
  objectEventType: z.string().max(64).optional(),
  workspaceId: z.string().max(64).optional(),
  object: z.looseObject({
    id: z.string().min(1).max(512),
    name: z.string().min(1).max(256),
    properties: z.looseObject({
      title: z.string().min(1).max(1024),
      severity: z.enum(['High', 'Medium', 'Low', 'Informational']),
      status: z.enum(['New', 'Active', 'Closed']),
      incidentUrl: z.string().max(2048).nullable().optional(),
      createdTimeUtc: sentinelTime.nullable().optional(),
      firstActivityTimeUtc: sentinelTime.nullable().optional(),
      relatedAnalyticRuleIds: z.array(z.string().max(1024)).max(100).nullable().optional(),
      alerts: z
        .array(
          z.looseObject({
            properties: z
              .looseObject({ additionalData: z.record(z.string(), z.unknown()).nullable().optional() })
              .nullable()
              .optional(),
          }),
        )
        .max(1000)
        .nullable()
        .optional(),
      relatedEntities: z
        .array(
          z.looseObject({
            kind: z.string().max(64).optional(),
            properties: z.record(z.string(), z.unknown()).nullable().optional(),
          }),
        )
        .max(5000)
        .nullable()
        .optional(),
    }),
  }),
});

type CommonAlert = z.infer<typeof azureMonitorCommonAlertSchema>;
type SentinelIncidentTrigger = z.infer<typeof sentinelIncidentTriggerSchema>;
type AzureMonitorBody =
  | { format: 'common-alert-schema'; alert: CommonAlert }
  | { format: 'sentinel-incident'; trigger: SentinelIncidentTrigger };

/** The incident trigger names itself; anything else is read as the common alert schema (and refused by its fields). */
function isSentinelIncidentTrigger(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'objectSchemaType' in body;
}

/**
 * Both formats post to `/webhooks/siem/azure-monitor`. The body picks its schema, so a refusal names the field of
 * that format (a union would only say that neither matched).
 */
export const azureMonitorBodySchema: z.ZodType<AzureMonitorBody> = z.unknown().transform((body, ctx) => {
  if (isSentinelIncidentTrigger(body)) {
    const parsed = sentinelIncidentTriggerSchema.safeParse(body);
    if (parsed.success) return { format: 'sentinel-incident' as const, trigger: parsed.data };
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, input: undefined });
    return z.NEVER;
  }
  const parsed = azureMonitorCommonAlertSchema.safeParse(body);
  if (parsed.success) return { format: 'common-alert-schema' as const, alert: parsed.data };
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, input: undefined });
  return z.NEVER;
});

// ---------------------------------------------------------------------------------------------------------------
// Secrets in positional data: the scrubber finds a `password` field by its name, but a search result cell or a
// dimension value has no name of its own. Its column or dimension name is read from the raw body instead.

/** Column and dimension names compare like field names, and also without spaces and dots (`Client Secret`). */
function secretKindOfName(name: unknown): string | undefined {
  return typeof name === 'string' ? secretKindOfFieldName(name.replace(/[\s.]/g, '')) : undefined;
}

function childOf(value: unknown, key: string | number): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  return (value as Record<string | number, unknown>)[key];
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `dimensions` as `[{ name, value }]`: index → kind, for the ones named like a secret. */
function secretDimensions(dimensions: unknown): Map<number, string> {
  const kinds = new Map<number, string>();
  arrayOf(dimensions).forEach((entry, index) => {
    const kind = secretKindOfName(childOf(entry, 'name'));
    if (kind) kinds.set(index, kind);
  });
  return kinds;
}

function declaredSecretKind(rawBody: unknown): (path: JsonPath) => string | undefined {
  const context = childOf(childOf(rawBody, 'data'), 'alertContext');
  const tableColumns = arrayOf(childOf(childOf(context, 'SearchResults'), 'tables')).map((table) => {
    const kinds = new Map<number, string>();
    arrayOf(childOf(table, 'columns')).forEach((column, index) => {
      const kind = secretKindOfName(childOf(column, 'name'));
      if (kind) kinds.set(index, kind);
    });
    return kinds;
  });
  const criterionDimensions = arrayOf(childOf(childOf(context, 'condition'), 'allOf')).map((criterion) =>
    secretDimensions(childOf(criterion, 'dimensions')),
  );
  const contextDimensions = secretDimensions(childOf(context, 'Dimensions'));
  if (
    tableColumns.every((kinds) => kinds.size === 0) &&
    criterionDimensions.every((kinds) => kinds.size === 0) &&
    contextDimensions.size === 0
  ) {
    return () => undefined;
  }
  return (path) => {
    if (path[0] !== 'data' || path[1] !== 'alertContext') return undefined;
    // data.alertContext.SearchResults.tables.<t>.rows.<r>.<c>[...]: the cell, and anything nested in it.
    if (path[2] === 'SearchResults' && path[3] === 'tables' && path[5] === 'rows' && path.length >= 8) {
      const [table, column] = [path[4], path[7]];
      return typeof table === 'number' && typeof column === 'number'
        ? tableColumns[table]?.get(column)
        : undefined;
    }
    // data.alertContext.condition.allOf.<i>.dimensions.<d>.value
    if (path[2] === 'condition' && path[3] === 'allOf' && path[5] === 'dimensions' && path[7] === 'value') {
      const [criterion, entry] = [path[4], path[6]];
      return typeof criterion === 'number' && typeof entry === 'number'
        ? criterionDimensions[criterion]?.get(entry)
        : undefined;
    }
    // data.alertContext.Dimensions.<d>.value
    if (path[2] === 'Dimensions' && path[4] === 'value' && typeof path[3] === 'number') {
      return contextDimensions.get(path[3]);
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Tourniquet's fields. Values an alert rule's author sets (custom properties) are taken as given, so a mistake is
// refused with its field named. Values that come from the logged data (dimensions, result rows, Sentinel alert
// details, entities) are whatever a log line said: one that cannot be a place or a kind is ignored, so nobody who
// can write a log line can get the alert refused, or a redaction marker into a location.

interface SourceRecord {
  record: unknown;
  path: string;
}

const DATA_FIELD_LIMITS: Record<TourniquetField, number> = {
  alertId: 512,
  detector: 256,
  secretKind: 128,
  severity: 64,
  url: 2048,
  repository: 256,
  workflow: 256,
  runId: 64,
  connector: 256,
  secretFingerprint: 64,
};

const CONTROL_CHARACTERS = /\p{Cc}/u;

function isWebUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:';
}

function acceptableFromData(field: TourniquetField, value: string): boolean {
  if (value.length > DATA_FIELD_LIMITS[field] || CONTROL_CHARACTERS.test(value)) return false;
  // A secret that stood there was replaced by its marker: never a place, a kind or a name.
  if (value.includes('[REDACTED:')) return false;
  if (field === 'url') return isWebUrl(value);
  if (field === 'secretFingerprint') return /^[0-9a-fA-F]{64}$/.test(value);
  return true;
}

function fieldsFromData(records: SourceRecord[]): TourniquetFields {
  const kept: TourniquetFields = {};
  // Each record on its own, so an unacceptable value in one does not hide an acceptable one in the next.
  for (const source of records) {
    const found = readTourniquetFields([source]);
    for (const [field, value] of Object.entries(found) as [TourniquetField, FoundValue][]) {
      if (kept[field] === undefined && acceptableFromData(field, value.value)) kept[field] = value;
    }
  }
  return kept;
}

/** Earlier sets win, field by field. */
function mergeFields(...sets: TourniquetFields[]): TourniquetFields {
  const merged: TourniquetFields = {};
  for (const set of sets) {
    for (const [field, value] of Object.entries(set) as [TourniquetField, FoundValue][]) {
      merged[field] ??= value;
    }
  }
  return merged;
}

const PLACE_FIELDS = ['url', 'repository', 'workflow', 'runId'] as const;

function namesAPlace(fields: TourniquetFields): boolean {
  return PLACE_FIELDS.some((field) => fields[field] !== undefined);
}

interface Located {
  locations: AlertLocation[];
  origins: Record<string, string>;
}

/**
 * One location per record (dimension set, result row, Sentinel alert) that names a place, with the rule's own
 * fields as defaults; without any, one location from all fields, at the SIEM's evidence link.
 */
function locate(
  ruleFields: TourniquetFields,
  places: TourniquetFields[],
  evidence: { url: string; path: string },
): Located {
  const located: Located = { locations: [], origins: {} };
  const seen = new Set<string>();
  const add = (fields: TourniquetFields): void => {
    if (located.locations.length >= MAX_LOCATIONS) return;
    const location: AlertLocation = { url: fields.url?.value ?? evidence.url };
    if (fields.repository) location.repository = fields.repository.value;
    if (fields.workflow) location.workflow = fields.workflow.value;
    if (fields.runId) location.runId = fields.runId.value;
    const key = JSON.stringify(location);
    if (seen.has(key)) return;
    seen.add(key);
    const index = located.locations.push(location) - 1;
    located.origins[`locations.${index}.url`] = fields.url?.path ?? evidence.path;
    for (const field of ['repository', 'workflow', 'runId'] as const) {
      const found = fields[field];
      if (found) located.origins[`locations.${index}.${field}`] = found.path;
    }
  };
  for (const place of places) if (namesAPlace(place)) add(mergeFields(ruleFields, place));
  if (located.locations.length === 0) add(mergeFields(ruleFields, ...places));
  return located;
}

// ---------------------------------------------------------------------------------------------------------------
// Joins. Without the secret's value or fingerprint, the incident key is the rule, kind and place: so the place must
// be the one the alert names. Correlation keys are names of places, never free text: a value with spaces, a marker
// or control characters is not a name.

/** Dimensions Azure itself takes the affected resource from, in this order (`configurationItems`, same doc page). */
const RESOURCE_DIMENSIONS = ['_ResourceId', 'ResourceId', 'Resource', 'Computer'].map(normaliseName);

function placeName(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.length > 400 || /\s/.test(trimmed) || CONTROL_CHARACTERS.test(trimmed)) {
    return undefined;
  }
  return trimmed.includes('[REDACTED:') ? undefined : trimmed;
}

/**
 * The affected resource from the split dimensions or result columns; for an alert that names no other place, the
 * alert's configuration items (for a log alert without such a split, they may only name the workspace).
 */
function resourcesOf(
  records: SourceRecord[],
  configurationItems: readonly string[] | null | undefined,
  namesAnotherPlace: boolean,
): string[] {
  const resources: string[] = [];
  for (const { record } of records) {
    if (record === null || typeof record !== 'object') continue;
    const byName = new Map(
      Object.entries(record as Record<string, unknown>).map(([name, value]) => [normaliseName(name), value]),
    );
    for (const name of RESOURCE_DIMENSIONS) {
      const resource = placeName(byName.get(name));
      if (resource !== undefined) {
        resources.push(resource.toLowerCase());
        break;
      }
    }
  }
  if (resources.length === 0 && !namesAnotherPlace && configurationItems) {
    const items = configurationItems.map(placeName).filter((item) => item !== undefined);
    // ARM names are case-insensitive; the order of the items means nothing.
    if (items.length > 0)
      resources.push([...new Set(items.map((item) => item.toLowerCase()))].sort().join(','));
  }
  return [...new Set(resources)];
}

/** `azure-monitor:repository:acme/api`, `azure-monitor:workflow:acme/api/release`, `azure-monitor:resource:…`. */
function placeCorrelation(locations: AlertLocation[], evidenceUrl: string, resources: string[]): string[] {
  const keys: string[] = [];
  for (const location of locations) {
    const repository = placeName(location.repository);
    const workflow = placeName(location.workflow);
    if (repository) keys.push(`azure-monitor:repository:${repository}`);
    if (repository && workflow) keys.push(`azure-monitor:workflow:${repository}/${workflow}`);
    // The evidence link changes with every evaluation: it names no place.
    if (location.url !== evidenceUrl && placeName(location.url))
      keys.push(`azure-monitor:url:${location.url}`);
  }
  for (const resource of resources) keys.push(`azure-monitor:resource:${resource}`);
  return [...new Set(keys)].filter((key) => key.length <= 512).slice(0, MAX_PLACE_CORRELATIONS);
}

/** The kind, place and workflow of `siemCorrelationParts`; the affected resource stands in for a missing place. */
function correlationPartsOf(detector: string, fields: TourniquetFields, resources: string[]): string[] {
  const parts = siemCorrelationParts('azure-monitor', detector, fields);
  if (fields.url === undefined && fields.repository === undefined && resources.length > 0) {
    parts[4] = `resource:${resources[0]}`;
  }
  return parts;
}

/** Not about a secret: no kind or fingerprint declared, and nothing secret-like anywhere in the body. */
function aboutASecret(fields: TourniquetFields, context: AdapterContext): boolean {
  return (
    fields.secretKind !== undefined || fields.secretFingerprint !== undefined || context.findings.length > 0
  );
}

const RESOLVED_EVENT = 'detector marked resolved';

// ---------------------------------------------------------------------------------------------------------------
// The common alert schema.

function dimensionsAsRecord(dimensions: { name: string; value: unknown }[]): Record<string, unknown> {
  return Object.fromEntries(dimensions.map((entry) => [entry.name, entry.value]));
}

/** Each split of a log or metric alert, and each embedded result row, as `{ column: value }`. */
function dataRecords(alert: CommonAlert): SourceRecord[] {
  const context = alert.data.alertContext;
  const records: SourceRecord[] = [];
  context?.condition?.allOf?.forEach((criterion, index) => {
    if (criterion.dimensions && criterion.dimensions.length > 0) {
      records.push({
        record: dimensionsAsRecord(criterion.dimensions),
        path: `data.alertContext.condition.allOf.${index}.dimensions`,
      });
    }
  });
  if (context?.Dimensions && context.Dimensions.length > 0) {
    records.push({ record: dimensionsAsRecord(context.Dimensions), path: 'data.alertContext.Dimensions' });
  }
  let rowsRead = 0;
  context?.SearchResults?.tables?.forEach((table, tableIndex) => {
    for (let rowIndex = 0; rowIndex < table.rows.length && rowsRead < MAX_ROWS_READ; rowIndex += 1) {
      const row = table.rows[rowIndex];
      records.push({
        record: Object.fromEntries(table.columns.map((column, column_) => [column.name, row[column_]])),
        path: `data.alertContext.SearchResults.tables.${tableIndex}.rows.${rowIndex}`,
      });
      rowsRead += 1;
    }
  });
  return records;
}

/** Where an analyst sees the evidence: the filtered log query, else the alert in the portal. */
function commonEvidence(alert: CommonAlert): { url: string; path: string } {
  const context = alert.data.alertContext;
  const criterionPath = 'data.alertContext.condition.allOf.0';
  const criterion = context?.condition?.allOf?.[0];
  const candidates: [string | null | undefined, string][] = [
    [criterion?.linkToFilteredSearchResultsUI, `${criterionPath}.linkToFilteredSearchResultsUI`],
    [criterion?.linkToSearchResultsUI, `${criterionPath}.linkToSearchResultsUI`],
    [context?.LinkToFilteredSearchResultsUI, 'data.alertContext.LinkToFilteredSearchResultsUI'],
    [context?.LinkToSearchResults, 'data.alertContext.LinkToSearchResults'],
  ];
  for (const [url, path] of candidates) {
    if (url !== null && isAbsoluteUrl(url)) return { url, path };
  }
  return {
    url: `https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/${encodeURIComponent(
      alert.data.essentials.alertId,
    )}`,
    path: 'data.essentials.alertId',
  };
}

function mapCommonAlert(alert: CommonAlert, context: AdapterContext): AdapterOutput {
  const { essentials, alertContext } = alert.data;
  // Only a rule's condition context has custom properties in `properties`; an activity log alert's `properties`
  // are the logged event's.
  const propertiesAreTheRules = alertContext?.condition !== undefined && alertContext.condition !== null;
  const propertiesRecord = { record: alertContext?.properties, path: 'data.alertContext.properties' };
  const ruleFields = readTourniquetFields([
    { record: alert.data.customProperties, path: 'data.customProperties' },
    ...(propertiesAreTheRules ? [propertiesRecord] : []),
  ]);
  const records = [...(propertiesAreTheRules ? [] : [propertiesRecord]), ...dataRecords(alert)];
  const places = records.map((record) => fieldsFromData([record]));
  const fields = mergeFields(ruleFields, fieldsFromData(records));
  const evidence = commonEvidence(alert);
  const { locations, origins } = locate(ruleFields, places, evidence);
  const resources = resourcesOf(
    records,
    essentials.configurationItems,
    fields.url !== undefined || fields.repository !== undefined,
  );
  const detector = fields.detector?.value ?? essentials.alertRule;

  let lifecycle: AdapterOutput['lifecycle'] = 'raised';
  if (!aboutASecret(fields, context)) lifecycle = 'not-a-secret';
  else if (essentials.monitorCondition === 'Resolved') lifecycle = 'resolved';
  return {
    alertId: fields.alertId?.value ?? essentials.alertId,
    detector,
    secretKind: fields.secretKind?.value,
    locations,
    // Sev0 is critical and Sev4 verbose; a severity in the alert's own properties wins.
    severity: severityOrDefault(fields.severity?.value, essentials.severity),
    observedAt: new Date(essentials.firedDateTime),
    connector: fields.connector?.value,
    declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
    correlationParts: correlationPartsOf(detector, fields, resources),
    correlation: [
      `azure-monitor:rule:${essentials.alertRule}`,
      ...placeCorrelation(locations, evidence.url, resources),
    ],
    lifecycle,
    ...(lifecycle === 'resolved' ? { event: RESOLVED_EVENT } : {}),
    origins: {
      ...originsFromFields(fields, evidence.path),
      ...origins,
      observedAt: 'data.essentials.firedDateTime',
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The Sentinel incident trigger.

/** An alert's `additionalData`, and the analytics rule's custom details Sentinel stores in it as JSON text. */
function sentinelAlertRecords(trigger: SentinelIncidentTrigger): SourceRecord[] {
  const records: SourceRecord[] = [];
  const alerts = trigger.object.properties.alerts ?? [];
  alerts.slice(0, MAX_SENTINEL_ALERTS_READ).forEach((alert, index) => {
    const additionalData = alert.properties?.additionalData;
    if (!additionalData) return;
    const path = `object.properties.alerts.${index}.properties.additionalData`;
    const customDetails = additionalData['Custom Details'];
    if (typeof customDetails === 'string' && customDetails.length <= MAX_CUSTOM_DETAILS_CHARS) {
      try {
        records.push({ record: JSON.parse(customDetails) as unknown, path: `${path}.Custom Details` });
      } catch {
        // Not JSON: its text is not read.
      }
    }
    records.push({ record: additionalData, path });
  });
  return records;
}

/** URL entities (entity mapping of a URL column), as places of their own. */
function sentinelUrlEntities(trigger: SentinelIncidentTrigger): TourniquetFields[] {
  const places: TourniquetFields[] = [];
  (trigger.object.properties.relatedEntities ?? []).forEach((entity, index) => {
    if (entity.kind?.toLowerCase() !== 'url' || places.length >= MAX_LOCATIONS) return;
    const url = entity.properties?.url;
    if (typeof url === 'string' && acceptableFromData('url', url)) {
      places.push({ url: { value: url, path: `object.properties.relatedEntities.${index}.properties.url` } });
    }
  });
  return places;
}

function mapSentinelIncident(trigger: SentinelIncidentTrigger, context: AdapterContext): AdapterOutput {
  const incident = trigger.object;
  const { properties } = incident;
  const records = sentinelAlertRecords(trigger);
  const fields = fieldsFromData(records);
  const urlEntities = sentinelUrlEntities(trigger);
  // A rule that maps its URL column to an entity and the rest to custom details describes one place.
  const alertPlaces = records
    .map((record) => fieldsFromData([record]))
    .map((place) => (namesAPlace(place) ? mergeFields(place, urlEntities[0] ?? {}) : place));
  const placeUrls = new Set(alertPlaces.map((place) => place.url?.value));
  const entityPlaces = urlEntities.filter((place) => !placeUrls.has(place.url?.value));
  const evidence =
    properties.incidentUrl && isWebUrl(properties.incidentUrl)
      ? { url: properties.incidentUrl, path: 'object.properties.incidentUrl' }
      : {
          url: `https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident${incident.id}`,
          path: 'object.id',
        };
  const { locations, origins } = locate({}, [...alertPlaces, ...entityPlaces], evidence);
  // The title defaults to the analytics rule's name.
  const detector = fields.detector?.value ?? properties.title.slice(0, 256);
  const createdAt = properties.createdTimeUtc ?? properties.firstActivityTimeUtc;
  const ruleIds = (properties.relatedAnalyticRuleIds ?? [])
    .map((id) => id.split('/').pop() ?? '')
    .filter((id) => /^[A-Za-z0-9-]{1,128}$/.test(id));

  let lifecycle: AdapterOutput['lifecycle'] = 'raised';
  if (!aboutASecret(fields, context)) lifecycle = 'not-a-secret';
  else if (properties.status === 'Closed') lifecycle = 'resolved';
  return {
    alertId: fields.alertId?.value ?? incident.id,
    detector,
    secretKind: fields.secretKind?.value,
    locations,
    // Sentinel's High, Medium, Low and Informational; a severity in the alert's details wins.
    severity: severityOrDefault(fields.severity?.value, properties.severity),
    observedAt: createdAt ? new Date(createdAt) : context.now,
    connector: fields.connector?.value,
    declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
    correlationParts: correlationPartsOf(detector, fields, []),
    correlation: [
      `azure-monitor:sentinel-incident:${incident.name}`,
      ...ruleIds.map((id) => `azure-monitor:sentinel-rule:${id}`),
      ...placeCorrelation(locations, evidence.url, []),
    ],
    lifecycle,
    ...(lifecycle === 'resolved' ? { event: RESOLVED_EVENT } : {}),
    origins: {
      ...originsFromFields(fields, evidence.path),
      ...origins,
      observedAt: properties.createdTimeUtc
        ? 'object.properties.createdTimeUtc'
        : 'object.properties.firstActivityTimeUtc',
    },
  };
}

export const azureMonitorAdapter = defineAdapter({
  schema: azureMonitorBodySchema,
  declaredSecretKind,
  map(body, context) {
    return body.format === 'sentinel-incident'
      ? mapSentinelIncident(body.trigger, context)
      : mapCommonAlert(body.alert, context);
  },
});
