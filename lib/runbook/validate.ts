import { z } from 'zod';
import { isRole, splitAction } from './actions';
import { ancestors, topologicalOrder } from './dag';
import { FOR_EACH_LISTS, ITEM_FIELDS, listReference } from './for-each';
import { runbookSchema } from './schema';
import { lookupPath, renderParams, templateReferences, TemplateError, type TemplateScope } from './template';
import type { ActionCatalogs, ActionSpec, IncidentContext, Params, Runbook, RunbookStep } from './types';

export const DEFAULT_OWNER_ROLES = ['platform', 'iam', 'secops', 'app-owner', 'incident-commander'];

export interface RunbookIssue {
  path: string;
  message: string;
}

export type RunbookValidation = { ok: true; runbook: Runbook } | { ok: false; issues: RunbookIssue[] };

/** Typed stand-ins for every context field, so templated params can be type-checked before any incident. */
export const SAMPLE_CONTEXT: IncidentContext = {
  incident: {
    id: 'incident-0000000000000000',
    fingerprint: '0'.repeat(64),
    severity: 'high',
    secretKind: 'github-token',
    requester: 'U000SAMPLE',
    source: 'cli',
    openedAt: '2026-01-01T00:00:00.000Z',
    exposureStart: '2026-01-01T00:00:00.000Z',
    hint: 'github-token, 40 chars, ends 0000',
  },
  connector: { provider: 'github', ref: 'owner/repo/ci.yml', repository: 'owner/repo' },
  credential: {
    issuer: 'simulated',
    ref: 'service-account',
    destinations: [{ provider: 'github', target: 'owner/repo:DEPLOY_TOKEN' }],
  },
};

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    return text ? `${text}.${String(part)}` : String(part);
  }, '');
}

function zodIssues(error: z.ZodError, prefix: string): RunbookIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...(prefix ? [prefix] : []), ...issue.path]),
    message: issue.message,
  }));
}

export interface ValidationOptions {
  /** Every action a runbook may name; callers derive it from the provider list (`ACTION_CATALOGS`). */
  catalogs: ActionCatalogs;
  ownerRoles?: string[];
}

function actionSpec(catalogs: ActionCatalogs, action: string): { spec?: ActionSpec; problem?: string } {
  const { provider, action: name } = splitAction(action);
  const catalog = catalogs.roles[provider] ?? catalogs.systems[provider];
  if (!catalog) {
    const known = [...Object.keys(catalogs.roles), ...Object.keys(catalogs.systems)].join(', ');
    return { problem: `unknown provider "${provider}" (known: ${known})` };
  }
  const spec = catalog[name];
  if (!spec)
    return {
      problem: `unknown action "${name}" for ${isRole(provider) ? 'role' : 'provider'} "${provider}"`,
    };
  return { spec };
}

/** A `forEach` list that does not parse is named by its step's id too: the index alone is hard to find. */
function namingForEachSteps(issues: RunbookIssue[], raw: unknown): RunbookIssue[] {
  const steps = (raw as { steps?: unknown } | null)?.steps;
  return issues.map((issue) => {
    const match = /^steps\[(\d+)\]\.forEach/.exec(issue.path);
    const id =
      match && Array.isArray(steps) ? (steps[Number(match[1])] as { id?: unknown } | null)?.id : undefined;
    return typeof id === 'string'
      ? { ...issue, message: `step "${id.slice(0, 100)}": ${issue.message}` }
      : issue;
  });
}

/** Steps that sit on a cycle: what remains after peeling off every step with no dependant left. */
function cycleMembers(steps: RunbookStep[], unordered: string[]): string[] {
  const remaining = new Set(unordered);
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of remaining) {
      const hasDependant = steps.some((step) => remaining.has(step.id) && step.after.includes(id));
      if (!hasDependant) {
        remaining.delete(id);
        changed = true;
      }
    }
  }
  return [...remaining];
}

function checkParams(
  step: RunbookStep,
  where: string,
  spec: ActionSpec,
  params: Params,
  stepAncestors: Set<string>,
): RunbookIssue[] {
  const issues: RunbookIssue[] = [];
  let dynamic = false;
  for (const reference of templateReferences(params)) {
    if (reference === 'item' || reference.startsWith('item.')) {
      const field = reference.split('.')[1];
      if (!step.forEach) {
        issues.push({ path: where, message: `{{${reference}}} is only defined in a forEach step` });
      } else if (!(ITEM_FIELDS as readonly string[]).includes(field)) {
        issues.push({
          path: where,
          message: `unknown item field {{${reference}}} (known: ${ITEM_FIELDS.map((name) => `item.${name}`).join(', ')})`,
        });
      }
      dynamic = true;
    } else if (reference.startsWith('steps.')) {
      const from = reference.split('.')[1];
      if (!stepAncestors.has(from)) {
        issues.push({
          path: where,
          message: `{{${reference}}} reads step "${from}", which "${step.id}" does not depend on`,
        });
      }
      dynamic = true;
    } else if (lookupPath({ context: SAMPLE_CONTEXT, steps: {} }, reference) === undefined) {
      issues.push({ path: where, message: `unknown template reference {{${reference}}}` });
    }
  }
  if (issues.length > 0 || dynamic) return issues;
  const scope: TemplateScope = { context: SAMPLE_CONTEXT, steps: {} };
  let rendered: Params;
  try {
    rendered = renderParams(params, scope);
  } catch (error) {
    if (error instanceof TemplateError) return [{ path: where, message: error.message }];
    throw error;
  }
  const parsed = spec.params.safeParse(rendered);
  return parsed.success ? [] : zodIssues(parsed.error, where);
}

