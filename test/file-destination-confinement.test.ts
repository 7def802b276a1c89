import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { incidentRequestSchema, type IncidentRequest } from '../client';
import { file } from '../providers/file';
import type { FileSecretDestination } from '../providers/file/destination';
import { ProviderError, type ActionContext, type Provider } from '../providers/types';
import { runCli } from './harness/cli';
import { freePort } from './harness/ports';

/*
 * Issue #14, confinement: `--destination file:/any/path` made the worker (root in its container) overwrite any file
 * with the new credential. The file destination now writes only under its secrets directory, and an incident naming
 * anything else never starts.
 */

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'tourniquet-confinement-'));
  roots.push(root);
  return root;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const mode = (path: string): number => statSync(path).mode & 0o777;

const ctx: ActionContext = {
  incidentId: 'inc-confinement',
  stepId: 'rotate-credential',
  idempotencyKey: 'inc-confinement/rotate-credential',
  attempt: 1,
  exercise: false,
  signal: new AbortController().signal,
  log: { info: () => undefined, warn: () => undefined },
  heartbeat: () => undefined,
  evidence: { preserve: () => Promise.reject(new Error('unused')) },
  deliverSecret: () => Promise.reject(new Error('unused')),
};

/** The file destination exactly as the worker builds it from its environment (providers/index.ts). */
async function configuredFileProvider(env: Record<string, string>): Promise<Provider> {
  const options = await file.fromEnv(env);
  if (options === undefined) throw new Error('the file destination is always configured');
  return file.create(options, { env, secretReaders: {} });
}

function request(destinations: string[]): IncidentRequest {
  return {
    secretKind: 'database-password',
    connector: 'github:acme/app/deploy.yml',
    credential: 'postgres:app_user@appdb',
    destinations,
    severity: 'high',
  };
}

describe('an incident naming a file outside the secrets directory never starts', () => {
  test('`tourniquet incident start --destination file:/etc/passwd` exits 2 naming --destination', async () => {
    const before = sha256('/etc/passwd');
    // Nothing listens there: a request that got past validation would fail to connect instead (exit 1).
    const result = await runCli(
      [
        'incident',
        'start',
        '--secret-kind',
        'database-password',
        '--connector',
        'github:acme/app/deploy.yml',
        '--credential',
        'postgres:app_user@appdb',
        '--severity',
        'high',
        '--destination',
        'file:/etc/passwd',
      ],
      { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--destination/);
    expect(result.stderr).toContain(
      'file: "/etc/passwd" must be a name under the secrets directory (TOURNIQUET_SECRETS_DIR), e.g. app-db-password',
    );
    expect(result.stdout).toBe('');
    expect(sha256('/etc/passwd')).toBe(before);
  });

  test.each([
    ['file:/etc/passwd', /^file: "\/etc\/passwd" must be a name under the secrets directory/],
    ['file:../../etc/passwd', /^file: "\.\.\/\.\.\/etc\/passwd" must be a name under the secrets directory/],
    ['file:app/../../escape', /"\.\." segment/],
    ['file:./app-db-password', /"\." segment/],
    ['file:app//db', /empty segment/],
    ['file:app/', /empty segment/],
    ['file:app\0db', /letters, digits/],
    ['file:app db', /letters, digits/],
    ['file:~/.ssh/authorized_keys', /letters, digits/],
    [`file:${'a'.repeat(201)}`, /at most 200 characters/],
    ['github:acme/app', /^github: /],
  ])('destination %j is refused, naming destinations', (destination, message) => {
    const parsed = incidentRequestSchema.safeParse(request([destination]));
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0];
    expect(issue.path).toEqual(['destinations', 0]);
    expect(issue.message).toMatch(message);
  });

  test('names under the secrets directory, other destinations, and providers that store no secret themselves are accepted', () => {
    const parsed = incidentRequestSchema.safeParse(
      request([
        'file:app-db-password',
        'file:team-a/app_db.password',
        'github:acme/app:DB_PASSWORD',
        'simulated:vault/app',
        // The n8n exercise stores to its connector's credentials; only the simulated stand-in does that: the
        // provider plays no destination role, so only the reference's shape is checked.
        'http-connector:n8n/credentials/17',
      ]),
    );
    expect(parsed.error?.issues).toBeUndefined();
  });
});

describe('the file destination writes only under its secrets directory, even if validation were bypassed', () => {
  test('default: <TOURNIQUET_DATA_DIR>/secrets, created 0700; a name is written there 0600', async () => {
    const dataDir = tempRoot();
    const provider = await configuredFileProvider({ TOURNIQUET_DATA_DIR: dataDir });
    const secrets = join(dataDir, 'secrets');
    expect(mode(secrets)).toBe(0o700);

    await provider.destination!.storeSecret('team-a/app-db-password', 'new-value', ctx);
    expect(readFileSync(join(secrets, 'team-a', 'app-db-password'), 'utf8')).toBe('new-value');
    expect(mode(join(secrets, 'team-a', 'app-db-password'))).toBe(0o600);
    expect(mode(join(secrets, 'team-a'))).toBe(0o700);
    expect(file.settings).toContain('TOURNIQUET_SECRETS_DIR');
  });

  test('a `../` escape, an absolute path and a symlinked directory are refused; nothing outside is touched', async () => {
    const root = tempRoot();
    const secrets = join(root, 'configured-secrets');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'original');
    const provider = await configuredFileProvider({
      TOURNIQUET_DATA_DIR: join(root, 'data'),
      TOURNIQUET_SECRETS_DIR: secrets,
    });
    expect(mode(secrets)).toBe(0o700);
    symlinkSync(outside, join(secrets, 'link'));

    for (const target of [victim, '../outside/victim', 'a/../../outside/victim', 'link/victim']) {
      let error: unknown;
      await provider.destination!.storeSecret(target, 'new-value', ctx).catch((caught: unknown) => {
        error = caught;
      });
      expect([target, error]).toEqual([target, expect.any(ProviderError)]);
      expect(error).toMatchObject({ retryable: false });
      expect(readFileSync(victim, 'utf8')).toBe('original');
    }
    // Reading back (what verification logs in with) is held to the same rule, and follows no planted link.
    symlinkSync(victim, join(secrets, 'planted'));
    const reader = provider.destination as FileSecretDestination;
    for (const target of [victim, 'link/victim', 'planted']) {
      await expect(reader.readSecret(target)).rejects.toBeInstanceOf(ProviderError);
    }
    // Storing to a planted link replaces the link, not the file it pointed to.
    await provider.destination!.storeSecret('planted', 'new-value', ctx);
    expect(readFileSync(victim, 'utf8')).toBe('original');
    expect(readFileSync(join(secrets, 'planted'), 'utf8')).toBe('new-value');
  });
});
