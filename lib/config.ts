import { resolve } from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
/** An optional setting where empty counts as unset (docker-compose's `${VAR:-}` passes an empty string). */
const optionalSetting = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.string().min(1).optional(),
);

/** An ed25519 public key as the owners file and the gateway settings write it: the raw 32 bytes, base64. */
export const rawEd25519PublicKey = z
  .string()
  .refine(
    (value) => /^[A-Za-z0-9+/]{43}=$/.test(value) && Buffer.from(value, 'base64').length === 32,
    'expected a raw ed25519 public key: 32 bytes, base64',
  );

/** Every environment variable Tourniquet reads, with its default. The README lists the same table. */
const settings = z.object({
  TOURNIQUET_DATA_DIR: z.string().min(1).default('.data'),
  TOURNIQUET_PORT: port.default(3000),
  TOURNIQUET_HOST: z.string().min(1).default('127.0.0.1'),
  TOURNIQUET_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
  /** Unset: human-readable logs when stderr is a terminal, JSON lines otherwise (pipes, containers). */
  TOURNIQUET_LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  TOURNIQUET_RUNBOOKS_DIR: z.string().min(1).optional(),
  /**
   * `live`: a real incident acts only through configured providers; a step on any other system ends
   * `not-configured`. `demo`: those systems are simulated and every incident says SIMULATED. Unset: `demo` when no
   * system that can act is configured, `live` otherwise.
   */
  TOURNIQUET_MODE: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.enum(['live', 'demo']).optional(),
  ),
  TOURNIQUET_FINGERPRINT_KEY: z.string().min(1).optional(),
  TOURNIQUET_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** The gateway's ed25519 private key (PEM, PKCS#8); unset: `<data>/keys/gateway.key`, created when missing. */
  TOURNIQUET_GATEWAY_KEY_FILE: optionalSetting,
  /**
   * The gateway public keys a worker believes, comma-separated (two while rotating); unset: the data dir's own
   * `keys/gateway.pub`. A start or a Slack decision not signed by one of them is refused.
   */
  TOURNIQUET_GATEWAY_PUBLIC_KEYS: z.preprocess(
    (value) =>
      typeof value === 'string' && value.trim() !== ''
        ? value.split(',').map((key) => key.trim())
        : undefined,
    z.array(rawEd25519PublicKey).min(1).optional(),
  ),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('tourniquet'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_CLI: z.string().min(1).optional(),
  /**
   * TLS to the Temporal frontend (lib/temporal-tls.ts), as PEM files; any one set turns TLS on. The CA verifies the
   * server's certificate (unset: the system's roots); a client certificate and its key (mTLS) go together.
   */
  TEMPORAL_TLS_CA: optionalSetting,
  TEMPORAL_TLS_CERT: optionalSetting,
  TEMPORAL_TLS_KEY: optionalSetting,
  /** The name the server's certificate is checked against, when it is not TEMPORAL_ADDRESS's host. */
  TEMPORAL_TLS_SERVER_NAME: optionalSetting,
});

export const configSchema = settings.superRefine((env, ctx) => {
  // A client certificate is no use without its private key, nor a key without its certificate.
  const pair = ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] as const;
  for (const [present, missing] of [pair, [pair[1], pair[0]]] as const) {
    if (env[present] && !env[missing])
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: `required when ${present} is set (mTLS needs both)`,
      });
  }
});

export type Config = z.infer<typeof configSchema> & { dataDir: string };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.TOURNIQUET_DATA_DIR) };
}

/** Where clients connect: an existing cluster when TEMPORAL_ADDRESS is set, else the local dev server. */
export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}
