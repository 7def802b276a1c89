import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/config';
import { bundleWorkflows, prebuiltWorkflowBundle } from '../../worker/create-worker';
import { loadRecordedHistory, replayHistories } from '../../worker/replay';
import { CliError } from '../errors';

const replayArgs = z
  .object({
    paths: z.array(z.string().min(1)).min(1, 'name at least one history file or directory'),
    json: z.boolean().optional(),
  })
  .strict();

/** Every `*.json` a path names: the file itself, or a directory's JSON files in name order. */
function historyFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw new CliError(`${path}: no such file or directory`, 2);
    }
    if (stats.isDirectory()) {
      const found = readdirSync(path)
        .filter((name) => name.endsWith('.json'))
        .sort()
        .map((name) => join(path, name));
      if (found.length === 0) throw new CliError(`${path}: no .json history files in this directory`, 2);
      files.push(...found);
    } else {
      files.push(path);
    }
  }
  return files;
}

/** The SDK wraps the nondeterminism in a long debug dump: keep its coded message (`[TMPRL1100] …`). */
function firstLine(text: string): string {
  const coded = /\[TMPRL\d+\][^"\n]*/.exec(text);
  if (coded) return coded[0].trim();
  const line = text.split('\n').find((candidate) => candidate.trim()) ?? text;
  return line.length > 400 ? `${line.slice(0, 400)}…` : line.trim();
}

interface FileOutcome {
  file: string;
  workflowId?: string;
  ok: boolean;
  error?: string;
}

export function registerReplayCommands(program: Command): void {
  program
    .command('replay <paths...>')
    .description(
      'replay recorded incident histories (files written by recordHistory, or directories of them) against the ' +
        'current workflow code; exits 1 when any is non-deterministic or unreadable',
    )
    .option('--json', 'print one JSON array of { file, workflowId, ok, error }')
    .action(async (paths: string[], raw: Record<string, unknown>) => {
      const parsed = replayArgs.safeParse({ paths, ...raw });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CliError(
          `${issue.path[0] === 'paths' ? '<paths>' : `--${String(issue.path[0])}`}: ${issue.message}`,
          2,
        );
      }
      const files = historyFiles(parsed.data.paths);
      const config = loadConfig();
      // The current code: TOURNIQUET_WORKFLOW_BUNDLE when set (a bundle of this checkout), the build's, else bundled now.
      const bundlePath = config.TOURNIQUET_WORKFLOW_BUNDLE ?? prebuiltWorkflowBundle();
      const bundle = bundlePath
        ? { code: readFileSync(bundlePath, 'utf8') }
        : { code: (await bundleWorkflows()).code };

      const outcomes: FileOutcome[] = [];
      for (const file of files) {
        let recorded;
        try {
          recorded = await loadRecordedHistory(file);
        } catch (error) {
          outcomes.push({
            file,
            ok: false,
            error: `not a recorded history: ${firstLine((error as Error).message)}`,
          });
          continue;
        }
        try {
          const [outcome] = await replayHistories([recorded], bundle);
          outcomes.push({
            file,
            workflowId: recorded.workflowId,
            ok: !outcome?.error,
            ...(outcome?.error ? { error: firstLine(outcome.error) } : {}),
          });
        } catch (error) {
          outcomes.push({
            file,
            workflowId: recorded.workflowId,
            ok: false,
            error: firstLine(error instanceof Error ? error.message : String(error)),
          });
        }
      }

      if (parsed.data.json) {
        process.stdout.write(`${JSON.stringify(outcomes, null, 2)}\n`);
      } else {
        for (const outcome of outcomes) {
          process.stdout.write(
            `${outcome.ok ? 'OK  ' : 'FAIL'}  ${outcome.file}${outcome.workflowId ? ` (${outcome.workflowId})` : ''}${outcome.error ? `: ${outcome.error}` : ''}\n`,
          );
        }
        const failed = outcomes.filter((outcome) => !outcome.ok).length;
        process.stdout.write(`${outcomes.length - failed} of ${outcomes.length} histories replay cleanly\n`);
      }
      if (outcomes.some((outcome) => !outcome.ok)) process.exitCode = 1;
    });
}
