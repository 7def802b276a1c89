import './simulators/github/jest-esm-interop';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createGitHubProvider } from '../providers/github/provider';
import type { IncidentInput, IncidentStatus } from '../lib/runbook/types';
import { incidentInput, result, runbookById, start } from './harness/incidents';
import { approveUntilClosed } from './harness/owners';
import { startTemporalWorker, type TemporalWorker } from './harness/stack';
import { startGitHubSimulator, type GitHubSimulator } from './simulators/github';
import { runCli } from './harness/cli';

/**
 * A real incident on a worker where GitHub is configured (against the REST simulator) and PostgreSQL is not: the
 * steps on the database end `not-configured`, never `succeeded` by a simulation nobody asked for. The same incident
 * on a worker in demo mode is simulated, and says SIMULATED everywhere.
 */
let sim: GitHubSimulator;
let installationId: number;
const REPO = 'acme/ledger';
const CREDENTIAL = 'postgres:ledger_app@ledgerdb';

beforeAll(async () => {
  sim = await startGitHubSimulator();
  installationId = sim.installApp({
    account: 'acme',
    permissions: { actions: 'write', administration: 'write', repository_hooks: 'write', secrets: 'write' },
  }).id;
  sim.addRepository(REPO);
  sim.addWorkflow(REPO, { path: '.github/workflows/deploy.yml', name: 'deploy' });
  sim.seedSecret(REPO, 'DATABASE_URL', 'postgres://old');
});
afterAll(async () => {
  await sim?.close();
});

function gitHub() {
  return createGitHubProvider({
    baseUrl: sim.url,
    auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId },
    throttle: { writeSpacing: 'none' },
    retry: { retries: 1, retryAfterBaseValueMs: 20 },
    cancelGraceMs: 300,
  });
}

function leak(): IncidentInput {
  return incidentInput(runbookById('leaked-workflow-secret'), {
    connector: `github:${REPO}/.github/workflows/deploy.yml`,
    credential: CREDENTIAL,
    destinations: [`github:${REPO}:DATABASE_URL`],
    requester: 'cli:oncall',
    severity: 'critical',
  });
}

const stepOf = (status: IncidentStatus, id: string) => status.steps.find((step) => step.id === id)!;
const ISSUER_STEPS = [
  'rotate-credential',
  'terminate-sessions',
  'revoke-old-credential',
  'verify-old-credential-dead',
];

describe('live (GitHub configured, PostgreSQL not)', () => {
  let stack: TemporalWorker;
  const logLines: string[] = [];
  beforeAll(async () => {
    stack = await startTemporalWorker({
      real: [gitHub()],
      logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('the database steps end not-configured, naming the settings; nothing was simulated; the GitHub steps acted', async () => {
    const incidentId = await start(stack.client, leak());
    await approveUntilClosed(stack.client, stack.dataDir, incidentId);
    const status = await result(stack.client, incidentId);

    const rotate = stepOf(status, 'rotate-credential');
    expect(rotate.state).toBe('not-configured');
    expect(rotate.error).toContain('POSTGRES_ADMIN_URL');
    for (const id of ISSUER_STEPS.slice(1)) {
      expect(stepOf(status, id)).toMatchObject({
        state: 'skipped',
        reason: expect.stringMatching(
          /^blocked: "(rotate-credential|revoke-old-credential)" did not succeed$/,
        ),
      });
    }
    expect(status.steps.filter((step) => step.provider?.startsWith('simulated'))).toEqual([]);
    expect(await stack.worker.journal.entries()).toEqual([]);
    // Containment that could act did: the connector is off, and stays off since the credential was not replaced.
    expect(stepOf(status, 'disable-connector')).toMatchObject({ state: 'succeeded', provider: 'github' });
    expect(sim.repository(REPO).workflows[0].state).toBe('disabled_manually');
    expect(stepOf(status, 'recover-connector').state).toBe('skipped');

    expect(status.state).toBe('failed');
    expect(status.demo).toBeUndefined();
    // Nobody was asked to approve a rotation that could not run.
    expect(
      status.timeline.filter((event) => event.stepId === 'rotate-credential').map((event) => event.type),
    ).toEqual(['not-configured']);
    expect(logLines.join('\n')).toContain('"msg":"not-configured: \\"postgres\\" is not configured');

    const cli = await runCli(['incident', 'status', incidentId], stack.cliEnv);
    expect(cli.stdout).toMatch(/not-configured\s+rotate-credential/);
    expect(cli.stdout).not.toContain('SIMULATED');
  });

  test('a start that asks for demo mode itself is still live: the mode is the worker’s, fixed at opening', async () => {
    const incidentId = await start(stack.client, { ...leak(), demo: true, mode: 'demo' } as IncidentInput);
    await approveUntilClosed(stack.client, stack.dataDir, incidentId);
    const status = await result(stack.client, incidentId);

    expect(stepOf(status, 'rotate-credential').state).toBe('not-configured');
    expect(status.demo).toBeUndefined();
    expect(await stack.worker.journal.entries()).toEqual([]);
  });
});

describe('demo (TOURNIQUET_MODE=demo on the same worker setup)', () => {
  let stack: TemporalWorker;
  const logLines: string[] = [];
  beforeAll(async () => {
    stack = await startTemporalWorker({
      real: [gitHub()],
      mode: 'demo',
      logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('the database steps are simulated, and the status, the messages and the report say SIMULATED', async () => {
    const incidentId = await start(stack.client, leak());
    await approveUntilClosed(stack.client, stack.dataDir, incidentId);
    const status = await result(stack.client, incidentId);

    expect(status.demo).toBe(true);
    for (const id of ISSUER_STEPS) {
      expect(stepOf(status, id)).toMatchObject({ state: 'succeeded', provider: 'simulated:postgres' });
    }
    expect(stepOf(status, 'disable-connector').provider).toBe('github');
    const messages = logLines
      .map((line) => JSON.parse(line) as { incidentId?: string; event?: string; msg: string })
      .filter((line) => line.incidentId === incidentId && line.event);
    expect(messages.length).toBeGreaterThan(5);
    for (const message of messages) expect(message.msg).toMatch(/^\[SIMULATED\] /);

    const cli = await runCli(['incident', 'status', incidentId], stack.cliEnv);
    expect(cli.stdout.split('\n')[0]).toMatch(/^\[SIMULATED\] /);
    expect(cli.stdout).toMatch(/succeeded\s+rotate-credential\s+\S+\s+SIMULATED/);
    const out = mkdtempSync(join(tmpdir(), 'tourniquet-demo-report-'));
    await runCli(['report', incidentId, '--out', out], stack.cliEnv);
    expect(readFileSync(join(out, `${incidentId}.md`), 'utf8')).toContain('> **SIMULATED.**');
    expect(readFileSync(join(out, `${incidentId}.html`), 'utf8')).toContain('<strong>SIMULATED.</strong>');
  });
});
