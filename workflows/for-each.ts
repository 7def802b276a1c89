import { ActivityFailure, condition, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { ForEachItemsRequest, IncidentActivities, ItemCall, ItemOutcome } from '../activities/types';
import { connectorDestinations, resolveAction } from '../lib/runbook/actions';
import { durationMs } from '../lib/runbook/duration';
import {
  approvalGroups,
  itemContext,
  itemLabel,
  itemScope,
  keysFromSummary,
  listReference,
  planBatches,
  type ApprovalGroup,
} from '../lib/runbook/for-each';
import { renderParams, TemplateError, type TemplateScope } from '../lib/runbook/template';
import {
  ITEM_STATES,
  MAX_FOR_EACH_ITEMS,
  type ForEachItem,
  type IncidentContext,
  type ItemProgress,
  type ItemStatus,
  type Params,
  type RunbookStep,
  type SimulatedFaultSpec,
  type SummaryValue,
  type TimelineEventType,
} from '../lib/runbook/types';
import type { ApprovalGate } from './approval-gate';

/** What a `forEach` step needs from its incident; everything it changes goes through here. */
export interface ForEachHost {
  incidentId: string;
  exercise: boolean;
  /** A rerun's keys for this step (the items that failed before): they replace the step's list. */
  rerunKeys?: string[];
  context(): IncidentContext;
  scope(): TemplateScope;
  modeInput(): { demo?: boolean };
  faults(step: RunbookStep, action: string, item: string): SimulatedFaultSpec[] | undefined;
  notConfigured(system: string, params: Params): string | undefined;
  usesCredential(step: RunbookStep): boolean;
  isHalted(): boolean;
  gate: ApprovalGate;
  flag(flag: string): void;
  record(type: TimelineEventType, actor: string, stepId: string, detail: string): void;
  changed(): void;
}

/** How the step ended, for the incident's own onFailure handling. */
export type ForEachOutcome =
  | { state: 'succeeded'; summary: Record<string, SummaryValue>; detail: string }
  | { state: 'failed'; summary: Record<string, SummaryValue>; error: string }
  | {
      state: 'skipped';
      summary: Record<string, SummaryValue>;
      reason: string;
      detail?: string;
      denied?: string;
    };

/** Items named in one line of the timeline or Slack at most; the status lists them all. */
const NAMED_ITEMS = 10;

const resolving = proxyActivities<IncidentActivities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 5, initialInterval: '1s', maximumInterval: '10s' },
});

/**
 * One `forEach` step: the worker resolves the list's keys against its inventory (owners, credentials), each owner
 * approves their own items, and approved items run in batched activities with at most `concurrency` calls in flight
 * across the step. An item that fails with a retryable error is retried alone, in a later batch, up to the step's
 * `retry.maximumAttempts`; the others are not run again.
 */
export class ForEachStep {
  private items: ForEachItem[] = [];
  private readonly statuses = new Map<string, ItemStatus>();
  private inFlight = 0;
  /** Set by an item's final failure under `onItemFailure: halt`: nothing new starts. */
  private haltedBy?: string;
  private batchesDone = 0;
  private denied?: string;

  constructor(
    private readonly step: RunbookStep,
    private readonly host: ForEachHost,
  ) {}

  progress(): ItemProgress | undefined {
    const counts = this.counts();
    if (!counts) return undefined;
    const items = [...this.statuses.values()].map((item) => ({ ...item }));
    return { total: items.length, counts, items };
  }

  /** Items by state, without copying them: the incident asks on every batch, and 5,000 copies cost seconds. */
  counts(): ItemProgress['counts'] | undefined {
    if (this.statuses.size === 0) return undefined;
    const counts = Object.fromEntries(ITEM_STATES.map((state) => [state, 0])) as ItemProgress['counts'];
    for (const item of this.statuses.values()) counts[item.state] += 1;
    return counts;
  }

