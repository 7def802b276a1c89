import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './harness/cli';
import { makeDataDir, workflowBundlePath } from './harness/temporal';

const FIXTURES = join(__dirname, 'fixtures', 'histories');
const fixtureFiles = () => readdirSync(FIXTURES).filter((file) => file.endsWith('.json'));

interface HistoryEvent {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
}

test('`tourniquet replay <dir>` replays the recorded histories against the current workflow code: OK each, exit 0', async () => {
  const run = await runCli(['replay', FIXTURES], { TOURNIQUET_DATA_DIR: makeDataDir() });
  expect(run.stderr).not.toMatch(/tourniquet:/);
  expect(run.code).toBe(0);
  const lines = run.stdout.trim().split('\n');
  for (const file of fixtureFiles()) {
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^OK +${join(FIXTURES, file)} \\(incident-`)),
    );
  }
  expect(lines.at(-1)).toBe(`${fixtureFiles().length} of ${fixtureFiles().length} histories replay cleanly`);

  // One file, as JSON; with a prebuilt bundle of this checkout, as `up` and the worker accept it.
  const one = await runCli(['replay', join(FIXTURES, fixtureFiles()[0]), '--json'], {
    TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath(),
  });
  expect(one.code).toBe(0);
  expect(JSON.parse(one.stdout)).toEqual([
    expect.objectContaining({ file: join(FIXTURES, fixtureFiles()[0]), ok: true }),
  ]);
});

test('a tampered (non-deterministic) history fails with the nondeterminism error and a non-zero exit; the others still pass', async () => {
  const dir = join(makeDataDir(), 'histories');
  mkdirSync(dir);
  const [first, second] = fixtureFiles();
  copyFileSync(join(FIXTURES, first), join(dir, first));
  // The recorded history says the workflow's first command was a step execution; the code schedules a notify.
  const recorded = JSON.parse(readFileSync(join(FIXTURES, second), 'utf8')) as {
    history: { events: HistoryEvent[] };
  };
  const scheduled = recorded.history.events.find(
    (event) => event.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
  )!;
  expect(scheduled.activityTaskScheduledEventAttributes!.activityType.name).toBe('notify');
  scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'executeStep';
  writeFileSync(join(dir, 'tampered.json'), JSON.stringify(recorded));
  writeFileSync(join(dir, 'not-a-history.json'), '{"hello": "world"}');

  const run = await runCli(['replay', dir], { TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath() });
  expect(run.code).toBe(1);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^OK +${join(dir, first)} `)));
  expect(lines).toContainEqual(
    expect.stringMatching(
      new RegExp(
        `^FAIL +${join(dir, 'tampered.json')} \\(incident-[0-9a-f]+\\): \\[TMPRL1100\\] Nondeterminism error: Activity type of scheduled event 'executeStep' does not match`,
      ),
    ),
  );
  expect(lines).toContainEqual(
    `FAIL  ${join(dir, 'not-a-history.json')}: not a recorded history: ${join(dir, 'not-a-history.json')}: expected { workflowId, history } as written by recordHistory`,
  );
  expect(lines.at(-1)).toBe('1 of 3 histories replay cleanly');
});

test('usage errors: a missing path or an empty directory is one line on stderr, exit 2', async () => {
  const missing = await runCli(['replay', '/nonexistent/history.json']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toBe('tourniquet: /nonexistent/history.json: no such file or directory\n');
  const empty = makeDataDir();
  const none = await runCli(['replay', empty]);
  expect(none.code).toBe(2);
  expect(none.stderr).toBe(`tourniquet: ${empty}: no .json history files in this directory\n`);
});
