import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openVault, type EvidenceVault } from '../evidence/index';
import { cleanEnv, makeTempDir, objectPath, removeDir, runCli } from './fixtures/evidence/helpers';

const INCIDENT = 'incident-0123456789abcdef01234567';
const LOG = 'line 1\nline 2: token=not-really-a-secret\n';

let dataDir: string;
let vault: EvidenceVault;
let logSha: string;

beforeEach(async () => {
  dataDir = await makeTempDir();
  vault = await openVault({ dataDir, env: {} });
  const preserved = await vault.preserve({
    incidentId: INCIDENT,
    stepId: 'capture-logs',
    source: 'github:acme/app',
    name: 'run-42.log',
    contentType: 'text/plain',
    content: Readable.from([Buffer.from(LOG)]),
  });
  logSha = preserved.sha256;
  await vault.recordEvent(INCIDENT, {
    kind: 'action',
    stepId: 'disable',
    data: { before: 'on', after: 'off' },
  });
});
afterEach(async () => {
  await removeDir(dataDir);
});

const evidence = (...args: string[]) => runCli(['evidence', '--data-dir', dataDir, ...args]);

describe('tourniquet evidence (as a process)', () => {
  it('lists the manifest', async () => {
    const result = await evidence('list', INCIDENT);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /^ {3}0 {2}\S+Z {2}artifact {2}capture-logs +[0-9a-f]{12} {2}\d+ B {2}github:acme\/app {2}run-42\.log \(text\/plain\)$/,
    );
    expect(lines[2]).toContain('action record');

    const json = await evidence('list', '--json', INCIDENT);
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { seq: number; type: string });
    expect(entries.map((entry) => [entry.seq, entry.type])).toEqual([
      [0, 'artifact'],
      [1, 'event'],
    ]);
  });

  it('verifies an incident and names the first broken entry when it does not', async () => {
    const ok = await evidence('verify', INCIDENT);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(`^incident ${INCIDENT}: OK: 2 entries, 2 artifacts, chain head 1 \\(`),
    );

    const path = objectPath(dataDir, INCIDENT, logSha);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 0x80;
    await writeFile(path, bytes);
    const broken = await evidence('verify', INCIDENT);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toBe(
      `tourniquet evidence verify: incident ${INCIDENT}: FAILED: entry 0: artifact ${logSha.slice(0, 12)}… (run-42.log) was altered (sealed file hash mismatch)\n`,
    );
  });

  it('opens an artifact to stdout or a new 0600 file, and records the reason', async () => {
    const toStdout = await evidence(
      'open',
      INCIDENT,
      logSha.slice(0, 10),
      '--reason',
      'compare with the alert',
      '--actor',
      'alice',
    );
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(LOG);

    const out = join(dataDir, 'opened.log');
    const toFile = await evidence('open', INCIDENT, logSha, '--reason', 'attach to the ticket', '--out', out);
    expect(toFile.code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(LOG);
    expect((await stat(out)).mode & 0o777).toBe(0o600);

    const entries = await vault.list(INCIDENT);
    expect(
      entries.slice(2).map((entry) => (entry.type === 'access' ? [entry.actor, entry.reason] : [])),
    ).toEqual([
      ['alice', 'compare with the alert'],
      [expect.stringMatching(/.@./), 'attach to the ticket'],
    ]);

    const again = await evidence('open', INCIDENT, logSha, '--reason', 'again', '--out', out);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`tourniquet evidence open: --out: ${out} already exists\n`);
  });

  it('refuses to open without a reason', async () => {
    const result = await evidence('open', INCIDENT, logSha);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'tourniquet evidence open: --reason: required; say why you need the plaintext of this evidence\n',
    );
    expect(await vault.list(INCIDENT)).toHaveLength(2);
  });

  it('exports a bundle that another machine verifies without any key', async () => {
    const bundle = join(dataDir, 'incident.tar.gz');
    const exported = await evidence(
      'export',
      INCIDENT,
      '--out',
      bundle,
      '--reason',
      'for the auditor',
      '--actor',
      'ic',
    );
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`exported incident ${INCIDENT}: 3 entries, 2 artifacts -> ${bundle}`);
    const signer = /signed by ed25519 key ([0-9a-f]{64})/.exec(exported.stdout)?.[1];
    expect(signer).toBeDefined();

    const elsewhere = await makeTempDir('tq-evidence-auditor-');
    try {
      const viaEnv = cleanEnv({ TOURNIQUET_DATA_DIR: elsewhere });
      const verified = await runCli(['evidence', 'verify', bundle, '--trusted-signer', signer!], viaEnv);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain(`${bundle}: OK: 3 entries, 2 artifacts`);

      const wrongSigner = await runCli(
        ['evidence', 'verify', bundle, '--trusted-signer', 'ab'.repeat(32)],
        viaEnv,
      );
      expect(wrongSigner.code).toBe(1);
      expect(wrongSigner.stderr).toContain(`not by the trusted key ${'ab'.repeat(32)}`);

      // Opening needs the vault and its key; the auditor has neither.
      const open = await runCli(['evidence', 'open', INCIDENT, logSha, '--reason', 'curious'], viaEnv);
      expect(open.code).toBe(1);
      expect(open.stderr).toBe(`tourniquet evidence open: no evidence recorded for incident ${INCIDENT}\n`);
    } finally {
      await removeDir(elsewhere);
    }
  });

  it('reports bad input as one line naming the field, without echoing secrets', async () => {
    const key = randomBytes(20).toString('hex');
    const badKey = await runCli(
      ['evidence', '--data-dir', dataDir, 'open', INCIDENT, logSha, '--reason', 'x-ray'],
      cleanEnv({ TOURNIQUET_EVIDENCE_KEY: key }),
    );
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toBe(
      'tourniquet evidence open: environment variable TOURNIQUET_EVIDENCE_KEY: expected 32 bytes as 64 hex digits or base64\n',
    );
    expect(badKey.stderr).not.toContain(key);

    const badIncident = await evidence('verify', '../../etc');
    expect(badIncident.code).toBe(2);
    expect(badIncident.stderr).toMatch(/^tourniquet evidence verify: incidentId: expected 1-128 letters/);

    const badSigner = await evidence(
      'verify',
      join(dataDir, 'keys', 'evidence.key'),
      '--trusted-signer',
      'nope',
    );
    expect(badSigner.code).toBe(2);
    expect(badSigner.stderr).toBe(
      'tourniquet evidence verify: --trusted-signer: expected the signing key fingerprint as 64 lowercase hex digits\n',
    );

    const unknown = await evidence('list', 'incident-unknown');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'tourniquet evidence list: no evidence recorded for incident incident-unknown\n',
    );
  });
});
