import { PHASES } from '../lib/runbook/types';
import { formatOffset, type AfterActionReport } from './model';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const COLORS = {
  wait: '#f2c14e',
  denied: '#b02a37',
  succeeded: '#2f8f4e',
  failed: '#d9534f',
  other: '#6c757d',
  escalation: '#e8590c',
  breakGlass: '#c2255c',
  milestone: '#1c7ed6',
  note: '#868e96',
  grid: '#e9ecef',
  phase: '#f1f3f5',
};

const TICKS_MS = [
  1_000,
  5_000,
  15_000,
  30_000,
  60_000,
  5 * 60_000,
  10 * 60_000,
  15 * 60_000,
  30 * 60_000,
  3_600_000,
  2 * 3_600_000,
  4 * 3_600_000,
  12 * 3_600_000,
  86_400_000,
];

/**
 * The incident as an inline SVG Gantt chart in scenario time: one row per step grouped by phase, the
 * approval wait (amber; escalations ▲, break-glass ◆) before the execution (green / red), milestones as blue
 * lines, exercise injects as grey dashed lines numbered like the notes list.
 */
export function renderGantt(report: AfterActionReport): string {
  const width = 980;
  const labelWidth = 250;
  const left = labelWidth + 10;
  const right = width - 20;
  const rowHeight = 22;
  const reached = report.milestones.filter((row) => row.offsetMs !== undefined);
  const headerHeight = 24 + Math.max(reached.length, 1) * 14;
  const offsets = [
    report.durationMs,
    ...report.steps.flatMap((step) => [step.approval?.to ?? 0, step.run?.to ?? 0]),
    ...report.notes.map((note) => note.offsetMs),
  ];
  const span = Math.max(1_000, ...offsets);
  const tick = TICKS_MS.find((candidate) => span / candidate <= 10) ?? TICKS_MS[TICKS_MS.length - 1];
  const max = Math.ceil(span / tick) * tick;
  const x = (ms: number) => left + (Math.max(0, Math.min(ms, max)) / max) * (right - left);

  const rows: string[] = [];
  let y = headerHeight;
  for (const phase of PHASES) {
    const steps = report.steps.filter((step) => step.phase === phase);
    if (steps.length === 0) continue;
    rows.push(
      `<rect x="0" y="${y}" width="${width}" height="${rowHeight}" fill="${COLORS.phase}"/>`,
      `<text x="8" y="${y + 15}" font-weight="bold">${escapeXml(phase)}</text>`,
    );
    y += rowHeight;
    for (const step of steps) {
      const label = `${step.id}${step.state === 'succeeded' ? '' : ` (${step.state})`}`;
      rows.push(
        `<text x="20" y="${y + 15}" fill="${step.state === 'skipped' ? COLORS.other : '#212529'}">${escapeXml(label)}<title>${escapeXml(`${step.title}${step.reason ? ` — ${step.reason}` : ''}${step.error ? ` — ${step.error}` : ''}`)}</title></text>`,
      );
      if (step.approval) {
        const a = step.approval;
        const fill = a.outcome === 'denied' ? COLORS.denied : COLORS.wait;
        rows.push(
          `<rect class="wait" x="${x(a.from).toFixed(1)}" y="${y + 5}" width="${Math.max(2, x(a.to) - x(a.from)).toFixed(1)}" height="${rowHeight - 10}" fill="${fill}" opacity="0.85"><title>${escapeXml(`${step.id}: waiting for approval ${formatOffset(a.from)} → ${formatOffset(a.to)} (${a.outcome})`)}</title></rect>`,
        );
        for (const at of a.escalations) {
          const cx = x(at);
          rows.push(
            `<path class="escalation" d="M${cx.toFixed(1)},${y + 3} l5,8 l-10,0 z" fill="${COLORS.escalation}"><title>escalated at ${escapeXml(formatOffset(at))}</title></path>`,
          );
        }
        if (a.breakGlass !== undefined) {
          const cx = x(a.breakGlass);
          rows.push(
            `<path class="break-glass" d="M${cx.toFixed(1)},${y + 4} l6,7 l-6,7 l-6,-7 z" fill="${COLORS.breakGlass}"><title>break-glass at ${escapeXml(formatOffset(a.breakGlass))}</title></path>`,
          );
        }
      }
      if (step.run) {
        const r = step.run;
        const fill =
          r.outcome === 'succeeded'
            ? COLORS.succeeded
            : r.outcome === 'failed'
              ? COLORS.failed
              : COLORS.other;
        rows.push(
          `<rect class="run" x="${x(r.from).toFixed(1)}" y="${y + 4}" width="${Math.max(3, x(r.to) - x(r.from)).toFixed(1)}" height="${rowHeight - 8}" fill="${fill}"><title>${escapeXml(`${step.id}: ${r.outcome} ${formatOffset(r.from)} → ${formatOffset(r.to)}${step.attempts && step.attempts > 1 ? `, ${step.attempts} attempts` : ''}`)}</title></rect>`,
        );
      }
      y += rowHeight;
    }
  }
  const height = y + 10;

  const grid: string[] = [];
  for (let at = 0; at <= max; at += tick) {
    grid.push(
      `<line x1="${x(at).toFixed(1)}" y1="${headerHeight - 4}" x2="${x(at).toFixed(1)}" y2="${y}" stroke="${COLORS.grid}"/>`,
      `<text x="${x(at).toFixed(1)}" y="14" text-anchor="middle" fill="#495057">${escapeXml(formatOffset(at))}</text>`,
    );
  }
  const markers: string[] = [];
  reached.forEach((row, index) => {
    const mx = x(row.offsetMs!);
    const labelY = 30 + index * 14;
    const anchor = mx > (left + right) / 2 ? 'end' : 'start';
    markers.push(
      `<line class="milestone" x1="${mx.toFixed(1)}" y1="${labelY - 10}" x2="${mx.toFixed(1)}" y2="${y}" stroke="${COLORS.milestone}" stroke-width="1.5"/>`,
      `<text x="${(mx + (anchor === 'end' ? -4 : 4)).toFixed(1)}" y="${labelY}" text-anchor="${anchor}" fill="${COLORS.milestone}">${escapeXml(`${row.label} ${formatOffset(row.offsetMs!)}`)}</text>`,
    );
  });
  report.notes.forEach((note, index) => {
    const nx = x(note.offsetMs);
    markers.push(
      `<line class="note" x1="${nx.toFixed(1)}" y1="${headerHeight - 4}" x2="${nx.toFixed(1)}" y2="${y}" stroke="${COLORS.note}" stroke-dasharray="4 3"><title>${escapeXml(`${formatOffset(note.offsetMs)} ${note.text}`)}</title></line>`,
      `<text x="${(nx + 3).toFixed(1)}" y="${y + 9}" fill="${COLORS.note}" font-size="10">${index + 1}</text>`,
    );
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="gantt" role="img" aria-label="Incident timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    ...grid,
    ...rows,
    ...markers,
    '</svg>',
  ].join('\n');
}

/** The same chart for Markdown viewers that render Mermaid (GitHub, GitLab), in scenario time. */
export function renderMermaidGantt(report: AfterActionReport): string {
  const clean = (text: string) => text.replace(/[:#;,\n]/g, ' ');
  const DAY = 86_400_000 - 1_000;
  const clock = (ms: number) => {
    const total = Math.round(Math.min(Math.max(0, ms), DAY) / 1000);
    const pad = (value: number) => String(value).padStart(2, '0');
    return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
  };
  const bar = (from: number, to: number) => `${clock(from)}, ${clock(Math.max(to, from + 1_000))}`;
  const lines = [
    '```mermaid',
    'gantt',
    `  title ${clean(report.title)} (scenario time)`,
    '  dateFormat HH:mm:ss',
    '  axisFormat %H:%M',
  ];
  for (const phase of PHASES) {
    const steps = report.steps.filter((step) => step.phase === phase && (step.approval || step.run));
    if (steps.length === 0) continue;
    lines.push(`  section ${phase}`);
    for (const step of steps) {
      if (step.approval) {
        const a = step.approval;
        const tag = a.outcome === 'denied' ? 'crit, ' : a.breakGlass !== undefined ? 'active, ' : '';
        lines.push(`  ${clean(step.id)} approval (${clean(a.outcome)}) :${tag}${bar(a.from, a.to)}`);
      }
      if (step.run) {
        const tag = step.run.outcome === 'failed' ? 'crit, ' : 'done, ';
        lines.push(`  ${clean(step.id)} :${tag}${bar(step.run.from, step.run.to)}`);
      }
    }
  }
  const reached = report.milestones.filter((row) => row.offsetMs !== undefined);
  if (reached.length > 0) {
    lines.push('  section milestones');
    for (const row of reached) lines.push(`  ${clean(row.label)} :milestone, ${clock(row.offsetMs!)}, 0s`);
  }
  lines.push('```');
  return lines.join('\n');
}