/** Irreversible or destructive: a human must approve it, unless the catalog allows pre-approval and the step says why. */
function needsApproval(spec: ActionSpec): boolean {
  return !spec.reversible || spec.destructive !== undefined;
}

function whyApproval(spec: ActionSpec): string {
  return spec.reversible ? 'destroys data' : 'cannot be undone';
}

/**
 * The approval policy an action demands (DESIGN "Trust": irreversible or destructive actions need an approval
 * policy; reversible containment runs at once). Judged on the catalog's spec of the action as named, so a role action
 * (`issuer.revokeCredential`) is judged by the role catalog.
 */
function approvalPolicyIssues(step: RunbookStep, at: string, spec: ActionSpec): RunbookIssue[] {
  const policy = step.approval.policy;
  if (step.preapproved !== undefined) {
    const where = `${at}.preapproved`;
    if (policy !== 'none')
      return [
        {
          path: where,
          message: `only a step with policy none can be pre-approved (this one waits for ${policy})`,
        },
      ];
    if (!needsApproval(spec))
      return [
        {
          path: where,
          message: `"${step.action}" cannot be pre-approved: it is reversible and runs without approval`,
        },
      ];
    if (!spec.preapprovable)
      return [
        {
          path: where,
          message: `"${step.action}" cannot be pre-approved: it needs policy owner or two-person`,
        },
      ];
    return [];
  }
  if (policy !== 'none' || !needsApproval(spec)) return [];
  const alternative = spec.preapprovable
    ? 'or preapproved: <reason>, which the action allows'
    : 'or preapproved: <reason> where the action allows it';
  return [
    {
      path: `${at}.approval`,
      message: `"${step.action}" ${whyApproval(spec)}: it needs policy owner or two-person (${alternative})`,
    },
  ];
}

export function validateRunbook(raw: unknown, options: ValidationOptions): RunbookValidation {
  const { catalogs, ownerRoles = DEFAULT_OWNER_ROLES } = options;
  const parsed = runbookSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: namingForEachSteps(zodIssues(parsed.error, ''), raw) };
  const runbook = parsed.data;
  const issues: RunbookIssue[] = [];
  const ids = new Set<string>();

  runbook.steps.forEach((step, index) => {
    if (ids.has(step.id))
      issues.push({ path: `steps[${index}].id`, message: `duplicate step id "${step.id}"` });
    ids.add(step.id);
  });
  runbook.steps.forEach((step, index) => {
    step.after.forEach((dep, depIndex) => {
      if (!ids.has(dep))
        issues.push({ path: `steps[${index}].after[${depIndex}]`, message: `unknown step "${dep}"` });
      if (dep === step.id)
        issues.push({
          path: `steps[${index}].after[${depIndex}]`,
          message: 'a step cannot depend on itself',
        });
    });
  });
  const order = topologicalOrder(runbook.steps);
  if (!order.ok) {
    const members = cycleMembers(runbook.steps, order.cycle);
    issues.push({ path: 'steps', message: `dependency cycle between steps ${members.join(', ')}` });
  }

  runbook.steps.forEach((step, index) => {
    const at = `steps[${index}]`;
    const stepAncestors = order.ok ? ancestors(runbook.steps, step.id) : new Set<string>();
    if (!ownerRoles.includes(step.owner)) {
      issues.push({
        path: `${at}.owner`,
        message: `unknown owner role "${step.owner}" (known: ${ownerRoles.join(', ')})`,
      });
    }
    if (step.undoes && !stepAncestors.has(step.undoes) && order.ok) {
      issues.push({
        path: `${at}.undoes`,
        message: `"${step.undoes}" must be a step that "${step.id}" depends on`,
      });
    }
    for (const key of Object.keys(step.when ?? {})) {
      if (lookupPath({ context: SAMPLE_CONTEXT, steps: {} }, key) === undefined) {
        issues.push({ path: `${at}.when.${key}`, message: `unknown context field "${key}"` });
      }
    }
    const { spec, problem } = actionSpec(catalogs, step.action);
    if (!spec) {
      issues.push({ path: `${at}.action`, message: problem! });
      return;
    }
    issues.push(...checkParams(step, `${at}.params`, spec, step.params, stepAncestors));
    if (step.forEach) {
      issues.push(...forEachIssues(runbook.steps, step, at, catalogs, ownerRoles, stepAncestors));
    }

    if (step.compensate) {
      const undo = actionSpec(catalogs, step.compensate.action);
      if (!undo.spec) issues.push({ path: `${at}.compensate.action`, message: undo.problem! });
      else if (needsApproval(undo.spec))
        issues.push({
          path: `${at}.compensate.action`,
          message: `"${step.compensate.action}" ${whyApproval(undo.spec)}: a compensation runs without approval, so it must be reversible`,
        });
      else
        issues.push(
          ...checkParams(
            step,
            `${at}.compensate.params`,
            undo.spec,
            step.compensate.params ?? step.params,
            stepAncestors,
          ),
        );
    }
    issues.push(...approvalPolicyIssues(step, at, spec));
    const approval = step.approval;
    if (approval.breakGlass && !step.reversible) {
      issues.push({
        path: `${at}.approval.breakGlass`,
        message: 'break-glass is allowed only on reversible steps',
      });
    }
    if (approval.policy === 'none' && (approval.breakGlass || approval.escalateTo)) {
      issues.push({
        path: `${at}.approval`,
        message: 'breakGlass and escalateTo need an approval policy (owner or two-person)',
      });
    }
    if (approval.escalateTo && !ownerRoles.includes(approval.escalateTo)) {
      issues.push({
        path: `${at}.approval.escalateTo`,
        message: `unknown owner role "${approval.escalateTo}"`,
      });
    }
    if (step.reversible && !spec.reversible && !step.compensate) {
      issues.push({
        path: `${at}.reversible`,
        message: `"${step.action}" cannot be undone: mark the step reversible: false or give a compensate action`,
      });
    }
    if (spec.destructive === 'log-purge' && order.ok) {
      const preserved = [...stepAncestors].some((id) => {
        const ancestor = runbook.steps.find((candidate) => candidate.id === id);
        return ancestor ? actionSpec(catalogs, ancestor.action).spec?.preservesEvidence === true : false;
      });
      if (!preserved) {
        issues.push({
          path: at,
          message: `destructive log purge "${step.id}" must depend on an evidence-preservation step (list it in "after")`,
        });
      }
    }
  });

  if (issues.length > 0) return { ok: false, issues };
  // The workflow cannot read catalogs, so each reversible step carries its undo explicitly.
  const steps = runbook.steps.map((step) =>
    step.reversible && !step.compensate ? { ...step, compensate: compensationFor(catalogs, step) } : step,
  );
  return { ok: true, runbook: { ...runbook, steps } };
}

