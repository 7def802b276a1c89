import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Notifier } from '../activities/notify';
import { INCIDENT_WORKFLOW, incidentAttributes } from '../client';

/** An incident stopped from outside the workflow: terminated, or reset (which terminates the run it replaces). */
export interface TerminatedIncident {
  incidentId: string;
  runId: string;
  closedAt: string;
  reason: string;
  identity: string;
}

export interface TerminationWatch {
  /** Looks once for incidents terminated since the last look, and reports each. */
  check(): Promise<TerminatedIncident[]>;
  stop(): Promise<void>;
}

const { SEVERITY, EXERCISE } = incidentAttributes;

/**
 * No workflow code runs when someone with Temporal API access terminates or resets an incident, so no signature can
 * refuse it: containment just stops. This watch makes sure it does not stop silently. It lists the incidents that
 * ended `Terminated` since it last looked and, for each, logs an error and tells the incident channel who did it
 * and why, as the server recorded it. A signed cancel ends an incident `Completed`, so it is not reported.
 */
export function watchTerminations(options: {
  client: Client;
  notifier: Notifier;
  logger: Logger;
  intervalMs?: number;
  /** Terminations before this are not reported (default: now, so a restart does not repeat old news). */
  since?: Date;
}): TerminationWatch {
  const { client, notifier, logger } = options;
  let since = options.since ?? new Date();
  const reported = new Set<string>();
  let checking: Promise<TerminatedIncident[]> | undefined;

  const report = async (found: TerminatedIncident, severity: string, exercise: boolean): Promise<void> => {
    logger.error(found, 'incident terminated outside Tourniquet: its containment stopped');
    await notifier
      .notify({
        incidentId: found.incidentId,
        exercise,
        severity,
        event: {
          at: found.closedAt,
          type: 'incident-halted',
          actor: 'tourniquet:watch',
          detail:
            `terminated through the Temporal API by ${found.identity || 'an unnamed client'}` +
            `${found.reason ? ` (reason given: ${found.reason})` : ''}, not by a signed cancel: ` +
            'containment stopped where it was. Check what ran with `tourniquet incident status`, and start it again.',
        },
      })
      .catch((error: unknown) =>
        logger.warn(
          { incidentId: found.incidentId, error: (error as Error).message },
          'termination not told',
        ),
      );
  };

  const lookOnce = async (): Promise<TerminatedIncident[]> => {
    // Close times are the server's; look back a little so one that closed while we listed is not missed.
    const from = new Date(since.getTime() - 5_000);
    const query =
      `WorkflowType = '${INCIDENT_WORKFLOW}' AND ExecutionStatus = 'Terminated' ` +
      `AND CloseTime >= '${from.toISOString()}'`;
    const found: TerminatedIncident[] = [];
    let latest = since;
    for await (const execution of client.workflow.list({ query })) {
      if (reported.has(execution.runId)) continue;
      reported.add(execution.runId);
      const closedAt = execution.closeTime ?? new Date();
      if (closedAt > latest) latest = closedAt;
      const history = await client.workflow
        .getHandle(execution.workflowId, execution.runId)
        .fetchHistory()
        .catch(() => undefined);
      const terminated = history?.events?.at(-1)?.workflowExecutionTerminatedEventAttributes;
      const incident: TerminatedIncident = {
        incidentId: execution.workflowId,
        runId: execution.runId,
        closedAt: closedAt.toISOString(),
        reason: terminated?.reason ?? '',
        identity: terminated?.identity ?? '',
      };
      found.push(incident);
      await report(
        incident,
        execution.typedSearchAttributes.get(SEVERITY) ?? 'unknown',
        execution.typedSearchAttributes.get(EXERCISE) ?? false,
      );
    }
    since = latest;
    return found;
  };

  const check = (): Promise<TerminatedIncident[]> => {
    checking ??= lookOnce().finally(() => (checking = undefined));
    return checking;
  };

  const timer = setInterval(() => {
    check().catch((error: unknown) =>
      logger.warn({ error: (error as Error).message }, 'could not look for terminated incidents'),
    );
  }, options.intervalMs ?? 15_000);
  timer.unref();

  return {
    check,
    async stop() {
      clearInterval(timer);
      await checking?.catch(() => undefined);
    },
  };
}
