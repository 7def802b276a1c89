import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import pino, { type Logger } from 'pino';
import { LogNotifier } from '../activities/notify';
import { openVault } from '../evidence';
import type { EvidenceVault, JsonValue } from '../evidence';
import { normalizeSiemAlert } from '../gateway/siem/normalize';
import type { NormalizedAlert } from '../gateway/siem/alert';
import { correlationFingerprint } from '../lib/fingerprint';
import {
  attachAlerts,
  buildIncidentInput,
  cancelIncident,
  closedIncidentStatus,
  incidentRequestSchema,
  incidentStatus,
  sendNote,
  startIncident,
  type IncidentCancel,
} from '../client';
import { loadConfig } from '../lib/config';
import { gatewaySigningKey, trustedGatewayKeys } from '../lib/gateway-key';
import { loadOwnersFile, ownersFilePath, rawPublicKey, type OwnersFile } from '../lib/owners';
import type { TemporalTlsOptions } from '../lib/temporal-tls';
import { ownerRoles } from '../reports/collect';
import { loadSlackWorkerConfig, type SlackWorkerConfig } from '../slack/config';
import { createSlackNotifier, createSlackWebClient, slackUsergroupResolver } from '../slack/notifier';
import { findRunbook, formatIssues } from '../runbooks';
import { RunbookCatalog } from '../runbooks/catalog';
import type { IncidentInput, IncidentStatus, Runbook, SimulatedFaultSpec } from '../lib/runbook/types';
import { formatPath, type RunbookIssue } from '../lib/runbook/validate';
import { createProviderRegistry } from '../providers/registry';
import { SimulationJournal } from '../providers/simulated/journal';
import type { Provider } from '../providers/types';
import { buildReport, formatOffset, type AfterActionReport, type ReportNote } from '../reports/model';
import { renderHtml, renderMarkdown } from '../reports/render';
import { createTourniquetWorker } from '../worker/create-worker';
import { configuredProviders } from '../worker/providers';
import { createExerciseOwners, ownersBackups } from './owners';
import {
  exerciseDir,
  personaRoles,
  saveExerciseRecord,
  type ExerciseRecord,
  type ScriptedDecision,
} from '../reports/record';
import { checkPlatform, loadExercisePlatform, type ExercisePlatform } from './platform';
import { ScriptedResponders } from './responders';
import { checkScenarioAgainstRunbook, liveRoles, type Scenario, type ScenarioAlert } from './scenario';

/** A scenario that cannot run: every problem, as `path: message`. */
export class ExerciseError extends Error {
  constructor(
    readonly file: string,
    readonly issues: RunbookIssue[],
  ) {
    super(issues.map((issue) => `${file}: ${issue.path}: ${issue.message}`).join('\n'));
  }
}

export interface RunExerciseOptions {
  scenario: Scenario;
  scenarioFile: string;
  scenarioSha256: string;
  client: Client;
  /** Temporal frontend the exercise's own worker connects to (the running stack's server). */
  address: string;
  /** TLS to that frontend, as `temporalConnectionOptions` (lib/temporal-tls.ts) gives it; absent: plaintext. */
  tls?: TemporalTlsOptions;
  namespace: string;
  dataDir: string;
  fingerprintKey: Buffer;
  /** Where real providers are configured (as for `tourniquet worker`); exercise mode never calls them. */
  env?: NodeJS.ProcessEnv;
  /** Real providers to register instead of the ones configured in `env`. */
  realProviders?: Provider[];
  logger?: Logger;
  /** A bundle made by `bundleWorkflows`; without it the worker bundles the current workflow code. */
  workflowBundlePath?: string;
  runbooksDir?: string;
  /** The production owners matrix, for its escalation chain (backups); default TOURNIQUET_OWNERS_FILE or built-in. */
  ownersFile?: string;
  /** One line per thing that happens (inject, decision), for the CLI. */
  progress?: (line: string) => void;
}

export interface ExerciseResult {
  incidentId: string;
  status: IncidentStatus;
  record: ExerciseRecord;
  report: AfterActionReport;
  reports: { markdown: string; html: string };
  /** Real milliseconds from the incident start to its close. */
  wallMs: number;
}

