import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pino from 'pino';
import { z } from 'zod';
import { createStepActivities } from '../activities/execute-step';
import type {
  ItemBatchInput,
  ItemBatchResult,
  StepExecutionInput,
  StepExecutionResult,
} from '../activities/types';
import { createProviderRegistry } from '../providers/registry';
import { SimulationJournal } from '../providers/simulated/journal';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type EvidenceStore,
  type ProviderCatalog,
} from '../providers/types';
import { RecordingEvidenceSink } from './harness/evidence';

/**
 * `executeStep` on its own, in Temporal's MockActivityEnvironment: a real registry holding a small real `github`
 * provider defined here (so the registry's simulated stand-in for `github` exists too), a recording evidence sink,
 * and a logger whose lines the tests read.
 */

const catalog = {
  deactivateWebhooks: {
    description: 'Deactivate the repository webhooks',
    params: z.object({
      repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name'),
      hookIds: z.array(z.number().int().positive()).default([]),
    }),
    idempotent: true,
    reversible: false,
  },
} satisfies ProviderCatalog;

type Params = z.infer<typeof catalog.deactivateWebhooks.params>;
type Action = (params: Params, ctx: ActionContext) => Promise<ActionResult>;

const WORKER = 'worker-under-test';
// Built at run time so that no token-shaped literal sits in the repository.
const LEAKED = `ghp_${'Z9'.repeat(18)}`;
const journals = mkdtempSync(join(tmpdir(), 'tourniquet-execute-step-'));
afterAll(() => rmSync(journals, { recursive: true, force: true }));

function stepInput(overrides: Partial<StepExecutionInput> = {}): StepExecutionInput {
  return {
    incidentId: 'incident-0001',
    stepId: 'hooks',
    provider: 'github',
    action: 'deactivateWebhooks',
    params: { repository: 'acme/payments' },
    exercise: false,
    idempotencyKey: 'incident-0001/hooks',
    ...overrides,
  };
}

