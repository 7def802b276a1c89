import { escapeXml, renderGantt, renderMermaidGantt } from './gantt';
import { formatDuration, formatOffset, type AfterActionReport, type MilestoneRow } from './model';

const OUTCOME_TEXT: Record<MilestoneRow['outcome'], string> = {
  met: 'met',
  missed: 'MISSED',
  'not-reached': 'NOT REACHED',
  'not-applicable': 'n/a',
};

/** Scenario time, with the real time beside it when the exercise clock ran faster. */
function when(report: AfterActionReport, offsetMs: number | undefined, realMs?: number): string {
  if (offsetMs === undefined) return '—';
  if (report.speed === 1) return formatOffset(offsetMs);
  const real = realMs ?? offsetMs / report.speed;
  return `${formatOffset(offsetMs)} (${(real / 1000).toFixed(1)} s real)`;
}

/** A Markdown table cell: pipes escaped, one line, no raw HTML from timeline details. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, ' ');
}

function table(headers: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['_None._'];
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}

function sections(report: AfterActionReport) {
  const milestones = report.milestones.map((row) => [
    row.label,
    formatDuration(row.targetMs),
    when(report, row.offsetMs, row.realOffsetMs),
    OUTCOME_TEXT[row.outcome],
    row.outcome === 'not-reached' ? `blocked by ${row.blockers.join(', ')}` : row.steps.join(', '),
  ]);
  const owners = report.owners.map((owner) => [
    owner.identity,
    [...new Set(owner.responses.map((response) => response.role ?? '?'))].join(', '),
    owner.responses
      .map(
        (response) =>
          `${response.stepId}: ${response.decision} after ${formatDuration(response.afterMs)}${response.reason ? ` ("${response.reason}")` : ''}`,
      )
      .join('; '),
    formatDuration(owner.medianMs),
    formatDuration(owner.maxMs),
  ]);
  const roles = report.roles.map((role) => [
    role.role,
    role.asked.join(', ') || '—',
    role.answered.join(', ') || '—',
    role.missed.join(', ') || '—',
  ]);
  const escalations = [
    ...report.escalations.map((event) => ({ event, what: 'escalation' })),
    ...report.breakGlass.map((event) => ({ event, what: 'break-glass' })),
  ]
    .sort((a, b) => a.event.offsetMs - b.event.offsetMs)
    .map(({ event, what }) => [formatOffset(event.offsetMs), event.stepId ?? '', what, event.detail ?? '']);
  const timeline = [
    // Notes are listed below from report.notes, which also holds the ones the timeline does not.
    ...report.timeline
      .filter((event) => event.type !== 'note')
      .map((event) => ({
        offsetMs: event.offsetMs,
        row: [formatOffset(event.offsetMs), event.type, event.stepId ?? '', event.actor, event.detail ?? ''],
      })),
    ...report.notes.map((note) => ({
      offsetMs: note.offsetMs,
      row: [
        formatOffset(note.offsetMs),
        note.by ? 'note' : `inject:${note.kind}`,
        '',
        note.by ?? 'exercise',
        note.text,
      ],
    })),
  ]
    .sort((a, b) => a.offsetMs - b.offsetMs)
    .map((entry) => entry.row);
  const steps = report.steps.map((step) => [
    step.id,
    step.phase,
    step.owner ?? '',
    step.state,
    step.provider ?? '',
    step.attempts ? String(step.attempts) : '',
    [step.error ?? step.reason, step.items].filter(Boolean).join('; '),
  ]);
  return { milestones, owners, roles, escalations, steps, timeline };
}

const DEMO_BANNER =
  'Demo mode (TOURNIQUET_MODE=demo): every step whose system had no configured provider ran against a simulation and changed nothing; the Steps table names who acted (`simulated:<system>`).';

function notesHeading(report: AfterActionReport): string {
  return report.exercise ? 'Injects and notes' : 'Notes';
}

function noteLine(note: AfterActionReport['notes'][number]): string {
  return `${formatOffset(note.offsetMs)} (${note.by ? `note by ${note.by}` : note.kind}) ${note.text}`;
}

function facts(report: AfterActionReport): [string, string][] {
  return [
    ['Incident', report.incidentId],
    ...(report.exercise
      ? ([
          ['Exercise', `${report.exercise.title} (${report.exercise.scenarioId})`],
          [
            'Clock',
            `×${report.speed}: ${formatDuration(report.durationMs)} of scenario in ${(report.realDurationMs / 1000).toFixed(1)} s. ` +
              `Deadlines and responders run ${report.speed} times faster; machine work does not, so 1 s of it reads as ${formatDuration(1000 * report.speed)} (real times are shown beside).`,
          ],
        ] as [string, string][])
      : []),
    ['Runbook', report.runbookId],
    ['State', report.state],
    ['Severity', report.severity],
    ['Connector', report.connector],
    ['Opened', report.openedAt],
    ['Closed', report.closedAt ?? '—'],
    ['Duration', formatDuration(report.durationMs)],
    [
      'Alerts',
      `${report.alerts.count}${
        Object.keys(report.alerts.sources).length
          ? ` (${Object.entries(report.alerts.sources)
              .map(([source, count]) => `${source}: ${count}`)
              .join(', ')})`
          : ''
      }`,
    ],
  ];
}

export function renderMarkdown(report: AfterActionReport): string {
  const s = sections(report);
  const lines = [
    `# After-action report: ${report.title}`,
    '',
    ...(report.exercise
      ? [
          '> **Tabletop exercise.** Every action ran against simulated systems; no real system was called.',
          '',
        ]
      : []),
    ...(report.demo ? [`> **SIMULATED.** ${DEMO_BANNER}`, ''] : []),
    ...table(
      ['', ''],
      facts(report).map(([key, value]) => [`**${key}**`, value]),
    ),
    '',
    '## Milestones',
    '',
    `Scenario time from the incident opening${report.speed === 1 ? '' : ` (real time × ${report.speed})`}.`,
    '',
    ...table(['Milestone', 'Target', 'Reached', 'Outcome', 'Steps'], s.milestones),
    '',
    '## Findings',
    '',
    ...(report.findings.length === 0
      ? ['_None._']
      : report.findings.map((finding) => `- **${finding.severity}** (${finding.kind}) ${finding.text}`)),
    '',
    '## Timeline',
    '',
    'The HTML report draws this chart as SVG.',
    '',
    renderMermaidGantt(report),
    '',
    '## Owner response times',
    '',
    ...table(['Approver', 'Role', 'Responses', 'Median', 'Slowest'], s.owners),
    '',
    ...table(['Role', 'Asked for', 'Answered', 'Missed the deadline'], s.roles),
    '',
    '## Escalations and break-glass',
    '',
    ...table(['At', 'Step', 'What', 'Detail'], s.escalations),
    '',
    ...(report.notes.length > 0
      ? [
          `## ${notesHeading(report)}`,
          '',
          ...report.notes.map((note, index) => `${index + 1}. ${noteLine(note)}`),
          '',
        ]
      : []),
    ...(report.proofOfDeath.length > 0
      ? [
          '## Proof of death',
          '',
          ...report.proofOfDeath.flatMap((proof) => [
            `**${proof.stepId}** (${proof.provider}): ${proof.verdict}`,
            '',
            ...(proof.facts.length > 0 ? [...table(['Fact', 'Value'], proof.facts), ''] : []),
          ]),
        ]
      : []),
    '## Steps',
    '',
    ...table(['Step', 'Phase', 'Owner', 'State', 'Provider', 'Attempts', 'Note'], s.steps),
    '',
    '## Full timeline',
    '',
    ...table(['At', 'Event', 'Step', 'Actor', 'Detail'], s.timeline),
    '',
    ...(report.exercise?.references?.length
      ? ['## References', '', ...report.exercise.references.map((reference) => `- ${reference}`), '']
      : []),
    `_Generated ${report.generatedAt} by Tourniquet._`,
    '',
  ];
  return lines.join('\n');
}

function htmlTable(headers: string[], rows: string[][], className = ''): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return [
    `<table${className ? ` class="${className}"` : ''}><thead><tr>${headers.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>`,
    ...rows.map((row) => `<tr>${row.map((value) => `<td>${escapeXml(value)}</td>`).join('')}</tr>`),
    '</tbody></table>',
  ].join('\n');
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1040px; color: #212529; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #dee2e6; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #dee2e6; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f8f9fa; }
.banner { background: #fff3bf; border: 1px solid #fab005; padding: .5rem .8rem; border-radius: 4px; }
.facts td:first-child { font-weight: 600; width: 10rem; }
.outcome-met { color: #2f8f4e; font-weight: 600; } .outcome-missed, .outcome-not-reached { color: #b02a37; font-weight: 700; }
.finding-high { color: #b02a37; } .finding-medium { color: #e8590c; } .finding-low { color: #495057; }
.chart { overflow-x: auto; border: 1px solid #dee2e6; padding: .3rem; }
.legend span { display: inline-block; margin-right: 1rem; font-size: .8rem; }
.legend i { display: inline-block; width: .9rem; height: .7rem; margin-right: .3rem; vertical-align: middle; }
.none { color: #868e96; font-style: italic; }
`;

/** One self-contained HTML file: inline CSS and SVG, no script, nothing fetched. */
export function renderHtml(report: AfterActionReport): string {
  const s = sections(report);
  const milestoneRows = report.milestones
    .map((row, index) => {
      const cells = s.milestones[index];
      return `<tr><td>${escapeXml(cells[0])}</td><td>${escapeXml(cells[1])}</td><td>${escapeXml(cells[2])}</td><td class="outcome-${row.outcome}">${escapeXml(cells[3])}</td><td>${escapeXml(cells[4])}</td></tr>`;
    })
    .join('\n');
  const findings =
    report.findings.length === 0
      ? '<p class="none">None.</p>'
      : `<ul class="findings">${report.findings
          .map(
            (finding) =>
              `<li class="finding-${finding.severity}" data-kind="${finding.kind}"><strong>${finding.severity}</strong> (${escapeXml(finding.kind)}) ${escapeXml(finding.text)}</li>`,
          )
          .join('\n')}</ul>`;
  const notes =
    report.notes.length === 0
      ? ''
      : `<h2>${notesHeading(report)}</h2><ol>${report.notes
          .map((note) => `<li>${escapeXml(noteLine(note))}</li>`)
          .join('')}</ol>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(`After-action report: ${report.title}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>After-action report: ${escapeXml(report.title)}</h1>
${report.exercise ? '<p class="banner"><strong>Tabletop exercise.</strong> Every action ran against simulated systems; no real system was called.</p>' : ''}
${report.demo ? `<p class="banner"><strong>SIMULATED.</strong> ${escapeXml(DEMO_BANNER)}</p>` : ''}
<table class="facts"><tbody>${facts(report)
    .map(([key, value]) => `<tr><td>${escapeXml(key)}</td><td>${escapeXml(value)}</td></tr>`)
    .join('')}</tbody></table>
<h2>Milestones</h2>
<p>Scenario time from the incident opening${report.speed === 1 ? '' : ` (real time × ${report.speed})`}.</p>
<table class="milestones"><thead><tr><th>Milestone</th><th>Target</th><th>Reached</th><th>Outcome</th><th>Steps</th></tr></thead><tbody>
${milestoneRows}
</tbody></table>
<h2>Findings</h2>
${findings}
<h2>Timeline</h2>
<p class="legend"><span><i style="background:#f2c14e"></i>waiting for approval</span><span><i style="background:#2f8f4e"></i>ran</span><span><i style="background:#d9534f"></i>failed</span><span><i style="background:#b02a37"></i>denied</span><span>▲ escalation</span><span>◆ break-glass</span><span style="color:#1c7ed6">│ milestone</span><span style="color:#868e96">┆ inject</span></p>
<div class="chart">
${renderGantt(report)}
</div>
<h2>Owner response times</h2>
${htmlTable(['Approver', 'Role', 'Responses', 'Median', 'Slowest'], s.owners, 'owners')}
${htmlTable(['Role', 'Asked for', 'Answered', 'Missed the deadline'], s.roles, 'roles')}
<h2>Escalations and break-glass</h2>
${htmlTable(['At', 'Step', 'What', 'Detail'], s.escalations, 'escalations')}
${notes}
${
  report.proofOfDeath.length > 0
    ? `<h2>Proof of death</h2>${report.proofOfDeath
        .map(
          (proof) =>
            `<p><strong>${escapeXml(proof.stepId)}</strong> (${escapeXml(proof.provider)}): ${escapeXml(proof.verdict)}</p>${
              proof.facts.length > 0 ? htmlTable(['Fact', 'Value'], proof.facts, 'proof') : ''
            }`,
        )
        .join('\n')}`
    : ''
}
<h2>Steps</h2>
${htmlTable(['Step', 'Phase', 'Owner', 'State', 'Provider', 'Attempts', 'Note'], s.steps, 'steps')}
<h2>Full timeline</h2>
${htmlTable(['At', 'Event', 'Step', 'Actor', 'Detail'], s.timeline, 'timeline')}
${report.exercise?.references?.length ? `<h2>References</h2><ul>${report.exercise.references.map((reference) => `<li>${escapeXml(reference)}</li>`).join('')}</ul>` : ''}
<p class="none">Generated ${escapeXml(report.generatedAt)} by Tourniquet.</p>
</body>
</html>
`;
}
