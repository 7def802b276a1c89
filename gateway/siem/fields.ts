import { DEFAULT_SEVERITY, type AlertLocation, type Severity } from './alert';

/** Field names compared without case, `_`, `-`, `.` or spaces: `secret_kind`, `SecretKind`, `secret.kind`. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[\s._-]/g, '');
}

export interface FoundValue {
  value: string;
  /** The vendor field it came from, for error messages. */
  path: string;
}

/** What a SIEM body may carry for Tourniquet, under any of these names (see docs/sources.md). */
export const TOURNIQUET_FIELD_NAMES = {
  alertId: ['alert_id', 'tourniquet_alert_id'],
  detector: ['detector'],
  secretKind: ['secret_kind', 'secret_type', 'tourniquet_secret_kind'],
  severity: ['severity', 'urgency', 'tourniquet_severity'],
  url: ['url', 'location_url', 'url.full', 'tourniquet_url'],
  repository: ['repository', 'repo', 'tourniquet_repository'],
  workflow: ['workflow', 'tourniquet_workflow'],
  runId: ['run_id', 'workflow_run_id', 'tourniquet_run_id'],
  connector: ['connector', 'tourniquet_connector'],
  secretFingerprint: ['secret_fingerprint', 'tourniquet_secret_fingerprint'],
} as const;

/** Namespaces a SIEM may put Tourniquet's fields under: our own, and ECS `labels`. */
const CONTAINER_PREFIXES = ['tourniquet', 'labels'];
const NESTED_CONTAINERS = [...CONTAINER_PREFIXES, 'url'];

export type TourniquetField = keyof typeof TOURNIQUET_FIELD_NAMES;
export type TourniquetFields = Partial<Record<TourniquetField, FoundValue>>;

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  // Splunk multi-value fields arrive as arrays: the first value is the one the search sorted first.
  if (Array.isArray(value) && value.length > 0) return scalarText(value[0]);
  return undefined;
}

/**
 * Reads Tourniquet's fields from flat or nested records (`{ "tourniquet": { "repository": ... } }`,
 * `{ "labels": { "repository": ... } }`, or dotted keys as Elastic stores them). Earlier records win.
 */
export function readTourniquetFields(records: { record: unknown; path: string }[]): TourniquetFields {
  const found: TourniquetFields = {};
  const wanted = new Map<string, TourniquetField>();
  for (const [field, names] of Object.entries(TOURNIQUET_FIELD_NAMES) as [
    TourniquetField,
    readonly string[],
  ][]) {
    for (const name of names) wanted.set(normaliseName(name), field);
  }
  // `container` joins nested names to their parent so `{ url: { full } }` reads like the dotted `url.full`.
  const visit = (record: unknown, path: string, container: string, depth: number): void => {
    if (record === null || typeof record !== 'object' || Array.isArray(record) || depth > 3) return;
    for (const [name, value] of Object.entries(record as Record<string, unknown>)) {
      const childPath = path ? `${path}.${name}` : name;
      let normalised = normaliseName(container + name);
      for (const prefix of CONTAINER_PREFIXES) {
        if (normalised.startsWith(prefix) && wanted.has(normalised.slice(prefix.length))) {
          normalised = normalised.slice(prefix.length);
        }
      }
      const field = wanted.get(normalised);
      const text = scalarText(value);
      if (field && text !== undefined && found[field] === undefined)
        found[field] = { value: text, path: childPath };
      if (NESTED_CONTAINERS.includes(normaliseName(container + name))) {
        visit(value, childPath, container + name, depth + 1);
      }
    }
  };
  for (const { record, path } of records) visit(record, path, '', 0);
  return found;
}

const SEVERITY_WORDS: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  sev0: 'critical',
  p1: 'critical',
  high: 'high',
  error: 'high',
  major: 'high',
  sev1: 'high',
  p2: 'high',
  medium: 'medium',
  moderate: 'medium',
  warning: 'medium',
  warn: 'medium',
  sev2: 'medium',
  p3: 'medium',
  low: 'low',
  minor: 'low',
  info: 'low',
  informational: 'low',
  verbose: 'low',
  sev3: 'low',
  sev4: 'low',
  p4: 'low',
  p5: 'low',
};