interface Prepared {
  runbook: Runbook;
  input: IncidentInput;
  alert: NormalizedAlert;
  injectAlerts: Map<number, NormalizedAlert>;
  /** The production owners matrix (escalation chain, live roles' people); undefined when it does not load. */
  productionOwners?: OwnersFile;
  /** The scenario's inventory (the exercise worker resolves forEach items with it) and discovery answers. */
  platform: ExercisePlatform;
}

/**
 * Real time an exercise may overrun its scenario length: machine work runs at 1×, so on a busy machine every second
 * of it costs minutes of scenario (8 min at ×480). A CI run on two loaded cores stretched a 4 h scenario to 5 h 30 m;
 * half the real length again, at least 5 s, keeps a slow machine from cancelling an exercise that is still moving.
 */
const endGraceMs = (realDurationMs: number) => Math.max(5_000, realDurationMs / 2);
const WARM_UP_MS = 250;
/** How often (real ms) the scripted responders look at the incident besides hearing its notifications. */
const WATCH_MS = 100;

function runId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(2).toString('hex')}`;
}

function resolveRunbook(scenario: Scenario, scenarioFile: string, runbooksDir?: string): Runbook {
  const reference = scenario.runbook;
  const beside = resolve(dirname(scenarioFile), reference);
  const found = findRunbook(
    /\.ya?ml$/.test(reference) && existsSync(beside) ? beside : reference,
    runbooksDir,
  );
  if (!found.ok) {
    throw new ExerciseError(scenarioFile, [{ path: 'runbook', message: formatIssues(found).join('; ') }]);
  }
  return found.runbook;
}

function normalize(
  alert: ScenarioAlert,
  field: string,
  key: Buffer,
  file: string,
  observedAt: Date,
): NormalizedAlert {
  const body = { ...alert, observedAt: alert.observedAt ?? observedAt.toISOString() };
  const result = normalizeSiemAlert('generic', body, { fingerprintKey: key });
  if (!result.ok)
    throw new ExerciseError(file, [{ path: `${field}.${result.field}`, message: result.message }]);
  return result.alert;
}

/** The connector the alert names, else the GitHub workflow of its location. */
function connectorOf(alert: ScenarioAlert): string | undefined {
  if (alert.connector) return alert.connector;
  const { repository, workflow } = alert.location;
  if (repository && workflow) return `github:${repository}/${workflow.replace(/^\/+/, '')}`;
  return undefined;
}

const REQUEST_FIELDS: Record<string, string> = {
  connector: 'alert.connector',
  secretKind: 'alert.secretKind',
  severity: 'alert.severity',
  credential: 'incident.credential',
  destinations: 'incident.destinations',
  requester: 'incident.requester',
  hint: 'incident.hint',
  exposureStart: 'alert.observedAt',
};

/** Validates the scenario against its runbook and builds the incident input: always `exercise: true`. */
export function prepareExercise(
  scenario: Scenario,
  options: {
    scenarioFile: string;
    fingerprintKey: Buffer;
    runbooksDir?: string;
    ownersFile?: string;
    now?: Date;
  },
): Prepared & { incidentId: string } {
  const file = options.scenarioFile;
  const now = options.now ?? new Date();
  const runbook = resolveRunbook(scenario, file, options.runbooksDir);
  const production = loadOwnersFile(options.ownersFile ?? ownersFilePath());
  const productionOwners = production.ok ? production.owners : undefined;
  const backups = ownersBackups(productionOwners);
  const loaded = loadExercisePlatform(scenario, file, [
    ...new Set([...Object.keys(scenario.responders), ...Object.keys(productionOwners?.roles ?? {})]),
  ]);
  const { platform } = loaded;
  const issues = [
    ...checkScenarioAgainstRunbook(scenario, runbook, backups, productionOwners),
    ...loaded.issues,
    // Which items a step has, and so who is asked, is known once the inventory and the platform hold together.
    ...(loaded.issues.length === 0 ? checkPlatform(scenario, runbook, platform, backups) : []),
  ];
  // A role missing for several reasons is named once.
  const unique = issues.filter(
    (issue, index) =>
      !issue.path.startsWith('responders.') ||
      issues.findIndex((other) => other.path === issue.path) === index,
  );
  if (unique.length > 0) throw new ExerciseError(file, unique);

  const first = normalize(scenario.alert, 'alert', options.fingerprintKey, file, now);
  const injectAlerts = new Map<number, NormalizedAlert>();
  scenario.injects.forEach((inject, index) => {
    if (inject.type === 'alert') {
      injectAlerts.set(
        index,
        normalize(inject.alert, `injects[${index}].alert`, options.fingerprintKey, file, now),
      );
    }
  });

  const connector = connectorOf(scenario.alert);
  if (!connector) {
    throw new ExerciseError(file, [
      { path: 'alert.connector', message: 'required when alert.location has no repository and workflow' },
    ]);
  }
  const id = runId(now);
  // Unique per run, and never the key of a real incident: an exercise can never join (or be joined by) one.
  const fingerprint = correlationFingerprint(options.fingerprintKey, [
    'exercise',
    scenario.id,
    id,
    first.fingerprint,
  ]);
  const request = incidentRequestSchema.safeParse({
    secretKind: first.secretKind,
    connector,
    credential: scenario.incident.credential,
    destinations: scenario.incident.destinations,
    severity: first.severity,
    requester: scenario.incident.requester ?? `exercise:${scenario.id}`,
    source: `exercise:${first.source}`,
    secretFingerprint: fingerprint,
    hint: scenario.incident.hint ?? `exercise ${scenario.id}: ${first.detector} alert ${first.alertId}`,
    ...(scenario.alert.observedAt ? { exposureStart: scenario.alert.observedAt } : {}),
    exercise: true,
  });
  if (!request.success) {
    throw new ExerciseError(
      file,
      request.error.issues.map((issue) => {
        const [head, ...rest] = issue.path.map(String);
        return { path: formatPath([REQUEST_FIELDS[head] ?? head, ...rest]), message: issue.message };
      }),
    );
  }
  const faults: Record<string, SimulatedFaultSpec> = {};
  for (const inject of scenario.injects) {
    if (inject.type !== 'provider-failure') continue;
    const { type: _type, target, note: _note, ...fault } = inject;
    // A failure fails the first attempt unless told otherwise; a pure slowdown fails nothing.
    const slowOnly = fault.latencyMs !== undefined && fault.failAttempts === undefined && !fault.nonRetryable;
    faults[target] = slowOnly ? fault : { failAttempts: 1, ...fault };
  }
  // What simulated discovery actions list rides on the same key as any failure of that action.
  for (const [action, answers] of Object.entries(platform.answers)) {
    faults[action] = { ...faults[action], answers };
  }
  const built = buildIncidentInput(runbook, request.data, options.fingerprintKey, now);
  const incidentId = `exercise-${scenario.id}-${id}`.slice(0, 128);
  const input: IncidentInput = {
    ...built,
    // The first alert joins as the gateway's opening batch does.
    startToken: randomUUID(),
    context: { ...built.context, incident: { ...built.context.incident, id: incidentId } },
    // The hard guarantee: the registry routes every action of an exercise to the simulated provider.
    exercise: true,
    clock: { speed: scenario.clock.speed },
    ...(Object.keys(faults).length > 0 ? { simulation: { faults } } : {}),
  };
  return { runbook, input, alert: first, injectAlerts, incidentId, productionOwners, platform };
}

/** A live exercise needs Slack: its people answer there (or with their own keys). */
function liveSlack(scenario: Scenario, file: string, env: NodeJS.ProcessEnv): SlackWorkerConfig {
  const slack = loadSlackWorkerConfig(env);
  if (!slack) {
    throw new ExerciseError(
      file,
      liveRoles(scenario).map((role) => ({
        path: `responders.${role}.live`,
        message:
          'live responders answer in Slack: set SLACK_BOT_TOKEN and SLACK_INCIDENT_CHANNEL, and run the gateway with SLACK_SIGNING_SECRET for their clicks',
      })),
    );
  }
  return slack;
}

/** Identity (`slack:U…`, `key:<name>`) → the live roles it answers for, for the report. */
function liveIdentities(owners: OwnersFile | undefined, live: string[]): Record<string, string[]> {
  const identities: Record<string, string[]> = {};
  for (const [identity, roles] of Object.entries(owners ? ownerRoles(owners) : {})) {
    const answered = roles.filter((role) => live.includes(role));
    if (answered.length > 0) identities[identity] = answered;
  }
  return identities;
}

async function recordEvidence(
  vault: EvidenceVault,
  incidentId: string,
  kind: string,
  data: unknown,
  logger: Logger,
): Promise<void> {
  try {
    await vault.recordEvent(incidentId, { kind, data: JSON.parse(JSON.stringify(data)) as JsonValue });
  } catch (error) {
    logger.warn(
      { incidentId, kind, error: (error as Error).message },
      'exercise record not written to the vault',
    );
  }
}

/**
 * Runs a tabletop exercise end to end against the Temporal server at `address`: the production runbook and
 * workflow, on the exercise's own worker (simulated providers only, exercise owners), with the scenario's
 * injects and scripted responders on the accelerated clock. Writes the record and both reports into
 * `<data dir>/exercises/<incident id>/`, and the evidence into the vault like a real incident's.
 */
export async function runExercise(options: RunExerciseOptions): Promise<ExerciseResult> {
  const { scenario, client, dataDir } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => undefined);
  const speed = scenario.clock.speed;
  const ownersFile = options.ownersFile ?? ownersFilePath(env);
  const prepared = prepareExercise(scenario, {
    scenarioFile: options.scenarioFile,
    fingerprintKey: options.fingerprintKey,
    runbooksDir: options.runbooksDir,
    ownersFile,
  });
  const { incidentId, input, runbook } = prepared;
  const dir = exerciseDir(dataDir, incidentId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const live = liveRoles(scenario);
  const slack = live.length > 0 ? liveSlack(scenario, options.scenarioFile, env) : undefined;
  const { productionOwners } = prepared;
  const localConfig = loadConfig({ ...env, TOURNIQUET_DATA_DIR: dataDir });
  const startKey = gatewaySigningKey(localConfig);
  const exerciseOwners = createExerciseOwners(
    scenario,
    dir,
    ownersBackups(productionOwners),
    productionOwners ? { owners: productionOwners, dataDir } : undefined,
    {
      // The engine signs the start with the data dir's gateway key; live people's clicks come signed by a gateway.
      gatewayKeys: [
        ...new Set([...trustedGatewayKeys(localConfig), rawPublicKey(createPublicKey(startKey))]),
      ],
      ...(slack ? { expandUsergroup: slackUsergroupResolver(createSlackWebClient(slack, logger)) } : {}),
    },
  );

  const taskQueue = `tourniquet-exercise-${incidentId.slice(-20)}`;
  const record: ExerciseRecord = {
    version: 1,
    incidentId,
    scenario: {
      id: scenario.id,
      title: scenario.title,
      file: resolve(options.scenarioFile),
      sha256: options.scenarioSha256,
      references: scenario.references,
    },
    speed,
    taskQueue,
    startedAt: input.context.incident.openedAt,
    outcome: 'running',
    sla: scenario.sla,
    notes: [],
    personas: exerciseOwners.personas.map(({ name, roles }) => ({ name, roles })),
    live: liveIdentities(productionOwners, live),
    decisions: [],
  };
  saveExerciseRecord(dataDir, record);

  const vault = await openVault({ dataDir, env });
  const registry = createProviderRegistry({
    real: options.realProviders ?? (await configuredProviders(env, logger)),
    journal: new SimulationJournal(
      env.TOURNIQUET_SIMULATED_JOURNAL ?? join(dataDir, 'simulated', 'journal.jsonl'),
    ),
  });
  const timers: NodeJS.Timeout[] = [];
  const pending: Promise<unknown>[] = [];
  let t0 = Date.now();
  const scenarioNow = () => formatOffset((Date.now() - t0) * speed);
  const progressDecision = (decision: ScriptedDecision): void => {
    record.decisions.push(decision);
    progress(
      `${scenarioNow()} ${decision.person} (${decision.role}) ${decision.decision} ${decision.stepId}: ${decision.outcome}${decision.detail ? ` (${decision.detail})` : ''}`,
    );
    pending.push(recordEvidence(vault, incidentId, 'exercise-decision', decision, logger));
  };
  // The responders hear of requests through the worker's notifier, as people would through Slack.
  const responders = new ScriptedResponders({
    client,
    incidentId,
    scenario,
    people: exerciseOwners.people,
    keys: Object.fromEntries(exerciseOwners.personas.map((p) => [p.name, p.privateKeyPath])),
    gatewayKey: startKey,
    onDecision: (decision) => progressDecision(decision),
    // Live people hear of requests in Slack, where every message of an exercise says [EXERCISE].
    next: slack ? createSlackNotifier(slack, logger) : new LogNotifier(logger),
  });
  const worker = await createTourniquetWorker({
    address: options.address,
    tls: options.tls,
    namespace: options.namespace,
    taskQueue,
    registry,
    // An exercise carries its runbook (exercise: true); the catalog is there for the worker's contract.
    runbooks: new RunbookCatalog(options.runbooksDir),
    evidence: vault,
    owners: exerciseOwners.directory,
    // forEach items resolve against the scenario's inventory only (none: every key is unknown), never production's.
    inventory: () => prepared.platform.inventory?.inventory,
    notifier: responders,
    logger,
    workflowBundlePath: options.workflowBundlePath,
    identity: `tourniquet-exercise@${hostname()}:${process.pid}`,
  });
  const running = worker.run();
  // Let the pollers reach the server before the clock starts: a cold worker's first task costs real time.
  for (let waited = 0; worker.worker.getState() !== 'RUNNING' && waited < 5_000; waited += 25) {
    await new Promise((done) => setTimeout(done, 25));
  }
  await new Promise((done) => setTimeout(done, WARM_UP_MS));

  /**
   * An inject goes into the incident's own timeline (and so its Temporal history and Slack thread), where live
   * responders see it; the record keeps it too, for an incident that had already closed.
   */
  const note = (kind: ReportNote['kind'], text: string, at = new Date()): Promise<unknown> => {
    record.notes.push({ at: at.toISOString(), kind, text });
    progress(`${formatOffset((at.getTime() - t0) * speed)} ${kind}: ${text}`);
    pending.push(recordEvidence(vault, incidentId, 'exercise-inject', { kind, text }, logger));
    const signalled = sendNote(client, incidentId, { actor: `exercise:${kind}`, text }, startKey).catch(
      (error: unknown) =>
        logger.info({ incidentId, error: (error as Error).message }, 'inject not in the timeline'),
    );
    pending.push(signalled);
    return signalled;
  };
  const attach = (alert: NormalizedAlert, token: string): Promise<unknown> =>
    attachAlerts(client, incidentId, {
      token,
      alerts: [
        {
          alertId: alert.alertId,
          source: alert.source,
          detector: alert.detector,
          observedAt: alert.observedAt,
        },
      ],
    });

  try {
    await recordEvidence(
      vault,
      incidentId,
      'exercise-scenario',
      {
        ...record.scenario,
        speed,
        faults: input.simulation?.faults ?? {},
        personas: record.personas,
        ...(prepared.platform.inventory
          ? {
              inventory: {
                file: prepared.platform.inventory.file,
                sha256: prepared.platform.inventory.sha256,
                credentials: prepared.platform.inventory.inventory.credentials.length,
              },
            }
          : {}),
      },
      logger,
    );
    // The clock starts now, with the worker ready: not when the scenario was validated.
    const openedAt = new Date();
    input.context.incident.openedAt = openedAt.toISOString();
    if (!scenario.alert.observedAt) {
      input.context.incident.exposureStart = new Date(openedAt.getTime() - 86_400_000).toISOString();
    }
    record.startedAt = input.context.incident.openedAt;
    t0 = openedAt.getTime();
    const started = await startIncident(client, taskQueue, input, startKey);
    if (!started.created) throw new Error(`exercise incident ${incidentId} already exists`);
    progress(`${incidentId}: ${scenario.title} (×${speed}, runbook ${runbook.id})`);

    // Injects run on the scenario clock from the opening; the first alert joins as the gateway's opening batch.
    scenario.injects.forEach((inject, index) => {
      if (inject.type === 'provider-failure') {
        const what = inject.nonRetryable ? 'every attempt' : `${inject.failAttempts ?? 1} attempt(s)`;
        void note(
          'provider-failure',
          `${inject.note ? `${inject.note} ` : ''}(${inject.target} fails ${what})`,
          openedAt,
        );
        return;
      }
      const fire = async (): Promise<void> => {
        if (inject.type === 'note') {
          await note('note', inject.text);
          return;
        }
        const alert = prepared.injectAlerts.get(index)!;
        void note(
          'alert',
          `alert ${alert.alertId} from ${alert.detector}: ${alert.secretKind} at ${alert.locations.map((l) => l.url).join(', ')}`,
        );
        await attach({ ...alert, observedAt: new Date().toISOString() }, randomUUID());
      };
      const delay = Math.max(0, t0 + inject.at / speed - Date.now());
      timers.push(
        setTimeout(() => {
          pending.push(
            fire().catch((error: unknown) =>
              logger.warn({ incidentId, error: (error as Error).message }, 'inject failed'),
            ),
          );
        }, delay),
      );
    });
    pending.push(
      attach(prepared.alert, input.startToken!).catch((error: unknown) =>
        logger.warn({ incidentId, error: (error as Error).message }, 'opening alert not attached'),
      ),
    );

    // The scenario's length on the real clock, plus a little for machine work that is not accelerated.
    const deadline = t0 + scenario.clock.duration / speed + endGraceMs(scenario.clock.duration / speed);
    const timedOut = new Promise<'timed-out'>((done) => {
      const timer = setTimeout(() => done('timed-out'), Math.max(0, deadline - Date.now()));
      timers.push(timer);
    });
    const closedStatus = closedIncidentStatus(client, incidentId);
    // Look at the incident now and then too, as a responder watching the incident channel would.
    let closed = false;
    void closedStatus.then(() => (closed = true));
    const watching = (async () => {
      while (!closed) {
        await incidentStatus(client, incidentId)
          .then((status) => responders.observe(status.approvals))
          .catch(() => undefined);
        await new Promise((done) => setTimeout(done, WATCH_MS));
      }
    })();
    const ended = await Promise.race([closedStatus, timedOut]);
    closed = true;
    await watching;
    if (ended === 'timed-out') {
      record.outcome = 'timed-out';
      await note(
        'exercise',
        `scenario time is up (${formatOffset(scenario.clock.duration)}): incident cancelled`,
      );
      await cancelIncident(client, incidentId, stopByEngine('scenario time is up'), startKey).catch(
        () => undefined,
      );
    }
    await responders.stop();
    const final = (await closedStatus) ?? (await incidentStatus(client, incidentId));
    const wallMs = Date.parse(final.closedAt ?? new Date().toISOString()) - t0;
    for (const timer of timers) clearTimeout(timer);
    await Promise.allSettled(pending);
    if (record.outcome === 'running') record.outcome = 'closed';
    record.finishedAt = new Date().toISOString();
    record.wallMs = wallMs;

    const report = buildReport({
      status: final,
      runbook,
      clockSpeed: speed,
      sla: scenario.sla,
      notes: record.notes,
      owners: personaRoles(record),
      exercise: { scenarioId: scenario.id, title: scenario.title, wallMs, references: scenario.references },
    });
    const markdown = renderMarkdown(report);
    const html = renderHtml(report);
    const reports = { markdown: join(dir, 'report.md'), html: join(dir, 'report.html') };
    writeFileSync(reports.markdown, markdown);
    writeFileSync(reports.html, html);
    record.reports = reports;
    saveExerciseRecord(dataDir, record);

    await recordEvidence(
      vault,
      incidentId,
      'timeline',
      { timeline: final.timeline, flags: final.flags },
      logger,
    );
    for (const [name, contentType, content] of [
      ['after-action-report.md', 'text/markdown', markdown],
      ['after-action-report.html', 'text/html', html],
    ] as const) {
      await vault
        .preserve({
          incidentId,
          stepId: 'after-action-report',
          source: 'tourniquet:exercise',
          name,
          contentType,
          content: Readable.from([Buffer.from(content)]),
        })
        .catch((error: unknown) =>
          logger.warn({ incidentId, error: (error as Error).message }, 'report not preserved'),
        );
    }
    return { incidentId, status: final, record, report, reports, wallMs };
  } catch (error) {
    for (const timer of timers) clearTimeout(timer);
    await responders.stop();
    if (record.outcome === 'running') {
      record.outcome = 'aborted';
      saveExerciseRecord(dataDir, record);
      // Let the workflow close while its worker is still there.
      await cancelIncident(client, incidentId, stopByEngine('the exercise was aborted'), startKey).catch(
        () => undefined,
      );
      await Promise.race([
        closedIncidentStatus(client, incidentId),
        new Promise((done) => setTimeout(done, 5_000)),
      ]);
    }
    throw error;
  } finally {
    await worker.shutdown();
    await running.catch((error: unknown) =>
      logger.warn({ error: (error as Error).message }, 'exercise worker stopped with an error'),
    );
    await worker.connection.close().catch(() => undefined);
  }
}

/** The engine stops its own incident (deadline, abort) through a signed cancel, as any operator would. */
function stopByEngine(reason: string): IncidentCancel {
  return { actor: 'exercise:engine', reason };
}
