import { z } from 'zod';
import { defineAdapter } from '../adapter';
import {
  isAbsoluteUrl,
  locationFromFields,
  originsFromFields,
  readTourniquetFields,
  severityOrDefault,
  siemCorrelationParts,
} from '../fields';

const dimension = z.looseObject({ name: z.string().max(256), value: z.unknown() });

/**
 * Azure Monitor's common alert schema (learn.microsoft.com, "Common alert schema"): `essentials` is the same
 * for every alert type, `alertContext` varies. Sentinel playbooks and Logic Apps forward the same shape.
 */
export const azureMonitorAlertSchema = z.looseObject({
  schemaId: z.literal('azureMonitorCommonAlertSchema'),
  data: z.looseObject({
    essentials: z.looseObject({
      alertId: z.string().min(1).max(512),
      alertRule: z.string().min(1).max(256),
      severity: z.enum(['Sev0', 'Sev1', 'Sev2', 'Sev3', 'Sev4']),
      signalType: z.string().max(64).optional(),
      monitorCondition: z.enum(['Fired', 'Resolved']),
      monitoringService: z.string().max(128).optional(),
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
                  dimensions: z.array(dimension).optional(),
                  linkToFilteredSearchResultsUI: z.string().optional(),
                  linkToSearchResultsUI: z.string().optional(),
                }),
              )
              .optional(),
          })
          .optional(),
        Dimensions: z.array(dimension).optional(),
        LinkToFilteredSearchResultsUI: z.string().optional(),
        LinkToSearchResults: z.string().optional(),
      })
      .nullable()
      .optional(),
    customProperties: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
});

type AzureMonitorAlert = z.infer<typeof azureMonitorAlertSchema>;

/** Splitting a log alert by a column turns each value into a dimension `{ name, value }`. */
function dimensionRecords(body: AzureMonitorAlert): { record: unknown; path: string }[] {
  const context = body.data.alertContext;
  const records: { record: unknown; path: string }[] = [];
  context?.condition?.allOf?.forEach((criterion, index) => {
    const asRecord = Object.fromEntries(
      (criterion.dimensions ?? []).map((entry) => [entry.name, entry.value]),
    );
    records.push({ record: asRecord, path: `data.alertContext.condition.allOf.${index}.dimensions` });
  });
  if (context?.Dimensions) {
    const asRecord = Object.fromEntries(context.Dimensions.map((entry) => [entry.name, entry.value]));
    records.push({ record: asRecord, path: 'data.alertContext.Dimensions' });
  }
  return records;
}

/** Where an analyst sees the evidence: the filtered log query, else the alert in the portal. */
function evidenceLink(body: AzureMonitorAlert): string {
  const context = body.data.alertContext;
  const criterion = context?.condition?.allOf?.[0];
  const candidates = [
    criterion?.linkToFilteredSearchResultsUI,
    criterion?.linkToSearchResultsUI,
    context?.LinkToFilteredSearchResultsUI,
    context?.LinkToSearchResults,
  ];
  return (
    candidates.find(isAbsoluteUrl) ??
    `https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/${encodeURIComponent(
      body.data.essentials.alertId,
    )}`
  );
}

export const azureMonitorAdapter = defineAdapter({
  schema: azureMonitorAlertSchema,
  map(body) {
    const { essentials } = body.data;
    const fields = readTourniquetFields([
      { record: body.data.customProperties, path: 'data.customProperties' },
      { record: body.data.alertContext?.properties, path: 'data.alertContext.properties' },
      ...dimensionRecords(body),
    ]);
    const location = locationFromFields(fields, evidenceLink(body));
    const detector = fields.detector?.value ?? essentials.alertRule;
    return {
      alertId: fields.alertId?.value ?? essentials.alertId,
      detector,
      secretKind: fields.secretKind?.value,
      locations: [location],
      // Sev0 is critical and Sev4 verbose; a severity in the alert's own properties wins.
      severity: severityOrDefault(fields.severity?.value, essentials.severity),
      observedAt: new Date(essentials.firedDateTime),
      connector: fields.connector?.value,
      declaredFingerprint: fields.secretFingerprint?.value.toLowerCase(),
      correlationParts: siemCorrelationParts('azure-monitor', detector, fields),
      correlation: [`azure-monitor:rule:${essentials.alertRule}`],
      lifecycle: essentials.monitorCondition === 'Resolved' ? 'resolved' : 'raised',
      origins: {
        ...originsFromFields(fields, 'data.alertContext'),
        observedAt: 'data.essentials.firedDateTime',
      },
    };
  },
});
