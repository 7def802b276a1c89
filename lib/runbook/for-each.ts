/**
 * `forEach` steps (workflow-safe: no Node built-ins, no I/O): how a list of items becomes approval batches and
 * activity batches. Only what the worker resolved from its own inventory decides owners and credentials; the list's
 * source (an earlier step's output, which a compromised platform may shape) only names keys.
 */
import type { ForEachItem, IncidentContext, ParamValue, SummaryValue } from './types';
import { MAX_FOR_EACH_ITEMS } from './types';

export const ITEM_KEY_PATTERN = /^[A-Za-z0-9][\w.:@/-]{0,199}$/;
export const LIST_TEMPLATE = /^\{\{\s*steps\.([a-z][a-z0-9-]*)\.([A-Za-z]\w*)\s*\}\}$/;
/** Items per activity at most: fewer activities keep history small, more keep a retry small. */
export const MAX_BATCH_ITEMS = 100;
/** The lists a `forEach` step's summary gives the steps after it. */
export const FOR_EACH_LISTS: readonly string[] = ['succeededItems', 'failedItems'];
/** What `{{item.*}}` may read inside a `forEach` step. */
export const ITEM_FIELDS = ['key', 'owner', 'credentialId'] as const;

/** `{{steps.discover.credentials}}` → the step and the summary field it reads. */
export function listReference(template: string): { stepId: string; field: string } | undefined {
  const match = LIST_TEMPLATE.exec(template);
  return match ? { stepId: match[1], field: match[2] } : undefined;
}

/** The keys an earlier step's summary field lists, or why it does not hold a list of keys. */
export function keysFromSummary(
  value: SummaryValue | undefined,
  where: string,
): { keys: string[] } | { problem: string } {
  if (value === undefined || value === null) return { problem: `${where} has no value` };
  if (!Array.isArray(value)) return { problem: `${where} is not a list (${typeof value})` };
  if (value.length > MAX_FOR_EACH_ITEMS)
    return { problem: `${where} lists ${value.length} items; a step takes at most ${MAX_FOR_EACH_ITEMS}` };
  return { keys: [...new Set(value)] };
}

export interface BatchPlan {
  /** Indexes into the item list: [start, end). */
  start: number;
  end: number;
  /** Items of this batch in flight at once inside its activity. */
  concurrency: number;
}

/**
 * Splits `count` items into activities so that `concurrency` provider calls stay busy to the end: few enough
 * batches to keep history bounded (at most MAX_BATCH_ITEMS each), sized in proportion to the slots each gets, so
 * no batch finishes long after the others. Beyond `concurrency` batches, each gets one slot and batches run in
 * equal rounds.
 */
export function planBatches(count: number, concurrency: number, maxItems = MAX_BATCH_ITEMS): BatchPlan[] {
  if (count === 0) return [];
  const slots = Math.max(1, Math.min(concurrency, count));
  const needed = Math.ceil(count / maxItems);
  const batches = needed <= slots ? needed : Math.ceil(needed / slots) * slots;
  const perBatchSlots = Array.from({ length: batches }, (_, index) =>
    batches >= slots ? 1 : Math.floor(slots / batches) + (index < slots % batches ? 1 : 0),
  );
  const totalSlots = perBatchSlots.reduce((sum, value) => sum + value, 0);
  const plans: BatchPlan[] = [];
  let start = 0;
  let slotsSoFar = 0;
  for (const [index, batchSlots] of perBatchSlots.entries()) {
    slotsSoFar += batchSlots;
    const end = index === batches - 1 ? count : Math.round((count * slotsSoFar) / totalSlots);
    if (end > start) plans.push({ start, end, concurrency: Math.min(batchSlots, end - start) });
    start = end;
  }
  return plans;
}

export interface ApprovalGroup {
  /** The approval request's id: `<step>--<owner>` or `<step>--item-<n>` (Slack and the CLI address it). */
  id: string;
  owner: string;
  items: ForEachItem[];
}

/** One approval per owner for all their items, or one per item; in the order owners first appear. */
export function approvalGroups(
  stepId: string,
  items: ForEachItem[],
  mode: 'per-owner-batch' | 'per-item',
): ApprovalGroup[] {
  if (mode === 'per-item') {
    return items.map((item, index) => ({
      id: `${stepId}--item-${index + 1}`,
      owner: item.owner,
      items: [item],
    }));
  }
  const groups = new Map<string, ApprovalGroup>();
  for (const item of items) {
    const group = groups.get(item.owner) ?? { id: `${stepId}--${item.owner}`, owner: item.owner, items: [] };
    group.items.push(item);
    groups.set(item.owner, group);
  }
  return [...groups.values()];
}

/** The incident as one item sees it: `credential` is the item's own (roles such as `issuer` resolve through it). */
export function itemContext(context: IncidentContext, item: ForEachItem): IncidentContext {
  if (!item.credential) return context;
  return {
    ...context,
    credential: {
      issuer: item.credential.issuer,
      ref: item.credential.ref,
      destinations: item.credential.destinations.map((destination) => ({ ...destination })),
      resolution: {
        ...(item.credentialId ? { credentialId: item.credentialId } : {}),
        by: 'identifier',
        reason: `forEach item ${item.key}`,
      },
    },
  };
}

/** `{{item.*}}` for one item. */
export function itemScope(item: ForEachItem): Record<string, ParamValue> {
  return {
    key: item.key,
    owner: item.owner,
    ...(item.credentialId ? { credentialId: item.credentialId } : {}),
  };
}
