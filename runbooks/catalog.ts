import { runbookSha256 } from '../lib/runbook/canonical';
import type { Runbook, RunbookRef, TrustedRunbook } from '../lib/runbook/types';
import { statSync } from 'node:fs';
import { findRunbook, formatIssues, runbookFileFor } from './index';

export class RunbookRefusedError extends Error {}

/** A runbook file of the worker's directories, validated, or why it is not usable. */
type RunbookFile = { ok: true; entry: TrustedRunbook } | { ok: false; issues: string };

/** A runbook id as the files name them; anything else (a path, `..`) is refused before the disk is touched. */
const RUNBOOK_ID = /^[a-z0-9][a-z0-9-]{0,99}$/;

const entryOf = (runbook: Runbook): TrustedRunbook => ({ runbook, sha256: runbookSha256(runbook) });

/**
 * The runbooks this worker runs for a real incident. A start only names one (id, optional SHA-256); the runbook
 * itself never comes from the start. Three sources, all the worker's own configuration:
 * - its runbook directories (TOURNIQUET_RUNBOOKS_DIR, then the shipped ones), validated with the approval policy;
 * - `defaults`, runbooks the program embedding the worker gives in code: they replace the file of the same id;
 * - `trust(runbook)`: a version given in code that a start must pin by its SHA-256 (tests' variants).
 */
export class RunbookCatalog {
  private readonly defaults: TrustedRunbook[];
  private readonly files = new Map<
    string,
    { version: string; result: ReturnType<RunbookCatalog['fromFiles']> }
  >();

  constructor(
    private readonly runbooksDir?: string,
    defaults: Iterable<Runbook> = [],
    private readonly pinned: TrustedRunbook[] = [],
  ) {
    this.defaults = [...defaults].map(entryOf);
  }

  /** The same catalog (files and pinned versions), with `defaults` replacing the files of their ids. */
  withDefaults(defaults: Iterable<Runbook>): RunbookCatalog {
    return new RunbookCatalog(this.runbooksDir, defaults, this.pinned);
  }

  /**
   * The runbook file of this id, read and validated once per version of the file: every incident start asks, and
   * reading and validating it again cost ~5 ms of the first containment call. A file is taken as changed when its
   * modification time, size or inode differ, so an edited or replaced runbook applies from the next start.
   */
  private fromFiles(id: string): RunbookFile {
    const file = runbookFileFor(id, this.runbooksDir);
    const stat = file ? statSync(file, { throwIfNoEntry: false }) : undefined;
    const version = stat ? `${file}:${stat.mtimeMs}:${stat.size}:${stat.ino}` : undefined;
    const cached = this.files.get(id);
    if (version && cached?.version === version) return cached.result;
    const found = findRunbook(id, this.runbooksDir);
    const result: RunbookFile = found.ok
      ? { ok: true, entry: entryOf(found.runbook) }
      : { ok: false, issues: formatIssues(found).join('; ') };
    if (version) this.files.set(id, { version, result });
    else this.files.delete(id);
    return result;
  }

  trust(runbook: Runbook): TrustedRunbook {
    const entry = entryOf(runbook);
    if (!this.pinned.some((known) => known.sha256 === entry.sha256)) this.pinned.push(entry);
    return entry;
  }

  load(ref: RunbookRef): TrustedRunbook {
    const id = typeof ref?.id === 'string' ? ref.id : '';
    if (!RUNBOOK_ID.test(id)) {
      throw new RunbookRefusedError('runbookRef.id: expected a runbook id such as leaked-workflow-secret');
    }
    const fromDefaults = this.defaults.filter((entry) => entry.runbook.id === id);
    const fromFiles = this.fromFiles(id);
    const usual = fromDefaults.at(-1) ?? (fromFiles.ok ? fromFiles.entry : undefined);
    if (ref.sha256 === undefined) {
      if (usual) return usual;
      throw new RunbookRefusedError(
        `runbookRef.id: not in this worker's catalog: ${fromFiles.ok ? id : fromFiles.issues}`,
      );
    }
    const versions = [
      ...(usual ? [usual] : []),
      ...fromDefaults,
      ...this.pinned.filter((entry) => entry.runbook.id === id),
    ];
    const match = versions.find((entry) => entry.sha256 === ref.sha256);
    if (match) return match;
    const known = [...new Set(versions.map((entry) => entry.sha256.slice(0, 12)))].join(', ') || 'none';
    throw new RunbookRefusedError(
      `runbookRef.sha256: this worker has no runbook "${id}" with that SHA-256 (it has: ${known})`,
    );
  }
}
