import type { RunbookStep } from './types';

/**
 * Kahn's algorithm. Returns the steps in an order where every step follows its dependencies, or the ids
 * that sit on a cycle.
 */
export function topologicalOrder(
  steps: Pick<RunbookStep, 'id' | 'after'>[],
): { ok: true; order: string[] } | { ok: false; cycle: string[] } {
  const known = new Set(steps.map((step) => step.id));
  const indegree = new Map(steps.map((step) => [step.id, step.after.filter((id) => known.has(id)).length]));
  const dependants = new Map<string, string[]>(steps.map((step) => [step.id, []]));
  for (const step of steps)
    for (const dep of step.after) if (known.has(dep)) dependants.get(dep)!.push(step.id);

  const ready = steps.filter((step) => indegree.get(step.id) === 0).map((step) => step.id);
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const next of dependants.get(id)!) {
      const remaining = indegree.get(next)! - 1;
      indegree.set(next, remaining);
      if (remaining === 0) ready.push(next);
    }
  }
  if (order.length === steps.length) return { ok: true, order };
  return { ok: false, cycle: steps.map((step) => step.id).filter((id) => !order.includes(id)) };
}

/** Every step `id` depends on, directly or not. */
export function ancestors(steps: Pick<RunbookStep, 'id' | 'after'>[], id: string): Set<string> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const seen = new Set<string>();
  const stack = [...(byId.get(id)?.after ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.after ?? []));
  }
  return seen;
}
