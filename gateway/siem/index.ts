export {
  SIEM_SOURCES,
  enabledSources,
  isSiemSource,
  parseSecretList,
  siemSecretEnvName,
  siemSecretsFromEnv,
  type SiemSecrets,
  type SiemSource,
} from './sources';
export {
  authenticateSiemRequest,
  signGenericAlert,
  type GenericSignatureHeaders,
  type SiemAuthOptions,
  type SiemAuthResult,
  type SiemRequestHeaders,
} from './auth';
export {
  authenticateUrlToken,
  describeUrlTokens,
  hasUrlToken,
  redactUrlTokenPath,
  URL_TOKEN_SEGMENT,
  urlTokenSources,
  urlTokensFromEnv,
  type UrlTokenAuthResult,
  type UrlTokenConfig,
} from './url-token';
export { createReplayCache, type ReplayCache, type ReplayCacheOptions } from './replay-cache';
export { scrubSecrets, type ScrubOptions, type ScrubResult, type SecretFinding } from '../../lib/scrub';
export { deliveryKind, normalizeSiemAlert, type NormalizeOptions, type NormalizeResult } from './normalize';
export {
  normalizedAlertSchema,
  SEVERITIES,
  type AlertLifecycle,
  type AlertLocation,
  type NormalizedAlert,
  type Severity,
} from './alert';
export { genericAlertSchema, type GenericAlertBody } from './adapters/generic';
export { correlationFingerprint } from '../../lib/fingerprint';
