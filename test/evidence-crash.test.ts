import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openVault } from '../evidence/index';
import {
  REPO_ROOT,
  cleanEnv,
  generatedContent,
  incidentDir,
  listFiles,
  makeTempDir,
  manifestPath,
  objectPath,
  readAll,
  removeDir,
} from './fixtures/evidence/helpers';

const WRITER = join(__dirname, 'fixtures', 'evidence', 'writer.ts');

let dataDir: string;
beforeEach(async () => {
  dataDir = await makeTempDir();
});
afterEach(async () => {
  await removeDir(dataDir);
});

interface RunningWriter {
  child: ChildProcessWithoutNullStreams;
  committed: string[];
  /** Resolves once a stdout line satisfies `predicate`. */
  waitFor(predicate: (line: string) => boolean): Promise<void>;
  exited: Promise<NodeJS.Signals | null>;
}

function startWriter(args: string[]): RunningWriter {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', WRITER, dataDir, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(),
  });
  const committed: string[] = [];
  const waiters: { predicate: (line: string) => boolean; resolve: () => void }[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('committed ')) committed.push(line.slice('committed '.length));
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  return {
    child,
    committed,
    exited,
    waitFor: (predicate) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ predicate, resolve });
        void exited.then(() =>
          reject(new Error(`writer exited before the expected output; stderr: ${stderr}`)),
        );
      }),
  };
}

async function kill(writer: RunningWriter): Promise<void> {
  writer.child.kill('SIGKILL');
  expect(await writer.exited).toBe('SIGKILL');
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('a writer killed mid-write', () => {
  it('leaves only an encrypted partial outside the chain, and the vault still verifies', async () => {
    const canary = `tq-canary-${randomBytes(12).toString('hex')}`;
    const writer = startWriter(['inc-crash', 'stream', '400', canary]);
    await writer.waitFor(
      (line) => line.startsWith('progress ') && Number(line.split(' ')[1]) >= 8 * 1024 * 1024,
    );
    await kill(writer);
    expect(writer.committed).toHaveLength(1);

    const tmp = join(incidentDir(dataDir, 'inc-crash'), 'tmp');
    const partials = await readdir(tmp);
    expect(partials).toHaveLength(1);
    expect(partials[0]).toMatch(/^\d+-[0-9a-f]{12}\.partial$/);
    expect((await stat(join(tmp, partials[0]))).size).toBeGreaterThan(1024 * 1024);
    for (const file of await listFiles(dataDir)) {
      expect((await readFile(file)).includes(canary)).toBe(false);
    }

    const vault = await openVault({ dataDir, env: {} });
    const report = await vault.verify('inc-crash', { deep: true });
    expect(report).toMatchObject({ ok: true, entries: 1, artifacts: 1 });
    expect((await vault.list('inc-crash')).map((entry) => entry.type === 'artifact' && entry.name)).toEqual([
      'before-crash-0.log',
    ]);

    // The next writer carries on and sweeps the dead writer's partial.
    await vault.preserve({
      incidentId: 'inc-crash',
      stepId: 'capture-logs',
      source: 'retry',
      name: 'huge.log',
      contentType: 'text/plain',
      content: generatedContent(2 * 1024 * 1024, 'huge', canary),
    });
    expect(await readdir(tmp)).toEqual([]);
    expect(await vault.verify('inc-crash')).toMatchObject({ ok: true, entries: 2 });
  });

  it('keeps every committed entry and a verifiable chain when killed at random points', async () => {
    const vault = await openVault({ dataDir, env: {} });
    let committed = 0;
    for (let round = 0; round < 4; round += 1) {
      const writer = startWriter(['inc-loop', 'loop', `round${round}`]);
      const target = 1 + (round % 3);
      await writer.waitFor(() => writer.committed.length >= target);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 40)));
      await kill(writer);
      committed += writer.committed.length;

      const report = await vault.verify('inc-loop');
      expect(report.ok ? 'ok' : report.problem.message).toBe('ok');
      const entries = await vault.list('inc-loop');
      // Everything the writer reported as committed is there; at most the write in flight was added too.
      expect(entries.length).toBeGreaterThanOrEqual(committed);
      const preserved = new Set(entries.flatMap((entry) => ('sha256' in entry ? [entry.sha256] : [])));
      for (const sha256 of writer.committed) expect(preserved.has(sha256)).toBe(true);
      committed = entries.length;
    }
    // A lock or partial left by the last victim does not block the next writer.
    await vault.recordEvent('inc-loop', { kind: 'note', data: 'after the crashes' });
    expect(await vault.verify('inc-loop', { deep: true })).toMatchObject({
      ok: true,
      entries: committed + 1,
    });
  });
});