  /** Throws only a cancellation: everything else is the step's outcome. */
  async run(): Promise<ForEachOutcome> {
    const listed = await this.list();
    if ('problem' in listed) return { state: 'failed', summary: {}, error: listed.problem };
    this.items = listed.items;
    if (this.items.length === 0) {
      return { state: 'succeeded', summary: this.summary(), detail: 'the list is empty: nothing to do' };
    }
    for (const item of this.items) {
      this.statuses.set(item.key, {
        key: item.key,
        owner: item.owner,
        state: 'pending',
        ...(item.credentialId ? { credentialId: item.credentialId } : {}),
      });
    }
    const calls = new Map<string, ItemCall>();
    for (const item of this.items) {
      const call = this.callFor(item);
      if (typeof call === 'string') this.settle(item.key, { state: 'failed', error: call });
      else calls.set(item.key, call);
    }
    this.host.changed();
    const runnable = this.items.filter((item) => calls.has(item.key));
    this.host.record(
      'requested',
      'workflow',
      this.step.id,
      `${this.items.length} items: ${describeCalls(calls)}`,
    );

    if (this.step.approval.policy === 'none') {
      await this.runItems(runnable.map((item) => calls.get(item.key)!));
    } else {
      const groups = approvalGroups(this.step.id, runnable, this.step.forEach!.approval);
      await Promise.all(groups.map((group) => this.approveThenRun(group, calls)));
    }
    return this.outcome();
  }

  /** The list's keys, resolved by the worker: never more than MAX_FOR_EACH_ITEMS. */
  private async list(): Promise<{ items: ForEachItem[] } | { problem: string }> {
    const spec = this.step.forEach!;
    let source: ForEachItemsRequest['source'];
    if (this.host.rerunKeys) {
      source = { keys: this.host.rerunKeys };
    } else if (typeof spec.items === 'string') {
      const reference = listReference(spec.items);
      if (!reference) return { problem: `forEach.items: ${spec.items} is not {{steps.<step>.<list>}}` };
      const summary = this.host.scope().steps[reference.stepId]?.summary;
      const keys = keysFromSummary(
        summary?.[reference.field],
        `{{steps.${reference.stepId}.${reference.field}}}`,
      );
      if ('problem' in keys) return { problem: `forEach.items: ${keys.problem}` };
      source = { keys: keys.keys };
    } else if (Array.isArray(spec.items)) {
      source = { keys: spec.items };
    } else {
      source = { inventory: spec.items.inventory };
    }
    const items = await resolving.resolveForEachItems({
      incidentId: this.host.incidentId,
      stepId: this.step.id,
      stepOwner: this.step.owner,
      source,
    });
    if (items.length > MAX_FOR_EACH_ITEMS) {
      return { problem: `forEach.items: ${items.length} items; a step takes at most ${MAX_FOR_EACH_ITEMS}` };
    }
    return { items };
  }

  /** The item's call, or why it cannot be made (nothing is asked or run for it). */
  private callFor(item: ForEachItem): ItemCall | string {
    if (item.problem) return item.problem;
    if (this.host.usesCredential(this.step) && !item.credential) {
      return `${item.key} is not in the credential inventory: add it (issuer, owners, consumers) to act on it`;
    }
    const context = itemContext(this.host.context(), item);
    let params: Params;
    try {
      params = renderParams(this.step.params, { ...this.host.scope(), context, item: itemScope(item) });
    } catch (error) {
      if (error instanceof TemplateError) return error.message;
      throw error;
    }
    const resolved = resolveAction(this.step.action, context);
    const missing = this.host.notConfigured(resolved.provider, params);
    if (missing) return missing;
    return {
      key: item.key,
      provider: resolved.provider,
      action: resolved.action,
      params,
      idempotencyKey: `${this.host.incidentId}/${this.step.id}/${item.key}`,
      ...(item.credentialId ? { credentialId: item.credentialId } : {}),
      // A connector step is told where the item's credential is stored, as a single step is told the incident's.
      ...connectorDestinations(this.step.action, context),
      faults: this.host.faults(this.step, `${resolved.provider}.${resolved.action}`, item.key),
      attempt: 1,
      finalAttempt: this.step.retry.maximumAttempts <= 1,
    };
  }

