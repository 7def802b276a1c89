import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflows } from '../worker/create-worker';
import { loadRecordedHistory, replayHistories, type RecordedHistory } from '../worker/replay';
import { workflowBundlePath } from './harness/temporal';

const ROOT = join(__dirname, '..');
const FIXTURES = join(__dirname, 'fixtures', 'histories');

/**
 * Every recorded history, current ones and those kept from before a versioned change (`before-runbook-catalog/`:
 * incidents whose start carried the runbook, as in-flight ones may still do).
 */
async function fixtures(): Promise<RecordedHistory[]> {
  const files = readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.json'),
  );
  return Promise.all(files.map((file) => loadRecordedHistory(join(FIXTURES, file))));
}

test('recorded incident histories replay cleanly against the current workflow code', async () => {
  const histories = await fixtures();
  expect(histories.length).toBeGreaterThanOrEqual(6);
  const bundle = { code: readFileSync(await workflowBundlePath(), 'utf8') };
  const outcomes = await replayHistories(histories, bundle);
  expect(outcomes.filter((outcome) => outcome.error)).toEqual([]);
  expect(outcomes).toHaveLength(histories.length);
});

test('a non-deterministic change to the workflow fails the replay', async () => {
  // A copy of the workflow that waits on a timer before scheduling anything: a change that must be versioned.
  const dir = join(ROOT, '.data', 'nondeterministic-workflow');
  mkdirSync(dir, { recursive: true });
  const source = readFileSync(join(ROOT, 'workflows', 'incident.ts'), 'utf8')
    .replace(/from '\.\.\//g, `from '${ROOT}/`)
    .replace(/from '\.\//g, `from '${ROOT}/workflows/`)
    .replace('  setHandler,\n', '  setHandler,\n  sleep,\n')
    .replace(
      '    const order = topologicalOrder(runbook.steps);',
      "    await sleep('1 second');\n    const order = topologicalOrder(runbook.steps);",
    );
  expect(source).toContain("await sleep('1 second')");
  writeFileSync(join(dir, 'index.ts'), source);
  const bundle = await bundleWorkflows(join(dir, 'index.ts'));

  const outcomes = await replayHistories(await fixtures(), bundle);
  expect(outcomes.length).toBeGreaterThan(0);
  for (const outcome of outcomes) expect(outcome.error).toMatch(/[Nn]ondeterminism|TMPRL1100/);
});