describe('remnants of an interrupted append', () => {
  const base = { incidentId: 'inc-remnant', stepId: 's', source: 'test', contentType: 'text/plain' };
  const preserve = (name: string, text: string) =>
    vaultPromise().then((vault) =>
      vault.preserve({ ...base, name, content: Readable.from([Buffer.from(text)]) }),
    );
  const vaultPromise = () => openVault({ dataDir, env: {} });

  it('ignores a torn last line the head does not cover, then trims it on the next append', async () => {
    await preserve('a.log', 'a');
    const path = manifestPath(dataDir, 'inc-remnant');
    const complete = await readFile(path, 'utf8');
    await appendFile(path, complete.slice(0, 57));
    const vault = await vaultPromise();
    expect(await vault.verify('inc-remnant')).toMatchObject({
      ok: true,
      entries: 1,
      notes: ['ignored an incomplete last line left by an interrupted append'],
    });
    await preserve('b.log', 'b');
    expect(await vault.verify('inc-remnant')).toMatchObject({ ok: true, entries: 2, notes: [] });
    expect((await readFile(path, 'utf8')).startsWith(complete)).toBe(true);
  });

  it('accepts entries the head does not cover yet and covers them on the next append', async () => {
    await preserve('a.log', 'a');
    const headPath = join(incidentDir(dataDir, 'inc-remnant'), 'head.json');
    const olderHead = await readFile(headPath);
    await preserve('b.log', 'b');
    await writeFile(headPath, olderHead);
    const vault = await vaultPromise();
    expect(await vault.verify('inc-remnant')).toMatchObject({
      ok: true,
      entries: 2,
      headSeq: 0,
      notes: [
        'entries 1..1 are not yet covered by the signed head (an append was interrupted); they verify on their own',
      ],
    });
    await preserve('c.log', 'c');
    expect(await vault.verify('inc-remnant')).toMatchObject({ ok: true, entries: 3, headSeq: 2, notes: [] });
  });

  it('breaks a lock left by a dead process', async () => {
    await preserve('a.log', 'a');
    const lock = join(incidentDir(dataDir, 'inc-remnant'), '.lock');
    await writeFile(lock, JSON.stringify({ pid: await deadPid(), host: hostname(), token: 'dead' }));
    await preserve('b.log', 'b');
    expect(await vaultPromise().then((vault) => vault.verify('inc-remnant'))).toMatchObject({
      ok: true,
      entries: 2,
    });
  });

  it('replaces a sealed object that no entry names (renamed in place, then the writer died)', async () => {
    await preserve('a.log', 'a');
    const text = 'content the dead writer was preserving';
    const sha256 = createHash('sha256').update(text).digest('hex');
    await writeFile(objectPath(dataDir, 'inc-remnant', sha256), randomBytes(500));
    const vault = await vaultPromise();
    expect(await vault.verify('inc-remnant')).toMatchObject({ ok: true, entries: 1 });
    await preserve('b.log', text);
    expect(await vault.verify('inc-remnant', { deep: true })).toMatchObject({ ok: true, entries: 2 });
    const opened = await vault.open('inc-remnant', sha256, {
      actor: 'test',
      reason: 'check the replacement',
    });
    expect((await readAll(opened.content)).toString()).toBe(text);
  });
});
