import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Checks requests and responses against GitHub's own OpenAPI description (`@octokit/openapi`,
 * `generated/api.github.com.json`), so the simulator cannot drift into accepting what GitHub would refuse.
 *
 * Only the one api.github.com document is loaded. The org audit log exists on GitHub Enterprise Cloud only; its
 * operation (with the components it references) was extracted from the GHEC description into a small fixture
 * (test/fixtures/github/ghec-audit-log.json) and is validated the same way.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface OpenApiDocument {
  paths: Record<string, Record<string, JsonObject>>;
  components: JsonObject;
}

export interface MatchedOperation {
  operationId: string;
  method: string;
  /** The path template, e.g. `/repos/{owner}/{repo}/hooks/{hook_id}`. */
  route: string;
  pathParams: Record<string, string>;
  source: 'api.github.com' | 'ghec-audit-log';
}

interface CompiledOperation {
  source: MatchedOperation['source'];
  method: string;
  route: string;
  matcher: RegExp;
  paramNames: string[];
  /** Literal characters in the template: the more, the more specific (`/runs/{id}` beats `/{owner}/{repo}`). */
  specificity: number;
  operation: JsonObject;
}

interface ParameterSpec {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: JsonObject;
}

const specRoot = join(__dirname, '../../../node_modules/@octokit/openapi/generated');
const auditLogFixture = join(__dirname, '../../fixtures/github/ghec-audit-log.json');

/**
 * The description says `created` is a date-time, but GitHub takes its search syntax there (`>=2024-01-01`,
 * `2024-01-01T00:00:00Z..2024-01-02T00:00:00Z`), and documents it so. Those parameters are checked against that
 * syntax instead of the `date-time` format.
 */
const searchSyntaxDateParameters = new Set([
  'actions/list-workflow-runs:created',
  'actions/list-workflow-runs-for-repo:created',
]);
const isoInstant = String.raw`\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?`;
const searchSyntaxDate = new RegExp(
  `^(?:(?:>=|<=|>|<)?${isoInstant}|${isoInstant}\\.\\.${isoInstant}|\\*\\.\\.${isoInstant}|${isoInstant}\\.\\.\\*)$`,
);

/** OpenAPI 3.0 `nullable` has no JSON Schema meaning next to `$ref`/`allOf` or an `enum`: spell it out. */
function rewriteNullable(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteNullable);
  if (node === null || typeof node !== 'object') return node;
  const rewritten: JsonObject = {};
  for (const [key, value] of Object.entries(node)) rewritten[key] = rewriteNullable(value);
  if (rewritten.nullable === true && rewritten.type === undefined) {
    delete rewritten.nullable;
    return { anyOf: [rewritten, { type: 'null' }] };
  }
  // `nullable` admits null even when an `enum` does not list it.
  if (rewritten.nullable === true && Array.isArray(rewritten.enum) && !rewritten.enum.includes(null)) {
    rewritten.enum = [...rewritten.enum, null];
  }
  return rewritten;
}

function qualifyRefs(node: Json, schemaId: string): Json {
  if (Array.isArray(node)) return node.map((item) => qualifyRefs(item, schemaId));
  if (node === null || typeof node !== 'object') return node;
  const qualified: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    qualified[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith('#/')
        ? `${schemaId}${value}`
        : qualifyRefs(value, schemaId);
  }
  return qualified;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Path parameters that GitHub lets span several segments (`x-multi-segment`: the `path` of `…/contents/{path}`). */
function multiSegmentParams(document: OpenApiDocument, operation: JsonObject): Set<string> {
  const names = new Set<string>();
  for (const entry of (operation.parameters ?? []) as JsonObject[]) {
    let parameter: Json = entry;
    if (typeof entry.$ref === 'string') {
      parameter = entry.$ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<Json>(
          (parent, key) =>
            parent !== null && typeof parent === 'object' && !Array.isArray(parent) ? parent[key] : null,
          document as unknown as Json,
        );
    }
    if (parameter !== null && typeof parameter === 'object' && !Array.isArray(parameter)) {
      if (
        parameter.in === 'path' &&
        parameter['x-multi-segment'] === true &&
        typeof parameter.name === 'string'
      )
        names.add(parameter.name);
    }
  }
  return names;
}

function compileRoutes(document: OpenApiDocument, source: MatchedOperation['source']): CompiledOperation[] {
  const compiled: CompiledOperation[] = [];
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'put', 'post', 'patch', 'delete', 'head'].includes(method)) continue;
      const multiSegment = multiSegmentParams(document, operation);
      const paramNames: string[] = [];
      const pattern = route
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const param = /^\{([^}]+)\}$/.exec(part);
          if (!param) return escapeRegExp(part);
          paramNames.push(param[1]);
          return multiSegment.has(param[1]) ? '(.+)' : '([^/]+)';
        })
        .join('');
      compiled.push({
        source,
        method: method.toUpperCase(),
        route,
        matcher: new RegExp(`^${pattern}$`),
        paramNames,
        specificity: route.replace(/\{[^}]+\}/g, '').length,
        operation,
      });
    }
  }
  return compiled;
}

