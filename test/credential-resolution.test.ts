import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIncidentInput } from '../client';
import { CredentialResolver, withInventoryCredential } from '../client/credentials';
import { incidentRequestFor } from '../gateway/ingest';
import { normalizeSiemAlert, type NormalizedAlert } from '../gateway/siem';
import { fingerprintSecret } from '../lib/fingerprint';
import { buildInventory, recordRotatedFingerprint, validateInventory } from '../lib/inventory';
import type { Runbook } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY } from '../providers';

/**
 * From a SIEM alert to the incident's credential: the AWS access key id is kept as an identifier (it names the key),
 * the secret access key is fingerprinted and dropped, and the inventory names the issuer and the consumers.
 */
const KEY = Buffer.alloc(32, 7);
// Built at run time so no key-shaped literal sits in the repository.
const KEY_ID = `AKIA${'Q7'.repeat(8)}`;
const OTHER_KEY_ID = `AKIA${'Z3'.repeat(8)}`;
const SECRET_ACCESS_KEY = `${'wJalrXUtnFEMI/K7MDENG+bPxRfiCY'}${'x9'.repeat(5)}`;
const dataDir = mkdtempSync(join(tmpdir(), 'tourniquet-resolution-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const validated = validateInventory(
  {
    credentials: [
      {
        id: 'aws-ci-deployer',
        kind: 'aws-access-key',
        issuer: 'aws-iam:123456789012/ci-deployer',
        consumers: [
          { provider: 'github', target: 'acme/app:AWS_ACCESS_KEY_ID', part: 'accessKeyId' },
          { provider: 'github', target: 'acme/app:AWS_SECRET_ACCESS_KEY', part: 'secretAccessKey' },
        ],
        owners: ['iam'],
        identifiers: { awsAccessKeyId: KEY_ID },
        locations: [{ repository: 'acme/app' }],
      },
      {
        id: 'ledger-db',
        kind: 'postgres-password',
        issuer: 'postgres:ledger_app@ledgerdb',
        consumers: [{ provider: 'file', target: 'ledger-db-password' }],
        owners: ['iam'],
        locations: [{ repository: 'acme/ledger' }, { repository: 'acme/shared' }],
      },
      {
        id: 'shared-token',
        kind: 'generic',
        issuer: 'postgres:shared@shareddb',
        owners: ['iam'],
        locations: [{ repository: 'acme/shared' }],
      },
    ],
  },
  { providers: PROVIDER_DIRECTORY },
);
if (!validated.ok) throw new Error(JSON.stringify(validated.issues));
const inventory = buildInventory(validated.inventory.credentials);

function alertOf(body: Record<string, unknown>) {
  const normalized = normalizeSiemAlert(
    'generic',
    {
      alertId: `a-${Math.random()}`,
      detector: 'trufflehog',
      secretKind: 'aws_secret_access_key',
      severity: 'critical',
      observedAt: '2026-12-06T23:00:00Z',
      location: { url: 'https://github.com/acme/app/actions/runs/1', repository: 'acme/app' },
      ...body,
    },
    { fingerprintKey: KEY },
  );
  if (!normalized.ok) throw new Error(`${normalized.field}: ${normalized.message}`);
  return normalized.alert;
}

function requestOf(alert: ReturnType<typeof alertOf>, resolver = new CredentialResolver(inventory, dataDir)) {
  const request = incidentRequestFor(alert, resolver);
  if (!request.success) throw new Error(JSON.stringify(request.error.issues));
  return request.data;
}

test('an AWS key pair: the key id names the key to act on, the secret keys the incident and goes no further', () => {
  const alert = alertOf({ secret: SECRET_ACCESS_KEY, accessKeyId: KEY_ID });

  expect(alert.identifiers).toEqual({ awsAccessKeyId: KEY_ID });
  expect(alert.fingerprint).toBe(fingerprintSecret(KEY, SECRET_ACCESS_KEY));
  const request = requestOf(alert);
  expect(request.credential).toBe(`aws-iam:123456789012/ci-deployer/${KEY_ID}`);
  expect(request.destinations).toEqual([
    { provider: 'github', target: 'acme/app:AWS_ACCESS_KEY_ID', part: 'accessKeyId' },
    { provider: 'github', target: 'acme/app:AWS_SECRET_ACCESS_KEY', part: 'secretAccessKey' },
  ]);
  expect(request.credentialResolution).toMatchObject({ credentialId: 'aws-ci-deployer', by: 'identifier' });

  const input = buildIncidentInput({ id: 'leaked-workflow-secret' } as Runbook, request, KEY);
  expect(input.context.credential).toMatchObject({
    issuer: 'aws-iam',
    ref: `123456789012/ci-deployer/${KEY_ID}`,
    resolution: { credentialId: 'aws-ci-deployer', by: 'identifier' },
  });
  expect(JSON.stringify({ alert, input })).not.toContain(SECRET_ACCESS_KEY);
});

test('a key id alone (no secret in the alert) keys the incident and still resolves', () => {
  const alert = alertOf({ secretKind: 'aws_access_key_id', secret: KEY_ID });
  expect(alert.identifiers).toEqual({ awsAccessKeyId: KEY_ID });
  expect(requestOf(alert).credential).toBe(`aws-iam:123456789012/ci-deployer/${KEY_ID}`);
});

test('two key ids in one alert: neither is acted on by id', () => {
  const alert = alertOf({ secret: SECRET_ACCESS_KEY, accessKeyId: `${KEY_ID} ${OTHER_KEY_ID}` });
  expect(alert.identifiers).toBeUndefined();
  // Resolved by where it was seen instead, and the issuer reference names the user, not a key.
  expect(requestOf(alert)).toMatchObject({
    credential: 'aws-iam:123456789012/ci-deployer',
    credentialResolution: { by: 'location' },
  });
});

test('a key id the inventory does not know, seen where several credentials live: unresolved, nothing guessed', () => {
  const alert = alertOf({
    secret: SECRET_ACCESS_KEY,
    accessKeyId: OTHER_KEY_ID,
    location: { url: 'https://github.com/acme/shared/actions/runs/2', repository: 'acme/shared' },
  });
  const request = requestOf(alert);
  expect(request.credential).toBeUndefined();
  expect(request.destinations).toEqual([]);
  expect(request.credentialResolution?.by).toBe('unresolved');
  expect(request.credentialResolution?.reason).toContain('ledger-db');
  expect(request.credentialResolution?.reason).toContain('shared-token');
  expect(request.credentialResolution?.reason).not.toContain(OTHER_KEY_ID);
  // The incident then acts through nothing real: its credential steps end not-configured in live mode.
  const input = buildIncidentInput({ id: 'leaked-workflow-secret' } as Runbook, request, KEY);
  expect(input.context.credential.issuer).toBe('simulated');
});

test('a rotated value that leaks later maps back to its credential, without restarting the gateway', () => {
  const resolver = new CredentialResolver(inventory, dataDir);
  const rotated = `${'n3wS3cr3t'.repeat(4)}AbCd`;
  const alert = alertOf({
    secretKind: 'postgres_password',
    secret: rotated,
    location: { url: 'https://example.com/paste/9' },
  });
  expect(requestOf(alert, resolver).credentialResolution?.by).toBe('unresolved');

  recordRotatedFingerprint(dataDir, 'ledger-db', fingerprintSecret(KEY, rotated));
  expect(requestOf(alert, resolver)).toMatchObject({
    credential: 'postgres:ledger_app@ledgerdb',
    destinations: [{ provider: 'file', target: 'ledger-db-password' }],
    credentialResolution: { credentialId: 'ledger-db', by: 'fingerprint' },
  });
});

describe('an alert that holds the leaked value itself names its issuer when the inventory does not', () => {
  const gitHubAlert = (secretType: string, repository = 'acme/payments', number = 42): NormalizedAlert => ({
    source: 'github',
    alertId: `${repository}#${number}`,
    detector: 'github-secret-scanning',
    secretKind: secretType,
    locations: [{ url: `https://github.com/${repository}/security/secret-scanning/${number}`, repository }],
    severity: 'critical',
    observedAt: '2026-12-06T23:00:00.000Z',
    fingerprint: 'a'.repeat(64),
    hint: null,
    correlation: [],
  });

  test.each([
    ['github_personal_access_token', 'github-token:secret-scanning/acme/payments/42'],
    ['github_oauth_access_token', 'github-token:secret-scanning/acme/payments/42'],
    ['slack_api_token', 'slack-token:secret-scanning/acme/payments/42'],
  ])('a GitHub secret-scanning alert about a %s', (secretType, credential) => {
    const request = requestOf(gitHubAlert(secretType));
    expect(request.credential).toBe(credential);
    expect(request.credentialResolution).toMatchObject({ by: 'alert' });
    expect(request.destinations).toEqual([]);
  });

  test.each<[string, NormalizedAlert]>([
    ['a secret no issuer revokes by value', gitHubAlert('aws_secret_access_key')],
    ['a Slack webhook, which is not a token', gitHubAlert('slack_incoming_webhook_url')],
    [
      'an alert id that is not <owner>/<repo>#<n>',
      { ...gitHubAlert('github_personal_access_token'), alertId: 'acme/../etc#1' },
    ],
    [
      'another source claiming a GitHub alert id',
      { ...gitHubAlert('github_personal_access_token'), source: 'generic' },
    ],
  ])('%s stays unresolved', (_name, alert) => {
    const request = requestOf(alert);
    expect(request.credential).toBeUndefined();
  });

  test('the inventory wins over the alert', () => {
    const request = requestOf({
      ...gitHubAlert('github_personal_access_token', 'acme/ledger'),
      locations: [{ url: 'https://github.com/acme/ledger', repository: 'acme/ledger' }],
    });
    expect(request).toMatchObject({
      credential: 'postgres:ledger_app@ledgerdb',
      credentialResolution: { by: 'location' },
    });
  });
});

describe('a start from a person (CLI, Slack) that names no credential', () => {
  const resolver = () => new CredentialResolver(inventory, dataDir);
  const base = { connector: 'github:acme/app/.github/workflows/deploy.yml', secretKind: 'aws_access_key_id' };

  test('takes the inventory credential read where the connector runs', () => {
    expect(withInventoryCredential(base, resolver())).toMatchObject({
      credential: 'aws-iam:123456789012/ci-deployer',
      destinations: [
        expect.objectContaining({ part: 'accessKeyId' }),
        expect.objectContaining({ part: 'secretAccessKey' }),
      ],
      credentialResolution: { credentialId: 'aws-ci-deployer', by: 'location' },
    });
  });

  test('keeps a credential the person named, an exercise, and a leak the inventory cannot place', () => {
    const named = { ...base, credential: 'postgres:other@db' };
    expect(withInventoryCredential(named, resolver())).toBe(named);
    const exercise = { ...base, exercise: true };
    expect(withInventoryCredential(exercise, resolver())).toBe(exercise);
    const shared = { ...base, connector: 'github:acme/shared/.github/workflows/x.yml' };
    expect(withInventoryCredential(shared, resolver())).toBe(shared);
  });
});
