import { incidentAttributes } from '../client';
import { runbookSha256 } from '../lib/runbook/canonical';
import type { IncidentInput, IncidentStatus, Runbook } from '../lib/runbook/types';
import {
  cancelForTest,
  incidentInput,
  query,
  runbookById,
  signedForTest,
  waitFor,
} from './harness/incidents';
import { withoutApprovals } from './harness/owners';
import { refusalOf, startRaw } from './harness/raw-start';
import { useTemporalWorker } from './harness/stack';

/**
 * Whoever reaches the Temporal API can start an incident with any input. These tests are that attacker: they start
 * the workflow by name with a body of their own, never through `startIncident`. The worker must run only runbooks
 * from its own catalog.
 */
const stack = useTemporalWorker();

/** The shipped runbook with every approval removed: what an attacker would like the worker to run. */
const EVIL: Runbook = {
  ...withoutApprovals(runbookById('leaked-workflow-secret')),
  id: 'leaked-workflow-secret',
};

/** A real incident's input as the client builds it (a runbook reference), before the attacker edits it. */
function realInput(): IncidentInput {
  const input = incidentInput(runbookById('leaked-workflow-secret'), { severity: 'critical' });
  return { ...input, runbookRef: { id: 'leaked-workflow-secret' } };
}

/** Signed as the gateway would sign it: even an insider holding the gateway's key cannot bring a runbook. */
const startSigned = (input: unknown) => startRaw(stack.client, signedForTest(input as IncidentInput));

const journalOf = async (incidentId: string) =>
  (await stack.worker.journal.entries()).filter((entry) => entry.incidentId === incidentId);

test.each<[string, (input: IncidentInput) => unknown, string]>([
  [
    'a runbook of its own instead of a reference',
    ({ runbookRef: _ref, ...input }) => ({ ...input, runbook: EVIL }),
    'runbook: a real incident names its runbook (runbookRef); the worker reads it from its own catalog, never from the start',
  ],
  [
    'a runbook of its own next to the reference',
    (input) => ({ ...input, runbook: EVIL }),
    'runbook: a real incident names its runbook (runbookRef); the worker reads it from its own catalog, never from the start',
  ],
  [
    'no runbook at all',
    ({ runbookRef: _ref, ...input }) => input,
    'runbookRef: required (the id of a runbook in the worker catalog)',
  ],
  [
    'a path for an id',
    (input) => ({ ...input, runbookRef: { id: '../../../tmp/evil.yaml' } }),
    'runbookRef.id: expected a runbook id such as leaked-workflow-secret',
  ],
  [
    'an absolute path for an id',
    (input) => ({ ...input, runbookRef: { id: '/etc/tourniquet/evil.yaml' } }),
    'runbookRef.id: expected a runbook id such as leaked-workflow-secret',
  ],
  [
    'a runbook the worker does not have',
    (input) => ({ ...input, runbookRef: { id: 'evil' } }),
    'runbookRef.id: not in this worker\'s catalog: evil: (runbook): no runbook "evil"',
  ],
  [
    "the hash of the attacker's version",
    (input) => ({ ...input, runbookRef: { id: 'leaked-workflow-secret', sha256: runbookSha256(EVIL) } }),
    'runbookRef.sha256: this worker has no runbook "leaked-workflow-secret" with that SHA-256',
  ],
])('a raw start with %s is refused and no step runs', async (_name, edit, expected) => {
  const incidentId = await startSigned(edit(realInput()));
  expect(await refusalOf(stack.client, incidentId)).toContain(expected);
  expect(await journalOf(incidentId)).toEqual([]);
  // `incident status` and `incident list` say so, rather than a running incident with no steps.
  expect(await query(stack.client, incidentId)).toMatchObject({
    state: 'refused',
    phase: 'closed',
    refusal: expect.stringContaining(expected),
    steps: [],
  });
  const listed = await stack.client.workflow.getHandle(incidentId).describe();
  expect(listed.typedSearchAttributes.get(incidentAttributes.STATE)).toBe('refused');
});

test('control: a raw start naming a catalog runbook runs the worker’s own version, whose hash the status shows', async () => {
  const incidentId = await startSigned(realInput());
  const status = await waitFor(async () => {
    const current: IncidentStatus = await query(stack.client, incidentId);
    return current.approvals.length > 0 ? current : undefined;
  });
  expect(status.runbookSha256).toBe(runbookSha256(runbookById('leaked-workflow-secret')));
  // The shipped runbook asks before it rotates: the worker's version, not one without approvals.
  expect(status.steps.find((step) => step.id === 'rotate-credential')?.state).toBe('awaiting-approval');
  expect(status.timeline[0].detail).toContain(`sha256 ${status.runbookSha256!.slice(0, 12)}`);
  await cancelForTest(stack.client, incidentId);
});

test('an exercise may carry its runbook: every action it takes is simulated', async () => {
  const input = incidentInput(EVIL, { severity: 'critical', exercise: true });
  expect(input.runbook).toBe(EVIL);
  const incidentId = await startSigned(input);
  const status = (await stack.client.workflow.getHandle(incidentId).result()) as IncidentStatus;
  expect(status.exercise).toBe(true);
  const journal = await journalOf(incidentId);
  expect(journal.length).toBeGreaterThan(5);
  expect(journal.every((entry) => entry.exercise)).toBe(true);
});
