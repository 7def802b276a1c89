import { randomBytes } from 'node:crypto';
import { fingerprintSecret } from '../lib/fingerprint';
import { scrubSecrets } from '../gateway/siem';
import { makeCanaries, type Canaries } from './fixtures/siem/canaries';

const key = randomBytes(32);

function expectGone(output: unknown, ...values: string[]): void {
  const text = JSON.stringify(output);
  for (const value of values) expect(text).not.toContain(value);
}

describe('scrubSecrets', () => {
  let canaries: Canaries;
  beforeEach(() => {
    canaries = makeCanaries();
  });

  it.each([
    ['ghp_', 'github_personal_access_token'],
    ['gho_', 'github_oauth_access_token'],
    ['ghu_', 'github_user_to_server_token'],
    ['ghs_', 'github_app_installation_access_token'],
    ['ghr_', 'github_refresh_token'],
  ])('finds GitHub %s tokens inside prose', (prefix, kind) => {
    const token = prefix + canaries.githubToken.slice(4);
    const { redacted, findings } = scrubSecrets(
      { log: `Run actions/checkout with token ${token} done` },
      key,
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind, confidence: 'pattern', paths: ['log'] });
    expect(findings[0].fingerprint).toBe(fingerprintSecret(key, token));
    expect(findings[0].hint).toEqual({ kind, length: token.length, last4: token.slice(-4) });
    expect(redacted).toEqual({
      log: `Run actions/checkout with token [REDACTED:${kind}:${token.slice(-4)}] done`,
    });
  });

  it('finds fine-grained GitHub tokens, AWS key ids, Slack tokens and n8n API keys', () => {
    const fineGrained = `github_pat_${randomBytes(11).toString('hex')}_${randomBytes(30).toString('hex')}`;
    const body = {
      a: fineGrained,
      b: [`key ${canaries.awsAccessKeyId}`],
      c: { d: `Authorization: Bearer ${canaries.slackToken}` },
      e: `X-N8N-API-KEY: ${canaries.n8nApiKey}`,
    };
    const { redacted, findings } = scrubSecrets(body, key);
    expect(findings.map((finding) => finding.kind).sort()).toEqual(
      ['aws_access_key_id', 'github_fine_grained_personal_access_token', 'n8n_api_key', 'slack_token'].sort(),
    );
    expectGone(redacted, fineGrained, canaries.awsAccessKeyId, canaries.slackToken, canaries.n8nApiKey);
  });

  it('tells an n8n API key from another JWT', () => {
    const otherJwt = [
      Buffer.from('{"alg":"RS256"}').toString('base64url'),
      Buffer.from('{"iss":"https://login.example","sub":"u1"}').toString('base64url'),
      randomBytes(32).toString('base64url'),
    ].join('.');
    const { findings } = scrubSecrets([canaries.n8nApiKey, otherJwt], key);
    expect(findings.map((finding) => finding.kind)).toEqual(['n8n_api_key', 'jwt']);
  });

  it('redacts private key blocks, also when a log line cut them short', () => {
    const truncated = canaries.privateKey.slice(0, 120);
    const { redacted, findings } = scrubSecrets(
      { full: `key:\n${canaries.privateKey}\nend`, cut: `dump ${truncated}` },
      key,
    );
    expect(findings.map((finding) => finding.kind)).toEqual(['private_key', 'private_key']);
    expect((redacted as { full: string }).full).toMatch(/^key:\n\[REDACTED:private_key:[^\]]*\]\nend$/);
    expectGone(redacted, canaries.privateKey.split('\n')[1], truncated.split('\n')[1]);
  });

  it('redacts password= assignments, JSON-in-a-string and connection-string passwords, not the context', () => {
    const { redacted, findings } = scrubSecrets(
      {
        env: `DB_HOST=db password=${canaries.password} port=5432`,
        embedded: JSON.stringify({ user: 'svc', password: canaries.password }),
        dsn: `postgres://svc:${canaries.password}@db.internal:5432/app`,
      },
      key,
    );
    expect(findings).toHaveLength(1);
    expect(findings[0].paths).toEqual(['env', 'embedded', 'dsn']);
    expect(findings[0].fingerprint).toBe(fingerprintSecret(key, canaries.password));
    expect(redacted).toEqual({
      env: expect.stringMatching(/^DB_HOST=db password=\[REDACTED:password:\w{4}\] port=5432$/),
      embedded: expect.stringContaining('"user":"svc"'),
      dsn: expect.stringMatching(
        /^postgres:\/\/svc:\[REDACTED:connection_string_password:\w{4}\]@db\.internal:5432\/app$/,
      ),
    });
    expectGone(redacted, canaries.password);
  });

  it('redacts secret-named fields whatever their value looks like, numbers included', () => {
    const { redacted, findings } = scrubSecrets(
      { config: { client_secret: 'short', PIN: 1, password: 482913, apiKey: 'k-123', name: 'not secret' } },
      key,
    );
    expect(redacted).toEqual({
      config: {
        client_secret: '[REDACTED:generic_secret:]',
        PIN: 1,
        password: '[REDACTED:password:]',
        apiKey: '[REDACTED:generic_secret:]',
        name: 'not secret',
      },
    });
    expect(findings.map((finding) => finding.fingerprint)).toContain(fingerprintSecret(key, '482913'));
  });

  it('redacts a secret used as an object key', () => {
    const { redacted, findings } = scrubSecrets({ seen: { [canaries.githubToken]: true } }, key);
    expect(findings).toHaveLength(1);
    expectGone(redacted, canaries.githubToken);
    expect(Object.keys((redacted as { seen: object }).seen)).toEqual([
      `[REDACTED:github_personal_access_token:${canaries.githubToken.slice(-4)}]`,
    ]);
  });

  it('reports one finding per distinct secret with every place it appeared', () => {
    const { findings } = scrubSecrets(
      { a: canaries.githubToken, b: [`again ${canaries.githubToken}`], c: canaries.awsAccessKeyId },
      key,
    );
    expect(findings).toHaveLength(2);
    expect(findings[0].paths).toEqual(['a', 'b[0]']);
  });

  it('ranks a declared vendor field above patterns, and patterns above password= guesses', () => {
    const { findings } = scrubSecrets(
      { note: `password=${canaries.password}`, log: canaries.awsAccessKeyId, secret: 'opaque-value-1' },
      key,
      {
        declaredSecretKind: (path) => (path.length === 1 && path[0] === 'secret' ? 'vendor_kind' : undefined),
      },
    );
    expect(findings.map((finding) => [finding.kind, finding.confidence])).toEqual([
      ['vendor_kind', 'declared'],
      ['aws_access_key_id', 'pattern'],
      ['password', 'assignment'],
    ]);
  });

  it('replaces unkeyed hashes of the secret without treating them as the secret', () => {
    const { redacted, findings } = scrubSecrets({ incident: { secret_hash: 'abc123/def' } }, key, {
      derivedSecretKind: (path) => (path.join('.') === 'incident.secret_hash' ? 'secret_hash' : undefined),
    });
    expect(redacted).toEqual({ incident: { secret_hash: '[REDACTED:secret_hash:]' } });
    expect(findings).toEqual([]);
  });

  it('changes nothing when run on its own output', () => {
    const first = scrubSecrets(
      { secret: 'x-secret-value', text: `token=${canaries.slackToken} password=${canaries.password}` },
      key,
    );
    const second = scrubSecrets(first.redacted, key);
    expect(second.findings).toEqual([]);
    expect(second.redacted).toEqual(first.redacted);
  });

  it('redacts `private_key=` and `api-key:` assignments', () => {
    const { redacted, findings } = scrubSecrets(
      { a: `private_key=${canaries.password}`, b: `x-api-key: ${canaries.awsSecretAccessKey}` },
      key,
    );
    expect(findings.map((finding) => finding.kind)).toEqual(['generic_secret', 'generic_secret']);
    expectGone(redacted, canaries.password, canaries.awsSecretAccessKey);
  });

  // Its speed (it once compared every pair of matches) is measured by bench/scrub.ts, not asserted here.
  it('finds every one of the matches in a 1 MiB body packed with them', () => {
    const packed = Array.from(
      { length: 95_000 },
      (_, index) => `token=v${index.toString(36).padStart(4, '0')}`,
    );
    const { findings } = scrubSecrets({ log: packed.join(' ') }, key);
    expect(findings).toHaveLength(packed.length);
  });

  it('leaves ordinary text, numbers and nulls alone', () => {
    const body = {
      title: 'Secret scanning alert',
      count: 3,
      ok: true,
      none: null,
      secret_type: 'aws_access_key_id',
    };
    expect(scrubSecrets(body, key)).toEqual({ redacted: body, findings: [] });
  });

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(() => scrubSecrets(deep, key)).toThrow(/nested deeper than 64 levels/);
  });

  it('keys fingerprints: another key gives another fingerprint for the same value', () => {
    const first = scrubSecrets(canaries.githubToken, key).findings[0].fingerprint;
    const second = scrubSecrets(canaries.githubToken, randomBytes(32)).findings[0].fingerprint;
    expect(first).not.toBe(second);
  });
});
