import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../lib/config';
import {
  addressAllowed,
  authenticateUrlToken,
  describeUrlTokens,
  hasUrlToken,
  redactUrlTokenPath,
  urlTokenSources,
  urlTokensFromEnv,
  type UrlTokenConfig,
} from '../gateway/siem/url-token';

// Observed, not replaced: the comparison must call it once per configured token, on equal-length digests.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});
const compared = jest.mocked(timingSafeEqual);

/** 43 URL-safe characters, as `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='` would give. */
function token(): string {
  return randomBytes(32).toString('base64url');
}

const newest = token();
const older = token();
const azure = token();

function configFrom(env: Record<string, string | undefined>): UrlTokenConfig {
  return urlTokensFromEnv(env);
}

/** The ConfigError message for `env`; fails the test when the configuration is accepted. */
function configError(env: Record<string, string | undefined>): string {
  try {
    urlTokensFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

const rotating = configFrom({ SIEM_URL_TOKEN_SPLUNK: `${newest}, ${older}` });

describe('URL tokens: which token is accepted', () => {
  it('accepts both tokens while rotating and says which one matched', () => {
    expect(authenticateUrlToken(rotating, 'splunk', newest, '203.0.113.7')).toEqual({
      ok: true,
      rotation: 'newest',
    });
    expect(authenticateUrlToken(rotating, 'splunk', older, '203.0.113.7')).toEqual({
      ok: true,
      rotation: 'older',
    });
  });

  it('refuses a third token', () => {
    expect(authenticateUrlToken(rotating, 'splunk', token(), '203.0.113.7')).toEqual({
      ok: false,
      status: 401,
      reason: 'URL token does not match',
    });
  });

  it('refuses a token differing only in its last character', () => {
    const last = newest.at(-1)!;
    const altered = newest.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    expect(authenticateUrlToken(rotating, 'splunk', altered, undefined).ok).toBe(false);
  });

  it('refuses a prefix of a valid token, down to the empty string', () => {
    for (const length of [newest.length - 1, 21, 1, 0]) {
      expect(authenticateUrlToken(rotating, 'splunk', newest.slice(0, length), undefined).ok).toBe(false);
    }
    expect(authenticateUrlToken(rotating, 'splunk', undefined, undefined).ok).toBe(false);
  });

  it('refuses a longer string that starts with a valid token', () => {
    for (const suffix of ['x', '/', '%00', older, ' ']) {
      expect(authenticateUrlToken(rotating, 'splunk', newest + suffix, undefined).ok).toBe(false);
    }
  });

  it('refuses the token of another source', () => {
    const both = configFrom({ SIEM_URL_TOKEN_SPLUNK: newest, SIEM_URL_TOKEN_AZURE_MONITOR: azure });
    expect(authenticateUrlToken(both, 'azure-monitor', azure, undefined).ok).toBe(true);
    expect(authenticateUrlToken(both, 'azure-monitor', newest, undefined).ok).toBe(false);
    expect(authenticateUrlToken(both, 'splunk', azure, undefined).ok).toBe(false);
  });

  it('refuses a source without URL-token mode, even with a configured token', () => {
    expect(authenticateUrlToken(rotating, 'azure-monitor', newest, undefined)).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(authenticateUrlToken(rotating, 'github', newest, undefined).ok).toBe(false);
    expect(hasUrlToken(rotating, 'splunk')).toBe(true);
    expect(hasUrlToken(rotating, 'azure-monitor')).toBe(false);
    expect(hasUrlToken(rotating, 'github')).toBe(false);
    expect(urlTokenSources(rotating)).toEqual(['splunk']);
  });

  it('never quotes the presented token in a reason', () => {
    const presented = [token(), newest + 'x', newest.slice(0, -1)];
    const allowOnly = configFrom({
      SIEM_URL_TOKEN_SPLUNK: newest,
      SIEM_URL_TOKEN_SPLUNK_ALLOW: '10.0.0.0/8',
    });
    for (const candidate of presented) {
      for (const result of [
        authenticateUrlToken(rotating, 'splunk', candidate, '10.1.2.3'),
        authenticateUrlToken(rotating, 'azure-monitor', candidate, '10.1.2.3'),
        authenticateUrlToken(allowOnly, 'splunk', candidate, '192.0.2.1'),
        authenticateUrlToken(allowOnly, 'splunk', candidate, undefined),
      ]) {
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.reason).not.toContain(candidate.slice(0, 8));
      }
    }
  });

  it('compares every configured token on equal-length digests, without stopping at the first match', () => {
    const four = configFrom({ SIEM_URL_TOKEN_SPLUNK: [newest, older, token(), token()].join(',') });
    for (const presented of [newest, older, 'short', newest + newest, '']) {
      compared.mockClear();
      authenticateUrlToken(four, 'splunk', presented, undefined);
      expect(compared).toHaveBeenCalledTimes(4);
      for (const [configured, given] of compared.mock.calls) {
        expect((configured as Buffer).length).toBe(32);
        expect((given as Buffer).length).toBe(32);
      }
    }
  });

  it('keeps no token in the configuration or its description', () => {
    const both = configFrom({
      SIEM_URL_TOKEN_SPLUNK: `${newest},${older}`,
      SIEM_URL_TOKEN_AZURE_MONITOR: azure,
      SIEM_URL_TOKEN_AZURE_MONITOR_ALLOW: '2001:db8::/32, 198.51.100.0/24',
    });
    const printed = JSON.stringify(both) + JSON.stringify(describeUrlTokens(both));
    for (const value of [newest, older, azure]) expect(printed).not.toContain(value);
    expect(describeUrlTokens(both)).toEqual([
      { source: 'splunk', tokenCount: 2, allow: 'any' },
      { source: 'azure-monitor', tokenCount: 1, allow: ['2001:db8::/32', '198.51.100.0/24'] },
    ]);
  });
});

describe('URL tokens: configuration', () => {
  it('reads nothing when no URL-token variable is set, and treats empty values as unset', () => {
    expect(configFrom({ SIEM_SECRET_SPLUNK: token() })).toEqual({});
    expect(configFrom({ SIEM_URL_TOKEN_SPLUNK: '', SIEM_URL_TOKEN_SPLUNK_ALLOW: '' })).toEqual({});
    expect(
      configFrom({ SIEM_URL_TOKEN_SPLUNK: newest, SIEM_URL_TOKEN_SPLUNK_ALLOW: ' ' }).splunk?.allow,
    ).toBe(undefined);
  });

  it.each([
    ['shorter than 32 characters', 'abcdefghijklmnopqrstuvwxyz01234', 'token 1: shorter than 32 characters'],
    [
      'base64 with + and /',
      `${token().slice(0, 40)}+/=`,
      'token 1: may only contain the URL-safe characters',
    ],
    ['a percent-encoded character', `${token()}%2F`, 'token 1: may only contain the URL-safe characters'],
    ['a space inside', `${token().slice(0, 20)} ${token().slice(0, 20)}`, 'may only contain the URL-safe'],
    ['a repeated character', 'a'.repeat(40), 'token 1: fewer than 8 distinct characters'],
    ['a repeated short word', 'abc-'.repeat(10), 'fewer than 8 distinct characters'],
    ['longer than 256 characters', token().repeat(7), 'token 1: longer than 256 characters'],
  ])('refuses a token %s, naming the variable and never the value', (_case, weak, expected) => {
    const message = configError({ SIEM_URL_TOKEN_SPLUNK: weak });
    expect(message).toContain('environment variable SIEM_URL_TOKEN_SPLUNK: ');
    expect(message).toContain(expected);
    expect(message).not.toContain(weak.slice(0, 12));
  });

  it('names the position of the weak token in a rotation list', () => {
    const message = configError({ SIEM_URL_TOKEN_AZURE_MONITOR: `${azure},too-short-to-be-a-token` });
    expect(message).toBe(
      'environment variable SIEM_URL_TOKEN_AZURE_MONITOR: token 2: shorter than 32 characters',
    );
  });

  it('refuses a repeated token and more than four tokens', () => {
    expect(configError({ SIEM_URL_TOKEN_SPLUNK: `${newest},${newest}` })).toBe(
      'environment variable SIEM_URL_TOKEN_SPLUNK: token 2: repeats token 1',
    );
    expect(configError({ SIEM_URL_TOKEN_SPLUNK: [1, 2, 3, 4, 5].map(() => token()).join(',') })).toContain(
      'at most 4 tokens',
    );
  });

  it('refuses a header secret reused as a URL token, and one token shared by two sources', () => {
    expect(
      configError({ SIEM_SECRET_ELASTIC: `${older},x`, SIEM_URL_TOKEN_SPLUNK: `${newest},${older}` }),
    ).toBe(
      'environment variable SIEM_URL_TOKEN_SPLUNK: token 2 is also a SIEM_SECRET_ELASTIC value: ' +
        'URL tokens end up in logs, use a separate one',
    );
    expect(configError({ SIEM_URL_TOKEN_SPLUNK: newest, SIEM_URL_TOKEN_AZURE_MONITOR: newest })).toBe(
      'environment variable SIEM_URL_TOKEN_AZURE_MONITOR: token 1 is also listed in SIEM_URL_TOKEN_SPLUNK: ' +
        'give each sender its own token',
    );
  });

  it('refuses URL tokens for sources that sign their bodies or can set headers', () => {
    for (const variable of ['SIEM_URL_TOKEN_GITHUB', 'SIEM_URL_TOKEN_GENERIC', 'SIEM_URL_TOKEN_DATADOG']) {
      const message = configError({ [variable]: newest });
      expect(message).toContain(
        `environment variable ${variable}: URL tokens are only for senders that cannot`,
      );
    }
  });

  it('refuses a misspelt URL-token variable rather than ignoring it', () => {
    expect(configError({ SIEM_URL_TOKEN_SPLUNK: newest, SIEM_URL_TOKEN_SPLUNK_ALLOWED: '10.0.0.0/8' })).toBe(
      'environment variable SIEM_URL_TOKEN_SPLUNK_ALLOWED: not a URL-token setting: expected ' +
        'SIEM_URL_TOKEN_SPLUNK, SIEM_URL_TOKEN_AZURE_MONITOR, or one of them followed by _ALLOW',
    );
    expect(configError({ SIEM_URL_TOKEN_AZURE: newest })).toContain(
      'SIEM_URL_TOKEN_AZURE: not a URL-token setting',
    );
  });

  it('refuses an allow-list without a token', () => {
    expect(configError({ SIEM_URL_TOKEN_SPLUNK_ALLOW: '10.0.0.0/8' })).toBe(
      'environment variable SIEM_URL_TOKEN_SPLUNK_ALLOW: set without SIEM_URL_TOKEN_SPLUNK: there is no URL token to restrict',
    );
  });

  it.each([
    ['a prefix beyond 32 bits', '10.0.0.0/33', '"10.0.0.0/33" is not a CIDR range'],
    ['a prefix beyond 128 bits', '2001:db8::/129', '"2001:db8::/129" is not a CIDR range'],
    ['a short IPv4 form', '10.1/16', '"10.1/16" is not a CIDR range'],
    ['a hexadecimal IPv4 part', '0xa.0.0.0/8', 'is not a CIDR range'],
    ['a name', 'splunk.example.com', 'is not an address or a CIDR range'],
    ['host bits set', '10.1.2.3/8', '"10.1.2.3/8" has host bits set: did you mean 10.0.0.0/8?'],
    ['host bits set in IPv6', '2001:db8::1/32', 'has host bits set: did you mean 2001:db8::/32?'],
    ['a zone index', 'fe80::%eth0/64', 'zone indexes (%) are not allowed'],
    ['an empty prefix', '10.0.0.0/', 'is not a CIDR range'],
    ['the deprecated IPv4-compatible form', '::10.0.0.0/104', 'uses the deprecated ::a.b.c.d form'],
  ])('refuses an allow-list entry with %s, naming the variable and the entry', (_case, entry, expected) => {
    const message = configError({
      SIEM_URL_TOKEN_AZURE_MONITOR: azure,
      SIEM_URL_TOKEN_AZURE_MONITOR_ALLOW: `192.0.2.0/24, ${entry}`,
    });
    expect(message).toContain('environment variable SIEM_URL_TOKEN_AZURE_MONITOR_ALLOW: entry 2');
    expect(message).toContain(expected);
  });

  it('does not repeat an allow-list entry that could be a misplaced token', () => {
    const message = configError({ SIEM_URL_TOKEN_SPLUNK: newest, SIEM_URL_TOKEN_SPLUNK_ALLOW: older });
    expect(message).toContain('SIEM_URL_TOKEN_SPLUNK_ALLOW: entry 1');
    expect(message).not.toContain(older.slice(0, 12));
  });
});

describe('URL tokens: address allow-list', () => {
  const allowed = configFrom({
    SIEM_URL_TOKEN_SPLUNK: newest,
    SIEM_URL_TOKEN_SPLUNK_ALLOW: '10.0.0.0/8, 2001:db8::/32, 198.51.100.7',
  });

  it.each([
    ['IPv4 inside the range', '10.1.2.3'],
    ['a single allowed IPv4 address', '198.51.100.7'],
    ['IPv6 inside the range', '2001:db8:0:1::42'],
    ['IPv6 written in full', '2001:0db8:0000:0000:0000:0000:0000:0001'],
    ['IPv4-mapped IPv6, as Node reports IPv4 on a dual-stack socket', '::ffff:10.1.2.3'],
    ['IPv4-mapped IPv6 in hexadecimal', '::ffff:a01:203'],
  ])('allows %s', (_case, address) => {
    expect(authenticateUrlToken(allowed, 'splunk', newest, address)).toEqual({
      ok: true,
      rotation: 'newest',
    });
  });

  it.each([
    ['IPv4 outside the range', '11.0.0.1'],
    ['the neighbour of a single address', '198.51.100.8'],
    ['IPv6 outside the range', '2001:db9::1'],
    ['IPv4-mapped IPv6 outside the range', '::ffff:192.0.2.1'],
    ['an IPv6 address embedding the IPv4 range but not mapped', '::10.1.2.3'],
    ['an IPv6 loopback', '::1'],
    ['a missing address', undefined],
    ['an empty address', ''],
    ['an unparseable address', 'not-an-address'],
  ])('refuses %s with 403, before looking at the token', (_case, address) => {
    const expected = { ok: false, status: 403 };
    expect(authenticateUrlToken(allowed, 'splunk', newest, address)).toMatchObject(expected);
    expect(authenticateUrlToken(allowed, 'splunk', token(), address)).toMatchObject(expected);
  });

  it('says why an address was refused without quoting it', () => {
    expect(authenticateUrlToken(allowed, 'splunk', newest, '11.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'address not in SIEM_URL_TOKEN_SPLUNK_ALLOW',
    });
    expect(authenticateUrlToken(allowed, 'splunk', newest, undefined)).toEqual({
      ok: false,
      status: 403,
      reason: 'no peer address to check against SIEM_URL_TOKEN_SPLUNK_ALLOW',
    });
  });

  it('still needs the token from an allowed address', () => {
    expect(authenticateUrlToken(allowed, 'splunk', token(), '10.1.2.3')).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it('reads an IPv4-mapped range as the IPv4 range it stands for', () => {
    const mapped = configFrom({
      SIEM_URL_TOKEN_SPLUNK: newest,
      SIEM_URL_TOKEN_SPLUNK_ALLOW: '::ffff:10.0.0.0/104',
    });
    expect(describeUrlTokens(mapped)[0].allow).toEqual(['10.0.0.0/8']);
    expect(addressAllowed(mapped.splunk!.allow!, '10.200.0.1')).toBe(true);
    expect(addressAllowed(mapped.splunk!.allow!, '::ffff:10.200.0.1')).toBe(true);
    expect(addressAllowed(mapped.splunk!.allow!, '11.0.0.1')).toBe(false);
  });

  it('lets every address through when no allow-list is set', () => {
    expect(authenticateUrlToken(rotating, 'splunk', newest, undefined).ok).toBe(true);
    expect(authenticateUrlToken(rotating, 'splunk', newest, '::1').ok).toBe(true);
  });
});

describe('URL tokens: redacting paths for logs', () => {
  // Test names show <TOKEN>; the paths get a fresh random token.
  const secret = token();

  it.each([
    ['/webhooks/siem/splunk/t/<TOKEN>', '/webhooks/siem/splunk/t/[REDACTED]'],
    ['/webhooks/siem/azure-monitor/t/<TOKEN>', '/webhooks/siem/azure-monitor/t/[REDACTED]'],
    ['/webhooks/siem/splunk/t/<TOKEN>/', '/webhooks/siem/splunk/t/[REDACTED]'],
    ['/webhooks/siem/splunk/t/<TOKEN>?debug=1', '/webhooks/siem/splunk/t/[REDACTED]'],
    ['/webhooks/siem/splunk/t/<TOKEN>/more/segments', '/webhooks/siem/splunk/t/[REDACTED]'],
    ['/WEBHOOKS/SIEM/splunk/T/<TOKEN>', '/WEBHOOKS/SIEM/splunk/t/[REDACTED]'],
    ['/webhooks//siem//splunk//t//<TOKEN>', '/webhooks//siem/splunk/t/[REDACTED]'],
    [
      'https://gateway.example.com/webhooks/siem/splunk/t/<TOKEN>',
      'https://gateway.example.com/webhooks/siem/splunk/t/[REDACTED]',
    ],
    ['/webhooks/siem/splunk/t/', '/webhooks/siem/splunk/t/[REDACTED]'],
    ['/webhooks/siem/splunk?token=<TOKEN>', '/webhooks/siem/splunk/[REDACTED]'],
    ['/webhooks/siem/splunk/<TOKEN>', '/webhooks/siem/splunk/[REDACTED]'],
    ['/webhooks/siem/<TOKEN>', '/webhooks/siem/[unknown]'],
    ['/webhooks/siem/<TOKEN>/t/<TOKEN>', '/webhooks/siem/[unknown]/t/[REDACTED]'],
    ['/webhooks/siem?<TOKEN>', '/webhooks/siem/[REDACTED]'],
  ])('redacts %s', (template, expected) => {
    const redacted = redactUrlTokenPath(template.replaceAll('<TOKEN>', secret));
    expect(redacted).toBe(expected);
    expect(redacted).not.toContain(secret.slice(0, 8));
  });

  it.each([
    '/webhooks/siem/splunk',
    '/webhooks/siem/azure-monitor',
    '/webhooks/siem/splunk/',
    '/healthz',
    '/metrics',
    '',
  ])('leaves %s unchanged', (path) => {
    expect(redactUrlTokenPath(path)).toBe(path);
  });
});
