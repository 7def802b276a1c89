/**
 * The claim "a new system is its folder plus one line in providers/index.ts", tested for real: a copy of this
 * repository gets a throwaway provider folder and its line in the list, nothing else, and that copy's own CLI and
 * worker validate a runbook naming it, simulate it in an exercise and execute it for real.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { makeDataDir, startTestTemporal, type TestTemporal } from './harness/temporal';

const ROOT = join(__dirname, '..');

const THROWAWAY_PROVIDER = `import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { defineProviderPlugin } from '../plugin';
import { connectorCatalog } from '../roles/connector';
import { defineProvider, ProviderError } from '../types';

const catalog = {
  ...connectorCatalog,
  quarantine: {
    description: 'Move the box into the quarantine network',
    params: z.object({ box: z.string().min(1) }),
    idempotent: true,
    reversible: false,
    preapprovable: true, // isolates the box: deletes nothing, grants nothing
  },
};

export const throwaway = defineProviderPlugin<{ logFile: string }>({
  name: 'throwaway',
  summary: 'a provider written for one test',
  roles: ['connector'],
  catalog,
  settings: ['THROWAWAY_LOG'],
  examples: { connector: 'throwaway:box-1' },
  fromEnv: (env) => (env.THROWAWAY_LOG ? { logFile: env.THROWAWAY_LOG } : undefined),
  create: ({ logFile }) => {
    const act = (action: string) => async (params: Record<string, unknown>) => {
      appendFileSync(logFile, \`\${action} \${JSON.stringify(params)}\\n\`);
      return { summary: { action } };
    };
    return defineProvider('throwaway', catalog, {
      disableConnector: act('disableConnector'),
      enableConnector: act('enableConnector'),
      cancelRuns: act('cancelRuns'),
      captureLogs: act('captureLogs'),
      purgeLogs: act('purgeLogs'),
      quarantine: act('quarantine'),
    });
  },
  parseRef(ref) {
    if (!/^box-\\d+$/.test(ref)) throw new ProviderError(\`"\${ref}" is not box-<number>\`, false);
    return {};
  },
});
`;

const RUNBOOK = `id: quarantine-box
title: Quarantine a box
steps:
  - id: disable
    title: Disable the connector
    phase: disable-connector
    action: connector.disableConnector
    params: { ref: '{{connector.ref}}' }
    owner: platform
    approval: { policy: none }
    reversible: true
    timeout: 30s
    onFailure: continue
  - id: quarantine
    title: Quarantine the box
    phase: segment-downstream
    action: throwaway.quarantine
    params: { box: '{{connector.ref}}' }
    after: [disable]
    owner: platform
    approval: { policy: none }
    preapproved: isolates the box and deletes nothing
    reversible: false
    timeout: 30s
    onFailure: continue
`;

let copy: string;
let temporal: TestTemporal;
const workers: ChildProcess[] = [];

/** The repository as git sees it (tracked files and new ones not ignored), with node_modules linked. */
function copyRepository(): string {
  const target = makeDataDir('tourniquet-extension-');
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(target, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
  return target;
}

/** The one-line registration: the import and the list entry, exactly as a contributor would add them. */
function registerThrowaway(repository: string): void {
  mkdirSync(join(repository, 'providers', 'throwaway'));
  writeFileSync(join(repository, 'providers', 'throwaway', 'index.ts'), THROWAWAY_PROVIDER);
  const listFile = join(repository, 'providers', 'index.ts');
  const list = readFileSync(listFile, 'utf8');
  const registered = list
    .replace(/^(import .*\n)(?!import)/m, `$1import { throwaway } from './throwaway';\n`)
    .replace(/(export const PROVIDERS[^=]*= \[)/, '$1\n  throwaway,');
  if (registered === list || !registered.includes('  throwaway,')) throw new Error('could not register');
  writeFileSync(listFile, registered);
}

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [join(copy, 'bin', 'tourniquet.js'), ...args], {
    cwd: copy,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

async function startWorker(env: Record<string, string>): Promise<void> {
  const worker = spawn(process.execPath, [join(copy, 'bin', 'tourniquet.js'), 'worker'], {
    cwd: copy,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(worker);
  let output = '';
  await new Promise<void>((ready, failed) => {
    worker.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker ready')) ready();
    });
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.once('exit', (code) => failed(new Error(`worker exited (${code}):\n${output}`)));
  });
}

beforeAll(async () => {
  copy = copyRepository();
  registerThrowaway(copy);
  temporal = await startTestTemporal();
}, 180_000);

afterAll(async () => {
  for (const worker of workers) worker.kill('SIGTERM');
  await temporal?.stop();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

test('the copy differs from this repository by the provider folder and its line in the list only', () => {
  const diff = spawnSync(
    'git',
    ['diff', '--no-index', '--stat', join(ROOT, 'providers'), join(copy, 'providers')],
    {
      encoding: 'utf8',
    },
  );
  const changed = diff.stdout
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => line.split('|')[0].trim());
  expect(changed).toHaveLength(2);
  expect(changed.join(' ')).toMatch(/providers\/\{?.*index\.ts/);
  expect(changed.join(' ')).toMatch(/throwaway\/index\.ts/);
});

test('the registered provider is validated, simulated and executed by the copy', async () => {
  // Where the copy's worker reads its runbooks: a real incident runs only a runbook from there.
  const runbooksDir = join(copy, 'our-runbooks');
  mkdirSync(runbooksDir);
  const runbookFile = join(runbooksDir, 'quarantine-box.yaml');
  writeFileSync(runbookFile, RUNBOOK);

  // Validated: the runbook names `throwaway.quarantine`, which only the new catalog knows.
  const validated = cli(['runbook', 'validate', runbookFile], {});
  expect([validated.status, validated.stderr]).toEqual([0, '']);
  const wrongParams = runbookFile.replace('.yaml', '-bad.yaml');
  writeFileSync(wrongParams, RUNBOOK.replace("{ box: '{{connector.ref}}' }", '{ box: 42 }'));
  const refused = cli(['runbook', 'validate', wrongParams], {});
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/steps\[1\]\.params\.box/);

  const logFile = join(copy, 'throwaway.log');
  const journal = join(copy, 'journal.jsonl');
  const env = {
    TEMPORAL_ADDRESS: temporal.address,
    TOURNIQUET_DATA_DIR: join(copy, '.data'),
    TEMPORAL_TASK_QUEUE: 'tourniquet-extension',
    TOURNIQUET_SIMULATED_JOURNAL: journal,
    THROWAWAY_LOG: logFile,
    TOURNIQUET_RUNBOOKS_DIR: runbooksDir,
    TOURNIQUET_LOG_LEVEL: 'warn',
  };
  const start = (box: string, ...flags: string[]) =>
    cli(
      [
        'incident',
        'start',
        '--runbook',
        runbookFile,
        '--secret-kind',
        'api-key',
        '--severity',
        'high',
        '--connector',
        `throwaway:${box}`,
        ...flags,
      ],
      env,
    );
  // Its references are checked by its own parseRef before anything starts.
  const badRef = start('crate-7');
  expect(badRef.status).toBe(2);
  expect(badRef.stderr).toMatch(/--connector: throwaway: "crate-7" is not box-<number>/);

  await startWorker(env);

  // Simulated: an exercise never reaches the real system, yet the stand-in knows the new actions.
  const exercise = start('box-1', '--wait', '--json', '--exercise');
  expect([exercise.status, exercise.stderr]).toEqual([0, '']);
  expect(JSON.parse(exercise.stdout)).toMatchObject({ state: 'completed', runbook: 'quarantine-box' });
  const simulatedCalls = readFileSync(journal, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { system: string; action: string; effect: string });
  expect(simulatedCalls.map(({ system, action, effect }) => `${system}.${action}:${effect}`)).toEqual([
    'throwaway.disableConnector:applied',
    'throwaway.quarantine:applied',
  ]);
  expect(existsSync(logFile)).toBe(false);

  // Executed: outside an exercise the worker created the real provider from THROWAWAY_LOG.
  const real = start('box-2', '--wait', '--json');
  expect([real.status, real.stderr]).toEqual([0, '']);
  expect(JSON.parse(real.stdout)).toMatchObject({ state: 'completed' });
  expect(readFileSync(logFile, 'utf8').trim().split('\n')).toEqual([
    'disableConnector {"ref":"box-2"}',
    'quarantine {"box":"box-2"}',
  ]);
}, 300_000);
