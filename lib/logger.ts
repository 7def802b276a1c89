import pino, { type Logger } from 'pino';

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

export function createLogger(
  level = process.env.TOURNIQUET_LOG_LEVEL ?? 'info',
  name = 'tourniquet',
): Logger {
  return pino({ name, level, redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } }, pino.destination(2));
}

export type { Logger };
