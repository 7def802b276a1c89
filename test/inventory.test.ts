import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fingerprintSecret } from '../lib/fingerprint';
import {
  BUILTIN_INVENTORY_FILE,
  loadInventory,
  loadRotatedFingerprints,
  readRotatedFingerprints,
  recordRotatedFingerprint,
  resolveCredential,
  rotatedFingerprintsFile,
  rotationDestinations,
  validateInventory,
  type CredentialResolution,
  type Inventory,
  type InventoryIssue,
} from '../lib/inventory';
import { BUILTIN_OWNERS_FILE, loadOwnersFile } from '../lib/owners';
import { PROVIDER_DIRECTORY } from '../providers';

/**
 * The credential inventory: the shipped example, every refusal naming its path, resolution of an alert to a
 * credential (fingerprint, then identifier, then an unambiguous location) and the rotated-fingerprint store.
 */
const OWNER_ROLES = ['iam', 'platform', 'secops', 'app-owner', 'incident-commander'];
const KEY = Buffer.alloc(32, 7);
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AWS_SECRET_FINGERPRINT = fingerprintSecret(KEY, AWS_SECRET);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tourniquet-inventory-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Raw = Record<string, unknown>;

function credential(id: string, extra: Raw = {}): Raw {
  return { id, kind: 'generic', issuer: 'postgres:app_user@appdb', owners: ['platform'], ...extra };
}

function validate(credentials: unknown[], ownerRoles = OWNER_ROLES) {
  return validateInventory({ credentials }, { providers: PROVIDER_DIRECTORY, ownerRoles });
}

function issuesOf(credentials: unknown[], ownerRoles?: string[]): InventoryIssue[] {
  const result = validate(credentials, ownerRoles);
  if (result.ok) throw new Error('expected the inventory to be refused');
  return result.issues;
}

function valid(credentials: unknown[]): Inventory {
  const result = validate(credentials);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.inventory;
}

describe('the shipped example', () => {
  test('loads with the shipped owners file: every credential, warnings only for issuers this build lacks', () => {
    const owners = loadOwnersFile(BUILTIN_OWNERS_FILE);
    if (!owners.ok) throw new Error(JSON.stringify(owners.issues));
    const result = loadInventory(BUILTIN_INVENTORY_FILE, {
      providers: PROVIDER_DIRECTORY,
      ownerRoles: Object.keys(owners.owners.roles),
    });
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok) return;
    expect(result.inventory.credentials.map((entry) => entry.id)).toEqual([
      'aws-ci-deployer',
      'app-db-password',
      'release-app-key',
      'deploy-notifier-slack',
      'crm-api-key',
      'n8n-ops-api-key',
    ]);
    for (const warning of result.warnings) {
      expect(warning).toEqual({
        path: expect.stringMatching(/^credentials\[\d+\]\.issuer$/),
        message: expect.stringMatching(
          /^no issuer provider `[a-z0-9-]+` in this build: incidents for this credential will end not-configured$/,
        ),
      });
    }
    // n8n is a provider of this build: its issuer reference (`n8n:api-keys/ops-tooling`) is checked, not warned about.
    expect(result.warnings.map((warning) => warning.path)).not.toContain('credentials[5].issuer');
    const aws = result.inventory.byId.get('aws-ci-deployer')!;
    expect(rotationDestinations(aws)).toEqual([
      { provider: 'github', target: 'acme/app:AWS_ACCESS_KEY_ID', part: 'accessKeyId' },
      { provider: 'github', target: 'acme/app:AWS_SECRET_ACCESS_KEY', part: 'secretAccessKey' },
    ]);
  });

  test('an issuer of a provider this build lacks is a warning naming the provider', () => {
    const result = validate([credential('vaulted', { issuer: 'acme-vault:kv/app' })]);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([
      {
        path: 'credentials[0].issuer',
        message:
          'no issuer provider `acme-vault` in this build: incidents for this credential will end not-configured',
      },
    ]);
  });
});

