/**
 * Secret scrubbing on 1 MiB bodies: must stay linear in the body size.
 * 1. A body packed with matches (a quadratic overlap check once took over 10 s).
 * 2. Adversarial bodies: a prefix repeated, so that every position starts a candidate (a JWT pattern that
 *    re-scanned the rest of the run from every `eyJ` took 2.6 s on `eyJ-` repeated), random base64, and matches
 *    that overlap one another in one chain through the body (resolving them pair by pair took 3.5 s).
 * Run: npx tsx bench/scrub.ts
 */
import { randomBytes } from 'node:crypto';
import { scrubSecrets } from '../gateway/siem';

const key = Buffer.alloc(32, 1);
const MIB = 1024 * 1024;

function measure(label: string, body: unknown): void {
  let best = Infinity;
  let findings = 0;
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    findings = scrubSecrets(body, key).findings.length;
    best = Math.min(best, performance.now() - started);
  }
  process.stdout.write(`${label}: ${best.toFixed(0)} ms (best of 3), ${findings} findings\n`);
}

for (const count of [12_000, 24_000, 48_000, 95_000]) {
  const body = {
    log: Array.from({ length: count }, (_, index) => `token=v${index.toString(36).padStart(4, '0')}`).join(
      ' ',
    ),
  };
  measure(`${count} matches (${JSON.stringify(body).length} bytes)`, body);
}

/** `token=` values run into the next connection-string password, which runs into the next `token=` value. */
function chainedOverlaps(size: number): string {
  let text = '';
  for (let id = 0; text.length < size;) {
    let keyIds = '';
    while (keyIds.length < 480) keyIds += `AKIA${(id++).toString(36).toUpperCase().padStart(16, '0')}-`;
    text += `a1://u:-token=xy@${keyIds.padEnd(501, 'x')}`;
  }
  return text.slice(0, size);
}

const repeated = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const adversarial: [string, (size: number) => string][] = [
  ['eyJ- repeated', (size) => repeated('eyJ-', size)],
  ['eyJ. repeated', (size) => repeated('eyJ.', size)],
  ['ghp_ repeated', (size) => repeated('ghp_', size)],
  ['github_pat_ repeated', (size) => repeated('github_pat_', size)],
  ['AKIA repeated', (size) => repeated('AKIA', size)],
  ['xoxb- repeated', (size) => repeated('xoxb-', size)],
  ['n8n_api_ repeated', (size) => repeated('n8n_api_', size)],
  ['://a: repeated', (size) => repeated('://a:', size)],
  ['ab://a: repeated', (size) => repeated('ab://a:', size)],
  ['token= repeated', (size) => repeated('token=', size)],
  ['[REDACTED: repeated', (size) => repeated('[REDACTED:', size)],
  ['random base64', (size) => randomBytes(size).toString('base64').slice(0, size)],
  ['random base64url', (size) => randomBytes(size).toString('base64url').slice(0, size)],
  ['chained overlaps', chainedOverlaps],
];
// A quarter and the whole size: linear work takes about four times as long on the whole.
for (const [label, make] of adversarial) {
  for (const size of [MIB / 4, MIB]) measure(`${label}, ${size / 1024} KiB`, { log: make(size) });
}
