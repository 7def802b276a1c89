import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ProviderError, type ActionContext, type ActionResult, type PreservedArtifact } from '../types';
import type { N8nClient } from './client';
import { connectorRefText, N8N, type ConnectorScope } from './refs';
import { workflowsIn } from './workflows';

/**
 * Executions: what n8n kept of each run, node by node, with the data every node saw and produced (a webhook's
 * request headers, an HTTP node's answer). That is exactly where a leaked secret shows, so executions are copied
 * into the evidence vault verbatim and only counts and ids leave this file.
 *
 * `GET /executions` pages with a cursor; its metadata (no data) picks the executions of the exposure window, then each
 * one is streamed with its data (`GET /executions/{id}?includeData=true`) into an NDJSON artifact: one header line,
 * then one execution per line, at most EXECUTIONS_PER_ARTIFACT per artifact. Nothing is held in memory but the
 * metadata.
 */

export interface ExecutionMeta {
  id: string;
  workflowId: string;
  status: string;
  startedAt: string | null;
  stoppedAt: string | null;
}

export interface TimeWindow {
  since?: string;
  until?: string;
}

const PAGE = 250;
export const EXECUTIONS_PER_ARTIFACT = 100;
/** More than this and the step refuses: n8n prunes to 10,000 executions by default. */
const MAX_EXECUTIONS = 200_000;
/** Still running or about to: deleting one would kill a run n8n is in the middle of (the API refuses running ones). */
const UNFINISHED = new Set(['new', 'running', 'waiting', 'unknown']);
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;

function overlaps(execution: ExecutionMeta, since: number | undefined, until: number | undefined): boolean {
  const started = Date.parse(execution.startedAt ?? '');
  const stopped = Date.parse(execution.stoppedAt ?? '');
  if (until !== undefined && Number.isFinite(started) && started > until) return false;
  // Not stopped (running, waiting) counts as still inside any window that started before now.
  if (since !== undefined && Number.isFinite(stopped) && stopped < since) return false;
  return true;
}

function byNumericId(a: ExecutionMeta, b: ExecutionMeta): number {
  const delta = Number(a.id) - Number(b.id);
  return Number.isFinite(delta) && delta !== 0 ? delta : a.id.localeCompare(b.id);
}

async function listExecutions(
  client: N8nClient,
  ctx: ActionContext,
  workflowId: string | undefined,
  into: Map<string, ExecutionMeta>,
): Promise<void> {
  // The plain list leaves out the executions running right now; they are asked for on their own.
  for (const status of [undefined, 'running']) {
    for await (const page of client.pages<ExecutionMeta>(ctx, '/executions', {
      limit: PAGE,
      includeData: false,
      workflowId,
      status,
    })) {
      for (const execution of page) {
        if (execution && (typeof execution.id === 'string' || typeof execution.id === 'number')) {
          into.set(String(execution.id), {
            id: String(execution.id),
            workflowId: String(execution.workflowId),
            status: typeof execution.status === 'string' ? execution.status : 'unknown',
            startedAt: execution.startedAt ?? null,
            stoppedAt: execution.stoppedAt ?? null,
          });
        }
      }
      if (into.size > MAX_EXECUTIONS) {
        throw new ProviderError(
          `n8n: more than ${MAX_EXECUTIONS} executions; narrow the window (since/until) or the reference`,
          false,
          'N8nTooManyExecutions',
        );
      }
      ctx.heartbeat({ executionsListed: into.size });
    }
  }
}

/** The executions of the reference's workflows that overlap the window, oldest first. */
export async function executionsIn(
  client: N8nClient,
  ctx: ActionContext,
  scope: ConnectorScope,
  window: TimeWindow,
): Promise<{ executions: ExecutionMeta[]; workflowIds: string[] | 'all' }> {
  const found = new Map<string, ExecutionMeta>();
  let workflowIds: string[] | 'all';
  if (scope.kind === 'platform') {
    workflowIds = 'all';
    await listExecutions(client, ctx, undefined, found);
  } else {
    // A deleted workflow's executions go with it; a single missing workflow is reported by workflowsIn.
    workflowIds = (await workflowsIn(client, ctx, scope)).map((workflow) => workflow.id);
    for (const id of workflowIds) await listExecutions(client, ctx, id, found);
  }
  const since = window.since === undefined ? undefined : Date.parse(window.since);
  const until = window.until === undefined ? undefined : Date.parse(window.until);
  const executions = [...found.values()].filter((execution) => overlaps(execution, since, until));
  return { executions: executions.sort(byNumericId), workflowIds };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}

