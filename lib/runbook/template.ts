import type { IncidentContext, ParamValue, Params, SummaryValue } from './types';

const WHOLE_TEMPLATE = /^\{\{\s*([\w.-]+)\s*\}\}$/;
const ANY_TEMPLATE = /\{\{\s*([\w.-]+)\s*\}\}/g;

/** What templates can read: the incident context plus the summaries of steps that already finished. */
export interface TemplateScope {
  context: IncidentContext;
  steps: Record<string, { summary?: Record<string, SummaryValue> }>;
  /** Inside a `forEach` step: the item being acted on (`{{item.key}}`). */
  item?: Record<string, ParamValue>;
}

export class TemplateError extends Error {}

export function templateReferences(value: ParamValue): string[] {
  if (typeof value === 'string') return [...value.matchAll(ANY_TEMPLATE)].map((match) => match[1]);
  if (Array.isArray(value)) return value.flatMap(templateReferences);
  if (value && typeof value === 'object') return Object.values(value).flatMap(templateReferences);
  return [];
}

export function lookupPath(scope: TemplateScope, path: string): unknown {
  const [head, ...rest] = path.split('.');
  let current: unknown =
    head === 'steps'
      ? scope.steps
      : head === 'item'
        ? scope.item
        : (scope.context as unknown as Record<string, unknown>)[head];
  for (const part of rest) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function renderValue(value: ParamValue, scope: TemplateScope, where: string): ParamValue {
  if (typeof value === 'string') {
    const whole = WHOLE_TEMPLATE.exec(value);
    if (whole) return resolve(scope, whole[1], where) as ParamValue;
    return value.replace(ANY_TEMPLATE, (_, path: string) => String(resolve(scope, path, where)));
  }
  if (Array.isArray(value)) return value.map((item, index) => renderValue(item, scope, `${where}[${index}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, renderValue(item, scope, `${where}.${key}`)]),
    );
  }
  return value;
}

function resolve(scope: TemplateScope, path: string, where: string): unknown {
  const found = lookupPath(scope, path);
  if (found === undefined || found === '') throw new TemplateError(`${where}: {{${path}}} has no value`);
  return found;
}

export function renderParams(params: Params, scope: TemplateScope): Params {
  return renderValue(params, scope, 'params') as Params;
}
