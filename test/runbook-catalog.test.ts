import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunbookCatalog, RunbookRefusedError } from '../runbooks/catalog';
import { BUILTIN_RUNBOOKS_DIR } from '../runbooks';

const shipped = readFileSync(join(BUILTIN_RUNBOOKS_DIR, 'leaked-workflow-secret.yaml'), 'utf8');

function runbookDir(): { dir: string; write: (description: string) => void; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tourniquet-catalog-'));
  const file = join(dir, 'team-runbook.yaml');
  const write = (description: string) =>
    writeFileSync(
      file,
      shipped
        .replace(/^id: leaked-workflow-secret$/m, 'id: team-runbook')
        .replace(/^description: .*$/m, `description: ${description}`),
    );
  write('first version');
  return { dir, write, file };
}

describe("the worker's runbook catalog", () => {
  it('reads and validates a runbook file once while it is unchanged', () => {
    const { dir } = runbookDir();
    const catalog = new RunbookCatalog(dir);
    const first = catalog.load({ id: 'team-runbook' });
    expect(first.runbook.description).toBe('first version');
    expect(catalog.load({ id: 'team-runbook' })).toBe(first);
  });

  it('applies an edited runbook from the next start, and refuses one edited into an invalid runbook', () => {
    const { dir, write, file } = runbookDir();
    const catalog = new RunbookCatalog(dir);
    const first = catalog.load({ id: 'team-runbook' });

    write('second version, longer than the first');
    const second = catalog.load({ id: 'team-runbook' });
    expect(second.runbook.description).toBe('second version, longer than the first');
    expect(second.sha256).not.toBe(first.sha256);
    // A start pinned to the old version is refused: the file is what the worker runs now.
    expect(() => catalog.load({ id: 'team-runbook', sha256: first.sha256 })).toThrow(RunbookRefusedError);

    writeFileSync(file, readFileSync(file, 'utf8').replace(/^steps:/m, 'stepz:'));
    expect(() => catalog.load({ id: 'team-runbook' })).toThrow(RunbookRefusedError);

    rmSync(file);
    expect(() => catalog.load({ id: 'team-runbook' })).toThrow(/not in this worker's catalog/);
  });
});
