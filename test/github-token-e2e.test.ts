import './simulators/github/jest-esm-interop';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../gateway/server';
import { createSiemWebhooks, type SiemWebhooks } from '../gateway/webhooks';
import { createGitHubTokenProvider } from '../providers/github-token/provider';
import { fetchHistoryText } from './harness/history';
import { result, runbookById, TASK_QUEUE, TEST_FINGERPRINT_KEY, TEST_GATEWAY_KEY } from './harness/incidents';
import { approveUntilClosed } from './harness/owners';
import { startTemporalWorker, type TemporalWorker } from './harness/stack';
import { CapturedLogs, post, signedHeaders } from './fixtures/gateway/stack';
import { startGitHubSimulator, type GitHubSimulator } from './simulators/github';

/**
 * A PAT leaked where GitHub secret scanning found it: GitHub's signed webhook reaches the gateway, the incident's
 * issuer is the alert itself (no inventory entry needed), and the live worker revokes the token through
 * `POST /credentials/revoke` with the value read back from the alert, then proves it dead.
 */
const REPO = 'acme/payments';
const SIEM_SECRET = 'github-webhook-secret-for-this-test';
let sim: GitHubSimulator;
let stack: TemporalWorker;
let webhooks: SiemWebhooks | undefined;
let gateway: Gateway | undefined;
const gatewayLogs = new CapturedLogs();
const workerLogs: string[] = [];

beforeAll(async () => {
  sim = await startGitHubSimulator();
  const installation = sim.installApp({ account: 'acme', permissions: { secret_scanning_alerts: 'read' } });
  sim.addRepository(REPO);
  stack = await startTemporalWorker({
    real: [
      createGitHubTokenProvider({
        github: {
          baseUrl: sim.url,
          auth: { appId: sim.app.appId, privateKey: sim.app.privateKey, installationId: installation.id },
          throttle: { writeSpacing: 'none' },
          retry: { retries: 1, retryAfterBaseValueMs: 10 },
        },
        proof: { refusals: 2, windowMs: 300, deadlineMs: 20_000 },
      }),
    ],
    logger: pino({ level: 'info' }, { write: (line: string) => void workerLogs.push(line) }),
  });
  webhooks = createSiemWebhooks({
    client: stack.client,
    taskQueue: TASK_QUEUE,
    runbook: runbookById('leaked-workflow-secret'),
    fingerprintKey: TEST_FINGERPRINT_KEY,
    gatewayKey: TEST_GATEWAY_KEY.privateKey,
    secrets: { github: SIEM_SECRET },
    logger: gatewayLogs.logger,
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
  await webhooks?.close();
  await gateway?.close();
  await stack?.stop();
  await sim?.close();
});

test('a GitHub secret-scanning alert about a PAT: the live worker revokes it through /credentials/revoke and proves it dead', async () => {
  const token = sim.issuePersonalToken('octocat');
  const alert = sim.addSecretScanningAlert(REPO, {
    secret: token,
    secretType: 'github_personal_access_token',
  });
  expect(sim.tokenWorks(token)).toBe(true);
  // GitHub's webhook carries no value: only the alert's number, repository and secret type.
  const webhook = JSON.parse(
    readFileSync(join(__dirname, 'fixtures', 'siem', 'github', 'secret-scanning-alert-created.json'), 'utf8'),
  ) as { alert: { number: number }; repository: { full_name: string } };
  webhook.alert.number = alert.number;
  const body = JSON.stringify(webhook);
  expect(webhook.repository.full_name).toBe(REPO);

  const answer = await post(gateway!.url, 'github', body, signedHeaders('github', SIEM_SECRET, body));
  expect(answer.status).toBe(202);
  const incidentId = String(answer.body.incidentId);
  await approveUntilClosed(stack.client, stack.dataDir, incidentId);
  const status = await result(stack.client, incidentId);
  const step = (id: string) => status.steps.find((candidate) => candidate.id === id)!;

  expect(status.timeline).toContainEqual(
    expect.objectContaining({
      type: 'note',
      detail: expect.stringContaining(`found by alert: the github alert ${REPO}#${alert.number}`),
    }),
  );
  expect(step('revoke-old-credential')).toMatchObject({ state: 'succeeded', provider: 'github-token' });
  expect(step('revoke-old-credential').summary).toMatchObject({
    method: 'credential-revocation-api',
    githubStatus: 202,
    revoked: true,
  });
  expect(step('verify-old-credential-dead')).toMatchObject({ state: 'succeeded', provider: 'github-token' });
  // GitHub has no API that mints a PAT: the rotation is not applicable, and did not block the revocation.
  expect(step('rotate-credential')).toMatchObject({ state: 'skipped', reason: 'not applicable' });
  expect(sim.tokenWorks(token)).toBe(false);
  expect(sim.calls.filter((call) => call.route === '/credentials/revoke')).toHaveLength(1);
  expect(sim.violations).toEqual([]);

  const history = await fetchHistoryText(stack.client, incidentId);
  for (const text of [history, workerLogs.join('\n'), gatewayLogs.text(), JSON.stringify(status)]) {
    expect(text).not.toContain(token);
  }
});
