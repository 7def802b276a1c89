import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListUsersCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { freePort } from './ports';

export const MOTO_VERSION = '5.2.6';
export const MOTO_REGION = 'us-east-1';

/** Where .ci/install-moto.sh puts its virtualenv: the user cache, like the Temporal CLI build. */
export function motoCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tourniquet', `moto-${MOTO_VERSION}`);
}

/**
 * The virtualenv's python, installed on first use by .ci/install-moto.sh. The script builds in a staging directory
 * and renames it into place, so two jest workers installing at once never see half a copy; the marker file is
 * written before the rename, so its presence means the copy is complete.
 */
export function ensureMoto(): string {
  const dir = motoCacheDir();
  const python = join(dir, 'bin', 'python');
  if (existsSync(join(dir, 'installed'))) return python;
  const script = join(__dirname, '..', '..', '.ci', 'install-moto.sh');
  const install = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (install.status !== 0 || !existsSync(join(dir, 'installed'))) {
    throw new Error(
      `installing moto ${MOTO_VERSION} failed (${script}):\n${install.stdout}${install.stderr}`,
    );
  }
  return python;
}

export interface MotoCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface MotoServer {
  endpoint: string;
  region: string;
  /** The account moto puts the bootstrap user (and every key it issues) in. */
  accountId: string;
  /** An IAM user allowed everything, created during the unauthenticated bootstrap calls. */
  admin: MotoCredentials & { userName: string; arn: string };
  /** What the server printed (one line per request), for leak checks. */
  readLog(): string;
  stop(): Promise<void>;
}

/** The calls the bootstrap makes before moto starts checking signatures and policies. */
const BOOTSTRAP_CALLS = 3;
const ADMIN_USER = 'tourniquet-admin';

async function waitUntilReady(endpoint: string, exited: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited()) throw new Error(`moto exited before answering:\n${log()}`);
    try {
      // The dashboard API is not an AWS action: it does not use up the unauthenticated calls.
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto did not answer at ${endpoint} within 30 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/**
 * With INITIAL_NO_AUTH_ACTION_COUNT=3, moto answers the first three AWS calls without checking anything and every
 * later one like AWS: SigV4 signature against the key's secret, then IAM policies. The three calls create the admin
 * user, its allow-all policy and its access key; from then on a request signed by anything else is refused, which
 * is checked here before the server is handed out.
 */
async function bootstrap(endpoint: string): Promise<MotoServer['admin']> {
  const anonymous = { accessKeyId: 'AKIABOOTSTRAPBOOTSTR', secretAccessKey: 'bootstrap-only' };
  const iam = new IAMClient({ endpoint, region: MOTO_REGION, credentials: anonymous, maxAttempts: 1 });
  try {
    await iam.send(new CreateUserCommand({ UserName: ADMIN_USER }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: ADMIN_USER,
        PolicyName: 'allow-all',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    const created = await iam.send(new CreateAccessKeyCommand({ UserName: ADMIN_USER }));
    const admin = {
      accessKeyId: created.AccessKey!.AccessKeyId!,
      secretAccessKey: created.AccessKey!.SecretAccessKey!,
    };
    const refused = await iam.send(new ListUsersCommand({})).then(
      () => false,
      (error: { name?: string }) => error.name === 'InvalidClientTokenId',
    );
    if (!refused)
      throw new Error('moto still accepts unsigned requests after the bootstrap: auth is not enforced');
    const sts = new STSClient({ endpoint, region: MOTO_REGION, credentials: admin, maxAttempts: 1 });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    return { ...admin, userName: ADMIN_USER, arn: me.Arn! };
  } finally {
    iam.destroy();
  }
}

/** A private moto server for one test file: its own port on 127.0.0.1, IAM auth enforced after the bootstrap. */
export async function startMoto(): Promise<MotoServer> {
  const python = ensureMoto();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    // AWS managed policies (AWSCompromisedKeyQuarantineV2) exist only when loaded.
    MOTO_IAM_LOAD_MANAGED_POLICIES: 'true',
    INITIAL_NO_AUTH_ACTION_COUNT: String(BOOTSTRAP_CALLS),
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const server = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    server.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    server.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const readLog = () => Buffer.concat(chunks).toString('utf8');
    const exited = new Promise<void>((resolve) => {
      if (server.exitCode !== null) resolve();
      else server.once('exit', () => resolve());
    });
    try {
      await waitUntilReady(endpoint, () => server.exitCode !== null, readLog);
      const admin = await bootstrap(endpoint);
      // If the test process dies without stop(), the server must not outlive it.
      const killOnExit = () => server.kill('SIGKILL');
      process.once('exit', killOnExit);
      return {
        endpoint,
        region: MOTO_REGION,
        accountId: admin.arn.split(':')[4],
        admin,
        readLog,
        stop: async () => {
          server.kill('SIGTERM');
          const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
          process.off('exit', killOnExit);
        },
      };
    } catch (error) {
      lastError = error;
      server.kill('SIGKILL');
      await exited;
    }
  }
  throw lastError instanceof Error ? lastError : new Error('moto did not start');
}
