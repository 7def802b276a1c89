/** Every SIEM or detector that may post to `POST /webhooks/siem/:source`. */
export const SIEM_SOURCES = [
  'generic',
  'github',
  'gitguardian',
  'splunk',
  'azure-monitor',
  'elastic',
  'datadog',
] as const;

export type SiemSource = (typeof SIEM_SOURCES)[number];

/**
 * Credentials per source. Several values per source are accepted so a secret can be rotated without
 * dropping alerts: the sender moves to the new value while the old one still works.
 */
export type SiemSecrets = Partial<Record<SiemSource, string | readonly string[]>>;

export function isSiemSource(value: string): value is SiemSource {
  return (SIEM_SOURCES as readonly string[]).includes(value);
}

/** `azure-monitor` → `SIEM_SECRET_AZURE_MONITOR`. */
export function siemSecretEnvName(source: SiemSource): string {
  return `SIEM_SECRET_${source.toUpperCase().replace(/-/g, '_')}`;
}

/** A comma-separated environment value → the non-empty secrets it lists, newest first as written. */
export function parseSecretList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const entries = typeof value === 'string' ? value.split(',') : value;
  return entries.map((entry) => entry.trim()).filter((entry) => entry.length > 0);
}

/** Sources switched on by configuring their secret; the gateway answers 404 for every other source. */
export function enabledSources(env: Record<string, string | undefined>): SiemSource[] {
  return SIEM_SOURCES.filter((source) => parseSecretList(env[siemSecretEnvName(source)]).length > 0);
}

/** The `secrets` option of `authenticateSiemRequest`, read from `SIEM_SECRET_<SOURCE>` variables. */
export function siemSecretsFromEnv(env: Record<string, string | undefined>): SiemSecrets {
  const secrets: SiemSecrets = {};
  for (const source of enabledSources(env)) secrets[source] = parseSecretList(env[siemSecretEnvName(source)]);
  return secrets;
}
