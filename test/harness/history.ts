import type { Client } from '@temporalio/client';

/**
 * An incident's Temporal history as searchable text. Payload data comes back base64-encoded, so a plain
 * `JSON.stringify` would hide a leaked value from the search: decode it into the JSON the workflow exchanged.
 */
export function historyText(history: unknown): string {
  return JSON.stringify(
    history,
    function replacer(this: Record<string, unknown>, key: string, value: unknown) {
      const payload = key === 'data' && typeof value === 'string' && 'metadata' in this;
      return payload ? Buffer.from(value, 'base64').toString('utf8') : value;
    },
  );
}

export async function fetchHistoryText(client: Client, workflowId: string): Promise<string> {
  return historyText(await client.workflow.getHandle(workflowId).fetchHistory());
}
