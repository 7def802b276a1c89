/**
 * Preserves one large generated artifact in a throwaway vault and reports peak RSS, to show that preserving,
 * verifying and opening are streamed in bounded memory whatever the artifact size.
 *
 *   npx tsx bench/evidence-large-artifact.ts [--mb 200]
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { openVault } from '../evidence/index';

const argsSchema = z.object({ mb: z.coerce.number().int().min(1).max(10_000).default(200) });

function parseArgs(argv: string[]): z.infer<typeof argsSchema> {
  const index = argv.indexOf('--mb');
  const parsed = argsSchema.safeParse({ mb: index >= 0 ? argv[index + 1] : undefined });
  if (!parsed.success) throw new Error(`--mb: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** Pseudo-random bytes from an AES-CTR keystream, produced on demand so the source itself holds ~64 KiB. */
function generated(totalBytes: number, seed: Buffer): Readable {
  const keystream = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= totalBytes) return void this.push(null);
      const size = Math.min(zeros.length, totalBytes - produced);
      produced += size;
      this.push(keystream.update(zeros.subarray(0, size)));
    },
  });
}

/** Samples RSS while a phase runs; V8 may lag behind in returning freed pages, so the peak is an upper bound. */
async function measure<T>(
  phase: () => Promise<T>,
): Promise<{ result: T; peakRssMiB: number; seconds: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = process.hrtime.bigint();
  try {
    const result = await phase();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakRssMiB: peak / 2 ** 20, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const { mb } = parseArgs(process.argv.slice(2));
  const bytes = mb * 1024 * 1024;
  const dataDir = await mkdtemp(join(tmpdir(), 'tq-evidence-bench-'));
  const seed = randomBytes(32);
  try {
    const vault = await openVault({ dataDir, env: {} });
    // Warm up keys and module loading so the baseline is the steady state of an idle vault.
    await vault.recordEvent('bench', { kind: 'note', data: 'warm-up' });
    const baselineRssMiB = process.memoryUsage().rss / 2 ** 20;

    const preserve = await measure(() =>
      vault.preserve({
        incidentId: 'bench',
        stepId: 'capture-logs',
        source: 'bench',
        name: `generated-${mb}MiB.log`,
        contentType: 'application/octet-stream',
        content: generated(bytes, seed),
      }),
    );
    const verify = await measure(() => vault.verify('bench', { deep: true }));
    if (!verify.result.ok) throw new Error(`verification failed: ${verify.result.problem.message}`);
    const open = await measure(async () => {
      const opened = await vault.open('bench', preserve.result.sha256, {
        actor: 'bench',
        reason: 'round trip',
      });
      const hash = createHash('sha256');
      for await (const chunk of opened.content) hash.update(chunk as Buffer);
      return hash.digest('hex');
    });
    if (open.result !== preserve.result.sha256) throw new Error('round trip changed the content');

    const row = (phase: string, run: { peakRssMiB: number; seconds: number }) => ({
      phase,
      seconds: Number(run.seconds.toFixed(2)),
      'MiB/s': Math.round(mb / run.seconds),
      'peak RSS MiB': Math.round(run.peakRssMiB),
    });
    console.table([
      row('preserve (encrypt + fsync)', preserve),
      row('verify --deep', verify),
      row('open + hash', open),
    ]);
    console.log(
      JSON.stringify({
        artifactMiB: mb,
        baselineRssMiB: Math.round(baselineRssMiB),
        peakRssMiB: Math.round(Math.max(preserve.peakRssMiB, verify.peakRssMiB, open.peakRssMiB)),
        maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        node: process.version,
      }),
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