/** One activity environment (a cancelled one stays cancelled) around `executeStep` with the real provider doing `action`. */
function harness(
  action: Action = () => Promise.resolve({ summary: { deactivated: 2 } }),
  info: Partial<Info> = {},
) {
  const calls: { params: Params; ctx: ActionContext }[] = [];
  const delivered: { target: string; value: string }[] = [];
  const github = defineProvider(
    'github',
    catalog,
    {
      deactivateWebhooks: (params, ctx) => {
        calls.push({ params, ctx });
        return action(params, ctx);
      },
    },
    {
      storeSecret: (target, value) => {
        delivered.push({ target, value });
        return Promise.resolve();
      },
    },
  );
  const journal = new SimulationJournal(join(journals, `${randomUUID()}.jsonl`));
  const evidence = new RecordingEvidenceSink();
  const logs: string[] = [];
  const rotations: { credentialId: string; value: string }[] = [];
  const { executeStep } = createStepActivities({
    registry: createProviderRegistry({ real: [github], journal }),
    recordRotation: (credentialId, value) => void rotations.push({ credentialId, value }),
    evidence,
    logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
    workerIdentity: WORKER,
  });
  // The SDK's own "Activity failed" warnings would only repeat what the tests assert.
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  return {
    run: (overrides: Partial<StepExecutionInput> = {}): Promise<StepExecutionResult> =>
      env.run(executeStep, stepInput(overrides)),
    env,
    calls,
    delivered,
    journal,
    evidence,
    logs,
    heartbeats,
    rotations,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

test('runs the real provider with the parsed params and records the action', async () => {
  const step = harness(undefined, { attempt: 3 });
  const result = await step.run();

  expect(result).toMatchObject({
    outcome: 'done',
    implementation: 'github',
    summary: { deactivated: 2 },
    attempt: 3,
    worker: WORKER,
  });
  expect(step.calls).toHaveLength(1);
  // The schema's default is applied: the provider gets what zod returned, not the raw input.
  expect(step.calls[0].params).toEqual({ repository: 'acme/payments', hookIds: [] });
  expect(step.calls[0].ctx).toMatchObject({
    incidentId: 'incident-0001',
    stepId: 'hooks',
    idempotencyKey: 'incident-0001/hooks',
    attempt: 3,
    exercise: false,
  });
  expect(step.evidence.events).toEqual([
    {
      incidentId: 'incident-0001',
      kind: 'action',
      stepId: 'hooks',
      data: expect.objectContaining({
        action: 'github.deactivateWebhooks',
        outcome: 'done',
        implementation: 'github',
        params: { repository: 'acme/payments' },
        attempt: 3,
      }) as unknown,
    },
  ]);
});

test.each([
  ['a top-level field', { repository: 'not a repository' }, 'params.repository: expected owner/name'],
  ['an array element', { repository: 'acme/payments', hookIds: [7, -1] }, /^params\.hookIds\[1\]: /],
  ['a missing field', { hookIds: [7] }, /^params\.repository: /],
])(
  'params that fail the action schema (%s): non-retryable, naming the field, nothing runs',
  async (_, params, message) => {
    const step = harness();
    const failure = await failureOf(step.run({ params }));

    expect(failure.type).toBe('InvalidParams');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(message);
    expect(step.calls).toEqual([]);
    expect(step.evidence.events).toEqual([]);
  },
);

test('a ProviderError with retryable: false fails the step for good, with its code and message', async () => {
  const step = harness(() =>
    Promise.reject(new ProviderError('hook 7: missing admin:repo_hook', false, 'Forbidden')),
  );
  const failure = await failureOf(step.run());

  expect(failure).toMatchObject({
    type: 'Forbidden',
    nonRetryable: true,
    message: 'hook 7: missing admin:repo_hook',
  });
  expect(step.evidence.events.map((event) => event.data)).toEqual([
    expect.objectContaining({ outcome: 'failed', error: 'hook 7: missing admin:repo_hook' }),
  ]);
});

test.each([
  ['a retryable ProviderError', new ProviderError('GitHub answered 502', true, 'Upstream'), 'Upstream'],
  ['any other Error', new TypeError('fetch failed'), 'TypeError'],
])('%s is a retryable failure', async (_, error, type) => {
  const failure = await failureOf(harness(() => Promise.reject(error)).run());

  expect(failure).toMatchObject({ type, nonRetryable: false, message: error.message });
});

test('an unknown provider fails for good without running anything', async () => {
  const step = harness();
  const failure = await failureOf(step.run({ provider: 'gitlab' }));

  expect(failure).toMatchObject({ type: 'UnknownProvider', nonRetryable: true });
  expect(failure.message).toContain('"gitlab"');
});

test('an action the provider does not offer is "unsupported": nothing runs, nothing is recorded', async () => {
  const step = harness(undefined, { attempt: 2 });
  const result = await step.run({ action: 'rotateCredential', params: { ref: 'whatever' } });

  expect(result).toMatchObject({
    outcome: 'unsupported',
    implementation: 'github',
    summary: {},
    attempt: 2,
    worker: WORKER,
  });
  expect(step.calls).toEqual([]);
  expect(step.evidence.events).toEqual([]);
  expect(step.logs.join('')).toContain('action not supported by this provider');
});

describe('a real incident never simulates a system this worker has no provider for', () => {
  const rotation = {
    provider: 'postgres',
    action: 'rotateCredential',
    params: { ref: 'app_user@appdb', destinations: [] },
  };

  test('the step is "not-configured", names the settings, and nothing runs or is simulated', async () => {
    const step = harness();
    const result = await step.run(rotation);

    expect(result).toMatchObject({ outcome: 'not-configured', implementation: 'postgres', summary: {} });
    expect(result.reason).toContain('POSTGRES_ADMIN_URL');
    expect(await step.journal.entries()).toEqual([]);
    expect(step.evidence.events).toEqual([
      expect.objectContaining({
        kind: 'action',
        data: expect.objectContaining({ outcome: 'not-configured', action: 'postgres.rotateCredential' }),
      }),
    ]);
  });

  test('a configured system delivering to an unconfigured destination does not act either', async () => {
    const step = harness();
    const result = await step.run({
      params: { repository: 'acme/payments', destinations: [{ provider: 'postgres', target: 'x' }] },
    });

    expect(result).toMatchObject({ outcome: 'not-configured' });
    expect(step.calls).toEqual([]);
  });

  test('the simulated system itself is not configured in a real incident', async () => {
    const step = harness();
    const result = await step.run({
      provider: 'simulated',
      action: 'disableConnector',
      params: { ref: 'x' },
    });

    expect(result).toMatchObject({ outcome: 'not-configured' });
    expect(result.reason).toContain('TOURNIQUET_MODE=demo');
    expect(await step.journal.entries()).toEqual([]);
  });

  test('an incident opened in live mode stays live on this worker, whatever the worker itself defaults to', async () => {
    const step = harness();
    expect((await step.run({ ...rotation, demo: false })).outcome).toBe('not-configured');
  });

  test('an incident opened in demo mode simulates the unconfigured system, and says so', async () => {
    const step = harness();
    const result = await step.run({ ...rotation, demo: true });

    expect(result).toMatchObject({ outcome: 'done', implementation: 'simulated:postgres' });
    expect(await step.journal.entries()).toHaveLength(1);
  });
});

test('an exercise runs the simulated stand-in even though a real provider is registered', async () => {
  const step = harness();
  const result = await step.run({ exercise: true });

  expect(result).toMatchObject({ outcome: 'done', implementation: 'simulated:github' });
  expect(result.summary).toMatchObject({ simulated: true, target: 'acme/payments' });
  expect(step.calls).toEqual([]);
  expect(await step.journal.entries()).toEqual([
    expect.objectContaining({
      system: 'github',
      action: 'deactivateWebhooks',
      effect: 'applied',
      exercise: true,
      incidentId: 'incident-0001',
    }),
  ]);
});

test('cancelling the activity aborts the provider through ctx.signal and fails the step as cancelled', async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const step = harness(
    (_params, ctx) =>
      new Promise((resolve, reject) => {
        // Without cancellation the call would complete after a while, and the test fail rather than hang.
        const timer = setTimeout(() => resolve({ summary: { cancelled: false } }), 3_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason as Error);
        });
        started();
      }),
  );
  const outcome = step.run().then(
    () => 'completed',
    (error: unknown) => error,
  );
  await running;
  step.env.cancel();

  expect(await outcome).toBeInstanceOf(CancelledFailure);
  expect(step.calls[0].ctx.signal.aborted).toBe(true);
});

