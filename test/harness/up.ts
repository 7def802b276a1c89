import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from './cli';
import { waitFor } from './incidents';
import { freePort } from './ports';
import { workflowBundlePath } from './temporal';

const BIN = join(__dirname, '..', '..', 'bin', 'tourniquet.js');

/** `tourniquet up` as a user runs it, in its own process. */
export interface UpProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The environment of a `tourniquet up` on free ports with its own data dir (prebuilt workflow bundle). */
export async function upEnv(dataDir: string): Promise<Record<string, string>> {
  return {
    TOURNIQUET_DATA_DIR: dataDir,
    TOURNIQUET_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath(),
    TOURNIQUET_LOG_LEVEL: 'warn',
  };
}

/** Starts `tourniquet up` and resolves once it says it is up. */
export async function startUp(env: Record<string, string>): Promise<UpProcess> {
  const child = spawn(process.execPath, [BIN, 'up'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => Promise.resolve(output.includes('Press Ctrl-C') ? true : undefined), 120_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`tourniquet up did not come up: ${(error as Error).message}\n${output}`);
  }
  return { child, output: () => output, exited };
}

/**
 * `tourniquet incident start` of the default runbook through the CLI, as the README shows it (plus any `flags`);
 * its incident id.
 */
export async function startDefaultIncident(env: Record<string, string>, ...flags: string[]): Promise<string> {
  const started = await runCli(
    [
      'incident',
      'start',
      '--runbook',
      'leaked-workflow-secret',
      '--secret-kind',
      'github-token',
      '--connector',
      'github:acme/payments/deploy.yml',
      '--severity',
      'critical',
      '--json',
      ...flags,
    ],
    env,
  );
  expect(started.stderr).toBe('');
  return (JSON.parse(started.stdout) as { incidentId: string }).incidentId;
}
