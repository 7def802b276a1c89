import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApprovalRefusedError } from '../client';
import type { ApprovalRequest, IncidentStatus } from '../lib/runbook/types';
import { loadReportInput } from '../reports/collect';
import { buildReport } from '../reports/model';
import { runCli } from './harness/cli';
import { fixtureRunbook, incidentInput, query, result, start, waitFor } from './harness/incidents';
import { decideAs, TEST_OWNERS_FILE } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { makeDataDir } from './harness/temporal';

const stack = useTemporalWorker();

async function awaiting(incidentId: string, stepId: string, escalated?: boolean): Promise<ApprovalRequest> {
  return waitFor(async () =>
    (await query(stack.client, incidentId)).approvals.find(
      (request) => request.stepId === stepId && (escalated === undefined || request.escalated === escalated),
    ),
  );
}

const at = (status: IncidentStatus, stepId: string, type: string) =>
  status.timeline.find((event) => event.stepId === stepId && event.type === type)!.at;

test('`tourniquet report` on a real incident: while it runs (status query) and once closed (its result), in real time', async () => {
  const incidentId = await start(
    stack.client,
    incidentInput(fixtureRunbook('approvals'), { requester: 'cli:someone-else', severity: 'critical' }),
  );
  const dataDir = stack.dataDir;
  const keys = await awaiting(incidentId, 'keys', false);
  // carol answers for the incident commander, not for platform: refused, and in the timeline.
  await expect(decideAs(stack.client, dataDir, incidentId, keys, 'carol')).rejects.toThrow(
    ApprovalRefusedError,
  );
  await decideAs(stack.client, dataDir, incidentId, await awaiting(incidentId, 'rotate'), 'bob');
  const revoke = await awaiting(incidentId, 'revoke');
  await decideAs(stack.client, dataDir, incidentId, revoke, 'alice');
  await decideAs(stack.client, dataDir, incidentId, revoke, 'bob');
  // Nobody from platform answers: hooks breaks glass at its 3 s deadline, keys escalates to the commander.
  await awaiting(incidentId, 'keys', true);

  const running = await runCli(['report', incidentId, '--out', makeDataDir()], stack.cliEnv);
  expect(running.stderr).toBe('');
  expect(running.code).toBe(0);
  expect(running.stdout).toMatch(new RegExp(`^${incidentId}: awaiting-approval, \\d+ finding\\(s\\)`));
  const runningMarkdown = readFileSync(running.stdout.trim().split('\n')[2].trim(), 'utf8');
  expect(runningMarkdown).toContain('(not-closed) The incident was still awaiting-approval');

  // The request re-escalates (new nonce) at every 3 s deadline: answer the current one.
  const current = await awaiting(incidentId, 'keys', true);
  await decideAs(
    stack.client,
    dataDir,
    incidentId,
    current,
    'carol',
    'deny',
    'deploy keys | <needed> for the hotfix',
  );
  const status = await result(stack.client, incidentId);

  const out = makeDataDir();
  const closed = await runCli(['report', incidentId, '--out', out, '--json'], stack.cliEnv);
  expect(closed.code).toBe(0);
  const markdown = readFileSync(join(out, `${incidentId}.md`), 'utf8');
  const html = readFileSync(join(out, `${incidentId}.html`), 'utf8');
  expect(markdown).not.toContain('Tabletop exercise');
  expect(markdown).toContain('| key:carol | incident-commander | keys: denied after');
  expect(markdown).toContain('deploy keys \\| &lt;needed&gt; for the hotfix');
  expect(html).toContain('deploy keys | &#60;needed&#62; for the hotfix');

  // The same report, in process: times are real (speed 1) and every number comes from the timeline.
  const report = buildReport(
    await loadReportInput(stack.client, incidentId, { dataDir, ownersFile: TEST_OWNERS_FILE }),
  );
  const t0 = Date.parse(status.openedAt);
  expect(report.speed).toBe(1);
  expect(report.state).toBe('completed');
  const rotated = report.milestones.find((row) => row.id === 'credentials-rotated')!;
  expect(rotated).toMatchObject({ outcome: 'met', steps: ['rotate', 'revoke', 'verify'] });
  expect(rotated.at).toBe(
    [at(status, 'rotate', 'succeeded'), at(status, 'revoke', 'succeeded'), at(status, 'verify', 'succeeded')]
      .sort()
      .at(-1),
  );
  expect(rotated.offsetMs).toBe(Date.parse(rotated.at!) - t0);
  expect(report.milestones.find((row) => row.id === 'downstream-segmented')).toMatchObject({
    outcome: 'not-reached',
    blockers: ['keys'],
  });
  expect(report.breakGlass.map((event) => event.stepId)).toEqual(['hooks']);
  // keys re-escalates at each 3 s deadline until carol answers: every one is listed, counted once as a finding.
  expect([...new Set(report.escalations.map((event) => event.stepId))].sort()).toEqual(['hooks', 'keys']);
  expect(
    report.findings.filter((finding) => finding.kind === 'missed-deadline' && finding.stepId === 'keys'),
  ).toHaveLength(1);
  const carol = report.owners.find((owner) => owner.identity === 'key:carol')!;
  expect(carol.responses).toEqual([
    expect.objectContaining({
      stepId: 'keys',
      role: 'incident-commander',
      decision: 'denied',
      reason: 'deploy keys | <needed> for the hotfix',
    }),
  ]);
  // Carol was asked when the request escalated to her role, not when platform was.
  expect(carol.responses[0].afterMs).toBe(
    Date.parse(at(status, 'keys', 'denied')) - Date.parse(at(status, 'keys', 'escalated')),
  );
  const bob = report.owners.find((owner) => owner.identity === 'key:bob')!;
  expect(bob.responses.map((response) => `${response.stepId}:${response.role}:${response.decision}`)).toEqual(
    ['rotate:iam:approved', 'revoke:iam:approved'],
  );
  const platform = report.roles.find((role) => role.role === 'platform')!;
  expect([...platform.asked].sort()).toEqual(['hooks', 'keys']);
  expect(platform.answered).toEqual([]);
  expect([...platform.missed].sort()).toEqual(['hooks', 'keys']);
  const findings = report.findings.map((finding) => `${finding.kind}:${finding.stepId ?? ''}`);
  expect(findings).toEqual(
    expect.arrayContaining([
      'sla-missed:',
      'unreachable-owner:',
      'missed-deadline:hooks',
      'missed-deadline:keys',
      'break-glass:hooks',
      'denied:keys',
      'refused-approval:keys',
    ]),
  );
  expect(report.findings.find((finding) => finding.kind === 'refused-approval')?.text).toContain(
    '"carol" is not an out-of-band approver of platform',
  );
});

test('`tourniquet report` on an unknown incident or with a malformed id: one line, non-zero', async () => {
  const unknown = await runCli(['report', 'incident-does-not-exist', '--out', makeDataDir()], stack.cliEnv);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toBe('tourniquet: no incident incident-does-not-exist\n');
  const malformed = await runCli(['report', '../etc/passwd'], stack.cliEnv);
  expect(malformed.code).toBe(2);
  expect(malformed.stderr).toBe(
    'tourniquet: <incidentId>: expected an incident id such as incident-0123abcd…\n',
  );
});
