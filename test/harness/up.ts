import { runCli } from './cli';
import { workflowBundlePath } from './temporal';
import { spawnUp, UP_FROM_SOURCE, upEnvOnFreePorts, type UpProcess } from './up-process';

export type { UpProcess };

/** The environment of a `tourniquet up` on free ports with its own data dir (prebuilt workflow bundle). */
export async function upEnv(dataDir: string): Promise<Record<string, string>> {
  return { ...(await upEnvOnFreePorts(dataDir)), TOURNIQUET_WORKFLOW_BUNDLE: await workflowBundlePath() };
}

/** Starts `tourniquet up` and resolves once it says it is up. */
export function startUp(env: Record<string, string>): Promise<UpProcess> {
  return spawnUp(UP_FROM_SOURCE, env);
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