export class OpenApiValidator {
  private readonly ajv: Ajv;
  private readonly routes: CompiledOperation[];
  private readonly documents: Record<MatchedOperation['source'], OpenApiDocument>;
  private readonly compiled = new Map<string, ValidateFunction>();

  private constructor(api: OpenApiDocument, auditLog: OpenApiDocument) {
    this.documents = { 'api.github.com': api, 'ghec-audit-log': auditLog };
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, discriminator: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ components: api.components }, 'api.github.com');
    this.ajv.addSchema({ components: auditLog.components }, 'ghec-audit-log');
    this.routes = [
      ...compileRoutes(api, 'api.github.com'),
      ...compileRoutes(auditLog, 'ghec-audit-log'),
    ].sort((a, b) => b.specificity - a.specificity);
  }

  private static shared: OpenApiValidator | undefined;

  /** Parsing 13 MB of JSON takes a moment: one validator per process, shared by every simulator instance. */
  static load(): OpenApiValidator {
    if (!OpenApiValidator.shared) {
      const read = (file: string) =>
        rewriteNullable(JSON.parse(readFileSync(file, 'utf8')) as Json) as unknown as OpenApiDocument;
      OpenApiValidator.shared = new OpenApiValidator(
        read(join(specRoot, 'api.github.com.json')),
        read(auditLogFixture),
      );
    }
    return OpenApiValidator.shared;
  }

  match(method: string, pathname: string): MatchedOperation | undefined {
    for (const candidate of this.routes) {
      if (candidate.method !== method) continue;
      const found = candidate.matcher.exec(pathname);
      if (!found) continue;
      const pathParams: Record<string, string> = {};
      candidate.paramNames.forEach((name, index) => {
        pathParams[name] = decodeURIComponent(found[index + 1]);
      });
      return {
        operationId: candidate.operation.operationId as string,
        method,
        route: candidate.route,
        pathParams,
        source: candidate.source,
      };
    }
    return undefined;
  }

  /** Every problem with the request, phrased with the parameter or body field it concerns. Empty when valid. */
  validateRequest(
    match: MatchedOperation,
    request: { query: URLSearchParams; body: unknown; contentType: string | undefined },
  ): string[] {
    const operation = this.operation(match);
    const problems: string[] = [];
    const parameters = this.parameters(match.source, operation);
    for (const parameter of parameters) {
      if (parameter.in === 'path') {
        problems.push(...this.validateParameter(match, parameter, match.pathParams[parameter.name]));
      } else if (parameter.in === 'query') {
        const value = request.query.get(parameter.name);
        if (value === null) {
          if (parameter.required) problems.push(`query parameter ${parameter.name} is required`);
          continue;
        }
        problems.push(...this.validateParameter(match, parameter, value));
      }
    }
    const knownQuery = new Set(parameters.filter((parameter) => parameter.in === 'query').map((p) => p.name));
    for (const name of new Set(request.query.keys())) {
      if (!knownQuery.has(name))
        problems.push(`query parameter ${name} is not defined for ${match.operationId}`);
    }

    const requestBody = this.deref(match.source, operation.requestBody) as JsonObject | undefined;
    if (requestBody === undefined) {
      if (request.body !== undefined) problems.push(`${match.operationId} takes no request body`);
      return problems;
    }
    if (request.body === undefined) {
      if (requestBody.required === true) problems.push(`request body is required for ${match.operationId}`);
      return problems;
    }
    const content = requestBody.content as JsonObject;
    const json = content['application/json'] as JsonObject | undefined;
    if (!json) return problems;
    if (request.contentType !== undefined && !request.contentType.includes('json')) {
      problems.push(`request body must be application/json, got ${request.contentType}`);
    }
    const validate = this.validator(
      `${match.source}:${match.operationId}:request`,
      match.source,
      json.schema,
    );
    if (!validate(request.body)) problems.push(...describeErrors('body', validate));
    return problems;
  }

  /** Checks a JSON response against the schema the description declares for that status. Empty when valid. */
  validateResponse(match: MatchedOperation, status: number, body: unknown): string[] {
    const responses = this.operation(match).responses as JsonObject;
    const declared = this.deref(match.source, responses[String(status)] ?? responses.default) as
      JsonObject | undefined;
    if (!declared) return [`status ${status} is not declared for ${match.operationId}`];
    const content = declared.content as JsonObject | undefined;
    const json = content?.['application/json'] as JsonObject | undefined;
    if (!json)
      return body === undefined ? [] : [`status ${status} of ${match.operationId} declares no JSON body`];
    const validate = this.validator(
      `${match.source}:${match.operationId}:${status}`,
      match.source,
      json.schema,
    );
    return validate(body) ? [] : describeErrors('response', validate);
  }

  /** A response example from the description, as a template the simulator fills with its own state. */
  example(operationId: string, status: number): unknown {
    for (const route of this.routes) {
      if (route.operation.operationId !== operationId) continue;
      const responses = route.operation.responses as JsonObject;
      const declared = this.deref(route.source, responses[String(status)]) as JsonObject;
      const json = (declared.content as JsonObject)['application/json'] as JsonObject;
      const examples = json.examples as JsonObject;
      const first = this.deref(route.source, Object.values(examples)[0]) as JsonObject;
      return structuredClone(first.value);
    }
    throw new Error(`no operation ${operationId}`);
  }

  private validateParameter(
    match: MatchedOperation,
    parameter: ParameterSpec,
    raw: string | undefined,
  ): string[] {
    const where = `${parameter.in} parameter ${parameter.name}`;
    if (raw === undefined) return parameter.required ? [`${where} is required`] : [];
    if (searchSyntaxDateParameters.has(`${match.operationId}:${parameter.name}`)) {
      return searchSyntaxDate.test(raw) ? [] : [`${where} must be a date or date range in search syntax`];
    }
    const schema = this.deref(match.source, parameter.schema) as JsonObject;
    const value = coerce(raw, schema);
    const validate = this.validator(
      `${match.source}:${match.operationId}:param:${parameter.in}:${parameter.name}`,
      match.source,
      parameter.schema,
    );
    return validate(value) ? [] : describeErrors(where, validate);
  }

  private operation(match: MatchedOperation): JsonObject {
    return this.documents[match.source].paths[match.route][match.method.toLowerCase()];
  }

  private parameters(source: MatchedOperation['source'], operation: JsonObject): ParameterSpec[] {
    const list = (operation.parameters ?? []) as Json[];
    return list.map((parameter) => this.deref(source, parameter) as unknown as ParameterSpec);
  }

  private deref(source: MatchedOperation['source'], node: Json | undefined): Json | undefined {
    let current = node;
    while (
      current !== null &&
      typeof current === 'object' &&
      !Array.isArray(current) &&
      typeof current.$ref === 'string'
    ) {
      const pointer = current.$ref.replace(/^#\//, '').split('/');
      current = pointer.reduce<Json | undefined>(
        (parent, key) => {
          if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) return undefined;
          return parent[key.replace(/~1/g, '/').replace(/~0/g, '~')];
        },
        this.documents[source] as unknown as Json,
      );
    }
    return current;
  }

  private validator(key: string, source: MatchedOperation['source'], schema: Json): ValidateFunction {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(qualifyRefs(schema, source) as object);
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

function coerce(raw: string, schema: JsonObject): unknown {
  const types = [
    schema.type,
    ...((schema.oneOf ?? schema.anyOf ?? []) as JsonObject[]).map((branch) => branch.type),
  ];
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(raw))
    return Number(raw);
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (types.includes('array')) return raw.split(',');
  return raw;
}

function describeErrors(where: string, validate: ValidateFunction): string[] {
  return (validate.errors ?? []).slice(0, 10).map((error) => {
    const field = error.instancePath ? `${where}${error.instancePath.replace(/\//g, '.')}` : where;
    const extra = 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : '';
    return `${field} ${error.message ?? 'is invalid'}${extra}`;
  });
}
