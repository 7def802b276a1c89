import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './harness/cli';
import { waitFor } from './harness/incidents';
import { freePort } from './harness/ports';
import { makeDataDir } from './harness/temporal';
import { startDefaultIncident, startUp, upEnv } from './harness/up';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('`tourniquet up` runs the stack; the CLI runs an incident to completion; Ctrl-C stops everything; a restart finds it', async () => {
  const dataDir = makeDataDir();
  const env = await upEnv(dataDir);
  const first = await startUp(env);
  expect(first.output()).toContain(`Temporal UI  http://127.0.0.1:${env.TEMPORAL_UI_PORT}`);
  expect(first.output()).toContain(`Gateway      http://127.0.0.1:${env.TOURNIQUET_PORT}`);
  // Nothing that can act is configured: the embedded demo, said as such.
  expect(first.output()).toContain('Mode         demo: every incident is SIMULATED');
  const serverPid = Number(readFileSync(join(dataDir, 'temporal', 'server.pid'), 'utf8'));
  expect(alive(serverPid)).toBe(true);

  const health = await fetch(`http://127.0.0.1:${env.TOURNIQUET_PORT}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ ok: true, temporal: 'serving' });

  const incidentId = await startDefaultIncident(env);
  expect(incidentId).toMatch(/^incident-[0-9a-f]{24}$/);

  // Slack is not configured: the owners approve out of band with the local operators' keys `up` created.
  const operators = ['local-operator-1', 'local-operator-2'].map((name) =>
    join(dataDir, 'keys', 'operators', `${name}.key`),
  );
  const approvedSteps = new Set<string>();
  const status = await waitFor(
    async () => {
      const shown = await runCli(['incident', 'status', incidentId, '--json'], env);
      const parsed = JSON.parse(shown.stdout) as {
        state: string;
        demo?: boolean;
        steps: { id: string; phase: string; state: string }[];
        approvals: { stepId: string; required: number }[];
      };
      for (const request of parsed.approvals) {
        for (const key of operators.slice(0, request.required)) {
          const approved = await runCli(['approve', incidentId, request.stepId, '--key', key], env);
          expect(approved.stderr).toBe('');
        }
        approvedSteps.add(request.stepId);
      }
      return parsed.state === 'completed' ? parsed : undefined;
    },
    120_000,
    300,
  );
  expect(status.demo).toBe(true);
  expect([...approvedSteps].sort()).toEqual([
    'deactivate-webhooks',
    'purge-exposed-logs',
    'recover-connector',
    'remove-deploy-keys',
    'restore-webhooks',
    'revoke-old-credential',
    'rotate-credential',
  ]);
  expect(status.steps.length).toBeGreaterThan(5);
  for (const step of status.steps)
    expect(step).toMatchObject({ state: 'succeeded', phase: expect.any(String), id: expect.any(String) });

  const again = await runCli(
    [
      'incident',
      'start',
      '--secret-kind',
      'github-token',
      '--connector',
      'github:acme/payments/deploy.yml',
      '--severity',
      'critical',
    ],
    env,
  );
  expect(again.stdout).toContain(`Joined existing incident ${incidentId}`);

  first.child.kill('SIGINT');
  expect(await first.exited).toBe(0);
  expect(alive(serverPid)).toBe(false);

  const second = await startUp(env);
  const listed = await waitFor(async () => {
    const list = await runCli(['incident', 'list', '--json'], env);
    const incidents = JSON.parse(list.stdout) as { incidentId: string; state: string }[];
    return incidents.length > 0 ? incidents : undefined;
  });
  expect(listed).toEqual([expect.objectContaining({ incidentId, state: 'completed' })]);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  // Each CLI call is a fresh Node process; on a loaded 2-core machine the whole story takes minutes.
}, 300_000);

test('incident commands fail with one clear line when Temporal is not running', async () => {
  const result = await runCli(['incident', 'list'], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  expect(result.code).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^tourniquet: cannot reach Temporal at 127\.0\.0\.1:\d+/);
});
