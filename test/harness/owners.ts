import { trustedGatewayKeys } from '../../lib/gateway-key';
import { TEST_GATEWAY_KEY, TEST_GATEWAY_PUBLIC_KEY } from './incidents';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { ensureOperatorKeys, loadOwnersFile, OwnerDirectory } from '../../lib/owners';
import { incidentStatus, readPrivateKey, signOutOfBandDecision, submitDecision } from '../../client';
import type { ApprovalDecisionResult, ApprovalRequest, Runbook } from '../../lib/runbook/types';

export const TEST_OWNERS_FILE = join(__dirname, '..', 'fixtures', 'owners.yaml');

/** The test owners matrix, with the operators' key pairs created in this test's data dir. */
export function testOwners(dataDir: string): OwnerDirectory {
  const loaded = loadOwnersFile(TEST_OWNERS_FILE);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  ensureOperatorKeys(loaded.owners, dataDir);
  return new OwnerDirectory(loaded.owners, dataDir, {
    gatewayKeys: [TEST_GATEWAY_PUBLIC_KEY, ...trustedGatewayKeys({ dataDir })],
  });
}

export function operatorKey(dataDir: string, name: string): string {
  return join(dataDir, 'keys', 'operators', `${name}.key`);
}

/** Sign and send an out-of-band decision as operator `name` (alice, bob or carol). */
export async function decideAs(
  client: Client,
  dataDir: string,
  incidentId: string,
  request: Pick<ApprovalRequest, 'stepId' | 'nonce' | 'paramsHash'>,
  name: string,
  decision: 'approve' | 'deny' = 'approve',
  reason?: string,
): Promise<ApprovalDecisionResult> {
  const signed = signOutOfBandDecision({
    incidentId,
    request,
    decision,
    reason,
    name,
    privateKeyPem: readPrivateKey(operatorKey(dataDir, name)),
  });
  return submitDecision(client, incidentId, signed, { gatewayKey: TEST_GATEWAY_KEY.privateKey });
}

/** For tests about other things than approvals: the same runbook with every approval set to none. */
export function withoutApprovals(runbook: Runbook): Runbook {
  return {
    ...runbook,
    steps: runbook.steps.map((step) => ({ ...step, approval: { policy: 'none', deadline: '15m' } })),
  };
}

/** Approves every request as it comes (alice, bob, carol: whoever the owners file accepts) until the incident closes. */
export async function approveUntilClosed(client: Client, dataDir: string, incidentId: string): Promise<void> {
  const handle = client.workflow.getHandle(incidentId);
  for (;;) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return;
    const status = await incidentStatus(client, incidentId);
    for (const request of status.approvals) {
      for (const name of ['alice', 'bob', 'carol']) {
        const outcome = await decideAs(client, dataDir, incidentId, request, name).catch(() => undefined);
        if (outcome?.outcome === 'approved') break;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
