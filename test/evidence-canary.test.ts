import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openVault } from '../evidence/index';
import {
  cleanEnv,
  generatedContent,
  listFiles,
  makeTempDir,
  readAll,
  removeDir,
  runCli,
} from './fixtures/evidence/helpers';

let dataDir: string;
let outside: string;
beforeEach(async () => {
  dataDir = await makeTempDir();
  outside = await makeTempDir('tq-evidence-opened-');
});
afterEach(async () => {
  await removeDir(dataDir);
  await removeDir(outside);
});

/** The forms a leaked value could take if some code path logged or stored it. */
function encodings(secret: string): Buffer[] {
  return [
    Buffer.from(secret, 'utf8'),
    Buffer.from(secret, 'utf16le'),
    Buffer.from(Buffer.from(secret).toString('hex')),
    Buffer.from(Buffer.from(secret).toString('base64').slice(0, 24)),
  ];
}

async function filesContaining(root: string, secret: string): Promise<string[]> {
  const hits: string[] = [];
  for (const file of await listFiles(root)) {
    const bytes = await readFile(file);
    if (encodings(secret).some((form) => bytes.includes(form))) hits.push(file);
  }
  return hits;
}

describe('a preserved log containing a leaked secret', () => {
  it('never lands on disk in the clear, except where evidence open writes it', async () => {
    const canary = `ghp_${randomBytes(18).toString('hex')}`;
    const vault = await openVault({ dataDir, env: {} });
    const incidentId = 'incident-canary';
    const base = { incidentId, stepId: 'capture-logs', source: 'github:acme/app', contentType: 'text/plain' };

    // A 2 MB log with the secret every 50 000 bytes, so it also straddles the 64 KiB encryption chunks.
    const log = await vault.preserve({
      ...base,
      name: 'run-7.log',
      content: generatedContent(2_000_000, 'log', canary),
    });
    await vault.recordEvent(incidentId, {
      kind: 'slack-thread',
      stepId: 'notify',
      data: { messages: [{ user: 'U1', text: `oops, I pasted ${canary} here` }] },
    });
    const broken = new Readable({
      read() {
        this.push(Buffer.from(`partial ${canary} `.repeat(5000)));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(vault.preserve({ ...base, name: 'broken.log', content: broken })).rejects.toThrow(
      'reading the content to preserve failed',
    );

    const opened = await vault.open(incidentId, log.sha256, {
      actor: 'ic',
      reason: 'confirm the leaked value',
    });
    expect((await readAll(opened.content)).includes(canary)).toBe(true);

    await mkdir(join(dataDir, 'exports'));
    await vault.export(incidentId, {
      out: join(dataDir, 'exports', 'bundle.tar.gz'),
      actor: 'ic',
      reason: 'archive',
    });

    const env = cleanEnv();
    const cliRuns = await Promise.all([
      runCli(['evidence', '--data-dir', dataDir, 'list', incidentId], env),
      runCli(['evidence', '--data-dir', dataDir, 'list', '--json', incidentId], env),
      runCli(['evidence', '--data-dir', dataDir, 'verify', '--deep', incidentId], env),
      runCli(['evidence', '--data-dir', dataDir, 'verify', join(dataDir, 'exports', 'bundle.tar.gz')], env),
    ]);
    for (const run of cliRuns) {
      expect(run.code).toBe(0);
      expect(`${run.stdout}${run.stderr}`).not.toContain(canary);
    }
    const openedFile = join(outside, 'run-7.log');
    const openRun = await runCli(
      [
        'evidence',
        '--data-dir',
        dataDir,
        'open',
        incidentId,
        log.sha256,
        '--reason',
        'show it',
        '--out',
        openedFile,
      ],
      env,
    );
    expect(openRun.code).toBe(0);
    expect(`${openRun.stdout}${openRun.stderr}`).not.toContain(canary);

    expect(await filesContaining(dataDir, canary)).toEqual([]);
    // The canary check is only meaningful if it would have found the plaintext: it does, where it was opened.
    expect(await filesContaining(outside, canary)).toEqual([openedFile]);
  });
});
