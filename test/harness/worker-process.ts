// `tourniquet worker` for a test whose runbooks are made in code: the production worker process
// (worker/main.ts), which also trusts the runbooks in the JSON file named by its one argument.
import { readFileSync } from 'node:fs';
import type { Runbook } from '../../lib/runbook/types';
import { runWorkerProcess } from '../../worker/main';

const file = process.argv[2];
if (!file) throw new Error('usage: worker-process.ts <runbooks.json>');
runWorkerProcess(JSON.parse(readFileSync(file, 'utf8')) as Runbook[]).catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