describe('refusals name their path', () => {
  test('an unknown key, at the top, in a credential and in a consumer', () => {
    const issues = validateInventory(
      {
        credential: [],
        credentials: [
          credential('a', { consumer: [{ provider: 'file', target: 'a' }] }),
          credential('b', { consumers: [{ provider: 'file', target: 'b', parts: 'accessKeyId' }] }),
        ],
      },
      { providers: PROVIDER_DIRECTORY },
    );
    expect(issues.ok).toBe(false);
    // The top-level typo stops the file; the credential typos are found once it is fixed.
    expect(issues.ok ? [] : issues.issues).toEqual([{ path: 'credential', message: 'unknown key' }]);
    expect(
      issuesOf([
        credential('a', { consumer: [{ provider: 'file', target: 'a' }] }),
        credential('b', { consumers: [{ provider: 'file', target: 'b', parts: 'accessKeyId' }] }),
      ]),
    ).toEqual([
      { path: 'credentials[0].consumer', message: 'unknown key' },
      { path: 'credentials[1].consumers[0].parts', message: 'unknown key' },
    ]);
  });

  test('a duplicate id', () => {
    expect(issuesOf([credential('app-db'), credential('other'), credential('app-db')])).toEqual([
      { path: 'credentials[2].id', message: 'duplicate id "app-db" (first at credentials[0])' },
    ]);
  });

  test('an identifier claimed by two credentials (GitHub names compared without case)', () => {
    const aws = (id: string) =>
      credential(id, { kind: 'aws-access-key', identifiers: { awsAccessKeyId: AWS_KEY_ID } });
    expect(issuesOf([aws('first'), aws('second')])).toEqual([
      {
        path: 'credentials[1].identifiers.awsAccessKeyId',
        message:
          'AWS access key id AKIA…MPLE is also claimed by first (credentials[0]): an identifier must name one credential',
      },
    ]);
    const issues = issuesOf([
      credential('one', {
        identifiers: { githubSecrets: [{ repository: 'acme/app', name: 'DB_PASSWORD' }] },
      }),
      credential('two', {
        identifiers: {
          githubSecrets: [
            { repository: 'acme/other', name: 'DB_PASSWORD' },
            { repository: 'Acme/App', name: 'db_password' },
          ],
        },
      }),
    ]);
    expect(issues.map((issue) => issue.path)).toEqual(['credentials[1].identifiers.githubSecrets[1]']);
    expect(issues[0].message).toContain('also claimed by one (credentials[0])');
  });

  test('a bad issuer reference for a provider this build has (postgres), and a provider that issues nothing', () => {
    const issues = issuesOf([
      credential('bad-role', { issuer: 'postgres:app user' }),
      credential('not-an-issuer', { issuer: 'github:acme/app/deploy.yml' }),
      credential('no-provider', { issuer: 'app_user' }),
    ]);
    expect(issues).toEqual([
      {
        path: 'credentials[0].issuer',
        message: 'postgres: ref: "app user" does not name a PostgreSQL role (expected role or role@database)',
      },
      {
        path: 'credentials[1].issuer',
        message: expect.stringMatching(/^provider must be one of .*postgres/),
      },
      { path: 'credentials[2].issuer', message: expect.stringContaining('expected <provider>:<reference>') },
    ]);
  });

  test('a bad destination: a target its provider refuses, a provider that stores no secrets', () => {
    const issues = issuesOf([
      credential('a', {
        consumers: [
          { provider: 'file', target: 'ok-name' },
          { provider: 'github', target: 'acme/app' },
          { provider: 'file', target: '../etc/passwd' },
          { provider: 'postgres', target: 'app_user' },
        ],
      }),
    ]);
    expect(issues.map((issue) => issue.path)).toEqual([
      'credentials[0].consumers[1].target',
      'credentials[0].consumers[2].target',
      'credentials[0].consumers[3].provider',
    ]);
    expect(issues[0].message).toMatch(/^github: secret target "acme\/app" is not valid/);
    expect(issues[1].message).toMatch(/^file: /);
    expect(issues[2].message).toMatch(/^provider "postgres" cannot store secrets \(destinations: .*github/);
  });

  test('a destination provider this build lacks is a warning, not an error', () => {
    const result = validate([credential('a', { consumers: [{ provider: 'acme-vault', target: 'kv/app' }] })]);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((warning) => warning.path)).toEqual(['credentials[0].consumers[0].provider']);
  });

  test('an owner role the owners file does not have (checked only when the roles are given)', () => {
    const entry = credential('a', { owners: ['platform', 'dba'] });
    expect(issuesOf([entry])).toEqual([
      {
        path: 'credentials[0].owners[1]',
        message: `unknown owner role "dba" (roles: ${OWNER_ROLES.join(', ')})`,
      },
    ]);
    expect(validateInventory({ credentials: [entry] }, { providers: PROVIDER_DIRECTORY }).ok).toBe(true);
  });

  test('every error of the file at once, each with its path', () => {
    const issues = issuesOf([
      credential('Bad Id', { kind: 'aws-acess-key' }),
      credential('b', { owners: [], reaches: [''], fingerprint: 'abc' }),
      credential('c', { locations: [{ repository: 'acme', workflow: 'deploy.yml' }] }),
    ]);
    expect(issues.map((issue) => issue.path)).toEqual([
      'credentials[0].id',
      'credentials[0].kind',
      'credentials[1].owners',
      'credentials[1].reaches[0]',
      'credentials[1].fingerprint',
      'credentials[2].locations[0].repository',
    ]);
  });

  test('parts, kind-bound identifiers, shared consumer slots and shared fingerprints', () => {
    const fingerprint = 'ab'.repeat(32);
    const issues = issuesOf([
      credential('a', {
        consumers: [{ provider: 'file', target: 'shared', part: 'secretAccessKey' }],
        identifiers: { awsAccessKeyId: AWS_KEY_ID, githubAppId: 42 },
        fingerprint,
      }),
      credential('b', {
        consumers: [{ provider: 'file', target: 'shared' }],
        fingerprint: fingerprint.toUpperCase(),
      }),
    ]);
    expect(issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'credentials[0].consumers[0].part: a generic credential has no parts (only aws-access-key)',
      'credentials[0].identifiers.awsAccessKeyId: only an aws-access-key credential has a awsAccessKeyId (this one is generic)',
      'credentials[0].identifiers.githubAppId: only an github-app-key credential has a githubAppId (this one is generic)',
      'credentials[1].fingerprint: fingerprint also claimed by a (credentials[0]): one value cannot be two credentials',
      "credentials[1].consumers[0]: file:shared is also claimed by a (credentials[0]): one rotation would overwrite the other's copy",
    ]);
  });
});

