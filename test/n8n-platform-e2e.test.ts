import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openVault } from '../evidence';
import { validateInventory, type Inventory } from '../lib/inventory';
import type { ApprovalRequest, IncidentStatus } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY } from '../providers';
import { createFileDestinationProvider } from '../providers/file/destination';
import { n8nOptionsFromEnv } from '../providers/n8n/options';
import { createN8nProvider } from '../providers/n8n/provider';
import { fetchHistoryText } from './harness/history';
import { incidentInput, query, result, runbookById, start, waitFor } from './harness/incidents';
import { startN8n, type N8nCredentialRef, type N8nServer, type N8nWorkflowJson } from './harness/n8n';
import { approveUntilClosed } from './harness/owners';
import { useTemporalWorker } from './harness/stack';

/**
 * `compromised-platform` end to end on a real n8n 1.123: a platform holding 20 credentials, used by 8 active
 * webhook workflows, is frozen, its executions preserved then purged, and every credential rotated through the n8n
 * issuer (replaced, every workflow repointed, the old one deleted), each of three owners approving one batch of
 * exactly their credentials. The worker acts live through the n8n and file providers only.
 */
const HEADER = 'X-Hook-Token';
const OWNERS = ['iam', 'platform', 'app-owner'] as const;
const WORKFLOWS = 8;
const CREDENTIALS = 20;

let n8n: N8nServer;
let secretsDir: string;
const workerLines: string[] = [];
/** Every credential value and API key of the run: none may appear in history, logs or messages. */
const secrets = new Set<string>();
const credentials: (N8nCredentialRef & { value: string; owner: string })[] = [];
const workflows: (N8nWorkflowJson & { path: string })[] = [];
const drafts: N8nWorkflowJson[] = [];

/** Credential i: active workflow i's webhook auth (i < 8), one more its HTTP node names (8–15), or a draft's (16–19). */
async function seedPlatform(): Promise<Inventory> {
  for (let index = 0; index < CREDENTIALS; index += 1) {
    const value = `canary-n8n-${index}-${Math.random().toString(36).slice(2)}${Date.now()}`;
    secrets.add(value);
    const created = await n8n.createCredential(`platform credential ${index}`, 'httpHeaderAuth', {
      name: HEADER,
      value,
    });
    credentials.push({ ...created, value, owner: OWNERS[index % OWNERS.length] });
  }
  for (let index = 0; index < WORKFLOWS; index += 1) {
    const path = `platform-hook-${index}-${Date.now()}`;
    // An HTTP node holds one credential per type: each workflow names one more.
    const uses = [credentials[WORKFLOWS + index]];
    const workflow = await n8n.webhookWorkflow({
      name: `platform flow ${index}`,
      path,
      auth: credentials[index],
      uses,
    });
    workflows.push({ ...workflow, path });
    // One execution each, before the incident: the evidence the capture must keep.
    expect(await n8n.callWebhook(path, { [HEADER]: credentials[index].value })).toBe(200);
  }
  // The last four are held by drafts nobody turned on: the freeze leaves them off, the rotation still reaches them.
  for (let index = 2 * WORKFLOWS; index < CREDENTIALS; index += 1) {
    drafts.push(
      await n8n.webhookWorkflow({
        name: `draft ${index}`,
        path: `draft-${index}-${Date.now()}`,
        auth: credentials[index],
        active: false,
      }),
    );
  }
  for (const workflow of workflows) await n8n.waitForExecutions(workflow.id, 1);
  const inventory = validateInventory(
    {
      credentials: credentials.map((credential, index) => ({
        id: `platform-cred-${String(index + 1).padStart(2, '0')}`,
        kind: 'generic',
        issuer: `n8n:credential/${credential.id}#value?name=${HEADER}`,
        consumers: [{ provider: 'file', target: `platform-cred-${index + 1}` }],
        owners: [credential.owner],
        identifiers: { n8nCredentialId: credential.id },
      })),
    },
    { providers: PROVIDER_DIRECTORY },
  );
  if (!inventory.ok) throw new Error(JSON.stringify(inventory.issues));
  return inventory.inventory;
}

const stack = useTemporalWorker(async () => {
  n8n = await startN8n();
  secrets.add(n8n.apiKey);
  secrets.add(n8n.adminApiKey);
  secretsDir = mkdtempSync(join(tmpdir(), 'tourniquet-n8n-secrets-'));
  const inventory = await seedPlatform();
  return {
    evidence: (dataDir: string) => openVault({ dataDir }),
    logger: pino({ level: 'info' }, { write: (line: string) => void workerLines.push(line) }),
    mode: 'live' as const,
    inventory,
    real: [
      createN8nProvider(n8nOptionsFromEnv({ N8N_BASE_URL: n8n.baseUrl, N8N_API_KEY: n8n.apiKey })!),
      createFileDestinationProvider({ baseDirectory: secretsDir }),
    ],
  };
});

afterAll(async () => {
  await n8n?.stop();
}, 60_000);

const stepOf = (status: IncidentStatus, id: string) => status.steps.find((step) => step.id === id)!;

