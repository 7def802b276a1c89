import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { EvidenceError, errnoCode } from './errors';
import { processIsAlive, sleep } from './fs-util';

const lockOwnerSchema = z.object({ pid: z.number().int().positive(), host: z.string(), token: z.string() });

/** A lock file whose writer died before filling it in is considered abandoned after this long. */
const UNREADABLE_LOCK_GRACE_MS = 10_000;

/** Serialises writers in this process; the lock file then serialises processes. */
const inProcessTails = new Map<string, Promise<void>>();

/**
 * Runs `critical` while holding the lock at `lockPath`, both against other callers in this process and against
 * other processes on this host (an O_EXCL lock file holding our pid). A lock left by a dead process is broken.
 */
export async function withFileLock<T>(
  lockPath: string,
  description: string,
  critical: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const previous = inProcessTails.get(lockPath) ?? Promise.resolve();
  let releaseInProcess!: () => void;
  const mine = new Promise<void>((resolve) => (releaseInProcess = resolve));
  const tail = previous.then(() => mine);
  inProcessTails.set(lockPath, tail);
  await previous;
  try {
    const token = await acquireLockFile(lockPath, description, timeoutMs);
    try {
      return await critical();
    } finally {
      await releaseLockFile(lockPath, token);
    }
  } finally {
    releaseInProcess();
    if (inProcessTails.get(lockPath) === tail) inProcessTails.delete(lockPath);
  }
}

async function acquireLockFile(lockPath: string, description: string, timeoutMs: number): Promise<string> {
  const token = randomBytes(12).toString('hex');
  const owner = JSON.stringify({ pid: process.pid, host: hostname(), token });
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(owner);
      } finally {
        await handle.close();
      }
      return token;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const holder = await readHolder(lockPath);
    if (holder.abandoned) {
      await breakLock(lockPath, holder.content);
      continue;
    }
    if (Date.now() > deadline) {
      throw new EvidenceError(
        `timed out after ${timeoutMs} ms waiting for the lock of ${description}` +
          (holder.pid ? ` (held by process ${holder.pid})` : ''),
        'lock-timeout',
      );
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

async function readHolder(
  lockPath: string,
): Promise<{ abandoned: boolean; content: string | undefined; pid?: number }> {
  let content: string;
  try {
    content = await readFile(lockPath, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { abandoned: false, content: undefined };
    throw error;
  }
  const parsed = lockOwnerSchema.safeParse(safeJson(content));
  const owner = parsed.success ? parsed.data : undefined;
  if (!owner) {
    const age = await lockAge(lockPath);
    return { abandoned: age !== undefined && age > UNREADABLE_LOCK_GRACE_MS, content };
  }
  // Another host's pid means nothing here: such a lock is only ever waited for.
  const abandoned = owner.host === hostname() && !processIsAlive(owner.pid);
  return { abandoned, content, pid: owner.pid };
}

async function lockAge(lockPath: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Removes the lock only if it still holds what we judged abandoned, so a fresh holder's lock survives. */
async function breakLock(lockPath: string, judged: string | undefined): Promise<void> {
  try {
    const current = await readFile(lockPath, 'utf8');
    if (current === judged) await unlink(lockPath);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
}

async function releaseLockFile(lockPath: string, token: string): Promise<void> {
  let content: string;
  try {
    content = await readFile(lockPath, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  const owner = lockOwnerSchema.safeParse(safeJson(content));
  // Anything but our own token means someone judged our lock abandoned and took over: theirs stays.
  if (owner.success && owner.data.token === token) await unlink(lockPath);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
