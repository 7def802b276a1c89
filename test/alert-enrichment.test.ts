import { generateKeyPairSync } from 'node:crypto';
import { incidentAttributes, incidentStatus, signCommand } from '../client';
import type { AlertBatch, AlertDetails } from '../lib/runbook/types';
import { runCli } from './harness/cli';
import { TEST_GATEWAY_KEY } from './harness/incidents';
import { fixtureText, makeCanaries } from './fixtures/siem/canaries';
import { send, startGatewayStack, type GatewayStack } from './fixtures/gateway/stack';

/**
 * Issue #16: a later alert about the same secret may raise the severity (never lower it), add the places it was
 * seen, name the connector when the incident had only a simulated one, and put the detector's events (validity
 * confirmed, resolved) on the timeline, all through the batched `attachAlerts` Update, sealed by the gateway.
 */
let stack: GatewayStack;

beforeAll(async () => {
  // The shipped runbook asks owners to approve: the incident stays open while later alerts arrive.
  stack = await startGatewayStack({ enabled: ['generic', 'github'] });
});

afterAll(async () => {
  await stack?.stop();
});

let sequence = 0;
function genericAlert(secret: string, overrides: Record<string, unknown> = {}): string {
  sequence += 1;
  const body = JSON.parse(fixtureText('generic', 'alert-with-secret', makeCanaries())) as Record<
    string,
    unknown
  >;
  return JSON.stringify({ ...body, secret, alertId: `enrich-${sequence}`, ...overrides });
}

const notes = async (incidentId: string) =>
  (await incidentStatus(stack.temporal.client, incidentId)).timeline
    .filter((event) => event.type === 'note')
    .map((event) => `${event.actor}: ${event.detail}`);

test('a later alert raises the severity, never lowers it, adds its place, and names a real connector', async () => {
  const token = makeCanaries().githubToken;
  // Opened from a place with no workflow: no real connector yet.
  const opened = await send(
    stack,
    'generic',
    genericAlert(token, {
      severity: 'medium',
      location: { url: 'https://ci.example.net/jobs/17' },
      connector: undefined,
    }),
  );
  expect(opened).toMatchObject({ status: 202, body: { status: 'created' } });
  const incidentId = opened.body.incidentId as string;
  let status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.severity).toBe('medium');
  expect(status.connector).toBe('simulated:generic');

  // A critical alert from the workflow that printed it: severity up, its place added, the connector named.
  expect(
    await send(stack, 'generic', genericAlert(token, { severity: 'critical', connector: undefined })),
  ).toMatchObject({
    status: 202,
    body: { incidentId, status: 'joined' },
  });
  status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.severity).toBe('critical');
  expect(status.flags).toContain('severity-raised:critical');
  expect(status.connector).toBe('github:acme/payments/.github/workflows/deploy.yml');
  expect(status.secret?.locations.map((location) => location.url)).toEqual([
    'https://ci.example.net/jobs/17',
    'https://github.com/acme/payments/actions/runs/9012345678/job/24712345678',
  ]);
  expect(await notes(incidentId)).toEqual(
    expect.arrayContaining([
      'gateway: severity raised from medium to critical',
      'gateway: a later alert names the connector github:acme/payments/.github/workflows/deploy.yml (was simulated:generic): steps not yet started act on it',
    ]),
  );
  const described = await stack.temporal.client.workflow.getHandle(incidentId).describe();
  expect(described.typedSearchAttributes.get(incidentAttributes.SEVERITY)).toBe('critical');

  // A low alert afterwards lowers nothing.
  await send(stack, 'generic', genericAlert(token, { severity: 'low' }));
  status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.severity).toBe('critical');
  expect(status.alerts.count).toBe(3);
  // Nothing of the value anywhere: status, history.
  const history = JSON.stringify(await stack.temporal.client.workflow.getHandle(incidentId).fetchHistory());
  expect(JSON.stringify(status)).not.toContain(token);
  expect(history).not.toContain(token);
});

test("GitHub's validated (active) escalates with its reason; resolved is recorded, never opens an incident", async () => {
  const created = JSON.parse(fixtureText('github', 'secret-scanning-alert-created', makeCanaries())) as {
    action: string;
    alert: Record<string, unknown>;
  };
  created.alert.number = 31337;
  created.alert.validity = 'unknown';
  const opened = await send(stack, 'github', JSON.stringify(created));
  expect(opened).toMatchObject({ status: 202, body: { status: 'created' } });
  const incidentId = opened.body.incidentId as string;
  expect((await incidentStatus(stack.temporal.client, incidentId)).severity).toBe('high');

  const validated = { ...created, action: 'validated', alert: { ...created.alert, validity: 'active' } };
  expect(await send(stack, 'github', JSON.stringify(validated))).toMatchObject({
    status: 202,
    body: { incidentId, status: 'joined' },
  });
  const resolved = {
    ...created,
    action: 'resolved',
    alert: { ...created.alert, state: 'resolved', resolution: 'revoked' },
  };
  expect(await send(stack, 'github', JSON.stringify(resolved))).toMatchObject({
    status: 202,
    body: { incidentId, status: 'joined' },
  });
  const status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.severity).toBe('critical');
  expect(await notes(incidentId)).toEqual(
    expect.arrayContaining([
      'gateway: severity raised from high to critical by github alert acme/payments#31337: validity confirmed active',
      'siem:github: detector marked resolved (revoked) (alert acme/payments#31337); nothing is undone automatically',
    ]),
  );
  // Containment goes on: a resolution undoes nothing.
  expect(status.state).not.toBe('cancelled');

  // A resolution about an alert no incident holds opens nothing.
  const orphan = { ...resolved, alert: { ...resolved.alert, number: 31338 } };
  expect(await send(stack, 'github', JSON.stringify(orphan))).toEqual({
    status: 202,
    body: { status: 'ignored', lifecycle: 'resolved', reason: 'no open incident for this alert' },
  });
});

