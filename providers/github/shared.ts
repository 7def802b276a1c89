import { ProviderError, type ActionContext, type SummaryValue } from '../types';
import { toProviderError, type GitHubClients, type GitHubOctokit, type Permissions } from './client';
import type { GitHubProviderOptions } from './options';
import type { RepositoryRef } from './refs';

export type Summary = Record<string, SummaryValue>;

/**
 * What a state-changing action saw before it changed anything, per step execution (idempotency key).
 * A retry after a lost response would otherwise read its own change as "the previous state" and recovery would
 * restore the contained state. Held in memory: across a worker restart the retry falls back to what it reads,
 * which errs on the side of staying contained.
 */
export class StepMemory {
  private readonly entries = new Map<string, Summary>();

  constructor(private readonly capacity = 2000) {}

  recall(action: string, ctx: ActionContext): Summary | undefined {
    return this.entries.get(`${action}:${ctx.idempotencyKey}`);
  }

  remember(action: string, ctx: ActionContext, before: Summary): void {
    const key = `${action}:${ctx.idempotencyKey}`;
    this.entries.delete(key);
    this.entries.set(key, before);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}

export interface GitHubDeps {
  clients: GitHubClients;
  options: GitHubProviderOptions;
  memory: StepMemory;
}

/** Runs `work` with a client narrowed to `repository` and `permissions`; every failure becomes a ProviderError. */
export async function withRepository<T>(
  deps: GitHubDeps,
  ctx: ActionContext,
  action: string,
  repository: RepositoryRef,
  permissions: Permissions,
  work: (octokit: GitHubOctokit) => Promise<T>,
): Promise<T> {
  const octokit = await deps.clients.forRepository(ctx, repository, permissions, action);
  try {
    return await work(octokit);
  } catch (error) {
    throw toProviderError(error, action, permissions);
  }
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The summary of the step being undone, or a clear, non-retryable refusal naming what is missing. */
export function requireUndoSummary(ctx: ActionContext, action: string, field: string): Summary {
  const summary = ctx.undoOf;
  if (!summary || summary[field] === undefined) {
    throw new ProviderError(
      `github.${action}: needs the summary of the step it undoes (ctx.undoOf.${field}) to know what to restore`,
      false,
      'GitHubNothingToRestore',
    );
  }
  return summary;
}

export function stringList(value: SummaryValue | undefined): string[] {
  return Array.isArray(value) ? value : [];
}
