import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import pino from 'pino';
import { runCli } from './harness/cli';
import { fetchHistoryText } from './harness/history';
import {
  cancelForTest,
  fixtureRunbook,
  incidentInput,
  noteForTest,
  query,
  start,
  waitFor,
} from './harness/incidents';
import { useTemporalWorker } from './harness/stack';
import { makeDataDir } from './harness/temporal';

/**
 * `tourniquet incident note`: what a responder learns goes into the incident's timeline, its Temporal history,
 * its thread and the after-action report, with anything that looks like a secret redacted before it leaves the
 * CLI.
 */

// Built at run time so that no token-shaped literal sits in the repository.
const PASTED_TOKEN = `ghp_${'Q7'.repeat(18)}`;

const logs: string[] = [];
const stack = useTemporalWorker({
  logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }),
});

const notesOf = async (incidentId: string) =>
  (await query(stack.client, incidentId)).timeline.filter((event) => event.type === 'note');

test('a note from the CLI is in the timeline, the thread and the report; a pasted token is redacted first and is nowhere', async () => {
  // The approvals runbook waits for owners, so the incident stays open while notes are added.
  const incidentId = await start(stack.client, incidentInput(fixtureRunbook('approvals')));

  const added = await runCli(
    ['incident', 'note', incidentId, 'token', PASTED_TOKEN, 'used from 203.0.113.7 at 03:12'],
    stack.cliEnv,
  );
  expect(added.code).toBe(0);
  expect(added.stderr).toContain('Redacted what looked like a secret (github_personal_access_token)');
  expect(added.stdout).toContain(
    `Note added to ${incidentId}: token [REDACTED:github_personal_access_token:`,
  );

  const [note] = await waitFor(async () => {
    const notes = await notesOf(incidentId);
    return notes.length > 0 ? notes : undefined;
  });
  // The author is whoever runs the CLI (its data dir key signs for them), never an argument.
  const author = `cli:${userInfo().username}`;
  expect(note.actor).toBe(author);
  expect(note.detail).toMatch(
    /^token \[REDACTED:github_personal_access_token:Q7Q7\] used from 203\.0\.113\.7 at 03:12$/,
  );
  // The thread hears of it (the log notifier stands in for Slack here).
  const heard = () =>
    logs.some((line) => line.includes(incidentId) && line.includes('used from 203.0.113.7'));
  await waitFor(() => Promise.resolve(heard() || undefined));

  const out = makeDataDir();
  const report = await runCli(['report', incidentId, '--out', out], stack.cliEnv);
  expect(report.code).toBe(0);
  const markdown = readFileSync(report.stdout.trim().split('\n')[2].trim(), 'utf8');
  expect(markdown).toContain('## Notes');
  expect(markdown).toContain(`(note by ${author}) token [REDACTED:github_personal_access_token:Q7Q7]`);

  const history = await fetchHistoryText(stack.client, incidentId);
  expect(history).toContain('used from 203.0.113.7');
  for (const place of [history, markdown, added.stdout, added.stderr, logs.join('\n')]) {
    expect(place).not.toContain(PASTED_TOKEN);
  }
  await cancelForTest(stack.client, incidentId);
});

test('bad note input names the argument and sends nothing; an unknown incident is an error', async () => {
  const incidentId = await start(stack.client, incidentInput(fixtureRunbook('approvals')));
  const attempts = await Promise.all([
    runCli(['incident', 'note', incidentId, '   '], stack.cliEnv),
    runCli(['incident', 'note', incidentId, 'x'.repeat(1_001)], stack.cliEnv),
    runCli(['incident', 'note', incidentId, 'hello', '--as', 'priya'], stack.cliEnv),
    runCli(['incident', 'note', 'incident/../../etc', 'hello'], stack.cliEnv),
  ]);
  expect(attempts.map((attempt) => [attempt.code, attempt.stderr.trim()])).toEqual([
    [2, expect.stringContaining('<text>: a note needs some text')],
    [2, expect.stringContaining('<text>: at most 1,000 characters')],
    [expect.any(Number), expect.stringContaining("unknown option '--as'")],
    [2, expect.stringContaining('<incidentId>: expected an incident id')],
  ]);
  const unknown = await runCli(
    ['incident', 'note', 'incident-000000000000000000000000', 'hello'],
    stack.cliEnv,
  );
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('incident incident-000000000000000000000000:');
  expect(await notesOf(incidentId)).toEqual([]);
  await cancelForTest(stack.client, incidentId);
});

test('the workflow keeps history bounded: notes are cut to 1,000 characters and only the first 200 are recorded', async () => {
  const incidentId = await start(stack.client, incidentInput(fixtureRunbook('approvals')));
  await noteForTest(stack.client, incidentId, { actor: 'user:long', text: 'a'.repeat(5_000) });
  await noteForTest(stack.client, incidentId, { actor: 'user:blank', text: '   ' });
  for (let batch = 0; batch < 5; batch += 1) {
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        noteForTest(stack.client, incidentId, { actor: 'user:flood', text: `note ${batch * 50 + index}` }),
      ),
    );
  }
  // 252 notes in all; a cap that did not hold would go past 200.
  await waitFor(async () => ((await notesOf(incidentId)).length >= 200 ? true : undefined));
  await new Promise((done) => setTimeout(done, 1_000));
  const notes = await notesOf(incidentId);
  expect(notes).toHaveLength(200);
  expect(notes[0].detail).toHaveLength(1_000);
  expect(notes[0].detail!.endsWith('…')).toBe(true);
  expect(notes.filter((note) => note.actor === 'user:blank')).toEqual([]);
  await cancelForTest(stack.client, incidentId);
});

test('`incident cancel` is signed as the local user and stops the incident; a token pasted in --reason is redacted and is nowhere', async () => {
  const incidentId = await start(stack.client, incidentInput(fixtureRunbook('approvals')));
  await waitFor(async () =>
    (await query(stack.client, incidentId)).state === 'awaiting-approval' ? true : undefined,
  );
  const cancelled = await runCli(
    ['incident', 'cancel', incidentId, '--reason', `rotated by hand, old token ${PASTED_TOKEN}`],
    stack.cliEnv,
  );
  expect(cancelled.code).toBe(0);
  expect(cancelled.stdout).toContain(`Cancelled ${incidentId}`);
  const final = (await stack.client.workflow.getHandle(incidentId).result()) as Awaited<
    ReturnType<typeof query>
  >;
  expect(final.state).toBe('cancelled');
  expect(final.timeline.at(-1)).toMatchObject({
    type: 'incident-cancelled',
    actor: `cli:${userInfo().username}`,
    detail: expect.stringMatching(
      /^cancelled: rotated by hand, old token \[REDACTED:github_personal_access_token:/,
    ),
  });
  // Nothing left to stop: the CLI says the incident refused, and exits non-zero.
  const again = await runCli(['incident', 'cancel', incidentId], stack.cliEnv);
  expect(again.code).not.toBe(0);
  const history = await fetchHistoryText(stack.client, incidentId);
  for (const place of [history, cancelled.stdout, cancelled.stderr, logs.join('\n')]) {
    expect(place).not.toContain(PASTED_TOKEN);
  }
});
