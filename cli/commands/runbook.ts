import type { Command } from 'commander';
import { loadRunbookFile, formatIssues } from '../../lib/runbook-files';

export function registerRunbookCommands(program: Command): void {
  const runbook = program.command('runbook').description('work with runbook files');
  runbook
    .command('validate <files...>')
    .description('check runbooks: schema, actions, params, owners, DAG, evidence before purge')
    .action((files: string[]) => {
      let failed = false;
      for (const file of files) {
        const result = loadRunbookFile(file);
        if (result.ok) {
          process.stdout.write(`${file}: ok (${result.runbook.steps.length} steps)\n`);
        } else {
          failed = true;
          for (const line of formatIssues(result)) process.stderr.write(`${line}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}
