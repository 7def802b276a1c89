import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_RUNBOOKS_DIR } from '../runbooks';
import { runCli } from './harness/cli';

/**
 * A real incident runs the worker's copy of its runbook, found by id. `incident start --runbook <file>` with a file
 * that is not that copy is refused before anything connects (Temporal's address is a closed port here).
 */
let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tourniquet-cli-runbooks-'));
  env = { TEMPORAL_ADDRESS: '127.0.0.1:1', TOURNIQUET_DATA_DIR: join(dir, 'data') };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (runbook: string, ...flags: string[]) =>
  runCli(
    [
      'incident',
      'start',
      '--runbook',
      runbook,
      '--secret-kind',
      'github-token',
      '--severity',
      'high',
      '--connector',
      'github:acme/app/deploy.yml',
      ...flags,
    ],
    env,
  );

const SHIPPED = join(BUILTIN_RUNBOOKS_DIR, 'leaked-workflow-secret.yaml');

test('an edited copy of a shipped runbook is refused for a real incident, naming the copy the worker runs', async () => {
  const edited = join(dir, 'edited.yaml');
  writeFileSync(edited, readFileSync(SHIPPED, 'utf8').replace('deadline: 10m', 'deadline: 11m'));
  const run = await start(edited);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(
    `tourniquet: --runbook: ${edited} is not the runbook "leaked-workflow-secret" the worker runs (${SHIPPED}); a real incident runs the worker's copy\n`,
  );
});

test('a runbook file the worker does not have is refused for a real incident', async () => {
  const own = join(dir, 'own.yaml');
  writeFileSync(
    own,
    readFileSync(SHIPPED, 'utf8').replace('id: leaked-workflow-secret', 'id: my-own-runbook'),
  );
  const run = await start(own);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(
    `--runbook: "my-own-runbook" is not in the worker's runbooks; put ${own} in TOURNIQUET_RUNBOOKS_DIR`,
  );
});

test('control: an identical copy passes the check (and then fails only on the closed Temporal port)', async () => {
  const copy = join(dir, 'copy.yaml');
  copyFileSync(SHIPPED, copy);
  const run = await start(copy);
  expect(run.stderr).not.toContain('--runbook');
  expect(run.code).toBe(1);
});

test('`--key` must be a readable ed25519 key and `--as` a plain name: said before anything connects', async () => {
  const notAKey = join(dir, 'not-a-key.pem');
  writeFileSync(notAKey, 'hello\n');
  const results = await Promise.all([
    start('leaked-workflow-secret', '--key', join(dir, 'nowhere.key')),
    start('leaked-workflow-secret', '--key', notAKey),
    start('leaked-workflow-secret', '--key', notAKey, '--as', 'two words'),
  ]);
  expect(results.map((run) => [run.code, run.stderr.trim()])).toEqual([
    [2, `tourniquet: --key: cannot read an ed25519 private key from ${join(dir, 'nowhere.key')}`],
    [2, `tourniquet: --key: cannot read an ed25519 private key from ${notAKey}`],
    [2, 'tourniquet: --as: expected a name of letters, digits, dots, dashes, @ or underscores'],
  ]);
});
