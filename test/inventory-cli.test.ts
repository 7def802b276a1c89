import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from './harness/cli';

/** `tourniquet inventory validate|list`, run as the real executable. */
let dir: string;
// The shipped defaults, whatever the developer's shell sets (an empty setting counts as unset).
const ENV = { TOURNIQUET_INVENTORY: '', TOURNIQUET_OWNERS_FILE: '' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tourniquet-inventory-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

const base = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'postgres-password',
  issuer: 'postgres:app_user@appdb',
  owners: ['platform'],
  ...extra,
});

test('validate: the shipped inventory is valid, with a one-line summary and its warnings', async () => {
  const run = await runCli(['inventory', 'validate'], ENV);
  expect(run.stderr.split('\n').filter((line) => line && !line.startsWith('warning: '))).toEqual([]);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^runbooks\/inventory\.yaml: ok \(6 credentials, \d+ warnings?\)\n$/);
  expect(run.stderr).toContain(
    'warning: runbooks/inventory.yaml: credentials[2].issuer: no issuer provider `github-app` in this build: incidents for this credential will end not-configured\n',
  );
  expect(run.stderr).not.toContain('credentials[5].issuer');
});

test('validate: a bad file fails with every error, each naming its path', async () => {
  const file = write('bad.yaml', {
    credentials: [
      base('app-db', {
        consumer: [{ provider: 'file', target: 'app-db-password' }],
        issuer: 'postgres:app user',
      }),
      base('ci-key', {
        kind: 'aws-access-key',
        issuer: 'aws-iam:123456789012/ci',
        owners: ['platform', 'dba'],
        consumers: [{ provider: 'github', target: 'acme/app' }],
        identifiers: { awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE' },
      }),
      base('app-db', {
        kind: 'aws-access-key',
        identifiers: { awsAccessKeyId: 'AKIAIOSFODNN7EXAMPLE' },
      }),
    ],
  });
  const run = await runCli(['inventory', 'validate', file], ENV);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const errors = run.stderr.split('\n').filter((line) => line && !line.startsWith('warning: '));
  expect(errors).toEqual([
    `${file}: credentials[0].consumer: unknown key`,
    `${file}: credentials[0].issuer: postgres: ref: "app user" does not name a PostgreSQL role (expected role or role@database)`,
    `${file}: credentials[1].consumers[0].target: github: secret target "acme/app" is not valid: expected owner/repo:SECRET_NAME or owner/repo:env/<environment>:SECRET_NAME`,
    `${file}: credentials[1].owners[1]: unknown owner role "dba" (roles: platform, iam, secops, app-owner, incident-commander)`,
    `${file}: credentials[2].id: duplicate id "app-db" (first at credentials[0])`,
    `${file}: credentials[2].identifiers.awsAccessKeyId: AWS access key id AKIA…MPLE is also claimed by ci-key (credentials[1]): an identifier must name one credential`,
  ]);
});

test('validate: owner roles come from --owners; a named file that is missing is an error naming it', async () => {
  const owners = write('owners.yaml', { roles: { dba: {} } });
  const file = write('dba.yaml', { credentials: [base('app-db', { owners: ['dba'] })] });
  const missing = join(dir, 'missing.yaml');
  const [withOwners, withDefaults, gone, fromSetting] = await Promise.all([
    runCli(['inventory', 'validate', file, '--owners', owners], ENV),
    runCli(['inventory', 'validate', file], ENV),
    runCli(['inventory', 'validate', missing], ENV),
    runCli(['inventory', 'validate'], { ...ENV, TOURNIQUET_INVENTORY: file, TOURNIQUET_OWNERS_FILE: owners }),
  ]);
  expect([withOwners.code, withOwners.stdout, withOwners.stderr]).toEqual([
    0,
    `${file}: ok (1 credential)\n`,
    '',
  ]);
  expect(withDefaults.code).toBe(1);
  expect(withDefaults.stderr).toContain(`${file}: credentials[0].owners[0]: unknown owner role "dba"`);
  expect([gone.code, gone.stderr]).toEqual([1, `${missing}: (file): file not found\n`]);
  expect([fromSetting.code, fromSetting.stdout]).toEqual([0, `${file}: ok (1 credential)\n`]);
});

test('list --json: every credential, key ids by their last four only', async () => {
  const run = await runCli(['inventory', 'list', '--json'], ENV);
  expect(run.code).toBe(0);
  const listed = JSON.parse(run.stdout) as {
    file: string;
    credentials: { id: string; consumers: number; identifiers: string[]; owners: string[] }[];
  };
  expect(listed.file).toMatch(/runbooks\/inventory\.yaml$/);
  expect(listed.credentials.map((row) => row.id)).toEqual([
    'aws-ci-deployer',
    'app-db-password',
    'release-app-key',
    'deploy-notifier-slack',
    'crm-api-key',
    'n8n-ops-api-key',
  ]);
  expect(listed.credentials[0]).toMatchObject({
    id: 'aws-ci-deployer',
    kind: 'aws-access-key',
    issuer: 'aws-iam:123456789012/ci-deployer',
    owners: ['iam', 'platform'],
    consumers: 2,
    identifiers: [
      'aws-key-id …MPLE',
      'github-secret acme/app:AWS_ACCESS_KEY_ID',
      'github-secret acme/app:AWS_SECRET_ACCESS_KEY',
    ],
  });
  expect(run.stdout).not.toContain('AKIAIOSFODNN7EXAMPLE');
});

test('list: a table; an invalid inventory is refused with its errors', async () => {
  const bad = write('list-bad.yaml', { credentials: [base('x', { owner: ['platform'] })] });
  const [table, refused] = await Promise.all([
    runCli(['inventory', 'list'], ENV),
    runCli(['inventory', 'list', bad], ENV),
  ]);
  expect(table.code).toBe(0);
  const lines = table.stdout.trimEnd().split('\n');
  expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'KIND', 'ISSUER', 'OWNERS', 'CONSUMERS', 'IDENTIFIERS']);
  expect(lines).toHaveLength(7);
  expect(lines[1].split(/\s{2,}/)).toEqual([
    'aws-ci-deployer',
    'aws-access-key',
    'aws-iam:123456789012/ci-deployer',
    'iam,platform',
    '2',
    'aws-key-id …MPLE, github-secret acme/app:AWS_ACCESS_KEY_ID, github-secret acme/app:AWS_SECRET_ACCESS_KEY',
  ]);
  expect(table.stdout).not.toContain('AKIAIOSFODNN7EXAMPLE');
  expect([refused.code, refused.stdout, refused.stderr]).toEqual([
    1,
    '',
    `${bad}: credentials[0].owner: unknown key\n`,
  ]);
});
