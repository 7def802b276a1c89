import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './harness/cli';
import { makeCanaries } from './fixtures/siem/canaries';

/**
 * `tourniquet incident start` refuses a reference flag that holds a secret value, as the Slack modal does, before
 * it loads a key or connects anywhere: Temporal's address is a closed port, so getting that far fails otherwise.
 */
const canaries = makeCanaries();
let dataDir: string;
let env: Record<string, string>;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tourniquet-cli-refs-'));
  env = { TEMPORAL_ADDRESS: '127.0.0.1:1', TOURNIQUET_DATA_DIR: dataDir };
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const start = (...flags: string[]) =>
  runCli(['incident', 'start', '--secret-kind', 'github-token', '--severity', 'high', ...flags], env);

describe('tourniquet incident start: references, not secrets', () => {
  it.each([
    ['--connector', () => [`github:acme/app/${canaries.githubToken}`], canaries.githubToken],
    ['--credential', () => [`postgres://app_user:${canaries.password}@db.internal/app`], canaries.password],
    // Glued to the reference: only a scanner that does not need a word boundary sees it.
    ['--credential', () => [`aws:key_${canaries.awsAccessKeyId}`], canaries.awsAccessKeyId],
    [
      '--destination',
      () => ['github:acme/app:DEPLOY_TOKEN', `slack:C0SECOPS01:${canaries.slackToken}`],
      canaries.slackToken,
    ],
  ])(
    'refuses %s holding a secret value, naming the flag and never echoing the value',
    async (flag, values, secret) => {
      const connector = flag === '--connector' ? [] : ['--connector', 'github:acme/app/deploy.yml'];
      const result = await start(...connector, flag, ...values());
      expect(result).toEqual({
        code: 2,
        stdout: '',
        stderr: `tourniquet: ${flag}: looks like it contains a secret value; give a reference, not the secret\n`,
      });
      expect(result.stdout + result.stderr).not.toContain(secret);
    },
  );

  it('lets ordinary references through to the connection', async () => {
    const result = await start(
      '--connector',
      'github:acme/app/deploy.yml',
      '--credential',
      'postgres:app_user',
      '--destination',
      'github:acme/app:DEPLOY_TOKEN',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  });

  it('lets a provider whose name ends in "-token" through: its reference is not a `token: value` pair', async () => {
    const result = await start(
      '--connector',
      'github:acme/app/deploy.yml',
      '--credential',
      'github-token:secret-scanning/acme/app/42',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  });
});

describe('tourniquet incident start: who raised it is not an argument', () => {
  it('refuses --requester: blaming someone else would also lock them out of approving', async () => {
    const result = await start(
      '--connector',
      'github:acme/app/deploy.yml',
      '--requester',
      'slack:U0SOMEONE1',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown option '--requester'");
  });

  it('names a refused destination by its flag', async () => {
    const result = await start(
      '--connector',
      'github:acme/app/deploy.yml',
      '--destination',
      'file:/etc/passwd',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^tourniquet: --destination: file: "\/etc\/passwd" must be a name under/);
  });
});
