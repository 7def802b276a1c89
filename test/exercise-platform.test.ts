import './simulators/github/jest-esm-interop';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ExerciseError, prepareExercise, runExercise, type ExerciseResult } from '../exercises/engine';
import { loadScenarioFile, parseScenario, type Scenario } from '../exercises/scenario';
import type { IncidentStatus } from '../lib/runbook/types';
import { SimulationJournal } from '../providers/simulated/journal';
import { formatOffset } from '../reports/model';
import { TEST_FINGERPRINT_KEY } from './harness/incidents';
import { makeDataDir, startTestTemporal, workflowBundlePath, type TestTemporal } from './harness/temporal';
import { startN8nSimulator, type N8nSimulator } from './simulators/n8n/server';

/**
 * The compromised-platform runbook's exercise: an n8n taken over through a CVE, 50 credentials from the scenario's
 * inventory, five owners each approving their own batch, one of them unreachable (their batch escalates to the
 * incident commander, who approves: no break-glass for irreversible rotations), one issuer down.
 */

const SCENARIOS = join(__dirname, '..', 'runbooks', 'exercises');
const SCENARIO = join(SCENARIOS, 'n8n-platform-takeover.yaml');
const INVENTORY = join(SCENARIOS, 'inventories', 'n8n-platform-takeover.yaml');
/** The n8n id of `jira-automation`, whose issuer (Atlassian) is down. */
const JIRA = 'wy1LDBCzYSlDRzUe';
const OWNERS = ['platform', 'iam', 'data', 'app-owner', 'secops'];

let temporal: TestTemporal;
let n8n: N8nSimulator;

beforeAll(async () => {
  [temporal, n8n] = await Promise.all([
    startTestTemporal(),
    startN8nSimulator({
      apiKey: 'n8n-test-api-key',
      workflows: [{ id: '42', name: 'CRM sync', active: true }],
    }),
  ]);
});

afterAll(async () => {
  await n8n?.stop();
  await temporal?.stop();
});

const events = (status: IncidentStatus, stepId: string) =>
  status.timeline.filter((event) => event.stepId === stepId).map((event) => event.type);

