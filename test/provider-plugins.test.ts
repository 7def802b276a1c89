import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { incidentRequestSchema } from '../client';
import { PROVIDER_DIRECTORY, PROVIDERS, ROLE_MEMBERS } from '../providers';
import { defineProviderPlugin, providerDirectory, ProviderRefError } from '../providers/plugin';
import { ROLE_CATALOGS } from '../providers/roles';
import { providerTableRows, readmeTableRows } from '../providers/table';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

test("the README's provider table is the one the list generates (npm run docs:providers)", () => {
  expect(readmeTableRows(README)).toEqual(providerTableRows(PROVIDERS));
});

test('role members derive from the roles each provider declares', () => {
  expect(ROLE_MEMBERS.connector).toEqual(['github', 'http-connector', 'n8n', 'simulated']);
  expect(ROLE_MEMBERS.issuer).toEqual([
    'postgres',
    'http-connector',
    'n8n',
    'aws-iam',
    'github-token',
    'slack-token',
    'simulated',
  ]);
  expect(ROLE_MEMBERS.destination).toEqual(['github', 'n8n', 'file', 'simulated']);
  for (const definition of PROVIDERS) {
    for (const role of definition.roles.filter((role) => ROLE_CATALOGS[role])) {
      // A role member offers at least one of the role's actions under the role's name.
      const offered = Object.keys(ROLE_CATALOGS[role]).filter((action) => definition.catalog[action]);
      expect([definition.name, role, offered.length > 0]).toEqual([definition.name, role, true]);
    }
  }
});

describe('references are checked by the provider that would act on them', () => {
  test.each([
    ['connector', 'acme/app/deploy.yml', /expected <provider>:<reference>/],
    ['connector', 'gitlab:acme/app', /provider must be one of github, http-connector, n8n, simulated/],
    ['connector', 'postgres:app_user', /provider must be one of/],
    ['connector', 'github:acme/..', /^github: connector ref "acme\/\.\." is not valid/],
    ['connector', 'github:acme/app/../../etc/passwd', /^github: connector ref/],
    ['connector', 'http-connector:n8n', /^http-connector: "n8n" is not <connector>\/<object id>/],
    [
      'issuer',
      'postgres:app user; drop role',
      /^postgres: ref: "app user; drop role" does not name a PostgreSQL role/,
    ],
    [
      'issuer',
      'github:acme/app/deploy.yml',
      /provider must be one of postgres, http-connector, n8n, aws-iam, github-token, slack-token, simulated/,
    ],
  ] as const)('%s %s is refused', (role, value, message) => {
    expect(() => PROVIDER_DIRECTORY.parseRef(role, value)).toThrow(ProviderRefError);
    expect(() => PROVIDER_DIRECTORY.parseRef(role, value)).toThrow(message);
  });

  test('a good reference yields what templates may read', () => {
    expect(PROVIDER_DIRECTORY.parseRef('connector', 'github:acme/app/.github/workflows/deploy.yml')).toEqual({
      provider: 'github',
      ref: 'acme/app/.github/workflows/deploy.yml',
      repository: 'acme/app',
    });
    expect(PROVIDER_DIRECTORY.parseRef('issuer', 'postgres:app_user@appdb')).toEqual({
      provider: 'postgres',
      ref: 'app_user@appdb',
    });
  });

  test('an incident request with a reference its provider refuses starts nothing', () => {
    const parsed = incidentRequestSchema.safeParse({
      secretKind: 'github-token',
      connector: 'github:acme/..',
      severity: 'high',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ['connector'] });
  });

  test('an alert location becomes a connector only where a provider runs', () => {
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app', workflow: '/deploy.yml' })).toBe(
      'github:acme/app/deploy.yml',
    );
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app' })).toBe('github:acme/app');
    expect(PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/..' })).toBeUndefined();
    expect(
      PROVIDER_DIRECTORY.connectorRefFor({ repository: 'acme/app', workflow: '../x.yml' }),
    ).toBeUndefined();
  });
});

describe('the list refuses what would make runbooks ambiguous', () => {
  const plugin = (name: string) =>
    defineProviderPlugin({
      name,
      summary: 'test',
      roles: ['connector'],
      catalog: {},
      settings: [],
      examples: {},
      fromEnv: () => undefined,
      create: () => {
        throw new Error('never created');
      },
    });

  test('a name listed twice', () => {
    expect(() => providerDirectory([plugin('box'), plugin('box')], ROLE_CATALOGS)).toThrow(/listed twice/);
  });
  test('a provider named like a role (`connector.disableConnector` could mean either)', () => {
    expect(() => providerDirectory([plugin('connector')], ROLE_CATALOGS)).toThrow(/name of a role/);
  });
  test('a name a reference cannot carry', () => {
    expect(() => providerDirectory([plugin('Box:1')], ROLE_CATALOGS)).toThrow(/lower-case/);
  });
});

test('only systems whose settings are present get a real provider', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'tourniquet-connectors-'));
  // The file destination creates its secrets directory: keep it out of the working tree.
  const dataDir = mkdtempSync(join(tmpdir(), 'tourniquet-data-'));
  const none = await PROVIDER_DIRECTORY.createConfigured({
    TOURNIQUET_CONNECTORS_DIR: empty,
    TOURNIQUET_DATA_DIR: dataDir,
  });
  // Writing a file needs no credentials; the simulated stand-in is never a real provider.
  expect(none.map((provider) => provider.name)).toEqual(['file']);
  const configured = await PROVIDER_DIRECTORY.createConfigured({
    TOURNIQUET_CONNECTORS_DIR: empty,
    TOURNIQUET_DATA_DIR: dataDir,
    GITHUB_TOKEN: 'ghp_not-a-real-token',
    POSTGRES_ADMIN_URL: 'postgres://admin@127.0.0.1:1/postgres',
  });
  expect(configured.map((provider) => provider.name)).toEqual(['github', 'postgres', 'file']);
  // The shipped presets wait for their base URL (N8N_BASE_URL, EXAMPLE_PLATFORM_BASE_URL): nothing acts by default,
  // so a fresh install is in demo mode.
  const presets = await PROVIDER_DIRECTORY.createConfigured({ TOURNIQUET_DATA_DIR: dataDir });
  expect(presets.map((provider) => provider.name)).toEqual(['file']);
  const example = await PROVIDER_DIRECTORY.createConfigured({
    TOURNIQUET_DATA_DIR: dataDir,
    EXAMPLE_PLATFORM_BASE_URL: 'https://automation.example.com',
  });
  expect(example.map((provider) => provider.name)).toEqual(['http-connector', 'file']);
});
