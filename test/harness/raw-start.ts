import { WorkflowFailedError, type Client } from '@temporalio/client';
import { INCIDENT_WORKFLOW } from '../../client';
import type { IncidentInput } from '../../lib/runbook/types';
import { TASK_QUEUE } from './incidents';

/**
 * What an attacker with access to the Temporal API does: start the incident workflow by name with a body of their
 * own, never through `startIncident` (which signs).
 */
export async function startRaw(client: Client, input: IncidentInput): Promise<string> {
  const incidentId = input.context.incident.id;
  await client.workflow.start(INCIDENT_WORKFLOW, {
    workflowId: incidentId,
    taskQueue: TASK_QUEUE,
    args: [input],
  });
  return incidentId;
}

/** Why the worker refused to open the incident; throws if it ran. */
export async function refusalOf(client: Client, incidentId: string): Promise<string> {
  try {
    await client.workflow.getHandle(incidentId).result();
  } catch (error) {
    if (error instanceof WorkflowFailedError) return error.cause?.message ?? error.message;
    throw error;
  }
  throw new Error(`${incidentId} ran`);
}
