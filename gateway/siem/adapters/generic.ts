import { z } from 'zod';
import { absoluteUrlSchema, SEVERITIES } from '../alert';
import { defineAdapter, pathIs } from '../adapter';

const runId = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]).transform(String);

/** Tourniquet's own format, for scripts and `tourniquet alert send`. */
export const genericAlertSchema = z.strictObject({
  alertId: z.string().min(1).max(512),
  detector: z.string().min(1).max(256),
  secretKind: z.string().min(1).max(128),
  /** The raw value: fingerprinted and dropped on arrival. */
  secret: z.string().min(1).max(65536).optional(),
  /** `fingerprintSecret(key, value)` computed by a sender that holds Tourniquet's fingerprint key. */
  secretFingerprint: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits')
    .transform((value) => value.toLowerCase())
    .optional(),
  /**
   * The public half of a leaked AWS key pair (`AKIA…`), beside its secret in `secret`: not a secret, it names the key
   * the incident acts on. Read by the scrubber (any `AKIA…` in the body is), redacted in the stored copy.
   */
  accessKeyId: z.string().min(1).max(256).optional(),
  severity: z.enum(SEVERITIES),
  observedAt: z.iso.datetime({ offset: true }),
  location: z.strictObject({
    url: absoluteUrlSchema,
    repository: z.string().min(1).max(256).optional(),
    workflow: z.string().min(1).max(256).optional(),
    runId: runId.optional(),
  }),
  connector: z.string().min(1).max(256).optional(),
});

export type GenericAlertBody = z.input<typeof genericAlertSchema>;

export const genericAdapter = defineAdapter({
  schema: genericAlertSchema,
  declaredSecretKind: (rawBody) => {
    const kind =
      rawBody &&
      typeof rawBody === 'object' &&
      typeof (rawBody as { secretKind?: unknown }).secretKind === 'string'
        ? (rawBody as { secretKind: string }).secretKind
        : 'secret';
    return (path) => (pathIs(path, 'secret') ? kind : undefined);
  },
  map(body) {
    return {
      alertId: body.alertId,
      detector: body.detector,
      secretKind: body.secretKind,
      locations: [body.location],
      severity: body.severity,
      observedAt: new Date(body.observedAt),
      connector: body.connector,
      declaredFingerprint: body.secretFingerprint,
      correlationParts: ['generic', body.detector, body.secretKind, body.location.url],
      correlation: [`generic:${body.detector}:${body.alertId}`],
      lifecycle: 'raised',
      origins: {
        'locations.0.url': 'location.url',
        'locations.0.repository': 'location.repository',
        'locations.0.workflow': 'location.workflow',
        'locations.0.runId': 'location.runId',
      },
    };
  },
});
