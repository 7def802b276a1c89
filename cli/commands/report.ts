import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ownersFilePath } from '../../lib/owners';
import { loadReportInput, ReportSourceError } from '../../reports/collect';
import { buildReport } from '../../reports/model';
import { renderHtml, renderMarkdown } from '../../reports/render';
import { CliError } from '../errors';
import { withClient } from '../temporal';

const reportArgs = z
  .object({
    incidentId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,255}$/, 'expected an incident id such as incident-0123abcd…'),
    out: z.string().min(1).default('.'),
    json: z.boolean().optional(),
  })
  .strict();

export function registerReportCommands(program: Command): void {
  program
    .command('report <incidentId>')
    .description(
      'write the after-action report of an incident (real or exercise): <out>/<incident>.md and .html — ' +
        'milestones vs SLA targets, timeline chart, owner response times, escalations, break-glass, findings',
    )
    .option('--out <dir>', 'where to write the two files', '.')
    .option('--json', 'print { incidentId, reports: { markdown, html } }')
    .action(async (incidentId: string, raw: Record<string, unknown>) => {
      const parsed = reportArgs.safeParse({ incidentId, ...raw });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = String(issue.path[0]);
        throw new CliError(`${field === 'incidentId' ? '<incidentId>' : `--${field}`}: ${issue.message}`, 2);
      }
      const args = parsed.data;
      await withClient(async (client, config) => {
        const input = await loadReportInput(client, args.incidentId, {
          dataDir: config.dataDir,
          ownersFile: ownersFilePath(),
        }).catch((error: unknown) => {
          if (error instanceof ReportSourceError) throw new CliError(error.message);
          throw error;
        });
        const report = buildReport(input);
        const dir = resolve(args.out);
        mkdirSync(dir, { recursive: true });
        const reports = {
          markdown: join(dir, `${args.incidentId}.md`),
          html: join(dir, `${args.incidentId}.html`),
        };
        writeFileSync(reports.markdown, renderMarkdown(report));
        writeFileSync(reports.html, renderHtml(report));
        if (args.json) {
          process.stdout.write(`${JSON.stringify({ incidentId: args.incidentId, reports })}\n`);
        } else {
          const missed = report.milestones.filter(
            (row) => row.outcome === 'missed' || row.outcome === 'not-reached',
          );
          process.stdout.write(
            `${args.incidentId}: ${report.state}, ${report.findings.length} finding(s), ${missed.length} milestone(s) missed\n` +
              `  ${reports.html}\n  ${reports.markdown}\n`,
          );
        }
      });
    });
}
