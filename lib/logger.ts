import pino, { type Logger } from 'pino';
import { ConfigError, configSchema } from './config';

/** Field names that may hold credentials; pino replaces their values before anything is written. */
const REDACTED_PATHS = [
  'secret',
  'password',
  'token',
  'value',
  'authorization',
  '*.secret',
  '*.password',
  '*.token',
  '*.value',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export type LogFormat = 'json' | 'pretty';

/**
 * `TOURNIQUET_LOG_FORMAT` wins when set; otherwise people at a terminal get readable lines and everything else
 * (pipes, files, containers, log shippers) gets one JSON object per line.
 */
export function resolveLogFormat(
  forced: LogFormat | undefined,
  stderrIsTTY = Boolean(process.stderr.isTTY),
): LogFormat {
  return forced ?? (stderrIsTTY ? 'pretty' : 'json');
}

/** The forced format from the environment, validated like every other setting (see lib/config.ts). */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat | undefined {
  const parsed = configSchema.shape.TOURNIQUET_LOG_FORMAT.safeParse(env.TOURNIQUET_LOG_FORMAT);
  if (!parsed.success) {
    throw new ConfigError(`environment variable TOURNIQUET_LOG_FORMAT: ${parsed.error.issues[0].message}`);
  }
  return parsed.data;
}

/**
 * A pino logger writing to stderr. Redaction runs in this thread before a line is serialized, so it holds for
 * both formats; pino-pretty only reformats the already-redacted JSON (in pino's transport worker thread).
 */
export function createLogger(
  level = process.env.TOURNIQUET_LOG_LEVEL ?? 'info',
  name = 'tourniquet',
  format: LogFormat = resolveLogFormat(logFormatFromEnv()),
): Logger {
  const options = { name, level, redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } };
  if (format === 'json') return pino(options, pino.destination(2));
  return pino({
    ...options,
    transport: {
      target: 'pino-pretty',
      options: {
        destination: 2,
        colorize: Boolean(process.stderr.isTTY),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      },
    },
  });
}

export type { Logger };
