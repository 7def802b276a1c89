import './simulators/github/jest-esm-interop';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListUsersCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { CredentialResolver } from '../client/credentials';
import { openVault } from '../evidence';
import type { EvidenceVault } from '../evidence';
import { startGateway, type Gateway } from '../gateway/server';
import { createSiemWebhooks, type SiemWebhooks } from '../gateway/webhooks';
import { buildInventory, validateInventory } from '../lib/inventory';
import type { IncidentStatus } from '../lib/runbook/types';
import { PROVIDER_DIRECTORY } from '../providers';
import { awsIamOptionsFromEnv } from '../providers/aws-iam/options';
import { createAwsIamProvider } from '../providers/aws-iam/provider';
import { createGitHubProvider } from '../providers/github/provider';
import { CapturedLogs, post, signedHeaders, testSiemSecrets } from './fixtures/gateway/stack';
import { fetchHistoryText } from './harness/history';
import {
  query,
  result,
  runbookById,
  TASK_QUEUE,
  TEST_FINGERPRINT_KEY,
  TEST_GATEWAY_KEY,
  waitFor,
} from './harness/incidents';
import { startMoto, type MotoServer } from './harness/moto';
import { approveUntilClosed } from './harness/owners';
import { useTemporalWorker } from './harness/stack';
import { startGitHubSimulator, type GitHubSimulator } from './simulators/github';

/**
 * `leaked-cloud-key` end to end, live: a signed generic SIEM alert carrying an AWS key pair goes through the real
 * gateway routes (HMAC, scrubbing, the credential inventory) to the real Temporal dev server and an in-process worker
 * whose only providers are aws-iam (against a real moto server, auth enforced) and github (against the GitHub REST
 * simulator). Nobody acts until the key is off; the owners then approve the rotation into two Actions secrets, the
 * deletion of the leaked key and the lift of the quarantine. STS on moto and the sealed secrets are the judges.
 */
const RUNBOOK = 'leaked-cloud-key';
const REPO = 'acme/app';
const WORKFLOW = '.github/workflows/deploy.yml';
const USER = 'ci-deployer';
/** Another AWS account, holding a same-named user: the worker must never act there (nor here in its stead). */
const OTHER_ACCOUNT = '210987654321';
const OTHER_REPO = 'acme/billing';
const QUARANTINE = 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2';

interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

let moto: MotoServer;
let admin: IAMClient;
let sim: GitHubSimulator;
let installationId: number;
/** The leaked key, in the worker's account; and one of a user in another account. */
let leaked: KeyPair;
let foreign: KeyPair;
const workerLines: string[] = [];
const gatewayLogs = new CapturedLogs();
const siemSecret = testSiemSecrets().generic;
let gateway: Gateway | undefined;
let webhooks: SiemWebhooks | undefined;
/** Every secret access key of the run: none may appear in history, logs or messages. */
const secrets = new Set<string>();

async function createKey(iam: IAMClient, user: string): Promise<KeyPair> {
  await iam.send(new CreateUserCommand({ UserName: user }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
  secrets.add(key.SecretAccessKey!);
  return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
}

/**
 * A user and key in another account. moto acts on the account of the signing key (the admin's is the worker's),
 * so the other account is reached the one way moto offers: two unauthenticated calls (`/moto-api/reset-auth`)
 * that name the account in `x-moto-account-id`; auth is enforced again right after, which is checked.
 */
async function createForeignKey(): Promise<KeyPair> {
  const reset = await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '2' });
  expect(reset.status).toBe(200);
  const iam = new IAMClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: { accessKeyId: 'AKIAOTHERACCOUNTSETUP', secretAccessKey: 'setup-only' },
    maxAttempts: 1,
  });
  iam.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-moto-account-id'] = OTHER_ACCOUNT;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
  try {
    const pair = await createKey(iam, USER);
    const refused = await iam.send(new ListUsersCommand({})).then(
      () => 'accepted',
      (error: Error) => error.name,
    );
    expect(refused).toBe('InvalidClientTokenId');
    return pair;
  } finally {
    iam.destroy();
  }
}

/** What STS on moto says to this key pair: the caller's ARN, or the error code. */
async function whoAmI(pair: KeyPair): Promise<string> {
  const sts = new STSClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: pair,
    maxAttempts: 1,
  });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn!;
  } catch (error) {
    return (error as Error).name;
  } finally {
    sts.destroy();
  }
}