describe('loading', () => {
  test('a missing default file is an empty inventory; a missing file someone named is an error naming it', () => {
    const absentDefault = join(dir, 'absent-default.yaml');
    const empty = loadInventory(undefined, {
      providers: PROVIDER_DIRECTORY,
      env: {},
      defaultFile: absentDefault,
    });
    expect(empty).toMatchObject({ ok: true, found: false, file: absentDefault });
    expect(empty.ok && empty.inventory.credentials).toEqual([]);

    const named = join(dir, 'named.yaml');
    expect(loadInventory(named, { providers: PROVIDER_DIRECTORY })).toMatchObject({
      ok: false,
      file: named,
      issues: [{ path: '(file)', message: 'file not found' }],
    });
    expect(
      loadInventory(undefined, {
        providers: PROVIDER_DIRECTORY,
        env: { TOURNIQUET_INVENTORY: named },
        defaultFile: absentDefault,
      }),
    ).toMatchObject({
      ok: false,
      file: named,
      issues: [{ path: '(file)', message: 'file not found (named by TOURNIQUET_INVENTORY)' }],
    });
  });

  test('TOURNIQUET_INVENTORY is read, and must name a YAML file', () => {
    const file = join(dir, 'from-env.yaml');
    writeFileSync(file, stringify({ credentials: [credential('from-env')] }));
    const loaded = loadInventory(undefined, {
      providers: PROVIDER_DIRECTORY,
      env: { TOURNIQUET_INVENTORY: file },
    });
    expect(loaded.ok && loaded.inventory.credentials.map((entry) => entry.id)).toEqual(['from-env']);
    expect(
      loadInventory(undefined, {
        providers: PROVIDER_DIRECTORY,
        env: { TOURNIQUET_INVENTORY: '/etc/passwd' },
      }),
    ).toMatchObject({ ok: false, file: 'TOURNIQUET_INVENTORY', issues: [{ path: '(setting)' }] });
  });

  test('bad YAML and an empty file', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'credentials: [\n');
    expect(loadInventory(bad, { providers: PROVIDER_DIRECTORY })).toMatchObject({
      ok: false,
      issues: [{ path: '(file)', message: expect.stringMatching(/^not valid YAML/) }],
    });
    const blank = join(dir, 'blank.yaml');
    writeFileSync(blank, '# nothing yet\n');
    expect(loadInventory(blank, { providers: PROVIDER_DIRECTORY })).toMatchObject({ ok: true, found: true });
  });
});

