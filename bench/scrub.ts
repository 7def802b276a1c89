/**
 * Secret scrubbing on a 1 MiB SIEM body packed with matches: must stay linear (a quadratic version took over
 * 10 s). Run: npx tsx bench/scrub.ts
 */
import { scrubSecrets } from '../gateway/siem';

const key = Buffer.alloc(32, 1);
for (const count of [12_000, 24_000, 48_000, 95_000]) {
  const body = {
    log: Array.from({ length: count }, (_, index) => `token=v${index.toString(36).padStart(4, '0')}`).join(
      ' ',
    ),
  };
  const started = performance.now();
  const { findings } = scrubSecrets(body, key);
  const ms = performance.now() - started;
  process.stdout.write(
    `${count} matches (${JSON.stringify(body).length} bytes): ${ms.toFixed(0)} ms, ${findings.length} findings\n`,
  );
}
