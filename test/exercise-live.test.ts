import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ExerciseError, prepareExercise, runExercise, type ExerciseResult } from '../exercises/engine';
import { loadScenarioFile, parseScenario } from '../exercises/scenario';
import { TEST_FINGERPRINT_KEY, query } from './harness/incidents';
import { TEST_OWNERS_FILE } from './harness/owners';
import { makeDataDir, workflowBundlePath } from './harness/temporal';
import {
  buttonsOf,
  click,
  INCIDENT_CHANNEL,
  signed,
  startSlackStack,
  type SlackStack,
} from './fixtures/slack/harness';

/**
 * A live exercise: the platform role is answered by its real people (the owners file's Slack users), who see
 * every message in Slack tagged [EXERCISE] and approve by clicking, through the gateway, while the other roles
 * are scripted.
 */

const SCENARIO = {
  id: 'live-platform',
  title: 'Live platform owners',
  runbook: 'leaked-workflow-secret',
  alert: {
    alertId: 'LIVE-1',
    detector: 'test-detector',
    secretKind: 'github-token',
    severity: 'high',
    location: {
      url: 'https://github.com/acme/live/actions/runs/1',
      repository: 'acme/live',
      workflow: '.github/workflows/deploy.yml',
    },
  },
  // Slow enough that a person (here, the test) answers well inside the scaled deadlines.
  clock: { speed: 60, duration: '2h' },
  injects: [{ type: 'note', at: '1m', text: 'The token was used from 203.0.113.9, a new IP.' }],
  responders: {
    platform: { live: true },
    iam: { people: ['ivy', 'ian'], respond: 'approve', after: '30s' },
    secops: { people: ['sol'], respond: 'approve', after: '30s' },
    'app-owner': { people: ['ada'], respond: 'approve', after: '30s' },
    'incident-commander': { people: ['cy'], respond: 'approve', after: '30s' },
  },
};

let stack: SlackStack;
let scenarioFile: string;

beforeAll(async () => {
  stack = await startSlackStack();
  scenarioFile = join(makeDataDir(), 'live-platform.yaml');
  writeFileSync(scenarioFile, stringify(SCENARIO));
});

afterAll(async () => {
  await stack?.stop();
});

/** Runs the live scenario against the Slack stack's server, with the test owners file. */
async function runLive(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  progress?: (line: string) => void,
): Promise<ExerciseResult> {
  const loaded = loadScenarioFile(scenarioFile);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  return runExercise({
    scenario: loaded.scenario,
    scenarioFile,
    scenarioSha256: loaded.sha256,
    client: stack.temporal.client,
    address: stack.temporal.address,
    namespace: 'default',
    dataDir,
    fingerprintKey: TEST_FINGERPRINT_KEY,
    env,
    realProviders: [],
    ownersFile: TEST_OWNERS_FILE,
    workflowBundlePath: await workflowBundlePath(),
    progress,
  });
}

const slackEnv = () => ({
  SLACK_BOT_TOKEN: stack.simulator.botToken,
  SLACK_API_URL: stack.simulator.url,
  SLACK_INCIDENT_CHANNEL: INCIDENT_CHANNEL,
});

