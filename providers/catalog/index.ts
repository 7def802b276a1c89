import type { ProviderCatalog } from '../types';
import { connectorCatalog } from './connector';
import { githubCatalog } from './github';
import { issuerCatalog } from './issuer';

/** Catalogs of the roles a runbook may name (`connector.*`, `issuer.*`). */
export const ROLE_CATALOGS: Record<string, ProviderCatalog> = {
  connector: connectorCatalog,
  issuer: issuerCatalog,
};

/**
 * Catalogs of the systems. Validation and the simulated provider read these, so a runbook can be checked
 * and exercised without loading a single real client library.
 */
export const PROVIDER_CATALOGS: Record<string, ProviderCatalog> = {
  github: { ...connectorCatalog, ...githubCatalog },
  postgres: issuerCatalog,
  'http-connector': { ...connectorCatalog, rotateCredential: issuerCatalog.rotateCredential },
  simulated: { ...connectorCatalog, ...issuerCatalog },
  // Destinations only: they store replacement credentials and have no actions of their own.
  file: {},
};

/** Providers that play each role; the connector / credential reference of an incident must name one. */
export const ROLE_MEMBERS: Record<string, string[]> = {
  connector: ['github', 'http-connector', 'simulated'],
  issuer: ['postgres', 'http-connector', 'simulated'],
};

export function catalogFor(name: string): ProviderCatalog | undefined {
  return ROLE_CATALOGS[name] ?? PROVIDER_CATALOGS[name];
}
