import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import {
  buildIncidentInput,
  cancelIncident,
  resolveCredential,
  sendNote,
  incidentRequestSchema,
  incidentStatus,
  signStart,
  startIncident,
  type CredentialChoice,
  type IncidentNote,
  type IncidentRequest,
} from '../../client';
import { findRunbook, loadRunbookFile, formatIssues } from '../../runbooks';
import { RunbookCatalog } from '../../runbooks/catalog';
import { rawPublicKey } from '../../lib/owners';
import type { IncidentInput, IncidentStatus, Runbook } from '../../lib/runbook/types';

export const TEST_FINGERPRINT_KEY = Buffer.alloc(32, 7);

/**
 * The runbooks this suite's in-process workers trust besides the shipped files: every runbook a test builds in code
 * (`withoutApprovals(...)`, fixtures) is added here by `incidentInput`, which then names it by id and SHA-256 as
 * production starts do. A child worker gets them with `spawnWorkerProcess(env, { runbooks })`.
 */
export const TEST_RUNBOOKS = new RunbookCatalog();

/**
 * The gateway key this suite's starts are signed with, as the gateway signs production's. Every test worker
 * trusts it besides its data dir's own key (in-process through `testOwners`, child processes through
 * TOURNIQUET_GATEWAY_PUBLIC_KEYS); a test that wants an unsigned or forged start sends it itself.
 */
export const TEST_GATEWAY_KEY = generateKeyPairSync('ed25519');
export const TEST_GATEWAY_PUBLIC_KEY = rawPublicKey(TEST_GATEWAY_KEY.publicKey);

/** A start as the gateway would sign it, for tests that send it through the raw client. */
export function signedForTest(input: IncidentInput): IncidentInput {
  return signStart(input, TEST_GATEWAY_KEY.privateKey);
}

/** A signed cancel, as `tourniquet incident cancel` sends it: the way a test ends an incident it is done with. */
export function cancelForTest(client: Client, incidentId: string, reason = 'test done'): Promise<void> {
  return cancelIncident(client, incidentId, { actor: 'cli:test', reason }, TEST_GATEWAY_KEY.privateKey);
}

/** A signed note, as the CLI or an exercise inject sends it. */
export function noteForTest(client: Client, incidentId: string, note: IncidentNote): Promise<void> {
  return sendNote(client, incidentId, note, TEST_GATEWAY_KEY.privateKey);
}
/** A signed credential choice, as `tourniquet incident resolve-credential` sends it. */
export function resolveCredentialForTest(
  client: Client,
  incidentId: string,
  choice: CredentialChoice,
): Promise<void> {
  return resolveCredential(client, incidentId, choice, TEST_GATEWAY_KEY.privateKey);
}
export const TASK_QUEUE = 'tourniquet-test';

export function runbookById(id: string): Runbook {
  const found = findRunbook(id);
  if (!found.ok) throw new Error(formatIssues(found).join('\n'));
  return found.runbook;
}

export function fixtureRunbook(name: string): Runbook {
  const found = loadRunbookFile(join(__dirname, '..', 'fixtures', 'runbooks', `${name}.yaml`));
  if (!found.ok) throw new Error(formatIssues(found).join('\n'));
  return found.runbook;
}

let counter = 0;
/** A fresh connector per call, so every test incident has its own id. */
export function uniqueConnector(prefix = 'github:acme/app'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}/deploy.yml`;
}

export function incidentInput(
  runbook: Runbook,
  request: Partial<IncidentRequest> = {},
  simulation?: IncidentInput['simulation'],
): IncidentInput {
  const parsed = incidentRequestSchema.parse({
    secretKind: 'github-token',
    connector: uniqueConnector(),
    severity: 'high',
    requester: 'U0REQUESTER',
    ...request,
  });
  const input = buildIncidentInput(runbook, parsed, TEST_FINGERPRINT_KEY);
  if (input.runbookRef) input.runbookRef.sha256 = TEST_RUNBOOKS.trust(runbook).sha256;
  return { ...input, simulation };
}

export async function start(client: Client, input: IncidentInput, taskQueue = TASK_QUEUE): Promise<string> {
  const started = await startIncident(client, taskQueue, input, TEST_GATEWAY_KEY.privateKey);
  return started.incidentId;
}

export async function result(client: Client, incidentId: string): Promise<IncidentStatus> {
  return (await client.workflow.getHandle(incidentId).result()) as IncidentStatus;
}

export async function query(client: Client, incidentId: string): Promise<IncidentStatus> {
  return incidentStatus(client, incidentId);
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
  );
}