  private async approveThenRun(group: ApprovalGroup, calls: Map<string, ItemCall>): Promise<void> {
    const keys = group.items.map((item) => item.key);
    for (const key of keys) this.update(key, { state: 'awaiting-approval' });
    this.host.changed();
    const groupCalls = keys.map((key) => calls.get(key)!);
    const actions = [...new Set(groupCalls.map((call) => `${call.provider}.${call.action}`))].join(', ');
    const decision = await this.host.gate.gate(
      { ...this.step, id: group.id, owner: group.owner },
      actions,
      `${keys.length} item${keys.length === 1 ? '' : 's'} of ${group.owner}: ${named(group.items.map(itemLabel))}`,
      // The approval binds to exactly these calls: a different list is a different hash.
      {
        items: groupCalls.map((call) => ({
          key: call.key,
          action: `${call.provider}.${call.action}`,
          params: call.params,
        })),
      },
      {
        stepId: this.step.id,
        items: keys,
        credentials: group.items.map((item) => item.credentialId ?? ''),
      },
    );
    if (decision.breakGlass) this.host.flag(`break-glass:${group.id}`);
    if (decision.outcome !== 'approved') {
      const reason =
        decision.outcome === 'denied' ? `denied by ${decision.by ?? 'an owner'}` : 'incident halted';
      if (decision.outcome === 'denied') {
        this.host.flag(`denied:${group.id}`);
        this.denied ??= group.id;
      }
      for (const key of keys) this.settle(key, { state: 'skipped', reason });
      this.host.changed();
      return;
    }
    for (const key of keys) this.update(key, { state: 'pending' });
    await this.runItems(groupCalls);
  }

