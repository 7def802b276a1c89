import { defineProviderPlugin } from '../plugin';
import { connectorCatalog } from '../roles/connector';
import { issuerCatalog } from '../roles/issuer';
import type { SimulationJournal } from './journal';
import { createSimulatedProvider } from './provider';

const catalog = { ...connectorCatalog, ...issuerCatalog };

/**
 * The deterministic stand-in. The registry uses it for every system in an exercise and for every system that is
 * not configured; listed here as a system of its own so `simulated:<anything>` can be named in a reference.
 */
export const simulated = defineProviderPlugin<{ journal: SimulationJournal }>({
  name: 'simulated',
  summary: 'journaled stand-in for every system (exercises, demo); injects latency and failures',
  roles: ['connector', 'issuer', 'destination'],
  catalog,
  settings: ['TOURNIQUET_SIMULATED_JOURNAL'],
  examples: { connector: 'simulated:acme-app', issuer: 'simulated:service-account' },
  // Never a real system: the registry stands it in, so the worker never creates it from the environment.
  fromEnv: () => undefined,
  create: ({ journal }) => createSimulatedProvider('simulated', { catalog, journal }),
});