async function keysOf(user: string): Promise<Record<string, string>> {
  const listed = await admin.send(new ListAccessKeysCommand({ UserName: user }));
  return Object.fromEntries((listed.AccessKeyMetadata ?? []).map((key) => [key.AccessKeyId!, key.Status!]));
}

async function policiesOf(user: string): Promise<string[]> {
  const listed = await admin.send(new ListAttachedUserPoliciesCommand({ UserName: user }));
  return (listed.AttachedPolicies ?? []).map((policy) => policy.PolicyArn!);
}

/** AWS requests moto has answered so far (its log has one line per request; the dashboard API is not AWS). */
function motoRequests(): number {
  return moto
    .readLog()
    .split('\n')
    .filter((line) => /"(?:\S*)(GET|POST) \/(?!moto-api)/.test(line)).length;
}

/** The generic alert a secret scanner sends about a key pair it found in a run log, signed as the gateway wants. */
function alertBody(pair: KeyPair, location: Record<string, unknown>): string {
  return JSON.stringify({
    alertId: `trufflehog-${randomUUID()}`,
    detector: 'trufflehog',
    secretKind: 'aws_secret_access_key',
    secret: pair.secretAccessKey,
    accessKeyId: pair.accessKeyId,
    severity: 'critical',
    observedAt: new Date(Date.now() - 3_600_000).toISOString(),
    location,
  });
}

async function sendAlert(body: string): Promise<string> {
  const answer = await post(gateway!.url, 'generic', body, signedHeaders('generic', siemSecret, body));
  expect(answer).toMatchObject({ status: 202, body: { status: 'created' } });
  return answer.body.incidentId as string;
}

const stepOf = (status: IncidentStatus, id: string) => status.steps.find((step) => step.id === id)!;

async function artifactText(vault: EvidenceVault, incidentId: string, sha256: string): Promise<string> {
  const opened = await vault.open(incidentId, sha256, { actor: 'test:aws-e2e', reason: 'check the proof' });
  const chunks: Buffer[] = [];
  for await (const chunk of opened.content) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * No secret of the run in the incident's history, the worker's and the gateway's logs or its messages (what the
 * worker's notifier posts; returned, so a test can check they were there to search).
 */
async function expectNoSecretIn(incidentId: string): Promise<string[]> {
  const history = await fetchHistoryText(stack.client, incidentId);
  const workerLog = workerLines.join('');
  const messages = workerLines
    .map((line) => JSON.parse(line) as { incidentId?: string; event?: string; msg: string })
    .filter((line) => line.incidentId === incidentId && line.event)
    .map((line) => line.msg);
  for (const secret of secrets) {
    expect(history).not.toContain(secret);
    expect(workerLog).not.toContain(secret);
    expect(gatewayLogs.text()).not.toContain(secret);
    for (const message of messages) expect(message).not.toContain(secret);
  }
  return messages;
}

beforeAll(async () => {
  [moto, sim] = await Promise.all([startMoto(), startGitHubSimulator()]);
  secrets.add(moto.admin.secretAccessKey);
  admin = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.admin });
  foreign = await createForeignKey();
  leaked = await createKey(admin, USER);
  installationId = sim.installApp({
    account: 'acme',
    permissions: { actions: 'write', administration: 'write', repository_hooks: 'write', secrets: 'write' },
  }).id;
  for (const repo of [REPO, OTHER_REPO]) sim.addRepository(repo);
  sim.addWorkflow(REPO, { path: WORKFLOW, name: 'deploy' });
  sim.seedSecret(REPO, 'AWS_ACCESS_KEY_ID', leaked.accessKeyId);
  sim.seedSecret(REPO, 'AWS_SECRET_ACCESS_KEY', leaked.secretAccessKey);
}, 300_000);

// Registered first, so it runs first: the gateway stops before the worker and the server it talks to.
afterAll(async () => {
  await webhooks?.close().catch(() => undefined);
  await gateway?.close().catch(() => undefined);
});

