import { mkdirSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../lib/config';
import { fingerprintSecret } from '../lib/fingerprint';
import { formatInventoryIssues, loadInventory, recordRotatedFingerprint } from '../lib/inventory';
import { PROVIDER_DIRECTORY } from '../providers';
import { fingerprintKeyOf } from '../lib/keys';
import { temporalConnectionOptions } from '../lib/temporal-tls';
import type { Runbook } from '../lib/runbook/types';
import type { EvidenceStore } from '../providers/types';
import { RunbookCatalog } from '../runbooks/catalog';
import { createTourniquetWorker, type TourniquetWorker } from './create-worker';
import { openEvidenceSink } from './evidence';
import { createRegistry } from './providers';
import type { ProviderRegistry } from '../providers/registry';
import { createNotifier, loadOwnerDirectory } from './owners';
import { watchTerminations, type TerminationWatch } from './termination-watch';

/** A worker wired the way production runs it: configured providers, simulation journal, evidence vault. */
export async function startConfiguredWorker(
  config: Config,
  logger: Logger,
  overrides: {
    evidence?: EvidenceStore;
    identity?: string;
    /** Runbooks trusted in code besides the worker's directories (a test's child worker). */
    trustedRunbooks?: Runbook[];
  } = {},
): Promise<{ worker: TourniquetWorker; running: Promise<void>; registry: ProviderRegistry }> {
  mkdirSync(config.dataDir, { recursive: true });
  const registry = await createRegistry(config, logger);
  // Read at start like the gateway's copy: a `forEach` step takes its items' owners and issuers from it.
  const inventory = loadInventory(undefined, { providers: PROVIDER_DIRECTORY });
  if (!inventory.ok) throw new Error(`credential inventory: ${formatInventoryIssues(inventory).join('; ')}`);
  const worker = await createTourniquetWorker({
    ...temporalConnectionOptions(config),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    registry,
    recordRotation: rotationRecorder(config),
    evidence: overrides.evidence ?? (await openEvidenceSink(config)),
    owners: loadOwnerDirectory(config, logger),
    inventory: () => inventory.inventory,
    runbooks: new RunbookCatalog(config.TOURNIQUET_RUNBOOKS_DIR, overrides.trustedRunbooks),
    notifier: createNotifier(config, logger),
    logger,
    identity: overrides.identity,
    workflowBundlePath: config.TOURNIQUET_WORKFLOW_BUNDLE,
  });
  return { worker, running: worker.run(), registry };
}

/** The worker process's watch for incidents terminated or reset through the Temporal API (`termination-watch.ts`). */
export async function startTerminationWatch(config: Config, logger: Logger): Promise<TerminationWatch> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const watch = watchTerminations({
    client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    notifier: createNotifier(config, logger),
    logger,
  });
  return {
    check: () => watch.check(),
    async stop() {
      await watch.stop();
      await connection.close();
    },
  };
}

/** What `up` says about the systems it can act on: a responder must know whether anything real will happen. */
export function modeLine(registry: Pick<ProviderRegistry, 'mode' | 'configured'>): string {
  const real = registry.configured().filter((name) => name !== 'file');
  const systems = real.length > 0 ? real.join(', ') : 'none';
  return registry.mode === 'demo'
    ? `demo: every incident is SIMULATED on systems without a provider (real: ${systems}); set TOURNIQUET_MODE=live and configure a system to act for real`
    : `live: real systems ${systems}; a step on any other system ends not-configured, never simulated`;
}

/** Each rotated value's keyed fingerprint, in the data dir the gateway reads: a later leak of it maps back. */
export function rotationRecorder(config: Config): (credentialId: string, value: string) => void {
  const key = fingerprintKeyOf(config);
  return (credentialId, value) =>
    void recordRotatedFingerprint(config.dataDir, credentialId, fingerprintSecret(key, value));
}
