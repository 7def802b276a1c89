import type { z } from 'zod';

/**
 * A vault failure with a message fit for an operator's terminal: it names the field, file or entry at fault and
 * never quotes key material or evidence content.
 */
export class EvidenceError extends Error {
  constructor(
    message: string,
    readonly code: EvidenceErrorCode,
  ) {
    super(message);
    this.name = 'EvidenceError';
  }
}

export type EvidenceErrorCode =
  | 'invalid-input'
  | 'invalid-config'
  | 'key-error'
  | 'not-found'
  | 'integrity'
  | 'lock-timeout'
  | 'io'
  | 'source-failed';

/** The first issue only, as `field: problem`; zod's own text never includes the offending value. */
export function describeZodError(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join('.');
  const field = [prefix, path].filter((part) => part !== undefined && part !== '').join('.');
  return field === '' ? issue.message : `${field}: ${issue.message}`;
}

export function invalidInput(error: z.ZodError, prefix?: string): EvidenceError {
  return new EvidenceError(describeZodError(error, prefix), 'invalid-input');
}

export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