/** Compact JSON has line breaks only between tokens, where a space means the same: one execution stays one line. */
function oneLine(chunk: Buffer): Buffer {
  if (!chunk.includes(NEWLINE) && !chunk.includes(CARRIAGE_RETURN)) return chunk;
  const copy = Buffer.from(chunk);
  for (let index = 0; index < copy.length; index += 1) {
    if (copy[index] === NEWLINE || copy[index] === CARRIAGE_RETURN) copy[index] = SPACE;
  }
  return copy;
}

export interface PreservedBatch {
  artifact: PreservedArtifact;
  /** In the artifact, in order. */
  written: string[];
  /** Gone between listing and copying (deleted, pruned). */
  gone: string[];
  /** What this process streamed, to compare with what the vault says it kept. */
  sha256: string;
  bytes: number;
}

/** Streams the batch, each execution with its data, into one vault artifact. */
export async function preserveBatch(
  client: N8nClient,
  ctx: ActionContext,
  scope: ConnectorScope,
  window: TimeWindow,
  batch: ExecutionMeta[],
  purpose: 'capture' | 'purge',
): Promise<PreservedBatch> {
  const written: string[] = [];
  const gone: string[] = [];
  const hash = createHash('sha256');
  let bytes = 0;
  const emit = (chunk: Buffer): Buffer => {
    hash.update(chunk);
    bytes += chunk.length;
    return chunk;
  };
  // Deterministic (no clock): a retried step that copies the same executions adds no second vault entry.
  const header = {
    source: N8N,
    baseUrl: client.baseUrl,
    ref: connectorRefText(scope),
    window: { since: window.since ?? null, until: window.until ?? null },
    purpose,
    executionIds: batch.map((execution) => execution.id),
  };
  // The vault reports a failing source as its own error; the n8n failure behind it (retryable or not) is the news.
  let sourceError: unknown;
  async function* lines(): AsyncGenerator<Buffer> {
    try {
      yield* executionLines();
    } catch (error) {
      sourceError = error;
      throw error;
    }
  }
  async function* executionLines(): AsyncGenerator<Buffer> {
    yield emit(Buffer.from(`${JSON.stringify(header)}\n`));
    for (const execution of batch) {
      const response = await client.send(ctx, 'GET', `/executions/${encodeURIComponent(execution.id)}`, {
        query: { includeData: true },
        accept: [404],
      });
      if (response.status === 404) {
        response.body.destroy();
        gone.push(execution.id);
        continue;
      }
      try {
        for await (const chunk of response.body) yield emit(oneLine(chunk as Buffer));
      } catch (error) {
        response.body.destroy();
        if (error instanceof ProviderError) throw error;
        throw new ProviderError(
          `n8n: GET /api/v1/executions/${execution.id}: the answer broke off (${(error as Error).name})`,
          true,
          'N8nUnavailable',
        );
      }
      yield emit(Buffer.from('\n'));
      written.push(execution.id);
      ctx.heartbeat({ executionsCopied: written.length, of: batch.length });
    }
  }
  const first = batch[0]?.id ?? 'none';
  const last = batch[batch.length - 1]?.id ?? 'none';
  const content = Readable.from(lines());
  try {
    const artifact = await ctx.evidence.preserve({
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      source: N8N,
      name: `n8n/executions/${scope.kind === 'platform' ? 'all' : connectorRefText(scope).slice(N8N.length + 1)}/${first}-${last}.ndjson`,
      contentType: 'application/x-ndjson',
      content,
    });
    return { artifact, written, gone, sha256: hash.digest('hex'), bytes };
  } catch (error) {
    throw sourceError ?? error;
  } finally {
    content.destroy();
  }
}

/** Summaries go into workflow history: long id lists are cut (every id is in the artifacts' header lines). */
const LISTED_IDS = 1000;
function listed(ids: string[]): string[] {
  return ids.length > LISTED_IDS ? [...ids.slice(0, LISTED_IDS), `… ${ids.length - LISTED_IDS} more`] : ids;
}

function windowText(window: TimeWindow): string {
  return `${window.since ?? 'the beginning'} to ${window.until ?? 'now'}`;
}