/**
 * A `forEach` list must come from something the step waits for and that lists keys: a discovery action's declared
 * list (`lists` in its catalog) or an earlier forEach step's `succeededItems` / `failedItems`.
 */
function forEachIssues(
  steps: RunbookStep[],
  step: RunbookStep,
  at: string,
  catalogs: ActionCatalogs,
  ownerRoles: string[],
  stepAncestors: Set<string>,
): RunbookIssue[] {
  const spec = step.forEach!;
  const where = `${at}.forEach.items`;
  const issues: RunbookIssue[] = [];
  if (typeof spec.items === 'string') {
    const reference = listReference(spec.items)!;
    const source = steps.find((candidate) => candidate.id === reference.stepId);
    if (!source) {
      issues.push({
        path: where,
        message: `step "${step.id}" iterates over unknown step "${reference.stepId}"`,
      });
    } else if (!stepAncestors.has(reference.stepId)) {
      issues.push({
        path: where,
        message: `step "${step.id}" iterates over {{steps.${reference.stepId}.${reference.field}}}, which it does not wait for: list "${reference.stepId}" in its "after"`,
      });
    } else {
      const lists = source.forEach ? FOR_EACH_LISTS : (actionSpec(catalogs, source.action).spec?.lists ?? []);
      if (!lists.includes(reference.field)) {
        issues.push({
          path: where,
          message: `step "${step.id}" iterates over "${reference.field}" of "${reference.stepId}" (${source.action}), which lists ${lists.length > 0 ? lists.join(', ') : 'nothing'}`,
        });
      }
    }
  } else if (!Array.isArray(spec.items) && spec.items.inventory.owner) {
    const owner = spec.items.inventory.owner;
    if (!ownerRoles.includes(owner)) {
      issues.push({ path: `${where}.inventory.owner`, message: `unknown owner role "${owner}"` });
    }
  }
  if (step.reversible || step.compensate) {
    issues.push({
      path: `${at}.reversible`,
      message: `forEach step "${step.id}" cannot be compensated item by item: mark it reversible: false and undo it with a recovery step`,
    });
  }
  if (step.undoes) {
    issues.push({ path: `${at}.undoes`, message: `forEach step "${step.id}" cannot undo another step` });
  }
  return issues;
}

/** The undo a step would get: its explicit `compensate`, else the catalog's undo action with the same params. */
export function compensationFor(
  catalogs: ActionCatalogs,
  step: RunbookStep,
): { action: string; params: Params } | undefined {
  if (step.compensate)
    return { action: step.compensate.action, params: step.compensate.params ?? step.params };
  const { provider } = splitAction(step.action);
  const spec = actionSpec(catalogs, step.action).spec;
  if (!spec?.undo) return undefined;
  return { action: `${provider}.${spec.undo}`, params: step.params };
}