function namesCredential(workflow: N8nWorkflowJson, credentialId: string): boolean {
  const nodes = [...workflow.nodes, ...(workflow.activeVersion?.nodes ?? [])];
  return nodes.some((node) => Object.values(node.credentials ?? {}).some((used) => used.id === credentialId));
}

test('a compromised n8n: frozen, executions preserved then purged, 20 credentials rotated in 3 owner batches, nothing leaks', async () => {
  const runbook = runbookById('compromised-platform');
  const incidentId = await start(
    stack.client,
    incidentInput(runbook, {
      connector: 'n8n:*',
      credential: 'n8n:api-keys/automation',
      secretKind: 'n8n-api-key',
      severity: 'critical',
    }),
  );

  // Three batches, one per owner, each the exact list of that owner's credentials (by the platform's ids).
  const batches = await waitFor(async () => {
    const requests = (await query(stack.client, incidentId)).approvals.filter((request) => request.batch);
    return requests.length === OWNERS.length ? requests : undefined;
  }, 180_000);
  const byOwner = new Map<string, ApprovalRequest>(batches.map((request) => [request.roles[0], request]));
  for (const owner of OWNERS) {
    expect(byOwner.get(owner)!.batch!.items.sort()).toEqual(
      credentials
        .filter((credential) => credential.owner === owner)
        .map((credential) => credential.id)
        .sort(),
    );
  }

  // By now the platform is frozen: every workflow inactive, no webhook answers, the executions are in the vault.
  const frozen = await query(stack.client, incidentId);
  expect(stepOf(frozen, 'freeze-platform').state).toBe('succeeded');
  for (const workflow of workflows) {
    expect((await n8n.workflow(workflow.id))!.active).toBe(false);
    expect(
      await n8n.callWebhook(workflow.path, { [HEADER]: credentials[workflows.indexOf(workflow)].value }),
    ).toBe(404);
  }
  await waitFor(async () =>
    stepOf(await query(stack.client, incidentId), 'capture-executions').state === 'succeeded'
      ? true
      : undefined,
  );

  await approveUntilClosed(stack.client, stack.dataDir, incidentId);
  const final = await result(stack.client, incidentId);
  const unrotated = stepOf(final, 'rotate-credentials').items!.items.filter(
    (item) => item.state !== 'succeeded',
  );
  expect(unrotated.map((item) => `${item.key}: ${item.error ?? item.reason}`)).toEqual([]);
  expect(final.steps.map((step) => [step.id, step.state])).toEqual([
    ['freeze-platform', 'succeeded'],
    ['capture-executions', 'succeeded'],
    ['audit-platform', 'succeeded'],
    ['discover-credentials', 'succeeded'],
    ['rotate-credentials', 'succeeded'],
    // n8n cannot prove its own credentials dead through its API: not applicable, nothing is claimed.
    ['verify-dead', 'skipped'],
    ['purge-executions', 'succeeded'],
    ['recover-platform', 'succeeded'],
  ]);
  expect(stepOf(final, 'verify-dead')).toMatchObject({ reason: 'not applicable' });
  expect(stepOf(final, 'rotate-credentials').summary).toMatchObject({
    items: CREDENTIALS,
    succeeded: CREDENTIALS,
  });
  expect(
    final.timeline.filter(
      (event) => event.type === 'approved' && event.stepId?.startsWith('rotate-credentials--'),
    ),
  ).toHaveLength(3);

  // Every credential replaced: no workflow names an old one, each old one is gone, each consumer has a new value.
  const all = await Promise.all([...workflows, ...drafts].map((workflow) => n8n.workflow(workflow.id)));
  for (const credential of credentials) {
    expect(
      all.filter((workflow) => namesCredential(workflow!, credential.id)).map((workflow) => workflow!.id),
    ).toEqual([]);
  }
  const delivered = readdirSync(secretsDir).map((name) =>
    readFileSync(join(secretsDir, name), 'utf8').trim(),
  );
  expect(delivered).toHaveLength(CREDENTIALS);
  for (const value of delivered) secrets.add(value);
  // Executions preserved (one per workflow at least), then purged from the platform.
  expect(stepOf(final, 'capture-executions').summary).toMatchObject({ executions: expect.any(Number) });
  expect(Number(stepOf(final, 'capture-executions').summary!.executions)).toBeGreaterThanOrEqual(WORKFLOWS);
  for (const workflow of workflows) expect(await n8n.executions(workflow.id)).toEqual([]);

  // Recovered: exactly the frozen workflows run again, with the new values, and refuse the leaked ones.
  for (const draft of drafts) expect((await n8n.workflow(draft.id))!.active).toBe(false);
  for (const [index, workflow] of workflows.entries()) {
    expect((await n8n.workflow(workflow.id))!.active).toBe(true);
    expect(await n8n.callWebhook(workflow.path, { [HEADER]: credentials[index].value })).toBe(403);
  }

  // No credential value, old or new, nor an API key, in history, the worker's logs or its messages.
  const history = await fetchHistoryText(stack.client, incidentId);
  const logs = workerLines.join('');
  expect(logs).toContain('rotate-credentials');
  for (const secret of secrets) {
    expect(history).not.toContain(secret);
    expect(logs).not.toContain(secret);
  }
}, 600_000);
