import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const envVarName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the NAME of an environment variable (A-Z, 0-9, _)');
const placeholders = /\{(\w+)\}/g;

function pathTemplate(allowed: readonly string[]) {
  return z
    .string()
    .startsWith('/', 'expected a path starting with "/"')
    .refine(
      (path) => !/^\/\//.test(path) && !/[\s#]/.test(path),
      'expected a path without spaces, "#" or a host',
    )
    .refine(
      (path) => [...path.matchAll(placeholders)].every(([, name]) => allowed.includes(name ?? '')),
      `only the placeholders ${allowed.map((name) => `{${name}}`).join(', ')} are known here`,
    );
}

const statusList = z.array(z.number().int().min(100).max(599)).min(1);

function endpoint(allowedPlaceholders: readonly string[], defaultStatus: number[]) {
  return z.strictObject({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    /** Relative to baseUrl; `{id}` is the object id from the ref, URL-encoded. */
    path: pathTemplate(allowedPlaceholders),
    /** JSON sent as the request body (no secrets here: this file is configuration, not a vault). */
    body: z.json().optional(),
    expectStatus: statusList.default(defaultStatus),
    timeoutMs: z.number().int().positive().max(120_000).optional(),
  });
}

const idOnly = ['id'] as const;
const withWindow = ['id', 'since', 'until'] as const;

/** A field of a JSON answer, dotted for nesting: `active`, `data.state`. */
const fieldPath = z.string().regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, 'expected a dotted field path');
const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const connectorDefinition = z
  .strictObject({
    /** The part of the ref before "/": `n8n-prod/42` is object 42 of connector `n8n-prod`. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected lower-case letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    baseUrlFromEnv: envVarName.optional(),
    auth: z
      .strictObject({
        header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name'),
        /** The variable holding the value, read at call time. The value itself never belongs in this file. */
        valueFromEnv: envVarName,
        /** Put before the value, e.g. "Bearer ". */
        prefix: z.string().default(''),
      })
      .optional(),
    /** Sent with the step's idempotency key so platforms that honour it de-duplicate retried writes. */
    idempotencyKeyHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(10).default(4),
        initialDelayMs: z.number().int().min(0).max(60_000).default(250),
        maxDelayMs: z.number().int().min(0).max(300_000).default(5_000),
      })
      .default({ attempts: 4, initialDelayMs: 250, maxDelayMs: 5_000 }),
    disable: endpoint(idOnly, [200, 204]).optional(),
    enable: endpoint(idOnly, [200, 204]).optional(),
    /** Reads the object's state; disable/enable read it first (nothing to do) and after (proof it took). */
    verify: endpoint(idOnly, [200])
      .extend({
        stateField: fieldPath,
        enabledValue: scalar,
        disabledValue: scalar,
      })
      .optional(),
    /** Mints a replacement credential; the answer's `secretField` is delivered, never logged or returned. */
    rotate: endpoint(idOnly, [200, 201]).extend({ secretField: fieldPath }).optional(),
    cancelRuns: endpoint(idOnly, [200, 202, 204]).optional(),
    /** Its answer body is the artifact preserved as evidence. */
    captureLogs: endpoint(withWindow, [200]).optional(),
    purgeLogs: endpoint(withWindow, [200, 202, 204]).optional(),
  })
  .refine((connector) => Boolean(connector.baseUrl) !== Boolean(connector.baseUrlFromEnv), {
    message: 'set exactly one of baseUrl and baseUrlFromEnv',
    path: ['baseUrl'],
  });

export type ConnectorDefinition = z.infer<typeof connectorDefinition>;
export type ConnectorDefinitionInput = z.input<typeof connectorDefinition>;

export const connectorFile = z
  .strictObject({ connectors: z.array(connectorDefinition).min(1) })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.connectors.forEach((connector, index) => {
      if (seen.has(connector.name)) {
        ctx.addIssue({
          code: 'custom',
          message: `duplicate connector name "${connector.name}"`,
          path: ['connectors', index, 'name'],
        });
      }
      seen.add(connector.name);
    });
  });

/** `connectors[0].disable.method` */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

export class ConnectorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorConfigError';
  }
}

export function parseConnectorConfig(text: string, sourceName: string): ConnectorDefinition[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConnectorConfigError(
      `${sourceName}: not valid YAML (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = connectorFile.safeParse(document);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${formatIssuePath(issue.path) || '(file)'}: ${issue.message}`,
    );
    throw new ConnectorConfigError(`${sourceName}: ${issues.join('; ')}`);
  }
  return parsed.data.connectors;
}

export async function loadConnectorFile(path: string): Promise<ConnectorDefinition[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConnectorConfigError(
      `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return parseConnectorConfig(text, path);
}