  /** Runs calls in planned batches, then retries the retryable failures alone, with the step's backoff. */
  private async runItems(calls: ItemCall[]): Promise<void> {
    const retry = this.step.retry;
    let pending = calls;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      const round = pending.map((call) => ({
        ...call,
        attempt,
        finalAttempt: attempt >= retry.maximumAttempts,
      }));
      const plans = planBatches(round.length, this.step.forEach!.concurrency);
      const outcomes = (
        await Promise.all(
          plans.map((plan) => this.runBatch(round.slice(plan.start, plan.end), plan.concurrency)),
        )
      ).flat();
      const again = new Set(
        outcomes.filter((outcome) => outcome.state === 'failed' && outcome.retryable).map((o) => o.key),
      );
      pending = attempt < retry.maximumAttempts ? round.filter((call) => again.has(call.key)) : [];
      if (pending.length === 0) break;
      if (this.stopped()) {
        for (const call of pending) this.settle(call.key, { state: 'failed' });
        break;
      }
      const backoff = durationMs(retry.initialInterval) * retry.backoffCoefficient ** (attempt - 1);
      await sleep(Math.min(backoff, durationMs(retry.maximumInterval)));
    }
  }

  private async runBatch(calls: ItemCall[], concurrency: number): Promise<ItemOutcome[]> {
    const limit = this.step.forEach!.concurrency;
    // The slots are claimed inside the predicate: Temporal checks every waiting condition in one pass, so batches that
    // only looked would all see the same free slots and start together (60 in flight for a limit of 20).
    let claimed = false;
    await condition(() => {
      if (this.stopped()) return true;
      if (this.inFlight + concurrency > limit) return false;
      this.inFlight += concurrency;
      claimed = true;
      return true;
    });
    if (!claimed) return this.skipAll(calls);
    for (const call of calls) this.update(call.key, { state: 'running', attempts: call.attempt });
    this.host.changed();
    let outcomes: ItemOutcome[];
    try {
      const result = await this.activities(calls.length, concurrency).executeItems({
        incidentId: this.host.incidentId,
        stepId: this.step.id,
        exercise: this.host.exercise,
        ...this.host.modeInput(),
        concurrency,
        itemTimeoutMs: durationMs(this.step.timeout),
        onItemFailure: this.step.forEach!.onItemFailure,
        items: calls,
      });
      outcomes = result.outcomes;
    } catch (error) {
      if (isCancellation(error)) {
        for (const call of calls) this.update(call.key, { state: 'failed', error: 'cancelled' });
        throw error;
      }
      // The batch itself failed (every retry of a crashed worker): its items did not all report, so none is done.
      const message = error instanceof ActivityFailure && error.cause ? error.cause.message : String(error);
      outcomes = calls.map((call) => ({
        key: call.key,
        state: 'failed',
        error: message,
        attempt: call.attempt,
      }));
    } finally {
      this.inFlight -= concurrency;
    }
    for (const outcome of outcomes) {
      const call = calls.find((candidate) => candidate.key === outcome.key);
      const retried = outcome.state === 'failed' && outcome.retryable && call && !call.finalAttempt;
      if (retried) {
        this.update(outcome.key, { state: 'pending', attempts: outcome.attempt, error: outcome.error });
        continue;
      }
      this.settle(outcome.key, outcome);
      if (outcome.state === 'failed' && this.step.forEach!.onItemFailure === 'halt')
        this.haltedBy ??= outcome.key;
    }
    this.batchesDone += 1;
    const failed = outcomes.filter((outcome) => outcome.state === 'failed').length;
    this.host.record(
      'note',
      'workflow',
      this.step.id,
      `batch ${this.batchesDone}: ${calls.length} items, ${calls.length - failed} done, ${failed} failed`,
    );
    this.host.changed();
    return outcomes;
  }

  private skipAll(calls: ItemCall[]): ItemOutcome[] {
    const reason = this.haltedBy ? `halted: item ${this.haltedBy} failed` : 'incident halted';
    return calls.map((call) => {
      this.settle(call.key, { state: 'skipped', reason });
      return { key: call.key, state: 'skipped', reason, attempt: call.attempt };
    });
  }

  private stopped(): boolean {
    return this.haltedBy !== undefined || this.host.isHalted();
  }

  private activities(items: number, concurrency: number): IncidentActivities {
    const itemMs = durationMs(this.step.timeout);
    return proxyActivities<IncidentActivities>({
      // Each lane runs its share one after the other; a margin covers the vault records.
      startToCloseTimeout: itemMs * Math.ceil(items / concurrency) + 60_000,
      heartbeatTimeout: Math.min(itemMs, 10_000),
      // Retries here are for a lost worker: item failures come back as outcomes and are retried by `runItems`.
      retry: { maximumAttempts: 3, initialInterval: '1s', maximumInterval: '10s' },
    });
  }

  private outcome(): ForEachOutcome {
    const summary = this.summary();
    const statuses = [...this.statuses.values()];
    const failed = statuses.filter((item) => item.state === 'failed');
    if (failed.length > 0) {
      return {
        state: 'failed',
        summary,
        error: `${failed.length} of ${statuses.length} items failed: ${named(failed.map(itemLabel))}`,
      };
    }
    const done = statuses.filter((item) => item.state === 'succeeded').length;
    if (done === 0 && statuses.length > 0) {
      const reason = statuses[0].reason ?? 'nothing ran';
      // No item's system can do this (n8n cannot prove its own credentials dead): not applicable, as for one step.
      if (statuses.every((item) => item.reason?.startsWith('not supported by'))) {
        return { state: 'skipped', summary, reason: 'not applicable', detail: reason };
      }
      return { state: 'skipped', summary, reason, ...(this.denied ? { denied: this.denied } : {}) };
    }
    const skipped = statuses.length - done;
    return {
      state: 'succeeded',
      summary,
      detail: `${done} of ${statuses.length} items done${skipped ? `, ${skipped} skipped` : ''}`,
    };
  }

  /** What later steps read: counts, and the keys that succeeded or failed (a verify step iterates over them). */
  private summary(): Record<string, SummaryValue> {
    const statuses = [...this.statuses.values()];
    const keys = (state: ItemStatus['state']) =>
      statuses.filter((item) => item.state === state).map((item) => item.key);
    return {
      items: statuses.length,
      succeeded: keys('succeeded').length,
      failed: keys('failed').length,
      skipped: keys('skipped').length,
      succeededItems: keys('succeeded'),
      failedItems: keys('failed'),
    };
  }

  private settle(key: string, outcome: Partial<ItemOutcome> & { state: ItemStatus['state'] }): void {
    this.update(key, {
      state: outcome.state,
      ...(outcome.attempt ? { attempts: outcome.attempt } : {}),
      ...(outcome.error ? { error: outcome.error } : { error: undefined }),
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
  }

  private update(key: string, patch: Partial<ItemStatus>): void {
    const current = this.statuses.get(key)!;
    const next = { ...current, ...patch };
    if (next.error === undefined) delete next.error;
    this.statuses.set(key, next);
  }
}

function named(keys: string[]): string {
  const shown = keys.slice(0, NAMED_ITEMS).join(', ');
  return keys.length > NAMED_ITEMS ? `${shown} and ${keys.length - NAMED_ITEMS} more` : shown;
}

function describeCalls(calls: Map<string, ItemCall>): string {
  const actions = new Map<string, number>();
  for (const call of calls.values()) {
    const action = `${call.provider}.${call.action}`;
    actions.set(action, (actions.get(action) ?? 0) + 1);
  }
  return actions.size === 0
    ? 'none can run'
    : [...actions].map(([action, count]) => `${action} ×${count}`).join(', ');
}