test('n8n platform takeover: 50 credentials discovered, 5 owner batches (the unreachable one escalated and approved by the backup), 49 rotated and proven dead, the down issuer named', async () => {
  const loaded = loadScenarioFile(SCENARIO);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const started = Date.now();
  const outcome: ExerciseResult = await runExercise({
    scenario: loaded.scenario,
    scenarioFile: SCENARIO,
    scenarioSha256: loaded.sha256,
    client: temporal.client,
    address: temporal.address,
    namespace: 'default',
    dataDir: temporal.dataDir,
    fingerprintKey: TEST_FINGERPRINT_KEY,
    // The real n8n provider (and the http-connector preset) are configured: an exercise must never call them.
    env: { N8N_BASE_URL: n8n.baseUrl, N8N_API_KEY: 'n8n-test-api-key' },
    workflowBundlePath: await workflowBundlePath(),
  });
  process.stderr.write(
    `[measured] n8n-platform-takeover: ${formatOffset(outcome.report.durationMs)} of scenario (×${loaded.scenario.clock.speed}) ` +
      `in ${(outcome.wallMs / 1000).toFixed(1)} s incident time, ${((Date.now() - started) / 1000).toFixed(1)} s with worker start and reports\n`,
  );
  const { status, report } = outcome;
  if (process.env.DUMP_STATUS)
    writeFileSync(process.env.DUMP_STATUS, JSON.stringify({ status, report }, null, 2));
  expect(outcome.record.outcome).toBe('closed');
  // The incident closed, and says it failed: one credential is still to be rotated by hand.
  expect(status.state).toBe('failed');
  expect(status.exercise).toBe(true);
  const step = (id: string) => status.steps.find((candidate) => candidate.id === id)!;

  // Discovery listed what the scenario says the platform holds: every n8n credential id of its inventory.
  const inventory = parse(readFileSync(INVENTORY, 'utf8')) as {
    credentials: { id: string; owners: string[]; identifiers: { n8nCredentialId: string } }[];
  };
  const ids = inventory.credentials.map((credential) => credential.identifiers.n8nCredentialId);
  expect(ids).toHaveLength(50);
  expect(step('discover-credentials').state).toBe('succeeded');
  expect([...(step('discover-credentials').summary!.credentials as string[])].sort()).toEqual(
    [...ids].sort(),
  );

  // Each owner was asked once, for exactly their credentials, as the worker's inventory says.
  const rotate = step('rotate-credentials');
  expect(rotate.items!.total).toBe(50);
  const requested = status.timeline.filter(
    (event) => event.type === 'approval-requested' && event.stepId?.startsWith('rotate-credentials--'),
  );
  expect(requested.map((event) => event.stepId).sort()).toEqual(
    OWNERS.map((owner) => `rotate-credentials--${owner}`).sort(),
  );
  for (const owner of OWNERS) {
    const mine = inventory.credentials.filter((credential) => credential.owners[0] === owner);
    expect(mine).toHaveLength(10);
    expect(
      rotate
        .items!.items.filter((item) => item.owner === owner)
        .map((item) => item.credentialId)
        .sort(),
    ).toEqual(mine.map((credential) => credential.id).sort());
  }
  const approvedBy = (owner: string) =>
    status.timeline.filter((e) => e.stepId === `rotate-credentials--${owner}` && e.type === 'approved');
  for (const [owner, person] of [
    ['platform', 'key:priya'],
    ['iam', 'key:ines'],
    ['data', 'key:dmitri'],
    ['secops', 'key:sam'],
  ]) {
    expect(events(status, `rotate-credentials--${owner}`)).toEqual(['approval-requested', 'approved']);
    expect(approvedBy(owner).map((event) => event.actor)).toEqual([person]);
  }
  // secops answered its batch as its override for the step says (9m), not its default (3m).
  const secopsAsked = status.timeline.find(
    (e) => e.stepId === 'rotate-credentials--secops' && e.type === 'approval-requested',
  )!;
  const secopsWait =
    (Date.parse(approvedBy('secops')[0].at) - Date.parse(secopsAsked.at)) * loaded.scenario.clock.speed;
  expect(secopsWait).toBeGreaterThanOrEqual(9 * 60_000 - 1_000);
  // The app owner never answered: at the deadline the batch went to the incident commander, who approved it.
  expect(events(status, 'rotate-credentials--app-owner')).toEqual([
    'approval-requested',
    'escalated',
    'approved',
  ]);
  expect(approvedBy('app-owner').map((event) => event.actor)).toEqual(['key:carmen']);
  expect(
    outcome.record.decisions
      .filter((decision) => decision.stepId === 'rotate-credentials--app-owner')
      .map(({ person, role, decision, outcome: result }) => ({ person, role, decision, result })),
  ).toEqual([{ person: 'carmen', role: 'incident-commander', decision: 'approve', result: 'approved' }]);
  // Rotations cannot be undone: nothing broke glass.
  expect(status.flags.filter((flag) => flag.startsWith('break-glass'))).toEqual([]);
  expect(status.timeline.some((event) => event.type === 'break-glass')).toBe(false);
  const appOwner = report.roles.find((role) => role.role === 'app-owner')!;
  expect(appOwner.answered).toEqual([]);
  expect(appOwner.missed).toEqual(['rotate-credentials--app-owner']);

  // 49 rotated; exactly the credential whose issuer is down failed, by name, with the issuer's answer.
  expect(rotate.items!.counts).toMatchObject({ succeeded: 49, failed: 1, skipped: 0, pending: 0 });
  const failed = rotate.items!.items.filter((item) => item.state === 'failed');
  expect(failed).toEqual([
    expect.objectContaining({
      key: JIRA,
      credentialId: 'jira-automation',
      owner: 'platform',
      error: expect.stringContaining('Atlassian API returns 503') as unknown,
    }),
  ]);
  expect(rotate.state).toBe('failed');
  expect(rotate.error).toContain(JIRA);
  expect(rotate.summary!.failedItems).toEqual([JIRA]);

  // Each of the 49 was proven dead; the Jira token was not tried.
  const verify = step('verify-dead');
  expect(verify.state).toBe('succeeded');
  expect(verify.items!.total).toBe(49);
  expect(verify.items!.counts.succeeded).toBe(49);
  expect(verify.items!.items.map((item) => item.key)).not.toContain(JIRA);

  // The executions were purged only once captured (and the rotations done), then the platform recovered.
  const succeeded = (id: string) =>
    status.timeline.find((event) => event.stepId === id && event.type === 'succeeded')!.at;
  const finished = (id: string) =>
    status.timeline.filter((event) => event.stepId === id && event.type === 'failed').at(-1)?.at ??
    succeeded(id);
  expect(step('capture-executions').state).toBe('succeeded');
  expect(step('purge-executions').state).toBe('succeeded');
  expect(succeeded('capture-executions') < succeeded('purge-executions')).toBe(true);
  expect(finished('rotate-credentials') < succeeded('purge-executions')).toBe(true);
  expect(step('freeze-platform').state).toBe('succeeded');
  expect(step('recover-platform').state).toBe('succeeded');

  // Every action ran on a simulated stand-in of its system; the configured n8n received nothing.
  for (const ran of status.steps.filter((candidate) => candidate.provider)) {
    expect(ran.provider).toMatch(/^simulated:/);
  }
  expect(n8n.requests).toHaveLength(0);
  const journal = (
    await new SimulationJournal(join(temporal.dataDir, 'simulated', 'journal.jsonl')).entries()
  ).filter((entry) => entry.incidentId === outcome.incidentId);
  expect(journal.every((entry) => entry.exercise)).toBe(true);
  const applied = (action: string) =>
    journal.filter((entry) => entry.action === action && entry.effect === 'applied');
  expect(applied('rotateCredential')).toHaveLength(49);
  expect(journal.filter((entry) => entry.action === 'rotateCredential' && entry.effect === 'fault')).toEqual([
    expect.objectContaining({ system: 'simulated', stepId: 'rotate-credentials' }),
  ]);
  // Rotated through each credential's own issuer: 5 AWS keys, 4 PostgreSQL logins, the SaaS ones simulated.
  const bySystem = (entries: { system: string }[]) =>
    entries.reduce<Record<string, number>>(
      (counts, entry) => ({ ...counts, [entry.system]: (counts[entry.system] ?? 0) + 1 }),
      {},
    );
  expect(bySystem(applied('rotateCredential'))).toEqual({ 'aws-iam': 5, postgres: 4, simulated: 40 });
  // Each replacement delivered to its n8n credential (an AWS key's two halves: two fields).
  expect(bySystem(applied('storeSecret'))).toEqual({ n8n: 54 });
  expect(applied('verifyRevoked')).toHaveLength(49);
  expect(applied('listCredentials')).toEqual([expect.objectContaining({ system: 'n8n' })]);

  // The report: the items line, the unreachable owner and the unrotated credential as findings.
  const markdown = readFileSync(outcome.reports.markdown, 'utf8');
  const html = readFileSync(outcome.reports.html, 'utf8');
  const line = `50 items: 49 succeeded, 1 failed (jira-automation (${JIRA}): `;
  expect(report.steps.find((row) => row.id === 'rotate-credentials')?.items).toContain(line);
  expect(report.steps.find((row) => row.id === 'verify-dead')?.items).toBe('49 items: 49 succeeded');
  expect(markdown).toContain(line);
  expect(markdown).toContain('Atlassian API returns 503');
  expect(html).toContain(line);
  const findings = report.findings.map((finding) => `${finding.kind}:${finding.stepId ?? ''}`);
  expect(findings).toEqual(
    expect.arrayContaining([
      'unreachable-owner:',
      'missed-deadline:rotate-credentials--app-owner',
      'failed-step:rotate-credentials',
      'sla-missed:',
    ]),
  );
  expect(findings.filter((finding) => finding.startsWith('break-glass'))).toEqual([]);
  expect(report.findings.find((f) => f.kind === 'unreachable-owner')?.text).toMatch(
    /^app-owner answered none/,
  );
  expect(report.milestones.find((row) => row.id === 'credentials-rotated')?.outcome).toBe('not-reached');
  expect(report.milestones.find((row) => row.id === 'connector-disabled')?.outcome).toBe('met');
  expect(report.milestones.find((row) => row.id === 'recovered')?.outcome).not.toBe('not-reached');
  // Every inject is in the incident's own timeline.
  const injects = status.timeline.filter((e) => e.type === 'note' && e.actor.startsWith('exercise:'));
  expect(injects).toHaveLength(outcome.record.notes.length);
  expect(outcome.record.notes.length).toBe(6);
});

