import { readFileSync } from 'node:fs';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * GitHub's own description of its webhooks (`@octokit/openapi-webhooks`, api.github.com), the schemas an inbound
 * secret-scanning delivery is checked against. The package is ESM with a top-level await; its JSON is read directly.
 */
const SPEC_FILE = require.resolve('@octokit/openapi-webhooks/generated/api.github.com.json');

/** The `X-GitHub-Event` values a secret-scanning hook receives and Tourniquet reads. */
export const GITHUB_ALERT_EVENTS = ['secret_scanning_alert', 'secret_scanning_alert_location'] as const;
export type GitHubAlertEvent = (typeof GITHUB_ALERT_EVENTS)[number];

interface WebhookSpec {
  webhooks: Record<
    string,
    { post?: { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } } }
  >;
  components: { schemas: Record<string, unknown> };
}

/** The fields of a delivery Tourniquet reads: a schema violation there refuses it. */
const READ_FIELDS = new Set([
  '(body)',
  'action',
  'alert',
  'alert.number',
  'alert.created_at',
  'alert.updated_at',
  'alert.url',
  'alert.html_url',
  'alert.secret_type',
  'alert.validity',
  'alert.publicly_leaked',
  'alert.resolution',
  'repository',
  'repository.full_name',
  'repository.html_url',
]);
/** Read whole: every part of a location may become the incident's target. */
const READ_SUBTREES = ['location'];

export interface SchemaVerdict {
  /** The webhook name in the spec (`secret-scanning-alert-created`), when the event and action have one. */
  webhook?: string;
  /** A violation in a part Tourniquet reads: the delivery is refused, naming the field. */
  refusal?: { field: string; message: string };
  /** Violations elsewhere (say a repository field GitHub stopped sending): accepted, and logged as drift. */
  drift: string[];
}

let compiled: { spec: WebhookSpec; ajv: Ajv2020; validators: Map<string, ValidateFunction> } | undefined;

function load(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as WebhookSpec;
  // OpenAPI 3.1 schemas are JSON Schema 2020-12; `example`, `readOnly` and friends are annotations to ignore.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'github-webhooks', components: spec.components });
  compiled = { spec, ajv, validators: new Map() };
  return compiled;
}

/** `secret_scanning_alert` + `publicly_leaked` → `secret-scanning-alert-publicly-leaked`. */
export function webhookName(event: string, action: string): string {
  return `${event}-${action}`.replace(/_/g, '-');
}

/** Every secret-scanning webhook the spec describes, with the event and action that select it. */
export function secretScanningWebhooks(): { webhook: string; event: GitHubAlertEvent; action: string }[] {
  const { spec } = load();
  const found: { webhook: string; event: GitHubAlertEvent; action: string }[] = [];
  for (const webhook of Object.keys(spec.webhooks)) {
    // Longest event first: `secret-scanning-alert-location-created` is the location event's `created`.
    const event = [...GITHUB_ALERT_EVENTS]
      .reverse()
      .find((candidate) => webhook.startsWith(`${webhookName(candidate, '')}`));
    if (!event) continue;
    const action = webhook.slice(webhookName(event, '').length).replace(/-/g, '_');
    if (action !== '') found.push({ webhook, event, action });
  }
  return found;
}

/**
 * The JSON schema of one webhook's body, self-contained: its `$ref`s resolve under its own `components`, which hold
 * only the schemas it reaches (for samplers, which would otherwise walk all of GitHub's).
 */
export function webhookBodySchema(webhook: string): Record<string, unknown> | undefined {
  const { spec } = load();
  const ref = spec.webhooks[webhook]?.post?.requestBody?.content?.['application/json']?.schema?.$ref;
  if (!ref) return undefined;
  const reached: Record<string, unknown> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      const name = key === '$ref' && typeof value === 'string' ? value.split('/').pop()! : undefined;
      if (name !== undefined && !(name in reached)) {
        reached[name] = spec.components.schemas[name];
        visit(reached[name]);
      } else if (key !== '$ref') visit(value);
    }
  };
  visit({ $ref: ref });
  return { $ref: ref, components: { schemas: reached } };
}

function validatorFor(webhook: string): ValidateFunction | undefined {
  const state = load();
  const cached = state.validators.get(webhook);
  if (cached) return cached;
  const ref = state.spec.webhooks[webhook]?.post?.requestBody?.content?.['application/json']?.schema?.$ref;
  if (!ref) return undefined;
  const validate = state.ajv.getSchema(`github-webhooks${ref}`);
  if (validate) state.validators.set(webhook, validate);
  return validate;
}

/** `/alert/number` → `alert.number`; a missing property is named as the field. */
function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.split('/').slice(1);
  if (error.keyword === 'required')
    path.push(String((error.params as { missingProperty: string }).missingProperty));
  return path.length > 0 ? path.join('.') : '(body)';
}

function inReadPart(error: ErrorObject): boolean {
  const field = fieldOf(error);
  return (
    READ_FIELDS.has(field) || READ_SUBTREES.some((part) => field === part || field.startsWith(`${part}.`))
  );
}

/**
 * Checks a delivery against GitHub's schema for its event and action. Messages are ajv's (`must be integer`): they
 * name the rule, never the value, so a secret in a wrong-typed field is not echoed.
 */
export function checkGitHubDelivery(event: GitHubAlertEvent, body: unknown): SchemaVerdict {
  const action = (body as { action?: unknown } | null)?.action;
  if (typeof action !== 'string') {
    return { refusal: { field: 'action', message: 'expected the webhook action' }, drift: [] };
  }
  const webhook = webhookName(event, action);
  const validate = validatorFor(webhook);
  // An action this spec does not know yet (GitHub adds them): nothing to check it against, and nothing to act on.
  if (!validate) return { drift: [] };
  if (validate(body)) return { webhook, drift: [] };
  const errors = validate.errors ?? [];
  // `anyOf` (null or a user) reports every branch: the deepest error says what is actually wrong.
  const refused = errors.filter(inReadPart).sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (refused) {
    return {
      webhook,
      refusal: { field: fieldOf(refused), message: refused.message ?? 'invalid' },
      drift: [],
    };
  }
  return { webhook, drift: [...new Set(errors.map(fieldOf))].slice(0, 10) };
}

/** Compiles the secret-scanning validators now (about a second) rather than on the first alert of an incident. */
export function warmGitHubSchemas(): void {
  for (const { webhook } of secretScanningWebhooks()) validatorFor(webhook);
}
