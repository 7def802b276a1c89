import type { ProviderCatalog } from '../types';
import { connectorCatalog } from './connector';
import { issuerCatalog } from './issuer';

/**
 * Catalogs of the roles a runbook may name instead of a system (`connector.*`, `issuer.*`): the incident's
 * connector or credential reference picks the system that carries the action out.
 */
export const ROLE_CATALOGS: Record<string, ProviderCatalog> = {
  connector: connectorCatalog,
  issuer: issuerCatalog,
};
