import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { validateRunbook } from '../lib/runbook/validate';
import { ACTION_CATALOGS } from '../providers';
import { runCli } from './harness/cli';
import { startTestTemporal, type TestTemporal } from './harness/temporal';

const DEFAULT_RUNBOOK = join(__dirname, '..', 'runbooks', 'leaked-workflow-secret.yaml');
type RawStep = Record<string, unknown> & { id: string; after?: string[]; params?: Record<string, unknown> };
type RawRunbook = { id: string; steps: RawStep[] };

function defaultRunbook(): RawRunbook {
  return parse(readFileSync(DEFAULT_RUNBOOK, 'utf8')) as RawRunbook;
}

function mutate(change: (runbook: RawRunbook) => void): RawRunbook {
  const runbook = defaultRunbook();
  change(runbook);
  return runbook;
}

const step = (runbook: RawRunbook, id: string) => runbook.steps.find((candidate) => candidate.id === id)!;

const cases: [string, (runbook: RawRunbook) => void, RegExp][] = [
  [
    'an unknown provider',
    (r) => void (step(r, 'cancel-runs').action = 'gitlab.cancelRuns'),
    /steps\[2\]\.action: unknown provider "gitlab"/,
  ],
  [
    'an unknown action',
    (r) => void (step(r, 'cancel-runs').action = 'connector.explode'),
    /steps\[2\]\.action: unknown action "explode" for role "connector"/,
  ],
  [
    'a dependency cycle',
    (r) => void (step(r, 'disable-connector').after = ['recover-connector']),
    /steps: dependency cycle between steps .*disable-connector.*recover-connector|steps: dependency cycle between steps .*recover-connector.*disable-connector/,
  ],
  [
    'an unknown after id',
    (r) => void (step(r, 'cancel-runs').after = ['disable-conector']),
    /steps\[2\]\.after\[0\]: unknown step "disable-conector"/,
  ],
  [
    'a duplicate step id',
    (r) => void (step(r, 'cancel-runs').id = 'capture-logs'),
    /steps\[2\]\.id: duplicate step id "capture-logs"/,
  ],
  [
    'a missing param',
    (r) => void (step(r, 'revoke-old-credential').params = { ref: '{{credential.ref}}' }),
    /steps\[5\]\.params\.fingerprint: /,
  ],
  [
    'an ill-typed param',
    (r) => void (step(r, 'cancel-runs').params = { ref: '{{connector.ref}}', force: 'yes' }),
    /steps\[2\]\.params\.force: .*boolean/,
  ],
  [
    'an unknown template reference',
    (r) => void (step(r, 'cancel-runs').params = { ref: '{{connector.nope}}' }),
    /steps\[2\]\.params: unknown template reference \{\{connector\.nope\}\}/,
  ],
  [
    'an unknown owner role',
    (r) => void (step(r, 'cancel-runs').owner = 'janitor'),
    /steps\[2\]\.owner: unknown owner role "janitor"/,
  ],
  [
    'a log purge that does not wait for evidence',
    (r) => void (step(r, 'purge-exposed-logs').after = ['cancel-runs']),
    /steps\[9\]: destructive log purge "purge-exposed-logs" must depend on an evidence-preservation step/,
  ],
  [
    'a reversible flag on an irreversible action',
    (r) => void (step(r, 'remove-deploy-keys').reversible = true),
    /steps\[7\]\.reversible: "github\.removeDeployKeys" cannot be undone/,
  ],
  [
    'a bad duration',
    (r) => void (step(r, 'cancel-runs').timeout = 'soon'),
    /steps\[2\]\.timeout: expected a duration/,
  ],
  [
    'an unknown field',
    (r) => void (step(r, 'cancel-runs').retries = 3),
    /steps\[2\]: Unrecognized key.*retries/,
  ],
];

describe('runbook validation', () => {
  test('the shipped runbook is valid', () => {
    expect(validateRunbook(defaultRunbook(), { catalogs: ACTION_CATALOGS })).toMatchObject({ ok: true });
  });

  test.each(cases)('refuses %s with a message naming the place', (_name, change, expected) => {
    const result = validateRunbook(mutate(change), { catalogs: ACTION_CATALOGS });
    expect(result.ok).toBe(false);
    const lines = result.ok ? [] : result.issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(lines.join('\n')).toMatch(expected);
  });
});

describe('tourniquet runbook validate / incident start with a bad runbook', () => {
  let temporal: TestTemporal;
  const dir = mkdtempSync(join(tmpdir(), 'tourniquet-runbooks-'));
  const cyclic = join(dir, 'cyclic.yaml');
  const purgeFirst = join(dir, 'purge-first.yaml');

  beforeAll(async () => {
    writeFileSync(
      cyclic,
      stringify(mutate((r) => void (step(r, 'disable-connector').after = ['recover-connector']))),
    );
    writeFileSync(purgeFirst, stringify(mutate((r) => void (step(r, 'purge-exposed-logs').after = []))));
    temporal = await startTestTemporal();
  });
  afterAll(async () => temporal?.stop());

  test('exits 0 for valid files and non-zero with one `file: path: message` line per error', async () => {
    const ok = await runCli(['runbook', 'validate', DEFAULT_RUNBOOK]);
    expect(ok.code).toBe(0);
    const bad = await runCli(['runbook', 'validate', DEFAULT_RUNBOOK, cyclic, purgeFirst]);
    expect(bad.code).toBe(1);
    const lines = bad.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${cyclic}: steps: dependency cycle between steps `));
    expect(lines[1]).toMatch(new RegExp(`^${purgeFirst}: steps\\[9\\]: destructive log purge`));
  });

  test('a bad runbook or bad arguments start nothing', async () => {
    const env = { TEMPORAL_ADDRESS: temporal.address, TOURNIQUET_DATA_DIR: temporal.dataDir };
    const base = ['incident', 'start', '--secret-kind', 'github-token', '--severity', 'high'];
    const badRunbook = await runCli(
      [...base, '--runbook', cyclic, '--connector', 'github:acme/app/ci.yml'],
      env,
    );
    expect(badRunbook.code).toBe(2);
    expect(badRunbook.stderr).toMatch(/dependency cycle/);
    const badSeverity = await runCli(
      [...base.slice(0, -1), 'urgent', '--connector', 'github:acme/app/ci.yml'],
      env,
    );
    expect(badSeverity.code).toBe(2);
    expect(badSeverity.stderr).toMatch(/^tourniquet: --severity: /);
    const badConnector = await runCli([...base, '--connector', 'gitlab:acme/app'], env);
    expect(badConnector.code).toBe(2);
    expect(badConnector.stderr).toMatch(/^tourniquet: --connector: provider must be one of/);

    const listed = await runCli(['incident', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});