const stack = useTemporalWorker(() => {
  const options = awsIamOptionsFromEnv({
    TOURNIQUET_AWS_ACCOUNT_ID: moto.accountId,
    TOURNIQUET_AWS_ENDPOINT: moto.endpoint,
    AWS_REGION: moto.region,
    // Two refusals in a row over at least one second: the proof, short.
    TOURNIQUET_AWS_PROOF_REFUSALS: '2',
    TOURNIQUET_AWS_PROOF_WINDOW_MS: '1000',
    TOURNIQUET_AWS_PROOF_DEADLINE_MS: '15000',
  })!;
  return {
    evidence: (dataDir: string) => openVault({ dataDir }),
    logger: pino({ level: 'info' }, { write: (line: string) => void workerLines.push(line) }),
    // Live, as production with providers configured: a step on any other system would end not-configured.
    mode: 'live' as const,
    real: [
      createAwsIamProvider({ ...options, credentials: { ...moto.admin }, secretReaders: {} }),
      createGitHubProvider({
        baseUrl: sim.url,
        auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId },
        throttle: { writeSpacing: 'none' },
        retry: { retries: 2, retryAfterBaseValueMs: 20 },
        cancelGraceMs: 300,
      }),
    ],
  };
});

beforeAll(async () => {
  const validated = validateInventory(
    {
      credentials: [
        {
          id: 'aws-ci-deployer',
          kind: 'aws-access-key',
          issuer: `aws-iam:${moto.accountId}/${USER}`,
          consumers: [
            { provider: 'github', target: `${REPO}:AWS_ACCESS_KEY_ID`, part: 'accessKeyId' },
            { provider: 'github', target: `${REPO}:AWS_SECRET_ACCESS_KEY`, part: 'secretAccessKey' },
          ],
          owners: ['iam'],
          identifiers: { awsAccessKeyId: leaked.accessKeyId },
          locations: [{ repository: REPO, workflow: WORKFLOW }],
        },
        {
          id: 'aws-billing-exporter',
          kind: 'aws-access-key',
          issuer: `aws-iam:${OTHER_ACCOUNT}/${USER}`,
          consumers: [
            { provider: 'github', target: `${OTHER_REPO}:AWS_ACCESS_KEY_ID`, part: 'accessKeyId' },
            { provider: 'github', target: `${OTHER_REPO}:AWS_SECRET_ACCESS_KEY`, part: 'secretAccessKey' },
          ],
          owners: ['iam'],
          identifiers: { awsAccessKeyId: foreign.accessKeyId },
          locations: [{ repository: OTHER_REPO }],
        },
      ],
    },
    { providers: PROVIDER_DIRECTORY },
  );
  if (!validated.ok) throw new Error(JSON.stringify(validated.issues));
  webhooks = createSiemWebhooks({
    client: stack.client,
    taskQueue: TASK_QUEUE,
    runbook: runbookById(RUNBOOK),
    fingerprintKey: TEST_FINGERPRINT_KEY,
    gatewayKey: TEST_GATEWAY_KEY.privateKey,
    secrets: { generic: siemSecret },
    logger: gatewayLogs.logger,
    credentials: new CredentialResolver(buildInventory(validated.inventory.credentials), stack.dataDir),
  });
  gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    logger: gatewayLogs.logger,
    temporalHealthy: () => Promise.resolve(true),
    mount: (app) => webhooks!.mount(app),
  });
});

afterAll(async () => {
  admin?.destroy();
  await sim?.close();
  await moto?.stop();
});