describe('resolution', () => {
  const ROTATED_VALUE_FINGERPRINT = fingerprintSecret(KEY, 'the-value-a-rotation-minted-0001');
  let inventory: Inventory;
  beforeAll(() => {
    inventory = valid([
      credential('aws-ci-deployer', {
        kind: 'aws-access-key',
        identifiers: { awsAccessKeyId: AWS_KEY_ID },
        locations: [{ repository: 'acme/app', workflow: '.github/workflows/deploy.yml' }],
        fingerprint: AWS_SECRET_FINGERPRINT,
      }),
      credential('app-db-password', {
        kind: 'postgres-password',
        identifiers: { githubSecrets: [{ repository: 'acme/app', name: 'DB_PASSWORD' }] },
        locations: [{ repository: 'acme/app' }],
      }),
      credential('solo-token', { locations: [{ repository: 'acme/solo', workflow: 'ci.yml' }] }),
    ]);
  });

  const resolvedId = (resolution: CredentialResolution) =>
    resolution.unresolved
      ? { unresolved: resolution.candidates }
      : { [resolution.by]: resolution.credential.id };

  test('fingerprint beats identifier beats location', () => {
    const alert = {
      fingerprint: AWS_SECRET_FINGERPRINT,
      identifiers: { githubSecrets: [{ repository: 'acme/app', name: 'DB_PASSWORD' }] },
      location: { repository: 'acme/solo', workflow: 'ci.yml' },
    };
    expect(resolvedId(resolveCredential(inventory, alert))).toEqual({ fingerprint: 'aws-ci-deployer' });
    expect(resolvedId(resolveCredential(inventory, { ...alert, fingerprint: 'f'.repeat(64) }))).toEqual({
      identifier: 'app-db-password',
    });
    expect(
      resolvedId(resolveCredential(inventory, { ...alert, fingerprint: undefined, identifiers: {} })),
    ).toEqual({ location: 'solo-token' });
    const byIdentifier = resolveCredential(inventory, { identifiers: { awsAccessKeyId: AWS_KEY_ID } });
    expect(byIdentifier).toMatchObject({
      by: 'identifier',
      reason: 'AWS access key id AKIA…MPLE is credential aws-ci-deployer',
    });
  });

  test('a fingerprint a rotation recorded resolves to its credential', () => {
    const dataDir = join(dir, 'resolve-data');
    recordRotatedFingerprint(
      dataDir,
      'app-db-password',
      ROTATED_VALUE_FINGERPRINT,
      new Date('2026-03-01T10:00:00Z'),
    );
    const rotated = loadRotatedFingerprints(dataDir);
    const resolution = resolveCredential(
      inventory,
      { fingerprint: ROTATED_VALUE_FINGERPRINT, location: { repository: 'acme/solo' } },
      rotated,
    );
    expect(resolution).toMatchObject({ by: 'fingerprint', credential: { id: 'app-db-password' } });
    expect(resolution.reason).toContain('a rotation of credential app-db-password');
    // Without the store the same alert falls through to its location.
    expect(
      resolvedId(
        resolveCredential(inventory, {
          fingerprint: ROTATED_VALUE_FINGERPRINT,
          location: { repository: 'acme/solo' },
        }),
      ),
    ).toEqual({ location: 'solo-token' });
  });

  test('a fingerprint the inventory and the rotation records disagree on is not guessed', () => {
    const rotated = new Map([[AWS_SECRET_FINGERPRINT, 'app-db-password']]);
    expect(resolveCredential(inventory, { fingerprint: AWS_SECRET_FINGERPRINT }, rotated)).toMatchObject({
      unresolved: true,
      candidates: ['aws-ci-deployer', 'app-db-password'],
    });
    // A record of a credential the inventory no longer lists is no answer: the next step decides.
    const stale = new Map([[ROTATED_VALUE_FINGERPRINT, 'retired-credential']]);
    const resolution = resolveCredential(
      inventory,
      { fingerprint: ROTATED_VALUE_FINGERPRINT, identifiers: { awsAccessKeyId: AWS_KEY_ID } },
      stale,
    );
    expect(resolvedId(resolution)).toEqual({ identifier: 'aws-ci-deployer' });
  });

  test('a location several credentials are read at is unresolved with every candidate', () => {
    const ambiguous = resolveCredential(inventory, {
      location: { repository: 'ACME/App', workflow: 'deploy.yml' },
    });
    expect(ambiguous).toEqual({
      unresolved: true,
      candidates: ['aws-ci-deployer', 'app-db-password'],
      reason:
        'ACME/App (deploy.yml) can read 2 credentials (aws-ci-deployer, app-db-password): not guessing, name the credential',
    });
    // Another workflow of the repository: only the credential every workflow can read.
    expect(
      resolvedId(
        resolveCredential(inventory, { location: { repository: 'acme/app', workflow: 'lint.yml' } }),
      ),
    ).toEqual({
      location: 'app-db-password',
    });
    // An alert without a workflow may be about any workflow of the repository.
    expect(resolvedId(resolveCredential(inventory, { location: { repository: 'acme/app' } }))).toEqual({
      unresolved: ['aws-ci-deployer', 'app-db-password'],
    });
    expect(
      resolvedId(
        resolveCredential(inventory, {
          location: { repository: 'https://github.com/acme/solo.git', workflow: '.github/workflows/ci.yml' },
        }),
      ),
    ).toEqual({ location: 'solo-token' });
  });

  test('identifiers naming different credentials are not guessed between', () => {
    const resolution = resolveCredential(inventory, {
      identifiers: {
        awsAccessKeyId: AWS_KEY_ID,
        githubSecrets: [{ repository: 'acme/app', name: 'db_password' }],
      },
      location: { repository: 'acme/solo' },
    });
    expect(resolvedId(resolution)).toEqual({ unresolved: ['aws-ci-deployer', 'app-db-password'] });
  });

  test('nothing matching is unresolved with no candidates, saying what was tried', () => {
    expect(
      resolveCredential(inventory, {
        fingerprint: 'e'.repeat(64),
        identifiers: { n8nCredentialId: 99 },
        location: { repository: 'acme/elsewhere' },
      }),
    ).toEqual({
      unresolved: true,
      candidates: [],
      reason:
        'no credential resolved: no credential has fingerprint eeeeeeee…eeee; no credential has n8n credential 99; no credential of the inventory is read at acme/elsewhere',
    });
  });

  test('no reason carries a secret: key ids by prefix and last four, a secret misfiled as a key id is dropped', () => {
    const alerts = [
      { fingerprint: AWS_SECRET_FINGERPRINT },
      { identifiers: { awsAccessKeyId: AWS_KEY_ID } },
      { identifiers: { awsAccessKeyId: AWS_SECRET }, location: { repository: 'acme/app' } },
      {
        identifiers: {
          awsAccessKeyId: AWS_SECRET,
          githubSecrets: [{ repository: 'acme/app', name: AWS_SECRET }],
        },
      },
      { identifiers: { awsAccessKeyId: 'AKIAAAAAAAAAAAAAAAAA' } },
    ];
    const reasons = alerts.map((alert) => resolveCredential(inventory, alert).reason);
    expect(reasons).toHaveLength(5);
    for (const reason of reasons) {
      expect(reason).not.toContain(AWS_SECRET);
      expect(reason).not.toContain(AWS_SECRET.slice(0, 4));
      expect(reason).not.toContain(AWS_SECRET.slice(-4));
      expect(reason).not.toContain(AWS_KEY_ID);
      expect(reason).not.toContain('AKIAAAAAAAAAAAAAAAAA');
      expect(reason).not.toContain(AWS_SECRET_FINGERPRINT);
    }
    expect(reasons[4]).toBe(
      'no credential resolved: the alert carries no fingerprint; no credential has AWS access key id AKIA…AAAA; the alert names no repository',
    );
  });
});