describe('a scenario platform that does not hold together is refused before anything starts, naming the field', () => {
  const base = parse(readFileSync(SCENARIO, 'utf8')) as Record<string, unknown>;

  function issuesOf(edit: (raw: Record<string, unknown>) => void, inventoryText?: string): string[] {
    const dir = makeDataDir();
    const raw = structuredClone(base);
    if (inventoryText !== undefined) {
      writeFileSync(join(dir, 'inventory.yaml'), inventoryText);
      raw.inventory = 'inventory.yaml';
    } else {
      raw.inventory = INVENTORY;
    }
    edit(raw);
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, stringify(raw));
    const parsed = parseScenario(raw, file);
    if (!parsed.ok) return parsed.issues.map((issue) => `${issue.path}: ${issue.message}`);
    try {
      prepareExercise(parsed.scenario, {
        scenarioFile: file,
        fingerprintKey: TEST_FINGERPRINT_KEY,
      });
      return [];
    } catch (error) {
      if (!(error instanceof ExerciseError)) throw error;
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    }
  }

  test('the shipped scenario, its inventory absolute or relative, is valid; the answers ride on the action fault', () => {
    expect(issuesOf(() => undefined)).toEqual([]);
    const loaded = loadScenarioFile(SCENARIO);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const prepared = prepareExercise(loaded.scenario, {
      scenarioFile: SCENARIO,
      fingerprintKey: TEST_FINGERPRINT_KEY,
    });
    expect(prepared.platform.inventory?.inventory.credentials).toHaveLength(50);
    const faults = prepared.input.simulation!.faults!;
    expect(faults['n8n.listCredentials'].answers!.credentials).toHaveLength(50);
    expect(faults[`rotate-credentials/${JIRA}`]).toEqual({
      failAttempts: 1,
      nonRetryable: true,
      message: 'Atlassian API returns 503 Service Unavailable',
    });
  });

  test('a provider failure on the same action keeps the answers', () => {
    const loaded = loadScenarioFile(SCENARIO);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const scenario: Scenario = {
      ...loaded.scenario,
      injects: [
        ...loaded.scenario.injects,
        {
          type: 'provider-failure',
          target: 'n8n.listCredentials',
          failAttempts: 1,
          message: 'n8n API timed out',
        },
      ],
    };
    const faults = prepareExercise(scenario, { scenarioFile: SCENARIO, fingerprintKey: TEST_FINGERPRINT_KEY })
      .input.simulation!.faults!;
    expect(faults['n8n.listCredentials']).toMatchObject({ failAttempts: 1, message: 'n8n API timed out' });
    expect(faults['n8n.listCredentials'].answers!.credentials).toHaveLength(50);
  });

  test('inventory: a missing file, a credential that does not validate, an issuer this build cannot simulate', () => {
    expect(issuesOf((raw) => (raw.inventory = 'nowhere.yaml'))).toEqual([
      'inventory: nowhere.yaml: file not found',
    ]);
    const credential = {
      id: 'stripe-billing',
      kind: 'generic',
      issuer: 'stripe:acct_acme/restricted-keys/n8n',
      consumers: [{ provider: 'n8n', target: 'Ab12#secretKey' }],
      owners: ['app-owner'],
      identifiers: { n8nCredentialId: 'Ab12' },
    };
    const bad = {
      ...credential,
      id: 'pg',
      issuer: 'postgres:',
      owners: ['nobody'],
      consumers: [{ provider: 'n8n', target: 'Cd34#password' }],
      identifiers: {},
    };
    expect(issuesOf(() => undefined, stringify({ credentials: [credential, bad] }))).toEqual([
      'inventory: inventory.yaml: credentials[1].issuer: expected <provider>:<reference>, e.g. postgres:app_user@appdb',
      'inventory: inventory.yaml: credentials[1].owners[0]: unknown owner role "nobody" (roles: platform, iam, secops, data, app-owner, incident-commander)',
      'inventory: inventory.yaml: credentials[0].issuer: no issuer provider `stripe` in this build: an exercise can only simulate the systems this build has',
    ]);
  });

  test('platform: an action that lists nothing or no such list, fromInventory without an inventory, a bad key', () => {
    expect(
      issuesOf((raw) => {
        raw.platform = {
          'n8n.audit': { credentials: ['a'] },
          'n8n.listWorkflows': { credentials: ['a'] },
          'nothing.listCredentials': { credentials: ['a'] },
        };
      }),
    ).toEqual([
      'platform.n8n.audit: n8n.audit lists nothing (discovery actions: n8n.listCredentials, n8n.listWorkflows)',
      'platform.n8n.listWorkflows.credentials: n8n.listWorkflows has no list "credentials" (it lists workflows, active)',
      'platform.nothing.listCredentials: no provider "nothing" in this build',
    ]);
    expect(issuesOf((raw) => delete raw.inventory)).toEqual([
      'platform.n8n.listCredentials.credentials.fromInventory: needs the scenario’s `inventory` to list its credentials',
    ]);
    expect(
      issuesOf((raw) => (raw.platform = { 'n8n.listCredentials': { credentials: ['not a key'] } })),
    ).toEqual([expect.stringMatching(/^platform\.n8n\.listCredentials\.credentials/)]);
  });

  test('a batch owner without responders, an item fault that is malformed, on a step without forEach, or on no item', () => {
    expect(
      issuesOf((raw) => {
        raw.injects = [
          { type: 'provider-failure', target: 'rotate-credentials/bad key', nonRetryable: true },
        ];
      }),
    ).toEqual([
      'injects[0].target: expected a step id, <step>/undo, <step>/<item key> (one item of a forEach step) or provider.action',
    ]);
    // app-owner owns no step of the runbook: only its batch of credentials asks it.
    expect(issuesOf((raw) => delete (raw.responders as Record<string, unknown>)['app-owner'])).toEqual([
      expect.stringMatching(
        /^responders\.app-owner: missing: it approves its batch of step "rotate-credentials": 10 items such as \w+$/,
      ),
    ]);
    expect(
      issuesOf((raw) => {
        raw.injects = [
          { type: 'provider-failure', target: 'rotate-credentials/not-listed', nonRetryable: true },
          { type: 'provider-failure', target: 'purge-executions/anything', nonRetryable: true },
          { type: 'provider-failure', target: 'no-such-step/anything', nonRetryable: true },
          { type: 'provider-failure', target: `verify-dead/${JIRA}`, nonRetryable: true },
        ];
      }),
    ).toEqual([
      'injects[1].target: step "purge-executions" has no forEach: only one item of a forEach step can be a target',
      'injects[2].target: runbook "compromised-platform" has no step "no-such-step"',
      expect.stringMatching(
        /^injects\[0\]\.target: "not-listed" is not an item of step "rotate-credentials" \(its 50 items are \w+, \w+, \w+, …\)$/,
      ),
    ]);
  });
});
