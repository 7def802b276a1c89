/**
 * `forEach` steps (workflow-safe: no Node built-ins, no I/O): how a list of items becomes approval batches and
 * activity batches. Only what the worker resolved from its own inventory decides owners and credentials; the list's
 * source (an earlier step's output, which a compromised platform may shape) only names keys.
 */
import type {
  ForEachItem,
  IncidentContext,
  ItemProgress,
  ParamValue,
  RunbookStep,
  SummaryValue,
} from './types';
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

/** Between a forEach step's id and what its approval request is for: `rotate--iam`, `rotate--item-3`. */
const GROUP_SEPARATOR = '--';
const PER_ITEM = /^item-\d+$/;

/**
 * The owner an approval request of a forEach step was asked of, when its id is an owner batch of that step
 * (`rotate--iam`); undefined for a per-item request or any other id.
 */
export function approvalGroupOwner(
  requestId: string,
  isForEachStep: (stepId: string) => boolean,
): string | undefined {
  const split = requestId.lastIndexOf(GROUP_SEPARATOR);
  if (split < 0 || !isForEachStep(requestId.slice(0, split))) return undefined;
  const owner = requestId.slice(split + GROUP_SEPARATOR.length);
  return PER_ITEM.test(owner) ? undefined : owner;
}

/** Whether a request id belongs to the forEach step `stepId` (one of its owner or item batches). */
export function isApprovalGroupOf(requestId: string | undefined, stepId: string): boolean {
  return requestId?.startsWith(`${stepId}${GROUP_SEPARATOR}`) ?? false;
}

/** One approval per owner for all their items, or one per item; in the order owners first appear. */
export function approvalGroups(
  stepId: string,
  items: ForEachItem[],
  mode: 'per-owner-batch' | 'per-item',
): ApprovalGroup[] {
  if (mode === 'per-item') {
    return items.map((item, index) => ({
      id: `${stepId}${GROUP_SEPARATOR}item-${index + 1}`,
      owner: item.owner,
      items: [item],
    }));
  }
  const groups = new Map<string, ApprovalGroup>();
  for (const item of items) {
    const group = groups.get(item.owner) ?? {
      id: `${stepId}${GROUP_SEPARATOR}${item.owner}`,
      owner: item.owner,
      items: [],
    };
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

/**
 * The steps a rerun runs: the forEach steps it names, and the forEach steps that iterate over their results (a
 * verification over `succeededItems`), transitively. Everything else already ran, or must not run again.
 */
export function rerunSteps(steps: RunbookStep[], named: Iterable<string>): Set<string> {
  const running = new Set(named);
  let grew = true;
  while (grew) {
    grew = false;
    for (const step of steps) {
      if (running.has(step.id) || typeof step.forEach?.items !== 'string') continue;
      const reference = listReference(step.forEach.items);
      if (reference && running.has(reference.stepId) && step.after.includes(reference.stepId)) {
        running.add(step.id);
        grew = true;
      }
    }
  }
  return running;
}

/** Why a rerun's item lists do not fit the runbook, or undefined. */
export function rerunRefusal(steps: RunbookStep[], items: Record<string, unknown>): string | undefined {
  const entries = Object.entries(items ?? {});
  if (entries.length === 0) return 'rerun: names no step';
  for (const [stepId, keys] of entries) {
    const step = steps.find((candidate) => candidate.id === stepId);
    if (!step?.forEach) return `rerun.items.${stepId}: not a forEach step of the runbook`;
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_FOR_EACH_ITEMS)
      return `rerun.items.${stepId}: expected 1 to ${MAX_FOR_EACH_ITEMS} item keys`;
    if (!keys.every((key) => typeof key === 'string' && ITEM_KEY_PATTERN.test(key)))
      return `rerun.items.${stepId}: an item key is malformed`;
  }
  return undefined;
}

/** An item as people know it: the inventory's id, and the list's key beside it when it differs (`crm-api-key (7Hq2…)`). */
export function itemLabel(item: { key: string; credentialId?: string }): string {
  return item.credentialId && item.credentialId !== item.key
    ? `${item.credentialId} (${item.key})`
    : item.key;
}

/** `12 items: 11 succeeded, 1 failed`: the states that have items, in the order of ITEM_STATES. */
export function itemCountsText(progress: Pick<ItemProgress, 'total' | 'counts'>): string {
  const counts = Object.entries(progress.counts)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`);
  return `${progress.total} items: ${counts.join(', ')}`;
}

/** `{{item.*}}` for one item. */
export function itemScope(item: ForEachItem): Record<string, ParamValue> {
  return {
    key: item.key,
    owner: item.owner,
    ...(item.credentialId ? { credentialId: item.credentialId } : {}),
  };
}
