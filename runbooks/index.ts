/**
 * The runbook files: found by id or path, read, and validated against the provider list's catalogs.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_OWNER_ROLES, validateRunbook, type RunbookIssue } from '../lib/runbook/validate';
import { ACTION_CATALOGS } from '../providers';
import type { Runbook } from '../lib/runbook/types';
import { BUILTIN_RUNBOOKS_DIR } from '../lib/paths';
import { readYamlFile } from '../lib/yaml-file';

export { BUILTIN_RUNBOOKS_DIR };

/** The YAML files beside the runbooks that are not runbooks: the owners matrix and the credential inventory. */
export const NOT_RUNBOOKS: ReadonlySet<string> = new Set(['owners.yaml', 'inventory.yaml']);

export type RunbookFileResult =
  { ok: true; runbook: Runbook; file: string } | { ok: false; file: string; issues: RunbookIssue[] };

export function loadRunbookFile(file: string, ownerRoles: string[] = DEFAULT_OWNER_ROLES): RunbookFileResult {
  const read = readYamlFile(file);
  if (!read.ok) return { ok: false, file, issues: read.issues };
  const raw = read.raw;
  const result = validateRunbook(raw, { catalogs: ACTION_CATALOGS, ownerRoles });
  return result.ok ? { ok: true, runbook: result.runbook, file } : { ok: false, file, issues: result.issues };
}

export function runbookDirs(extraDir?: string): string[] {
  return [...(extraDir ? [resolve(extraDir)] : []), BUILTIN_RUNBOOKS_DIR];
}

/** The file of the runbook with this id: the first directory that has it wins. */
export function runbookFileFor(id: string, extraDir?: string): string | undefined {
  for (const dir of runbookDirs(extraDir)) {
    for (const extension of ['.yaml', '.yml']) {
      const file = join(dir, `${id}${extension}`);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

/** Find a runbook by id (`leaked-workflow-secret`) or by path; the first directory that has it wins. */
export function findRunbook(idOrPath: string, extraDir?: string): RunbookFileResult {
  if (idOrPath.endsWith('.yaml') || idOrPath.endsWith('.yml')) return loadRunbookFile(resolve(idOrPath));
  const file = runbookFileFor(idOrPath, extraDir);
  if (file) return loadRunbookFile(file);
  const known = runbookDirs(extraDir)
    .flatMap((dir) => (existsSync(dir) ? readdirSync(dir) : []))
    .filter((name) => /\.ya?ml$/.test(name) && !NOT_RUNBOOKS.has(name))
    .map((name) => name.replace(/\.ya?ml$/, ''));
  return {
    ok: false,
    file: idOrPath,
    issues: [
      { path: '(runbook)', message: `no runbook "${idOrPath}" (known: ${known.join(', ') || 'none'})` },
    ],
  };
}

export function formatIssues(result: { file: string; issues: RunbookIssue[] }): string[] {
  return result.issues.map((issue) => `${result.file}: ${issue.path}: ${issue.message}`);
}
