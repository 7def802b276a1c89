import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { loadExerciseRecord, personaRoles } from './record';
import { loadOwnersFile, type OwnersFile } from '../lib/owners';
import type { IncidentInput, IncidentStatus, Runbook, TrustedRunbook } from '../lib/runbook/types';
import { incidentStatus } from '../client';
import type { ReportInput } from './model';

export class ReportSourceError extends Error {}

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

/** Approver identity → roles from an owners file: out-of-band keys and Slack users. */
export function ownerRolesFromFile(file: string): Record<string, string[]> {
  const loaded = loadOwnersFile(file);
  return loaded.ok ? ownerRoles(loaded.owners) : {};
}

/** Approver identity → roles of a loaded owners matrix. */
export function ownerRoles(owners: OwnersFile): Record<string, string[]> {
  const roles: Record<string, string[]> = {};
  const add = (identity: string, role: string) => {
    roles[identity] = [...new Set([...(roles[identity] ?? []), role])];
  };
  for (const [role, definition] of Object.entries(owners.roles)) {
    for (const user of definition.slack.users) add(`slack:${user}`, role);
    for (const approver of definition.outOfBand) {
      add(`key:${approver.name}`, role);
      if (approver.slackUser) add(`slack:${approver.slackUser}`, role);
    }
    for (const name of definition.people) {
      const person = owners.people[name];
      add(`key:${name}`, role);
      for (const user of person?.slack ?? []) add(`slack:${user}`, role);
    }
  }
  return roles;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReportSourceError(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Everything the after-action report of one incident needs, real or exercise: its start input (runbook,
 * clock) and result from the Temporal history, the live status query while it runs, and, for an exercise
 * run from this data dir, the exercise record (injects, SLA targets, who the scripted people were).
 */
export async function loadReportInput(
  client: Client,
  incidentId: string,
  options: { dataDir: string; ownersFile?: string; queryTimeoutMs?: number },
): Promise<ReportInput> {
  const handle = client.workflow.getHandle(incidentId);
  let description;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new ReportSourceError(`no incident ${incidentId}`);
    throw error;
  }
  const converter = client.options.loadedDataConverter;
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const startedAttributes = events[0]?.workflowExecutionStartedEventAttributes;
  const input = startedAttributes
    ? await decodeFromPayloadsAtIndex<IncidentInput>(converter, 0, startedAttributes.input?.payloads)
    : undefined;

  let status: IncidentStatus | undefined;
  const completed = events.at(-1)?.workflowExecutionCompletedEventAttributes;
  if (completed) {
    status = await decodeFromPayloadsAtIndex<IncidentStatus>(converter, 0, completed.result?.payloads);
  } else {
    const how = description.status.name === 'RUNNING' ? 'running' : description.status.name.toLowerCase();
    status = await withTimeout(
      incidentStatus(client, incidentId),
      options.queryTimeoutMs ?? 15_000,
      `incident ${incidentId} is ${how} and no worker answered its status query (is \`tourniquet up\` running?)`,
    );
  }

  const record = loadExerciseRecord(options.dataDir, incidentId);
  const runbook = input?.runbook ?? (await runbookFromHistory(converter, events));
  return {
    status,
    ...(runbook ? { runbook } : {}),
    clockSpeed: input?.clock?.speed ?? record?.speed ?? 1,
    ...(record
      ? {
          sla: record.sla,
          notes: record.notes,
          owners: personaRoles(record),
          exercise: {
            scenarioId: record.scenario.id,
            title: record.scenario.title,
            ...(record.wallMs !== undefined ? { wallMs: record.wallMs } : {}),
            references: record.scenario.references,
          },
        }
      : options.ownersFile
        ? { owners: ownerRolesFromFile(options.ownersFile) }
        : {}),
  };
}

/**
 * A real incident's runbook is not in its start input: it is the result of `openIncident`, a local activity, in
 * the history's `core_local_activity` marker (its `data` names the activity type, its `result` holds the value).
 */
async function runbookFromHistory(
  converter: Client['options']['loadedDataConverter'],
  events: HistoryEvent[],
): Promise<Runbook | undefined> {
  for (const event of events) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity' || !marker.details) continue;
    const meta = await decodeFromPayloadsAtIndex<{ activity_type?: string }>(
      converter,
      0,
      marker.details.data?.payloads,
    );
    if (meta?.activity_type !== 'openIncident') continue;
    const opened = await decodeFromPayloadsAtIndex<Partial<TrustedRunbook>>(
      converter,
      0,
      marker.details.result?.payloads,
    );
    return opened?.runbook;
  }
  return undefined;
}
