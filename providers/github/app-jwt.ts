import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { ProviderError } from '../types';

/** GitHub refuses App JWTs that live longer than ten minutes; stay clear of the edge. */
const LIFETIME_SECONDS = 9 * 60;
/** Issued a minute in the past so a GitHub clock slightly behind ours still accepts it. */
const BACKDATE_SECONDS = 60;

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/**
 * Signs GitHub App JWTs (RS256) with node:crypto. Handed to `@octokit/auth-app` as `createJwt`, so the key is
 * parsed once into a KeyObject and both PKCS#1 and PKCS#8 PEMs work.
 */
export function createAppJwtSigner(
  appId: number,
  privateKeyPem: string,
  now: () => number = Date.now,
): (appIdFromAuth: string | number, timeDifference?: number) => Promise<{ jwt: string; expiresAt: string }> {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch {
    throw new ProviderError(
      'GitHub App private key: cannot be parsed as a PEM private key',
      false,
      'Configuration',
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ProviderError('GitHub App private key: expected an RSA key', false, 'Configuration');
  }
  return (_appIdFromAuth, timeDifference = 0) => {
    const issuedAt = Math.floor(now() / 1000) + timeDifference - BACKDATE_SECONDS;
    const expiresAt = issuedAt + BACKDATE_SECONDS + LIFETIME_SECONDS;
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const payload = base64url(JSON.stringify({ iat: issuedAt, exp: expiresAt, iss: String(appId) }));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key);
    return Promise.resolve({
      jwt: `${header}.${payload}.${base64url(signature)}`,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
    });
  };
}
