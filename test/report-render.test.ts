import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runExercise, type ExerciseResult } from '../exercises/engine';
import { loadScenarioFile } from '../exercises/scenario';
import { TEST_FINGERPRINT_KEY } from './harness/incidents';
import { makeDataDir, startTestTemporal, workflowBundlePath } from './harness/temporal';

const QUICK = join(__dirname, 'fixtures', 'exercises', 'quick-deny.yaml');

let outcome: ExerciseResult;
let html: string;
let markdown: string;

beforeAll(async () => {
  const temporal = await startTestTemporal();
  try {
    const loaded = loadScenarioFile(QUICK);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    outcome = await runExercise({
      scenario: loaded.scenario,
      scenarioFile: QUICK,
      scenarioSha256: loaded.sha256,
      client: temporal.client,
      address: temporal.address,
      namespace: 'default',
      dataDir: temporal.dataDir,
      fingerprintKey: TEST_FINGERPRINT_KEY,
      env: {},
      workflowBundlePath: await workflowBundlePath(),
    });
    html = readFileSync(outcome.reports.html, 'utf8');
    markdown = readFileSync(outcome.reports.markdown, 'utf8');
  } finally {
    await temporal.stop();
  }
});

/** Every element of an SVG fragment is closed, in order (a small well-formedness check, no parser needed). */
function balanced(fragment: string): boolean {
  const stack: string[] = [];
  for (const match of fragment.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

test('the HTML report is one self-contained file: inline CSS and SVG, no script, nothing fetched, every text escaped', () => {
  expect(outcome.status.state).toBe('completed');
  expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  // Nothing to fetch or run.
  expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import/i);
  // The denial's reason and the title carry markup: shown as text.
  expect(html).toContain('keep it off &#60;script&#62;alert(1)&#60;/script&#62; | pipes');
  expect(html).toContain(
    '<title>After-action report: Quick exercise &#60;with markup&#62; &#38; a denial</title>',
  );
  expect(html).toContain('Inject note &#60;b&#62;bold&#60;/b&#62; | with a pipe');

  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  expect(svgs).toHaveLength(1);
  const svg = svgs[0] ?? '';
  expect(balanced(svg)).toBe(true);
  const { report } = outcome;
  // A bar per approval wait and per execution, a line per reached milestone and per inject.
  const count = (pattern: RegExp) => (svg.match(pattern) ?? []).length;
  expect(count(/<rect class="wait"/g)).toBe(report.steps.filter((step) => step.approval).length);
  expect(count(/<rect class="run"/g)).toBe(report.steps.filter((step) => step.run).length);
  expect(count(/<line class="milestone"/g)).toBe(report.milestones.filter((row) => row.at).length);
  expect(count(/<line class="note"/g)).toBe(report.notes.length);
  expect(count(/<rect class="wait"[^>]*fill="#b02a37"/g)).toBe(1); // the denied recovery
  for (const step of report.steps) expect(svg).toContain(`>${step.id}`);
});

test('the Markdown report has the same sections, a Mermaid Gantt chart, and table cells that cannot break the table', () => {
  for (const title of [
    'Milestones',
    'Findings',
    'Timeline',
    'Owner response times',
    'Escalations and break-glass',
    'Injects and notes',
    'Steps',
    'Full timeline',
  ]) {
    expect(markdown).toContain(`\n## ${title}\n`);
  }
  expect(markdown).toMatch(/```mermaid\ngantt\n[\s\S]*section recover[\s\S]*```/);
  expect(markdown).toContain('keep it off &lt;script&gt;alert(1)&lt;/script&gt; \\| pipes');
  const denial = outcome.report.findings.find((finding) => finding.kind === 'denied');
  expect(denial?.stepId).toBe('recover-connector');
  expect(markdown).toContain('(denied) recover-connector denied by key:ada');
});

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

const chromium = findChromium();
const renders = chromium ? test : test.skip;
if (!chromium) {
  process.stderr.write(
    '[report-render] SKIPPED the headless-browser render: Debian chromium is not installed ' +
      '(`apt-get install -y chromium`, or set CHROMIUM_PATH)\n',
  );
}

renders(
  `renders offline in headless Chromium to a screenshot${chromium ? '' : ' (SKIPPED: Debian chromium not installed; apt-get install -y chromium)'}`,
  () => {
    const out = makeDataDir();
    const png = join(out, 'report.png');
    const common = [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      // Offline: a report that needed the network would render broken.
      '--host-resolver-rules=MAP * ~NOTFOUND',
      `--user-data-dir=${join(out, 'profile')}`,
    ];
    const dom = spawnSync(chromium!, [...common, '--dump-dom', `file://${outcome.reports.html}`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(dom.status).toBe(0);
    expect((dom.stdout.match(/<rect class="run"/g) ?? []).length).toBe(
      outcome.report.steps.filter((step) => step.run).length,
    );
    const shot = spawnSync(
      chromium!,
      [...common, '--window-size=1100,1600', `--screenshot=${png}`, `file://${outcome.reports.html}`],
      { timeout: 60_000 },
    );
    expect(shot.status).toBe(0);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBeGreaterThanOrEqual(1000); // IHDR width: the 1100 px window
    expect(bytes.length).toBeGreaterThan(20_000);
  },
  90_000,
);
