import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ExerciseError, prepareExercise, runExercise } from '../../exercises/engine';
import { loadScenarioFile } from '../../exercises/scenario';
import { loadConfig } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal-tls';
import { fingerprintKeyOf } from '../../lib/keys';
import { createLogger } from '../../lib/logger';
import { formatIssues } from '../../runbooks';
import { formatDuration, formatOffset } from '../../reports/model';
import { CliError } from '../errors';
import { withClient } from '../temporal';

const runOptions = z
  .object({
    report: z
      .string()
      .regex(/\.html?$/i, 'expected the path of an .html file')
      .optional(),
    json: z.boolean().optional(),
  })
  .strict();

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function loadOrFail(file: string) {
  const loaded = loadScenarioFile(resolve(file));
  if (!loaded.ok) throw new CliError(formatIssues({ ...loaded, file }).join('\n'), 2);
  return loaded;
}

export function registerExerciseCommands(program: Command): void {
  const exercise = program
    .command('exercise')
    .description('tabletop exercises: the production runbook against simulated systems, scripted responders');

  exercise
    .command('run <scenario>')
    .description(
      'run a scenario (runbooks/exercises/*.yaml) on its accelerated clock against the running stack’s Temporal; ' +
        'starts its own worker (simulated providers only, exercise owners) and writes the after-action report',
    )
    .option('--report <file.html>', 'also write the HTML report here (the Markdown goes beside it, .md)')
    .option('--json', 'print { incidentId, reports: { markdown, html } }')
    .action(async (scenarioFile: string, raw: unknown) => {
      const parsed = runOptions.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CliError(`--${String(issue.path[0])}: ${issue.message}`, 2);
      }
      const options = parsed.data;
      const loaded = loadOrFail(scenarioFile);

      const config = loadConfig();
      const fingerprintKey = fingerprintKeyOf(config);
      // Validate against the runbook before anything starts: a bad scenario is a usage error.
      try {
        prepareExercise(loaded.scenario, {
          scenarioFile: loaded.file,
          fingerprintKey,
          runbooksDir: config.TOURNIQUET_RUNBOOKS_DIR,
        });
      } catch (error) {
        if (error instanceof ExerciseError) throw new CliError(error.message, 2);
        throw error;
      }

      await withClient(async (client) => {
        const result = await runExercise({
          scenario: loaded.scenario,
          scenarioFile: loaded.file,
          scenarioSha256: loaded.sha256,
          client,
          ...temporalConnectionOptions(config),
          namespace: config.TEMPORAL_NAMESPACE,
          dataDir: config.dataDir,
          fingerprintKey,
          // The exercise's own worker logs its injected faults as warnings: quiet unless a level is asked for.
          logger: createLogger(process.env.TOURNIQUET_LOG_LEVEL ? config.TOURNIQUET_LOG_LEVEL : 'error'),
          workflowBundlePath: config.TOURNIQUET_WORKFLOW_BUNDLE,
          runbooksDir: config.TOURNIQUET_RUNBOOKS_DIR,
          progress: options.json ? undefined : say,
        });

        let reports = result.reports;
        if (options.report) {
          const html = resolve(options.report);
          const markdown = html.replace(/\.html?$/i, '.md');
          mkdirSync(dirname(html), { recursive: true });
          copyFileSync(result.reports.html, html);
          copyFileSync(result.reports.markdown, markdown);
          reports = { markdown, html };
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ incidentId: result.incidentId, reports })}\n`);
        } else {
          const { report } = result;
          say(
            `${result.incidentId}: ${report.state} - ${formatDuration(report.durationMs)} of scenario in ${(result.wallMs / 1000).toFixed(1)} s (×${report.speed})`,
          );
          for (const row of report.milestones) {
            const at = row.offsetMs === undefined ? '-' : formatOffset(row.offsetMs);
            say(
              `  ${row.label.padEnd(21)} ${at.padEnd(10)} target ${formatDuration(row.targetMs).padEnd(8)} ${row.outcome}`,
            );
          }
          say(
            `  findings: ${report.findings.length} (${report.findings.filter((f) => f.severity === 'high').length} high)`,
          );
          say(`  report: ${reports.html}`);
          say(`  report: ${reports.markdown}`);
        }
        if (result.record.outcome !== 'closed') {
          throw new CliError(
            `exercise ${result.incidentId} ${result.record.outcome}: the incident did not close in time`,
          );
        }
      });
    });

  exercise
    .command('validate <scenarios...>')
    .description('check scenario files: schema, runbook, responders for every role asked, fault targets')
    .action((files: string[]) => {
      let failed = false;
      for (const file of files) {
        const loaded = loadScenarioFile(resolve(file));
        const issues = loaded.ok
          ? (() => {
              try {
                prepareExercise(loaded.scenario, {
                  scenarioFile: loaded.file,
                  fingerprintKey: Buffer.alloc(32),
                  runbooksDir: process.env.TOURNIQUET_RUNBOOKS_DIR,
                });
                return [];
              } catch (error) {
                if (error instanceof ExerciseError) return error.issues;
                throw error;
              }
            })()
          : loaded.issues;
        if (issues.length === 0) {
          say(`${file}: ok`);
        } else {
          failed = true;
          for (const line of formatIssues({ file, issues })) process.stderr.write(`${line}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}
