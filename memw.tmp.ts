import { startStack } from './bench/lib/stack';
import { spawnWorkerProcess, killProcess } from './test/harness/worker';
import { readFileSync } from 'node:fs';
const smaps = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const out: Record<string, number> = {};
  let cur = '';
  for (const line of s.split('\n')) {
    const m = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (m) { cur = m[1] || '[anon]'; continue; }
    const r = line.match(/^Rss:\s+(\d+) kB/);
    if (r) out[cur] = (out[cur] ?? 0) + Number(r[1]);
  }
  return Object.entries(out).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k.replace(/.*\//, '')}=${Math.round(v / 1024)}M`).join(' ');
};
void (async () => {
  const stack = await startStack();
  const child = await spawnWorkerProcess({ TEMPORAL_ADDRESS: stack.temporal.address, TOURNIQUET_DATA_DIR: stack.dataDir, TEMPORAL_TASK_QUEUE: 'x', TOURNIQUET_LOG_LEVEL: 'error', ...(process.env.WNO ? { NODE_OPTIONS: process.env.WNO } : {}) }, { runbooks: [], compiled: true });
  await new Promise((r) => setTimeout(r, 3000));
  console.log(smaps(child.pid!));
  await killProcess(child, 'SIGTERM');
  await stack.stop();
  process.exit(0);
})();
