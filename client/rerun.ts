import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { IncidentInput, IncidentStatus } from '../lib/runbook/types';

export class RerunRefusedError extends Error {}

/**
 * A new run of a failed incident that retries only the items that failed (`tourniquet incident rerun`): the closed
 * run's own start input, same incident and runbook version, with `rerun` naming each forEach step's failed keys. The
 * worker checks them against its runbook as it opens the run; owners approve the retried items again.
 */
export async function rerunInput(client: Client, incidentId: string): Promise<IncidentInput> {
  const handle = client.workflow.getHandle(incidentId);
  const description = await handle.describe();
  if (description.status.name === 'RUNNING') {
    throw new RerunRefusedError(`incident ${incidentId} is still running: rerun it once it has closed`);
  }
  const status = (await handle.result().catch((error: Error) => {
    throw new RerunRefusedError(`incident ${incidentId} did not close with a status: ${error.message}`);
  })) as IncidentStatus;
  const items: Record<string, string[]> = {};
  for (const step of status.steps) {
    const failed = (step.items?.items ?? [])
      .filter((item) => item.state === 'failed')
      .map((item) => item.key);
    if (failed.length > 0) items[step.id] = failed;
  }
  if (Object.keys(items).length === 0) {
    throw new RerunRefusedError(
      `incident ${incidentId} has no failed forEach item to retry (${status.state})`,
    );
  }
  const history = await handle.fetchHistory();
  const payload =
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0] ?? undefined;
  if (!payload) throw new RerunRefusedError(`incident ${incidentId}: its start input is not in its history`);
  const {
    attestation: _attestation,
    startToken: _token,
    rerun: _rerun,
    ...start
  } = defaultPayloadConverter.fromPayload<IncidentInput>(payload);
  return {
    ...start,
    // The same version of the runbook, or no run at all.
    ...(start.runbookRef
      ? { runbookRef: { id: start.runbookRef.id, sha256: status.runbookSha256 ?? start.runbookRef.sha256 } }
      : {}),
    rerun: { of: description.runId, items },
  };
}
