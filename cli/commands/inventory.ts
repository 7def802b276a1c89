import { relative } from 'node:path';
import type { Command } from 'commander';
import {
  formatInventoryIssues,
  identifierSummary,
  loadInventory,
  type Credential,
  type InventoryIssue,
} from '../../lib/inventory';
import { loadOwnersFile, ownersFilePath } from '../../lib/owners';
import { PROVIDER_DIRECTORY } from '../../providers';

/** The file as the user named it, else the resolved default relative to the working directory when inside it. */
function shown(given: string | undefined, resolved: string): string {
  if (given !== undefined) return given;
  const rel = relative(process.cwd(), resolved);
  return rel && !rel.startsWith('..') ? rel : resolved;
}

function printWarnings(file: string, warnings: InventoryIssue[]): void {
  for (const warning of warnings) {
    process.stderr.write(`warning: ${file}: ${warning.path}: ${warning.message}\n`);
  }
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

interface ListRow {
  id: string;
  kind: string;
  issuer: string;
  owners: string[];
  consumers: number;
  identifiers: string[];
  locations: number;
  reaches: string[];
  fingerprint: boolean;
}

function rowOf(credential: Credential): ListRow {
  return {
    id: credential.id,
    kind: credential.kind,
    issuer: credential.issuer,
    owners: credential.owners,
    consumers: credential.consumers.length,
    identifiers: identifierSummary(credential.identifiers),
    locations: credential.locations.length,
    reaches: credential.reaches,
    fingerprint: credential.fingerprint !== undefined,
  };
}

function table(rows: ListRow[]): string {
  const header = ['ID', 'KIND', 'ISSUER', 'OWNERS', 'CONSUMERS', 'IDENTIFIERS'];
  const cells = rows.map((row) => [
    row.id,
    row.kind,
    row.issuer,
    row.owners.join(','),
    String(row.consumers),
    row.identifiers.join(', ') || '-',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => line[column].length)),
  );
  return [header, ...cells]
    .map((line) =>
      line
        .map((cell, column) => (column === line.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

export function registerInventoryCommands(program: Command): void {
  const inventory = program
    .command('inventory')
    .description(
      'the credential inventory: issuer, consumers, owners and identifiers of each credential an alert may be about',
    );

  inventory
    .command('validate [file]')
    .description(
      'check the inventory (default: TOURNIQUET_INVENTORY or runbooks/inventory.yaml): schema, issuer and ' +
        'destination references, owner roles, unique ids, identifiers, fingerprints and consumer slots',
    )
    .option('--owners <file>', 'owners matrix (default: TOURNIQUET_OWNERS_FILE or runbooks/owners.yaml)')
    .action((file: string | undefined, options: { owners?: string }) => {
      let failed = false;
      const owners = loadOwnersFile(options.owners ?? ownersFilePath());
      if (!owners.ok) {
        failed = true;
        for (const line of formatInventoryIssues(owners)) process.stderr.write(`${line}\n`);
      }
      const result = loadInventory(file, {
        providers: PROVIDER_DIRECTORY,
        ownerRoles: owners.ok ? Object.keys(owners.owners.roles) : undefined,
      });
      const name = shown(file, result.file);
      printWarnings(name, result.warnings);
      if (!result.ok) {
        for (const line of formatInventoryIssues({ file: name, issues: result.issues })) {
          process.stderr.write(`${line}\n`);
        }
        process.exitCode = 1;
        return;
      }
      if (!result.found) {
        process.stdout.write(`${name}: no inventory file: 0 credentials, every alert stays unresolved\n`);
      } else {
        const warned = result.warnings.length > 0 ? `, ${plural(result.warnings.length, 'warning')}` : '';
        process.stdout.write(
          `${name}: ok (${plural(result.inventory.credentials.length, 'credential')}${warned})\n`,
        );
      }
      if (failed) process.exitCode = 1;
    });

  inventory
    .command('list [file]')
    .description('list the credentials of the inventory: id, kind, issuer, owners, consumers, identifiers')
    .option('--json', 'print { file, credentials: [...] } (key ids by their last four only)')
    .action((file: string | undefined, options: { json?: boolean }) => {
      const result = loadInventory(file, { providers: PROVIDER_DIRECTORY });
      const name = shown(file, result.file);
      if (!result.ok) {
        for (const line of formatInventoryIssues({ file: name, issues: result.issues })) {
          process.stderr.write(`${line}\n`);
        }
        process.exitCode = 1;
        return;
      }
      const rows = result.inventory.credentials.map(rowOf);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ file: result.file, credentials: rows }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`${name}: no credentials\n`);
        return;
      }
      process.stdout.write(table(rows));
    });
}