test('details not sealed by a trusted gateway key change nothing: the ids count, the claims do not', async () => {
  const token = makeCanaries().githubToken;
  const opened = await send(stack, 'generic', genericAlert(token, { severity: 'low' }));
  const incidentId = opened.body.incidentId as string;
  const handle = stack.temporal.client.workflow.getHandle(incidentId);
  const claims: AlertDetails = {
    severity: 'critical',
    locations: [{ url: 'https://attacker.example/' }],
    connector: { provider: 'github', ref: 'attacker/repo/evil.yml', repository: 'attacker/repo' },
    events: [{ alertId: 'x', source: 'generic', lifecycle: 'resolved', text: 'detector marked resolved' }],
  };
  const forger = generateKeyPairSync('ed25519').privateKey;
  const forged: AlertBatch[] = [
    // No seal at all, a stranger's key, and the gateway's seal over other claims (altered after signing).
    {
      token: 'forged-1',
      alerts: [],
      details: {
        body: claims,
        seal: {
          nonce: 'n'.repeat(20),
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
          signature: 'AA==',
        },
      },
    },
    { token: 'forged-2', alerts: [], details: signCommand(incidentId, 'alert-details', claims, forger) },
    {
      token: 'forged-3',
      alerts: [],
      details: {
        ...signCommand(
          incidentId,
          'alert-details',
          { ...claims, severity: 'low' as const },
          TEST_GATEWAY_KEY.privateKey,
        ),
        body: claims,
      },
    },
    // Sealed by the gateway, but for another incident.
    {
      token: 'forged-4',
      alerts: [],
      details: signCommand('incident-other', 'alert-details', claims, TEST_GATEWAY_KEY.privateKey),
    },
  ];
  for (const batch of forged) await handle.executeUpdate('attachAlerts', { args: [batch] });
  const status = await incidentStatus(stack.temporal.client, incidentId);
  expect(status.severity).toBe('low');
  expect(status.connector).toBe('github:acme/payments/.github/workflows/deploy.yml');
  expect(JSON.stringify(status)).not.toContain('attacker');
  expect(status.flags).toContain('unsigned-alert-details-ignored');
  // Said once, however many arrive.
  expect((await notes(incidentId)).filter((note) => note.includes('alert details ignored'))).toHaveLength(1);

  // The gateway's genuine seal counts once: replayed onto a second batch, its nonce is spent.
  const genuine = signCommand(
    incidentId,
    'alert-details',
    {
      severity: 'critical',
      locations: [],
      events: [
        { alertId: 'genuine-1', source: 'generic', lifecycle: 'resolved', text: 'detector marked resolved' },
      ],
    } satisfies AlertDetails,
    TEST_GATEWAY_KEY.privateKey,
  );
  await handle.executeUpdate('attachAlerts', { args: [{ token: 'ok-1', alerts: [], details: genuine }] });
  await handle.executeUpdate('attachAlerts', {
    args: [{ token: 'ok-2', alerts: [], details: { ...genuine } }],
  });
  expect((await incidentStatus(stack.temporal.client, incidentId)).severity).toBe('critical');
  expect((await notes(incidentId)).filter((note) => note.includes('genuine-1'))).toHaveLength(1);
});

test('`incident status --json` says what leaked, where, on which connector and credential, and from which alerts', async () => {
  const token = makeCanaries().githubToken;
  const opened = await send(stack, 'generic', genericAlert(token));
  const incidentId = opened.body.incidentId as string;
  const run = await runCli(['incident', 'status', incidentId, '--json'], {
    TEMPORAL_ADDRESS: stack.temporal.address,
    TOURNIQUET_DATA_DIR: stack.temporal.dataDir,
  });
  expect(run.code).toBe(0);
  const printed = JSON.parse(run.stdout) as Record<string, unknown>;
  expect(printed).toMatchObject({
    incidentId,
    connector: 'github:acme/payments/.github/workflows/deploy.yml',
    secret: {
      kind: 'github_personal_access_token',
      hint: expect.stringContaining(`…${token.slice(-4)}`),
      locations: [
        {
          url: 'https://github.com/acme/payments/actions/runs/9012345678/job/24712345678',
          repository: 'acme/payments',
          workflow: '.github/workflows/deploy.yml',
        },
      ],
    },
    credential: { issuer: 'simulated' },
    alerts: { count: 1, sources: { generic: 1 }, latest: [`enrich-${sequence}`] },
  });
  expect(run.stdout).not.toContain(token);
});
