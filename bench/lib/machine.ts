import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** Peak and current resident memory of a process, from /proc/<pid>/status (Linux), in KiB. */
export function processMemory(pid: number): { vmHwmKiB: number; vmRssKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : Number.NaN;
  };
  return { vmHwmKiB: field('VmHWM'), vmRssKiB: field('VmRSS') };
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function describeMachine(): string {
  const cpu = cpus();
  return `${cpu.length} vCPU ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
}

export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}

/** Samples the 1-minute load average while a benchmark runs, so a reader can tell a quiet run from a noisy one. */
export class LoadSampler {
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 5_000) {
    this.samples.push(loadavg()[0]);
    this.timer = setInterval(() => this.samples.push(loadavg()[0]), everyMs);
    this.timer.unref();
  }

  stop(): { min: number; max: number; mean: number } {
    clearInterval(this.timer);
    this.samples.push(loadavg()[0]);
    return {
      min: Math.min(...this.samples),
      max: Math.max(...this.samples),
      mean: this.samples.reduce((sum, value) => sum + value, 0) / this.samples.length,
    };
  }
}