describe('heartbeats', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('every second while the provider works, with the details it reports in between, and none after', async () => {
    let finish!: () => void;
    const step = harness(async (_params, ctx) => {
      ctx.heartbeat({ disabled: 1 });
      await new Promise<void>((resolve) => (finish = resolve));
      return { summary: {} };
    });
    const done = step.run();

    await jest.advanceTimersByTimeAsync(3_500);
    expect(step.heartbeats).toEqual([{ disabled: 1 }, undefined, undefined, undefined]);

    finish();
    await done;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(step.heartbeats).toHaveLength(4);
  });
});

describe('secret values', () => {
  // A provider must not put a secret in an error (ProviderError's contract); one that echoes an upstream answer
  // might. What executeStep logs, records and hands to Temporal (the workflow's history) is redacted anyway.
  test.each([
    ['a ProviderError', () => new ProviderError(`token ${LEAKED} was refused`, false, 'Refused')],
    ['a plain Error', () => new Error(`upstream said: bad credentials ${LEAKED}`)],
    ['an ApplicationFailure', () => ApplicationFailure.nonRetryable(`refused ${LEAKED}`, 'Upstream')],
  ])('%s carrying a secret reaches no failure, evidence record or log line', async (_kind, make) => {
    const step = harness(() => Promise.reject(make()));
    const failure = await failureOf(step.run());

    expect(failure.message).not.toContain(LEAKED);
    expect(failure.message).toContain(`[REDACTED:`);
    expect(JSON.stringify(step.evidence.events)).not.toContain(LEAKED);
    expect(step.logs.join('')).not.toContain(LEAKED);
  });

  test('keeps the kind of failure while redacting it', async () => {
    const retryable = await failureOf(
      harness(() => Promise.reject(new ProviderError(`try again ${LEAKED}`, true, 'Busy'))).run(),
    );
    expect([retryable.type, retryable.nonRetryable]).toEqual(['Busy', false]);
    const final = await failureOf(
      harness(() => Promise.reject(ApplicationFailure.nonRetryable(`no ${LEAKED}`, 'Upstream'))).run(),
    );
    expect([final.type, final.nonRetryable]).toEqual(['Upstream', true]);
  });

  test('a value handed to ctx.deliverSecret reaches the destination and nothing executeStep returns, records or logs', async () => {
    const step = harness(async (_params, ctx) => {
      await ctx.deliverSecret({ provider: 'github', target: 'acme/payments:DEPLOY_TOKEN' }, LEAKED);
      return { summary: { delivered: true } };
    });
    const result = await step.run();

    expect(step.delivered).toEqual([{ target: 'acme/payments:DEPLOY_TOKEN', value: LEAKED }]);
    expect(JSON.stringify(result)).not.toContain(LEAKED);
    expect(JSON.stringify(step.evidence.events)).not.toContain(LEAKED);
    expect(step.logs.join('')).not.toContain(LEAKED);
  });
});