describe('the rotated-fingerprint store', () => {
  const fp = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

  test('appends and reloads; a fingerprint recorded again maps to its latest credential', () => {
    const dataDir = join(dir, 'store-append');
    recordRotatedFingerprint(dataDir, 'app-db-password', fp(1), new Date('2026-01-01T00:00:00Z'));
    recordRotatedFingerprint(dataDir, 'aws-ci-deployer', fp(2), '2026-01-02T00:00:00.000Z');
    recordRotatedFingerprint(dataDir, 'aws-ci-deployer', fp(1).toUpperCase(), '2026-01-03T00:00:00.000Z');
    expect([...loadRotatedFingerprints(dataDir)]).toEqual([
      [fp(1), 'aws-ci-deployer'],
      [fp(2), 'aws-ci-deployer'],
    ]);
    expect(readRotatedFingerprints(dataDir).records[0]).toEqual({
      credentialId: 'app-db-password',
      fingerprint: fp(1),
      at: '2026-01-01T00:00:00.000Z',
    });
    expect(loadRotatedFingerprints(join(dir, 'never-rotated')).size).toBe(0);
  });

  test('a torn last line is skipped, and the next record starts on a line of its own', () => {
    const dataDir = join(dir, 'store-torn');
    recordRotatedFingerprint(dataDir, 'first', fp(3), '2026-01-01T00:00:00.000Z');
    const file = rotatedFingerprintsFile(dataDir);
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"credentialId":"second","fingerp`);
    expect(readRotatedFingerprints(dataDir)).toEqual({
      records: [{ credentialId: 'first', fingerprint: fp(3), at: '2026-01-01T00:00:00.000Z' }],
      skippedLines: [2],
    });
    recordRotatedFingerprint(dataDir, 'third', fp(4), '2026-01-02T00:00:00.000Z');
    expect([...loadRotatedFingerprints(dataDir)]).toEqual([
      [fp(3), 'first'],
      [fp(4), 'third'],
    ]);
    expect(readRotatedFingerprints(dataDir).skippedLines).toEqual([2]);
  });

  test('the file is 0600 in a 0700 directory, even one made before with looser modes', () => {
    const dataDir = join(dir, 'store-modes');
    recordRotatedFingerprint(dataDir, 'first', fp(5));
    const file = rotatedFingerprintsFile(dataDir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'inventory')).mode & 0o777).toBe(0o700);
    chmodSync(file, 0o644);
    recordRotatedFingerprint(dataDir, 'second', fp(6));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('refuses what is not a record: a bad credential id, a bad fingerprint, a bad time', () => {
    const dataDir = join(dir, 'store-refusals');
    expect(() => recordRotatedFingerprint(dataDir, 'Not A Slug', fp(7))).toThrow(/^credentialId: /);
    expect(() => recordRotatedFingerprint(dataDir, 'ok', 'not-hex')).toThrow(/^fingerprint: /);
    expect(() => recordRotatedFingerprint(dataDir, 'ok', fp(7), 'yesterday')).toThrow(/^at: /);
    expect(readRotatedFingerprints(dataDir).records).toEqual([]);
  });
});