/** Maps the vocabularies of the supported vendors (Sev0–4, P1–5, info…critical); unknown words give undefined. */
export function severityFromVendor(value: string | null | undefined): Severity | undefined {
  if (value === null || value === undefined) return undefined;
  return SEVERITY_WORDS[normaliseName(value)];
}

export function severityOrDefault(...candidates: (string | null | undefined)[]): Severity {
  for (const candidate of candidates) {
    const severity = severityFromVendor(candidate);
    if (severity) return severity;
  }
  return DEFAULT_SEVERITY;
}

/** ISO text, unix seconds or unix milliseconds (Splunk `_time`, Datadog `$DATE`) → a Date, else undefined. */
export function parseVendorTime(value: string | number | null | undefined): Date | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const text = String(value).trim();
  let date: Date;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const number = Number(text);
    // Seconds until the year 5138; anything larger is milliseconds.
    date = new Date(number < 1e11 ? number * 1000 : number);
  } else {
    date = new Date(text);
  }
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function isAbsoluteUrl(value: string | undefined): value is string {
  return value !== undefined && URL.canParse(value);
}

/** The location a SIEM names through Tourniquet's fields, else a link to the SIEM's own evidence. */
export function locationFromFields(fields: TourniquetFields, fallbackUrl: string): AlertLocation {
  const location: AlertLocation = { url: fields.url?.value ?? fallbackUrl };
  if (fields.repository) location.repository = fields.repository.value;
  if (fields.workflow) location.workflow = fields.workflow.value;
  if (fields.runId) location.runId = fields.runId.value;
  return location;
}

/** Which vendor field each normalized field came from, for error messages. */
export function originsFromFields(fields: TourniquetFields, fallbackUrlPath: string): Record<string, string> {
  const origins: Record<string, string> = { 'locations.0.url': fields.url?.path ?? fallbackUrlPath };
  const fieldByTarget: [string, FoundValue | undefined][] = [
    ['locations.0.repository', fields.repository],
    ['locations.0.workflow', fields.workflow],
    ['locations.0.runId', fields.runId],
    ['alertId', fields.alertId],
    ['detector', fields.detector],
    ['secretKind', fields.secretKind],
    ['connector', fields.connector],
    ['declaredFingerprint', fields.secretFingerprint],
  ];
  for (const [target, found] of fieldByTarget) if (found) origins[target] = found.path;
  return origins;
}

/**
 * The identity of a leak a SIEM reports without its value or fingerprint: rule, kind and where it leaked.
 * Fallback links (search results, portal pages) change per run, so they are left out on purpose: repeated
 * alerts from one rule about one place join one incident.
 */
export function siemCorrelationParts(source: string, detector: string, fields: TourniquetFields): string[] {
  const place = fields.url?.value ?? fields.repository?.value ?? '';
  return ['siem', source, detector, fields.secretKind?.value ?? '', place, fields.workflow?.value ?? ''];
}

/** `kibana.alert.uuid` from a document that stores it flat (`{"kibana.alert.uuid": …}`) or nested. */
export function readDotted(record: unknown, dotted: string): unknown {
  if (record === null || typeof record !== 'object') return undefined;
  const object = record as Record<string, unknown>;
  if (dotted in object) return object[dotted];
  const dot = dotted.indexOf('.');
  if (dot < 0) return undefined;
  // Elastic mixes both: `{"kibana": {"alert.uuid": …}}` also occurs, so try every split point.
  for (let split = dot; split >= 0; split = dotted.indexOf('.', split + 1)) {
    const head = dotted.slice(0, split);
    if (head in object) {
      const found = readDotted(object[head], dotted.slice(split + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function readDottedText(record: unknown, dotted: string): string | undefined {
  const value = readDotted(record, dotted);
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
