import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { RunbookIssue } from './runbook/validate';

export type YamlFileResult = { ok: true; raw: unknown; text: string } | { ok: false; issues: RunbookIssue[] };

/** Reads and parses a YAML file; a missing file or bad YAML becomes one issue at `(file)`. */
export function readYamlFile(file: string): YamlFileResult {
  try {
    const text = readFileSync(file, 'utf8');
    return { ok: true, raw: parse(text) as unknown, text };
  } catch (error) {
    const message =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `not valid YAML: ${(error as Error).message.split('\n')[0]}`;
    return { ok: false, issues: [{ path: '(file)', message }] };
  }
}
