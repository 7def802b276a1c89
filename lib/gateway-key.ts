import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from './config';
import { rawPublicKey } from './owners';

/**
 * The gateway's own ed25519 key. The gateway signs a claim ("Slack user U clicked on message M") only after it has
 * verified Slack's request signature; the workflow accepts a Slack decision only with that claim, checked against
 * the worker's trusted gateway keys. Someone who reaches the Temporal API but not this key cannot speak for Slack.
 */
export type GatewayKeySettings = Pick<
  Config,
  'dataDir' | 'TOURNIQUET_GATEWAY_KEY_FILE' | 'TOURNIQUET_GATEWAY_PUBLIC_KEYS'
>;

/** Where `up` and a local gateway keep the pair when TOURNIQUET_GATEWAY_KEY_FILE is not set. */
export function defaultGatewayKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'gateway.key');
}

const publicPathOf = (privatePath: string) => privatePath.replace(/\.key$/, '') + '.pub';

/**
 * Creates the default pair once. The private key is linked into place (link fails if it exists), so a worker and a
 * gateway starting together on one data dir agree on one key; the loser waits for the winner's public half.
 */
function ensureDefaultPair(privatePath: string): void {
  const publicPath = publicPathOf(privatePath);
  if (existsSync(publicPath)) return;
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const staged = `${privatePath}.${process.pid}.${Date.now()}`;
  writeFileSync(staged, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  try {
    linkSync(staged, privatePath);
    writeFileSync(publicPath, `${rawPublicKey(publicKey)}\n`, { mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    waitForFile(publicPath);
  } finally {
    unlinkSync(staged);
  }
}

function waitForFile(path: string): void {
  const until = Date.now() + 5_000;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path}: the gateway key's public half did not appear`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** The key the gateway signs its claims with: TOURNIQUET_GATEWAY_KEY_FILE, or the data dir's (created if missing). */
export function gatewaySigningKey(settings: GatewayKeySettings): KeyObject {
  const configured = settings.TOURNIQUET_GATEWAY_KEY_FILE;
  const path = configured ? resolve(configured) : defaultGatewayKeyPath(settings.dataDir);
  if (!configured) ensureDefaultPair(path);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`TOURNIQUET_GATEWAY_KEY_FILE: cannot read ${path}: ${(error as Error).message}`);
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`TOURNIQUET_GATEWAY_KEY_FILE: ${path} is not an ed25519 private key`);
  }
  return key;
}

/**
 * The gateway keys the worker believes (raw, base64): TOURNIQUET_GATEWAY_PUBLIC_KEYS (old and new while rotating),
 * or the data dir's default pair, created if missing so a local `up` needs no setup.
 */
export function trustedGatewayKeys(settings: GatewayKeySettings): string[] {
  if (settings.TOURNIQUET_GATEWAY_PUBLIC_KEYS) return settings.TOURNIQUET_GATEWAY_PUBLIC_KEYS;
  const path = defaultGatewayKeyPath(settings.dataDir);
  ensureDefaultPair(path);
  return [readFileSync(publicPathOf(path), 'utf8').trim()];
}
