/**
 * Prototype of what a DSL `forEach` with `concurrency` could compile to (bench only, not product code): the
 * items are split into `concurrency` batches and each batch is ONE activity that runs its items one after the
 * other, so at most `concurrency` provider calls are in flight and Temporal pays a few round trips per batch
 * instead of one per item.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface BatchInput {
  incidentId: string;
  stepId: string;
  items: string[];
  latencyMs: number;
}

export interface ForEachActivities {
  rotateBatch(input: BatchInput): Promise<number>;
}

const { rotateBatch } = proxyActivities<ForEachActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: { maximumAttempts: 5, initialInterval: '1s' },
});

export async function forEachRotate(input: {
  incidentId: string;
  stepId: string;
  items: string[];
  concurrency: number;
  latencyMs: number;
}): Promise<number> {
  const batches: string[][] = Array.from(
    { length: Math.min(input.concurrency, input.items.length) },
    () => [],
  );
  input.items.forEach((item, index) => batches[index % batches.length].push(item));
  const done = await Promise.all(
    batches.map((items) =>
      rotateBatch({ incidentId: input.incidentId, stepId: input.stepId, items, latencyMs: input.latencyMs }),
    ),
  );
  return done.reduce((sum, count) => sum + count, 0);
}
