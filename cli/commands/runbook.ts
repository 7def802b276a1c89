import type { Command } from 'commander';
import { loadOwnersFile, ownersFilePath } from '../../lib/owners';
import { formatIssues, loadRunbookFile } from '../../runbooks';
import { readYamlFile } from '../../lib/yaml-file';
import { formatInventoryIssues, loadInventory } from '../../lib/inventory';
import { PROVIDER_DIRECTORY } from '../../providers';

export function registerRunbookCommands(program: Command): void {
  const runbook = program.command('runbook').description('work with runbook files');
  runbook
    .command('validate <files...>')
    .description(
      'check runbooks, the owners file and the credential inventory: schema, actions, params, owners, DAG, evidence before purge',
    )
    .option('--owners <file>', 'owners matrix (default: TOURNIQUET_OWNERS_FILE or runbooks/owners.yaml)')
    .action((files: string[], options: { owners?: string }) => {
      let failed = false;
      const owners = loadOwnersFile(options.owners ?? ownersFilePath());
      if (!owners.ok) {
        failed = true;
        for (const line of formatIssues(owners)) process.stderr.write(`${line}\n`);
      }
      const roles = owners.ok ? Object.keys(owners.owners.roles) : undefined;
      for (const file of files) {
        // `runbooks/*.yaml` also matches the owners matrix: check it as what it is.
        const read = readYamlFile(file);
        if (
          read.ok &&
          read.raw &&
          typeof read.raw === 'object' &&
          'roles' in read.raw &&
          !('steps' in read.raw)
        ) {
          const ownersFile = loadOwnersFile(file);
          if (ownersFile.ok)
            process.stdout.write(
              `${file}: ok (owners, ${Object.keys(ownersFile.owners.roles).length} roles)\n`,
            );
          else {
            failed = true;
            for (const line of formatIssues(ownersFile)) process.stderr.write(`${line}\n`);
          }
          continue;
        }
        // … and the credential inventory.
        if (read.ok && read.raw && typeof read.raw === 'object' && 'credentials' in read.raw) {
          const inventory = loadInventory(file, { providers: PROVIDER_DIRECTORY, ownerRoles: roles });
          for (const warning of inventory.warnings)
            process.stderr.write(`warning: ${file}: ${warning.path}: ${warning.message}\n`);
          if (inventory.ok)
            process.stdout.write(
              `${file}: ok (inventory, ${inventory.inventory.credentials.length} credentials)\n`,
            );
          else {
            failed = true;
            for (const line of formatInventoryIssues(inventory)) process.stderr.write(`${line}\n`);
          }
          continue;
        }
        const result = loadRunbookFile(file, roles);
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