export function executionActions(client: N8nClient) {
  return {
    async captureLogs(scope: ConnectorScope, window: TimeWindow, ctx: ActionContext): Promise<ActionResult> {
      const { executions, workflowIds } = await executionsIn(client, ctx, scope, window);
      const artifactIds: string[] = [];
      const gone: string[] = [];
      let captured = 0;
      let bytes = 0;
      for (const batch of chunks(executions, EXECUTIONS_PER_ARTIFACT)) {
        const preserved = await preserveBatch(client, ctx, scope, window, batch, 'capture');
        artifactIds.push(preserved.artifact.artifactId);
        gone.push(...preserved.gone);
        captured += preserved.written.length;
        bytes += preserved.artifact.bytes;
      }
      ctx.log.info(
        { ref: connectorRefText(scope), executions: captured, artifacts: artifactIds.length, bytes },
        'n8n executions preserved',
      );
      return {
        summary: {
          ref: connectorRefText(scope),
          scope: scope.kind,
          window: windowText(window),
          workflowIds: workflowIds === 'all' ? [] : workflowIds,
          allWorkflows: workflowIds === 'all',
          executions: captured,
          firstExecutionId: executions[0]?.id ?? null,
          lastExecutionId: executions[executions.length - 1]?.id ?? null,
          unfinishedExecutions: executions.filter((execution) => UNFINISHED.has(execution.status)).length,
          goneBeforeCopyExecutionIds: listed(gone),
          artifactIds,
          bytes,
          note:
            captured === 0
              ? `no execution of ${connectorRefText(scope)} overlaps ${windowText(window)}`
              : `copied ${captured} executions with their data into ${artifactIds.length} artifacts`,
        },
      };
    },

    /**
     * Deletes the finished executions of the window, a batch at a time, each batch streamed into the vault again just
     * before (an execution that finished after captureLogs ran is never deleted unseen). A batch is deleted only when
     * the vault's digest of what it kept equals the digest of what was streamed; otherwise nothing of it is deleted.
     */
    async purgeLogs(scope: ConnectorScope, window: TimeWindow, ctx: ActionContext): Promise<ActionResult> {
      const { executions } = await executionsIn(client, ctx, scope, window);
      const finished = executions.filter((execution) => !UNFINISHED.has(execution.status));
      const skippedUnfinished = executions
        .filter((execution) => UNFINISHED.has(execution.status))
        .map((execution) => execution.id);
      const purged: string[] = [];
      const alreadyGone: string[] = [];
      const artifactIds: string[] = [];
      for (const batch of chunks(finished, EXECUTIONS_PER_ARTIFACT)) {
        const range = `${batch[0].id}–${batch[batch.length - 1].id}`;
        let preserved: PreservedBatch;
        try {
          preserved = await preserveBatch(client, ctx, scope, window, batch, 'purge');
        } catch (error) {
          const retryable = error instanceof ProviderError && error.retryable;
          const reason = error instanceof Error ? error.message : 'unknown error';
          throw new ProviderError(
            `n8n.purgeLogs: refusing to delete executions ${range}: their evidence could not be preserved (${reason.slice(0, 300)}); ${purged.length} executions were purged before`,
            retryable,
            'N8nEvidenceNotPreserved',
          );
        }
        if (preserved.artifact.sha256 !== preserved.sha256 || preserved.artifact.bytes !== preserved.bytes) {
          throw new ProviderError(
            `n8n.purgeLogs: refusing to delete executions ${range}: the vault's digest of artifact ${preserved.artifact.artifactId} does not match what was streamed`,
            false,
            'N8nEvidenceNotPreserved',
          );
        }
        artifactIds.push(preserved.artifact.artifactId);
        alreadyGone.push(...preserved.gone);
        for (const id of preserved.written) {
          const { status } = await client.json(ctx, 'DELETE', `/executions/${encodeURIComponent(id)}`, {
            accept: [400, 404],
          });
          // 400: it was retried into running since it was listed; it stays, and is reported.
          if (status === 404) alreadyGone.push(id);
          else if (status === 400) skippedUnfinished.push(id);
          else purged.push(id);
          ctx.heartbeat({ executionsPurged: purged.length, of: finished.length });
        }
      }
      ctx.log.info(
        {
          ref: connectorRefText(scope),
          purged: purged.length,
          skippedUnfinished: skippedUnfinished.length,
          artifacts: artifactIds.length,
        },
        'n8n executions purged after preservation',
      );
      return {
        summary: {
          ref: connectorRefText(scope),
          scope: scope.kind,
          window: windowText(window),
          purgedExecutions: purged.length,
          purgedExecutionIds: listed(purged),
          alreadyGoneExecutionIds: listed(alreadyGone),
          skippedUnfinishedExecutionIds: listed(skippedUnfinished),
          preservedArtifactIds: artifactIds,
          note:
            finished.length === 0
              ? `nothing to purge: no finished execution of ${connectorRefText(scope)} overlaps ${windowText(window)}`
              : `purged ${purged.length} executions, each preserved in the vault just before`,
        },
      };
    },
  };
}
