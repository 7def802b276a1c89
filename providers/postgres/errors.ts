import { TRANSIENT_NETWORK_CODES } from '../network-errors';
import { ProviderError } from '../types';

const transientNetworkCodes = new Set([
  ...TRANSIENT_NETWORK_CODES,
  'ENOENT', // a unix socket that is not there (yet): the server is down or restarting
]);

/**
 * Two ALTER ROLE (or GRANTs) racing on one catalog row: the loser gets this internal error, not a lock wait. Its
 * transaction rolled back whole, so a retry is safe and succeeds.
 */
function isConcurrentCatalogUpdate(code: string, message: string): boolean {
  return code === 'XX000' && /^tuple concurrently (updated|deleted)$/.test(message);
}

/** SQLSTATEs worth retrying: connection loss, shutdown/startup, contention, resource pressure, timeouts. */
function isTransientSqlState(code: string, message: string): boolean {
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    ['57P01', '57P02', '57P03', '40001', '40P01', '55P03', '57014'].includes(code) ||
    isConcurrentCatalogUpdate(code, message)
  );
}

const knownSqlStates: Record<string, string> = {
  '28P01': 'the admin credential was rejected',
  '28000': 'the admin connection is not authorised (pg_hba.conf or role attributes)',
  '3D000': 'the database does not exist',
  '42704': 'the object does not exist',
  '42501': 'the admin role lacks the privilege for this',
  '57014': 'a statement timed out',
  '57P03': 'the server is starting up or shutting down',
};

function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}

export interface DescribeOptions {
  /** What was being done, e.g. `rotating the password of "app_user"`. */
  operation: string;
  /** Where, e.g. `127.0.0.1:5432/app`: never a URL with credentials. */
  server: string;
  /** Values to strike out of any server text that is kept. */
  secrets?: readonly string[];
  /** The statement carried secret material: keep only the SQLSTATE, never the server's message. */
  opaque?: boolean;
}

/**
 * Turns anything a pg call threw into a ProviderError that names the operation and the server and says whether
 * a retry can help. The server's message is kept only when the statement carried no secret material, and even
 * then scrubbed of the given secrets.
 */
export function toProviderError(error: unknown, options: DescribeOptions): ProviderError {
  if (error instanceof ProviderError) {
    return new ProviderError(scrub(error.message, options.secrets ?? []), error.retryable, error.code);
  }
  const where = `PostgreSQL ${options.server}`;
  const record = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    message?: unknown;
    severity?: unknown;
  };
  const code = typeof record.code === 'string' ? record.code : undefined;
  const message = typeof record.message === 'string' ? record.message : '';
  if (code && transientNetworkCodes.has(code)) {
    return new ProviderError(
      `${where} is unreachable (${code}) while ${options.operation}`,
      true,
      'Unreachable',
    );
  }
  if (/timeout/i.test(message) && !code) {
    return new ProviderError(
      `${where} did not answer in time while ${options.operation}`,
      true,
      'Unreachable',
    );
  }
  if (
    /Connection terminated|connection ended|Client has encountered a connection error/i.test(message) &&
    !code
  ) {
    return new ProviderError(
      `${where} closed the connection while ${options.operation}`,
      true,
      'Unreachable',
    );
  }
  if (code && /^[0-9A-Z]{5}$/.test(code) && typeof record.severity === 'string') {
    const detail = isConcurrentCatalogUpdate(code, message)
      ? 'a concurrent change of the same role or object'
      : options.opaque
        ? (knownSqlStates[code] ?? 'the server refused the statement')
        : scrub(message, options.secrets ?? []);
    return new ProviderError(
      `${where} failed while ${options.operation}: ${detail} (SQLSTATE ${code})`,
      isTransientSqlState(code, message),
      `SQLSTATE_${code}`,
    );
  }
  const detail = options.opaque
    ? 'unexpected client error'
    : scrub(message || String(error), options.secrets ?? []);
  return new ProviderError(`${where} failed while ${options.operation}: ${detail}`, false, 'PostgresClient');
}
