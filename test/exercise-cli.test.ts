import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './harness/cli';
import { makeDataDir, startTestTemporal, workflowBundlePath, type TestTemporal } from './harness/temporal';

const FIXTURES = join(__dirname, 'fixtures', 'exercises');
const QUICK = join(FIXTURES, 'quick-deny.yaml');
const INVALID = join(FIXTURES, 'missing-responders.yaml');

let temporal: TestTemporal;
let env: Record<string, string>;

beforeAll(async () => {
  temporal = await startTestTemporal();
  env = {
    TEMPORAL_ADDRESS: temporal.address,
    TOURNIQUET_DATA_DIR: makeDataDir(),
    TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath(),
    TOURNIQUET_LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await temporal?.stop();
});

function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`## ${title}`);
  return markdown.slice(start, markdown.indexOf('\n## ', start + 1));
}

test('`exercise run --json --report` runs the scenario against the running server and prints { incidentId, reports }; `report` rebuilds it from Temporal', async () => {
  const out = makeDataDir();
  const run = await runCli(['exercise', 'run', QUICK, '--json', '--report', join(out, 'quick.html')], env);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const printed = JSON.parse(run.stdout) as {
    incidentId: string;
    reports: { markdown: string; html: string };
  };
  expect(printed).toEqual({
    incidentId: expect.stringMatching(/^exercise-quick-deny-\d{8}T\d{6}-[0-9a-f]{4}$/),
    reports: { markdown: join(out, 'quick.md'), html: join(out, 'quick.html') },
  });
  const html = readFileSync(printed.reports.html, 'utf8');
  const markdown = readFileSync(printed.reports.markdown, 'utf8');
  expect(html).toContain('<svg');
  expect(markdown).toContain('> **Tabletop exercise.**');
  expect(markdown).toMatch(/\| \*\*State\*\* \| completed \|/);
  // The copies in the exercise's own directory, beside its record and keys.
  const dir = join(env.TOURNIQUET_DATA_DIR, 'exercises', printed.incidentId);
  for (const file of ['record.json', 'report.md', 'report.html'])
    expect(existsSync(join(dir, file))).toBe(true);
  expect(existsSync(join(dir, 'keys', 'ada.key'))).toBe(true);

  // The exercise's worker is gone: `report` reads the closed incident's result from its Temporal history.
  const again = makeDataDir();
  const report = await runCli(['report', printed.incidentId, '--out', again, '--json'], env);
  expect(report.stderr).toBe('');
  expect(report.code).toBe(0);
  expect(JSON.parse(report.stdout)).toEqual({
    incidentId: printed.incidentId,
    reports: {
      markdown: join(again, `${printed.incidentId}.md`),
      html: join(again, `${printed.incidentId}.html`),
    },
  });
  const rebuilt = readFileSync(join(again, `${printed.incidentId}.md`), 'utf8');
  for (const title of [
    'Milestones',
    'Findings',
    'Owner response times',
    'Escalations and break-glass',
    'Injects and notes',
  ]) {
    expect(section(rebuilt, title)).toBe(section(markdown, title));
  }
});

test('a scenario that does not fit its runbook, or a bad option, is one line on stderr with exit 2; `exercise validate` lists every problem', async () => {
  const invalid = await runCli(['exercise', 'run', INVALID, '--json'], env);
  expect(invalid.code).toBe(2);
  expect(invalid.stdout).toBe('');
  expect(invalid.stderr).toBe(
    `tourniquet: ${INVALID}: responders.iam: missing: the role is asked to approve (owner of step "rotate-credential")\n`,
  );

  const badOption = await runCli(['exercise', 'run', QUICK, '--report', 'report.txt'], env);
  expect(badOption.code).toBe(2);
  expect(badOption.stderr).toBe('tourniquet: --report: expected the path of an .html file\n');

  const validate = await runCli(['exercise', 'validate', QUICK, INVALID, '/nonexistent.yaml'], env);
  expect(validate.code).toBe(1);
  expect(validate.stdout).toBe(`${QUICK}: ok\n`);
  expect(validate.stderr.trim().split('\n')).toEqual([
    `${INVALID}: responders.iam: missing: the role is asked to approve (owner of step "rotate-credential")`,
    `${INVALID}: responders.secops: missing: the role is asked to approve (owner of step "purge-exposed-logs")`,
    `${INVALID}: responders.platform.steps.not-a-step: runbook "leaked-workflow-secret" has no step "not-a-step"`,
    `${INVALID}: injects[0].target: runbook "leaked-workflow-secret" has no step "no-such-step"`,
    '/nonexistent.yaml: (file): file not found',
  ]);
});
