import { TRANSIENT_NETWORK_CODES } from '../network-errors';
import { ProviderError } from '../types';

const transientNetworkCodes = new Set([...TRANSIENT_NETWORK_CODES, 'UND_ERR_SOCKET']);

/** AWS error codes that heal by themselves: throttling, AWS-side failures, concurrent changes. */
const transientAwsCodes = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'ServiceFailure',
  'ServiceFailureException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'ConcurrentModification',
  'ConcurrentModificationException',
  'EntityTemporarilyUnmodifiable',
  'EntityTemporarilyUnmodifiableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'IDPCommunicationError',
  // Refreshable credentials (a role's) expired between two calls: the chain fetches new ones on the next attempt.
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
]);

const deniedCodes = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);
/** The worker's own credentials were refused outright (unknown key, wrong secret, no credentials at all). */
const credentialCodes = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);

/** Removes every value in `secrets` (at least 4 characters) from `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}

export interface AwsErrorFacts {
  code: string;
  status?: number;
  fault?: string;
  retryable: boolean;
  message: string;
}

/** The parts of an SDK (or Node) error worth looking at, whatever threw it. */
export function awsErrorFacts(error: unknown): AwsErrorFacts {
  const record = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $fault?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const nodeCode = typeof record.code === 'string' ? record.code : undefined;
  const awsCode = typeof record.Code === 'string' ? record.Code : undefined;
  const name = typeof record.name === 'string' && record.name !== 'Error' ? record.name : undefined;
  const status = record.$metadata?.httpStatusCode;
  const message = typeof record.message === 'string' ? record.message : '';
  // The SDK's retry layer wraps what is not `instanceof Error` (an error from another realm: a vm context, jest)
  // into "AWS SDK error wrapper for Error: connect ECONNREFUSED …", keeping only the text: read the code back.
  const wrapped = /^AWS SDK error wrapper for .*?\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/.exec(message)?.[1];
  return {
    code: awsCode ?? name ?? nodeCode ?? wrapped ?? 'UnknownError',
    status: typeof status === 'number' ? status : undefined,
    fault: typeof record.$fault === 'string' ? record.$fault : undefined,
    retryable: record.$retryable !== undefined && record.$retryable !== null,
    message,
  };
}

export interface DescribeOptions {
  /** What was being done, e.g. `attaching the quarantine policy to "ci-deployer"`. */
  operation: string;
  /** The IAM permission the call needs, e.g. `iam:AttachUserPolicy`: named when AWS denies it. */
  permission: string;
  /** Values to strike out of any text that is kept (a minted secret, one read back from a destination). */
  secrets?: readonly string[];
}

/**
 * Turns whatever an AWS call threw into a ProviderError that names the operation, says whether a retry can help,
 * and, for a denial, names the missing permission. AWS's own message is kept only for unrecognised errors, scrubbed
 * of the given secrets and shortened; a request never carries a secret in its URL, but a caller's message might.
 */
export function toProviderError(error: unknown, options: DescribeOptions): ProviderError {
  const secrets = options.secrets ?? [];
  if (error instanceof ProviderError) {
    return new ProviderError(scrub(error.message, secrets), error.retryable, error.code);
  }
  const facts = awsErrorFacts(error);
  const while_ = `while ${options.operation}`;
  if (deniedCodes.has(facts.code)) {
    return new ProviderError(
      `AWS denied ${options.permission} to the worker's credentials ${while_}: grant it (docs/aws-iam.md lists the policy)`,
      false,
      'AccessDenied',
    );
  }
  if (credentialCodes.has(facts.code)) {
    return new ProviderError(
      `AWS refused the worker's credentials (${facts.code}) ${while_}: check the credentials the AWS SDK finds (AWS_ACCESS_KEY_ID, AWS_PROFILE, role)`,
      false,
      'Credentials',
    );
  }
  if (facts.code === 'NoSuchEntity' || facts.code === 'NoSuchEntityException') {
    return new ProviderError(`AWS IAM: not found (${facts.code}) ${while_}`, false, 'NotFound');
  }
  if (facts.code === 'LimitExceeded' || facts.code === 'LimitExceededException') {
    return new ProviderError(`AWS IAM: a quota is reached (${facts.code}) ${while_}`, false, 'LimitExceeded');
  }
  if (facts.code === 'AbortError') {
    return new ProviderError(`cancelled ${while_}`, true, 'Cancelled');
  }
  const network = transientNetworkCodes.has(facts.code);
  const serverSide = facts.fault === 'server' || (facts.status !== undefined && facts.status >= 500);
  if (network || transientAwsCodes.has(facts.code) || serverSide || facts.retryable) {
    return new ProviderError(
      `AWS is unavailable or throttling (${facts.code}${facts.status ? `, HTTP ${facts.status}` : ''}) ${while_}`,
      true,
      'Unavailable',
    );
  }
  const detail = scrub(facts.message, secrets).slice(0, 200);
  return new ProviderError(
    `AWS answered ${facts.code}${facts.status ? ` (HTTP ${facts.status})` : ''} ${while_}${detail ? `: ${detail}` : ''}`,
    false,
    facts.code,
  );
}
