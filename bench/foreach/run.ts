import { Context } from '@temporalio/activity';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { performance } from 'node:perf_hooks';
import { createStepActivities } from '../../activities/execute-step';
import type { ProviderRegistry } from '../../providers/registry';
import type { EvidenceStore } from '../../providers/types';
import { silentLogger } from '../../test/harness/worker';
import type { BenchStack } from '../lib/stack';
import type { BatchInput, ForEachActivities } from './workflow';

const TASK_QUEUE = 'bench-foreach';

/**
 * Each item still goes through the production step handler (`executeStep`: schema check, provider, evidence
 * record) with its own idempotency key, inside the batch activity; progress is heartbeated so a retried batch
 * resumes after the last item it finished.
 */
function batchActivities(registry: ProviderRegistry, evidence: EvidenceStore): ForEachActivities {
  const steps = createStepActivities({
    registry,
    evidence,
    logger: silentLogger,
    workerIdentity: 'bench-foreach',
  });
  return {
    async rotateBatch(input: BatchInput): Promise<number> {
      const context = Context.current();
      const resumed = (context.info.heartbeatDetails as { done?: number } | undefined)?.done ?? 0;
      for (let index = resumed; index < input.items.length; index += 1) {
        const item = input.items[index];
        await steps.executeStep({
          incidentId: input.incidentId,
          stepId: input.stepId,
          provider: 'simulated',
          action: 'rotateCredential',
          params: { ref: item, destinations: [] },
          exercise: false,
          idempotencyKey: `${input.incidentId}/${input.stepId}/${item}`,
          faults: [{ latencyMs: input.latencyMs }],
        });
        context.heartbeat({ done: index + 1 });
      }
      return input.items.length;
    },
  };
}

export async function benchForEachPrototype(
  stack: BenchStack,
  registry: ProviderRegistry,
  evidence: EvidenceStore,
  options: { calls: number; latencyMs: number; limit: number },
): Promise<{ rotationsMs: number; succeeded: number }> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflow'),
    logger: { log() {}, info() {}, debug() {}, trace() {}, warn() {}, error() {} },
  });
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: TASK_QUEUE,
    workflowBundle: bundle,
    activities: batchActivities(registry, evidence),
    maxConcurrentActivityTaskExecutions: options.limit,
  });
  const running = worker.run();
  try {
    const items = Array.from({ length: options.calls }, (_, index) => `service-account-${index}`);
    const t0 = performance.now();
    const succeeded = await stack.temporal.client.workflow.execute('forEachRotate', {
      taskQueue: TASK_QUEUE,
      workflowId: `bench-foreach-${Date.now()}`,
      args: [
        {
          incidentId: `incident-foreach-${Date.now()}`,
          stepId: 'rotate-all',
          items,
          concurrency: options.limit,
          latencyMs: options.latencyMs,
        },
      ],
    });
    return { rotationsMs: performance.now() - t0, succeeded: succeeded as number };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}