test('a signed alert with a leaked key pair: key off and user quarantined unattended, then rotated into GitHub, deleted and proven dead', async () => {
  // The run that printed the key: its log is evidence the runbook captures before anyone is asked anything.
  const run = sim.addRun(REPO, {
    workflow: WORKFLOW,
    status: 'completed',
    conclusion: 'success',
    createdAt: new Date(Date.now() - 1_800_000).toISOString(),
    jobs: [{ name: 'deploy', log: `+ aws configure set aws_secret_access_key ${leaked.secretAccessKey}\n` }],
  });
  const body = alertBody(leaked, {
    url: `https://github.com/${REPO}/actions/runs/${run.id}`,
    repository: REPO,
    workflow: WORKFLOW,
    runId: run.id,
  });

  const posted = Date.now();
  const incidentId = await sendAlert(body);
  // Seen on moto: the leaked key Inactive and the quarantine policy on its user, nobody having approved anything.
  await waitFor(
    async () =>
      (await keysOf(USER))[leaked.accessKeyId] === 'Inactive' && (await policiesOf(USER)).includes(QUARANTINE)
        ? true
        : undefined,
    30_000,
    25,
  );
  const seenOnMoto = Date.now() - posted;
  // Then the incident waits for the rotation's owner: nothing irreversible has happened, no key was minted.
  const early = await waitFor(async () => {
    const status = await query(stack.client, incidentId);
    return status.approvals.length > 0 ? status : undefined;
  });
  expect(early.approvals.map((request) => request.stepId)).toEqual(['rotate-credential']);
  expect(early.timeline.filter((event) => event.type === 'approved')).toEqual([]);
  expect(Object.keys(await keysOf(USER))).toEqual([leaked.accessKeyId]);
  expect(early.timeline).toContainEqual(
    expect.objectContaining({
      type: 'note',
      detail: expect.stringMatching(/^credential aws-ci-deployer found by identifier/),
    }),
  );

  await approveUntilClosed(stack.client, stack.dataDir, incidentId);
  const status = await result(stack.client, incidentId);
  expect(status.steps.filter((step) => step.state !== 'succeeded')).toEqual([]);
  expect(status.state).toBe('completed');
  expect(status.demo).toBeUndefined();
  expect(new Set(status.steps.map((step) => step.provider))).toEqual(new Set(['aws-iam', 'github']));
  const deactivated = stepOf(status, 'deactivate-leaked-key');
  expect(deactivated.summary).toMatchObject({ deactivated: [leaked.accessKeyId], changed: true });
  const finishedAfter = Date.parse(deactivated.finishedAt!) - posted;
  process.stdout.write(
    `aws-e2e: POST → leaked key deactivated: ${finishedAfter} ms (step finishedAt), seen Inactive on moto after ${seenOnMoto} ms (25 ms polling)\n`,
  );

  // The replacement: in the two Actions secrets (sealed boxes), a key of the same user, working; the old one gone.
  const replacement: KeyPair = {
    accessKeyId: sim.readSecret(REPO, 'AWS_ACCESS_KEY_ID')!,
    secretAccessKey: sim.readSecret(REPO, 'AWS_SECRET_ACCESS_KEY')!,
  };
  secrets.add(replacement.secretAccessKey);
  expect(replacement.accessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
  expect(replacement.accessKeyId).not.toBe(leaked.accessKeyId);
  expect(replacement.secretAccessKey).not.toBe(leaked.secretAccessKey);
  expect(stepOf(status, 'rotate-credential').summary).toMatchObject({
    newAccessKeyId: replacement.accessKeyId,
  });
  expect(await keysOf(USER)).toEqual({ [replacement.accessKeyId]: 'Active' });
  expect(await whoAmI(leaked)).toBe('InvalidClientTokenId');
  expect(await whoAmI(replacement)).toBe(`arn:aws:iam::${moto.accountId}:user/${USER}`);
  // Sessions issued before the cut-off are denied; the quarantine this incident attached is lifted again.
  const denial = await admin.send(
    new GetUserPolicyCommand({ UserName: USER, PolicyName: 'AWSRevokeOlderSessions' }),
  );
  expect(decodeURIComponent(denial.PolicyDocument!)).toContain('aws:TokenIssueTime');
  expect(await policiesOf(USER)).toEqual([]);
  expect(stepOf(status, 'restore-grants').summary).toMatchObject({ outcome: 'detached', changed: true });
  expect(stepOf(status, 'revoke-old-credential').summary).toMatchObject({
    accessKeyId: leaked.accessKeyId,
    outcome: 'deleted',
    statusBefore: 'Inactive',
  });
  expect(sim.violations).toEqual([]);

  // The proof of death is in the vault: every probe refused, the replacement named.
  const verify = stepOf(status, 'verify-old-credential-dead');
  expect(verify.summary).toMatchObject({
    accessKeyId: leaked.accessKeyId,
    keyInIam: 'absent',
    verdict: 'dead',
    oldCredentialDead: true,
    replacementAccessKeyId: replacement.accessKeyId,
  });
  const vault = stack.evidence;
  const entries = await vault.list(incidentId);
  const proofs = entries.filter(
    (entry) => entry.type === 'artifact' && entry.name === 'proof-of-death.json',
  ) as { sha256: string; stepId: string }[];
  expect(proofs).toHaveLength(1);
  expect(proofs[0]).toMatchObject({
    stepId: 'verify-old-credential-dead',
    sha256: verify.summary!.evidenceArtifactId,
  });
  const proof = JSON.parse(await artifactText(vault, incidentId, proofs[0].sha256)) as {
    accessKeyId: string;
    verdict: string;
    refusalsInARow: number;
    streakMs: number;
    probes: { answer: string; code: string }[];
    replacement: { rotatedAccessKeyId: string };
  };
  expect(proof).toMatchObject({
    accessKeyId: leaked.accessKeyId,
    verdict: 'dead',
    replacement: { rotatedAccessKeyId: replacement.accessKeyId },
  });
  expect(proof.refusalsInARow).toBeGreaterThanOrEqual(2);
  expect(proof.streakMs).toBeGreaterThanOrEqual(1_000);
  expect(proof.probes.every((probe) => probe.code === 'InvalidClientTokenId')).toBe(true);
  // The run log that printed the key was captured into the vault (sealed), unattended.
  expect(entries.some((entry) => entry.type === 'artifact' && entry.stepId === 'capture-logs')).toBe(true);
  expect((await vault.verify(incidentId)).ok).toBe(true);

  const messages = await expectNoSecretIn(incidentId);
  // The search covered the AWS steps: their logs name the keys by id (an identifier, not a secret).
  expect(workerLines.join('')).toContain(replacement.accessKeyId);
  // The thread said what happened: opened, the key off, owners asked, the proof, closed.
  expect(messages.length).toBeGreaterThan(10);
  expect(messages.some((message) => message.includes('approval-requested'))).toBe(true);
  // Nor in Temporal's own files.
  const sqlite = join(stack.dataDir, 'temporal');
  for (const file of readdirSync(sqlite)) {
    const bytes = readFileSync(join(sqlite, file));
    for (const secret of [leaked.secretAccessKey, replacement.secretAccessKey]) {
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
    }
  }
});

test('a key of a user in another AWS account: refused before any call to moto, the steps fail saying why', async () => {
  // Only this incident may talk to moto while it runs: end whatever an earlier failed test left open.
  for await (const execution of stack.client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
    await stack.client.workflow.getHandle(execution.workflowId).terminate('isolating the guard test');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const before = motoRequests();
  const incidentId = await sendAlert(
    alertBody(foreign, { url: `https://github.com/${OTHER_REPO}/actions/runs/77`, repository: OTHER_REPO }),
  );
  // Nothing waits for an owner: the containment fails, everything after it is blocked, the incident closes.
  const status = await result(stack.client, incidentId);
  // moto writes its log line as it answers: give a request (there must be none) time to show up.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(motoRequests()).toBe(before);

  expect(status.state).toBe('failed');
  expect(status.approvals).toEqual([]);
  const refusal = new RegExp(
    `^aws-iam\\.(revokeGrants|deactivateAccessKey): the reference names AWS account ${OTHER_ACCOUNT}, but this worker acts only on account ${moto.accountId} \\(TOURNIQUET_AWS_ACCOUNT_ID\\); refused, nothing was changed`,
  );
  for (const id of ['quarantine-user', 'deactivate-leaked-key']) {
    expect(stepOf(status, id)).toMatchObject({ state: 'failed', error: expect.stringMatching(refusal) });
  }
  for (const id of [
    'terminate-sessions',
    'rotate-credential',
    'revoke-old-credential',
    'verify-old-credential-dead',
    'restore-grants',
  ]) {
    expect(stepOf(status, id)).toMatchObject({
      state: 'skipped',
      reason: expect.stringMatching(/^blocked: /),
    });
  }
  expect(stepOf(status, 'capture-logs')).toMatchObject({
    state: 'succeeded',
    summary: expect.objectContaining({ scope: 'repository', runs: 0 }),
  });
  // One attempt each: the refusal is not retryable.
  const history = await stack.client.workflow.getHandle(incidentId).fetchHistory();
  const attempts = (history.events ?? [])
    .filter((event) => event.activityTaskStartedEventAttributes)
    .map((event) => event.activityTaskStartedEventAttributes!.attempt);
  expect(attempts.every((attempt) => attempt === 1)).toBe(true);

  // The foreign key still works, in its own account; the worker's same-named user was not touched in its stead.
  expect(await whoAmI(foreign)).toBe(`arn:aws:iam::${OTHER_ACCOUNT}:user/${USER}`);
  const messages = await expectNoSecretIn(incidentId);
  expect(
    messages.filter((message) => /^failed: aws-iam\.\w+: the reference names AWS account/.test(message)),
  ).toHaveLength(2);
});
