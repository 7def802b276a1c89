import { readFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { createLogger } from '../lib/logger';
import { ensureTemporalRuntime, workflowSource } from './create-worker';

/** A recorded incident: what `tourniquet replay` and the replay tests read. */
export interface RecordedHistory {
  workflowId: string;
  history: unknown;
}

export async function recordHistory(client: Client, workflowId: string): Promise<RecordedHistory> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return { workflowId, history: JSON.parse(historyToJSON(history)) as unknown };
}

export async function loadRecordedHistory(path: string): Promise<RecordedHistory> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<RecordedHistory>;
  if (typeof parsed.workflowId !== 'string' || !parsed.history) {
    throw new Error(`${path}: expected { workflowId, history } as written by recordHistory`);
  }
  return { workflowId: parsed.workflowId, history: parsed.history };
}

export interface ReplayOutcome {
  workflowId: string;
  error?: string;
}

/** Replays recorded histories against the current workflow code; a non-deterministic change shows as an error. */
export async function replayHistories(
  histories: RecordedHistory[],
  workflowBundle?: WorkflowBundle,
): Promise<ReplayOutcome[]> {
  ensureTemporalRuntime(createLogger('warn'));
  const source = workflowBundle ? { workflowBundle } : workflowSource();
  const outcomes: ReplayOutcome[] = [];
  const iterable = histories.map((recorded) => ({
    workflowId: recorded.workflowId,
    history: historyFromJSON(recorded.history),
  }));
  for await (const result of Worker.runReplayHistories(source, iterable)) {
    outcomes.push({
      workflowId: result.workflowId,
      ...(result.error ? { error: result.error.message } : {}),
    });
  }
  return outcomes;
}