describe('rotated values map back to their inventory credential', () => {
  const delivering = () =>
    harness(async (_params, ctx) => {
      await ctx.deliverSecret({ provider: 'github', target: 'acme/payments:DEPLOY_TOKEN' }, LEAKED);
      return { summary: { delivered: true } };
    });

  test('each delivered value of an inventory credential is handed to the recorder', async () => {
    const step = delivering();
    await step.run({ credentialId: 'payments-deploy-token' });
    expect(step.rotations).toEqual([{ credentialId: 'payments-deploy-token', value: LEAKED }]);
  });

  test('nothing is recorded without an inventory credential, nor in an exercise', async () => {
    const unnamed = delivering();
    await unnamed.run();
    const exercise = delivering();
    await exercise.run({ credentialId: 'payments-deploy-token', exercise: true });
    expect([unnamed.rotations, exercise.rotations]).toEqual([[], []]);
  });
});

test('executeItems: at most `concurrency` calls at once; an item whose record the vault refuses fails retryable, alone', async () => {
  let current = 0;
  let peak = 0;
  const github = defineProvider('github', catalog, {
    deactivateWebhooks: async () => {
      current += 1;
      peak = Math.max(peak, current);
      await new Promise((resolve) => setTimeout(resolve, 5));
      current -= 1;
      return { summary: { deactivated: 1 } };
    },
  });
  const sink = new RecordingEvidenceSink();
  const evidence: EvidenceStore = {
    preserve: (input) => sink.preserve(input),
    recordEvent: (incidentId, event) =>
      (event.data as { item?: string }).item === 'acme/b'
        ? Promise.reject(new Error(`disk full near ${LEAKED}`))
        : sink.recordEvent(incidentId, event),
  };
  const { executeItems } = createStepActivities({
    registry: createProviderRegistry({
      real: [github],
      journal: new SimulationJournal(join(journals, `${randomUUID()}.jsonl`)),
    }),
    evidence,
    logger: pino({ level: 'silent' }),
    workerIdentity: WORKER,
  });
  const keys = ['acme/a', 'acme/b', 'acme/c', 'acme/d', 'acme/e', 'acme/f'];
  const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  const batch: ItemBatchInput = {
    incidentId: 'incident-0001',
    stepId: 'hooks',
    exercise: false,
    concurrency: 2,
    itemTimeoutMs: 5_000,
    onItemFailure: 'continue',
    items: keys.map((key) => ({
      key,
      provider: 'github',
      action: 'deactivateWebhooks',
      params: { repository: key },
      idempotencyKey: `incident-0001/hooks/${key}`,
      attempt: 1,
      finalAttempt: false,
    })),
  };
  const result: ItemBatchResult = await env.run(executeItems, batch);
  expect(peak).toBe(2);
  expect(result.outcomes.map((outcome) => [outcome.key, outcome.state, outcome.retryable ?? null])).toEqual([
    ['acme/a', 'succeeded', null],
    ['acme/b', 'failed', true],
    ['acme/c', 'succeeded', null],
    ['acme/d', 'succeeded', null],
    ['acme/e', 'succeeded', null],
    ['acme/f', 'succeeded', null],
  ]);
  expect(result.outcomes[1].error).toMatch(/^evidence not recorded: disk full near /);
  expect(JSON.stringify(result)).not.toContain(LEAKED);
});
