import { createHash, randomBytes } from 'node:crypto';
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

  describe('tokens glued to the text around them', () => {
    const tokens = (): [string, string][] => [
      [canaries.githubToken, 'github_personal_access_token'],
      [`ghs_${canaries.githubToken.slice(4)}`, 'github_app_installation_access_token'],
      [
        `github_pat_${randomBytes(11).toString('hex')}_${randomBytes(30).toString('hex')}`,
        'github_fine_grained_personal_access_token',
      ],
      [canaries.awsAccessKeyId, 'aws_access_key_id'],
      [`ASIA${canaries.awsAccessKeyId.slice(4)}`, 'aws_access_key_id'],
      [canaries.slackToken, 'slack_token'],
      [
        `xapp-1-A0${randomBytes(6).toString('hex').toUpperCase()}-${randomBytes(16).toString('hex')}`,
        'slack_app_token',
      ],
      [`n8n_api_${randomBytes(20).toString('hex')}`, 'n8n_api_key'],
      [canaries.n8nApiKey, 'n8n_api_key'],
    ];
    // Fine-grained GitHub tokens and JWTs have `_` in their alphabet: for them `_old` is part of the token.
    const underscoreInAlphabet = (token: string) => /^(github_pat_|eyJ)/.test(token);
    const all = () => true;
    it.each<[string, (token: string) => string, (token: string) => boolean]>([
      ['after an underscore', (token) => `restore backup_${token} now`, all],
      ['after a letter', (token) => `x${token}`, all],
      ['after a digit (URL-encoded space)', (token) => `Authorization=Bearer%20${token}`, all],
      ['after an upper-case letter (URL-encoded =)', (token) => `?key%3D${token}&page=2`, all],
      ['after an escaped newline', (token) => `first line\\n${token}\\nlast line`, all],
      ['before an underscore', (token) => `${token}_old`, (token) => !underscoreInAlphabet(token)],
    ])('finds each distinctive token %s', (_, glue, applies) => {
      for (const [token, kind] of tokens().filter(([token]) => applies(token))) {
        const { redacted, findings } = scrubSecrets({ log: glue(token) }, key);
        expect({ token, findings }).toMatchObject({
          findings: [{ kind, fingerprint: fingerprintSecret(key, token), confidence: 'pattern' }],
        });
        expect(redacted).toEqual({ log: glue(`[REDACTED:${kind}:${token.slice(-4)}]`) });
      }
    });

    it('still leaves words, hashes and identifiers that merely contain a prefix alone', () => {
      const sha256 = createHash('sha256').update('x').digest('hex');
      const body = {
        prose: 'ASIAN markets, EURASIAN and CAUCASIAN indexes; FANTASIA, EUTHANASIA, AKIAS and ACCAs',
        caps: 'SOUTHEASTASIAREGIONOFFICE01 ASIAPACIFICREGIONALHQ2024XY ASIA_PACIFIC_REGION_2024_Q1_REPORT',
        words: 'laughs_and_sighs, highs_lows, thoughs_ghr_x, xoxo-hugs, the eyJ prefix marks a JWT',
        prefixes: 'tokens start with ghp_, github_pat_, AKIA, xoxb-, xapp-1-, n8n_api_ or eyJ',
        hashes: [sha256, sha256.toUpperCase(), `sha256:${sha256}`, `sha1-${'0123456789abcdef'.repeat(5)}`],
        commit: `commit ${sha256.slice(0, 40)} (HEAD -> main), v1.2.3-14-g${sha256.slice(0, 7)}`,
        ids: [
          '0b9f1c7e-4a3d-4e21-9d6b-2f7c8a1e5b30',
          createHash('sha512').update('y').digest('base64'),
          createHash('sha512').update('z').digest('base64url'),
        ],
      };
      expect(scrubSecrets(body, key)).toEqual({ redacted: body, findings: [] });
    });
  });

  describe('adversarial 1 MiB bodies (their speed is measured by bench/scrub.ts)', () => {
    const MIB = 1024 * 1024;
    const repeated = (unit: string) => unit.repeat(MIB / unit.length + 1).slice(0, MIB);

    it.each(['eyJ-', 'eyJ.', 'ghp_', 'n8n_api_', 'xoxb', '://a:', 'ab://a:', '[REDACTED:'])(
      'finds nothing in %s repeated, and leaves it as it was',
      (unit) => {
        const body = { log: repeated(unit) };
        expect(scrubSecrets(body, key)).toEqual({ redacted: body, findings: [] });
      },
    );

    it.each([
      ['AKIA', 'aws_access_key_id', 20],
      ['github_pat_', 'github_fine_grained_personal_access_token', 11 + 255],
    ])('finds only the well-formed token that ends %s repeated', (unit, kind, maxLength) => {
      const text = repeated(unit);
      const { redacted, findings } = scrubSecrets(text, key);
      expect(findings).toMatchObject([{ kind }]);
      const [, kept, last4] = /^(.*)\[REDACTED:[a-z_]+:(.{4})\]$/s.exec(String(redacted)) ?? [];
      expect(text.startsWith(kept)).toBe(true);
      expect(text.length - kept.length).toBeLessThanOrEqual(maxLength);
      expect(text.endsWith(last4)).toBe(true);
    });

    it('finds nothing in 1 MiB of base64', () => {
      const blocks = Array.from({ length: MIB / 64 }, (_, block) =>
        createHash('sha512').update(String(block)).digest(),
      );
      const data = Buffer.concat(blocks);
      const body = { standard: data.toString('base64'), url: data.toString('base64url') };
      expect(scrubSecrets(body, key)).toEqual({ redacted: body, findings: [] });
    });

    it('still finds a token right after a 1 MiB run of its prefix', () => {
      const text = `${repeated('eyJ-')} ${canaries.n8nApiKey} ${repeated('ghp_')}${canaries.githubToken}`;
      const { redacted, findings } = scrubSecrets({ log: text }, key);
      expect(findings.map((finding) => [finding.kind, finding.fingerprint])).toEqual([
        ['n8n_api_key', fingerprintSecret(key, canaries.n8nApiKey)],
        ['github_personal_access_token', fingerprintSecret(key, canaries.githubToken)],
      ]);
      expectGone(redacted, canaries.n8nApiKey, canaries.githubToken);
    });

    it('finds every token in a body whose matches overlap one another in a single chain', () => {
      // Each `token=` value runs 512 characters into the next unit's connection-string password, which runs
      // into the next `token=` value: one chain of overlaps through the whole body, with key ids inside.
      const keyIds: string[] = [];
      const unit = () => {
        let filler = '';
        while (filler.length < 480) {
          keyIds.push(`AKIA${randomBytes(8).toString('hex').toUpperCase()}`);
          filler += `${keyIds[keyIds.length - 1]}-`;
        }
        return `a1://u:-token=xy@${filler.padEnd(501, 'x')}`;
      };
      const text = Array.from({ length: 2000 }, unit).join('');
      const { redacted, findings } = scrubSecrets(text, key);
      expect(findings).toHaveLength(keyIds.length + 1);
      expect(findings.filter((finding) => finding.kind === 'aws_access_key_id')).toHaveLength(keyIds.length);
      expectGone(redacted, ...keyIds.slice(0, 100), ...keyIds.slice(-100));
    });
  });

  it('redacts every part of a JWT cut wrong because a header-like segment came before it', () => {
    const text = `eyJ-eyJ-eyJ-eyJ-.${canaries.n8nApiKey}`;
    const { redacted, findings } = scrubSecrets(text, key);
    expect(findings).toHaveLength(1);
    expectGone(redacted, ...canaries.n8nApiKey.split('.'));
  });

  it('keeps `__proto__`, `constructor` and `prototype` as own keys of the copy and pollutes nothing', () => {
    const body = JSON.parse(
      JSON.stringify({ outer: 1, nested: { token: canaries.githubToken } })
        .replace('"outer":1', '"__proto__":{"polluted":1,"isAdmin":true}')
        .replace(
          '"nested"',
          '"constructor":{"prototype":{"polluted":2}},"prototype":{"polluted":3},"__proto__"',
        ),
    ) as unknown;
    const { redacted, findings } = scrubSecrets(body, key);
    expect(findings.map((finding) => finding.kind)).toEqual(['github_personal_access_token']);
    const copy = redacted as Record<string, unknown>;
    for (const name of ['__proto__', 'constructor', 'prototype'])
      expect(Object.hasOwn(copy, name)).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.polluted).toBeUndefined();
    expect(copy.isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // What callers do with the copy: entries, spread, JSON.
    expect(Object.keys(copy)).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(Object.getPrototypeOf({ ...copy })).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(copy))).toEqual(
      JSON.parse(
        JSON.stringify(body).replace(
          canaries.githubToken,
          `[REDACTED:github_personal_access_token:${canaries.githubToken.slice(-4)}]`,
        ),
      ),
    );
  });

  it('redacts a private key block even when it holds the marker of an earlier scrub', () => {
    const keyLine = canaries.privateKey.split('\n')[1];
    const { redacted, findings } = scrubSecrets(
      {
        inside: canaries.privateKey.replace(keyLine, `${keyLine} [REDACTED:password:abcd]`),
        truncated: `${canaries.privateKey.slice(0, 120)} then token=[REDACTED:generic_secret:wxyz]`,
      },
      key,
    );
    expect(findings.map((finding) => finding.kind)).toEqual(['private_key', 'private_key']);
    expectGone(redacted, keyLine);
  });
});