test('live responders: platform owners approve from Slack during the exercise, every message says [EXERCISE], injects reach the thread', async () => {
  const loaded = loadScenarioFile(scenarioFile);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  let incidentId: string | undefined;
  const exercise = runLive(slackEnv(), stack.temporal.dataDir, (line) => {
    incidentId ??= /^(exercise-live-platform-\S+):/.exec(line)?.[1];
  });

  // The platform owner watches the channel and clicks Approve on every request addressed to platform.
  let finished = false;
  const clicked = new Set<string>();
  const owner = (async () => {
    while (!finished) {
      if (incidentId) {
        const status = await query(stack.temporal.client, incidentId).catch(() => undefined);
        for (const request of status?.approvals ?? []) {
          if (!request.roles.includes('platform') || clicked.has(request.nonce)) continue;
          const message = stack.simulator
            .messages()
            .find((candidate) => buttonsOf(candidate)?.approve.includes(request.nonce));
          if (!message) continue;
          clicked.add(request.nonce);
          const answer = await stack.deliver(signed(stack, click(stack, message, 'U0PLATFORM1', 'approve')));
          expect(answer.status).toBe(200);
        }
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  })();
  let outcome: ExerciseResult;
  try {
    outcome = await exercise;
  } finally {
    finished = true;
    await owner;
  }

  expect(outcome.status.state).toBe('completed');
  // Platform's steps were approved by the real person, in Slack; nobody stood in for them.
  const platformSteps = outcome.report.steps
    .filter((step) => step.owner === 'platform')
    .map((step) => step.id);
  expect(platformSteps.length).toBeGreaterThan(0);
  const approvals = outcome.status.timeline.filter(
    (event) => event.type === 'approved' && platformSteps.includes(event.stepId!),
  );
  expect(approvals.map((event) => event.actor)).toEqual(approvals.map(() => 'slack:U0PLATFORM1'));
  expect(approvals.length).toBe(clicked.size);
  expect(outcome.status.timeline.filter((event) => event.type === 'break-glass')).toEqual([]);
  expect(outcome.report.owners.find((row) => row.identity === 'slack:U0PLATFORM1')?.roles).toEqual([
    'platform',
  ]);

  // Every message of the exercise in Slack says so, the inject included.
  const posted = stack.simulator.messages(INCIDENT_CHANNEL);
  const opening = posted.find((message) => !message.threadTs && message.text?.includes(outcome.incidentId));
  expect(opening).toBeDefined();
  const thread = posted.filter((message) => message.threadTs === opening!.ts);
  expect(thread.length).toBeGreaterThan(10);
  for (const message of [opening!, ...thread]) expect(message.text).toMatch(/^\[EXERCISE\] /);
  expect(thread.map((message) => message.text)).toContainEqual(
    '[EXERCISE] :memo: Inject: The token was used from 203.0.113.9, a new IP.',
  );
});

test('a live exercise is refused before it starts without Slack, with a script, or for a role nobody holds', () => {
  const loaded = loadScenarioFile(scenarioFile);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const prepare = (ownersFile: string) => () =>
    prepareExercise(loaded.scenario, { scenarioFile, fingerprintKey: TEST_FINGERPRINT_KEY, ownersFile });

  const scripted = parseScenario({
    ...SCENARIO,
    responders: { ...SCENARIO.responders, platform: { live: true, respond: 'approve' } },
  });
  expect(scripted.ok).toBe(false);
  expect(!scripted.ok && scripted.issues).toEqual([
    {
      path: 'responders.platform.respond',
      message: 'a live role is answered by real people: remove the script',
    },
  ]);
  const noScript = parseScenario({
    ...SCENARIO,
    responders: { ...SCENARIO.responders, iam: { people: ['ivy'] } },
  });
  expect(!noScript.ok && noScript.issues).toEqual([
    {
      path: 'responders.iam.respond',
      message: 'expected approve, deny or none (or `live: true` for real people)',
    },
  ]);

  // An owners file where platform has nobody: the live role cannot be answered.
  const empty = join(makeDataDir(), 'owners.yaml');
  writeFileSync(
    empty,
    stringify({
      roles: Object.fromEntries(
        Object.keys(SCENARIO.responders).map((role) => [role, { description: role }]),
      ),
    }),
  );
  expect(prepare(empty)).toThrow(ExerciseError);
  expect(prepare(empty)).toThrow(
    /responders\.platform\.live: the owners file has no people for role "platform"/,
  );
  expect(prepare(TEST_OWNERS_FILE)).not.toThrow();
});

test('a live exercise without Slack configured stops before any incident starts', async () => {
  await expect(runLive({}, makeDataDir())).rejects.toThrow(
    /responders\.platform\.live: live responders answer in Slack: set SLACK_BOT_TOKEN and SLACK_INCIDENT_CHANNEL/,
  );
  const started: string[] = [];
  for await (const execution of stack.temporal.client.workflow.list()) {
    if (execution.workflowId.startsWith('exercise-live-platform')) started.push(execution.workflowId);
  }
  // Only the first test's exercise exists.
  expect(started).toHaveLength(1);
});
