import type { Credential, Inventory } from '../lib/inventory';
import { ITEM_KEY_PATTERN } from '../lib/runbook/for-each';
import { MAX_FOR_EACH_ITEMS, type ForEachItem, type InventoryQuery } from '../lib/runbook/types';
import type { ForEachItemsRequest, IncidentActivities } from './types';

/**
 * `resolveForEachItems`: a `forEach` list's keys as the worker's own inventory knows them. The list may come from a
 * platform under attack (an earlier step's discovery), so it only names keys: the owner who approves an item, the
 * issuer that rotates it and where its copies go come from the inventory, never from the list.
 */
export function createForEachActivities(deps: {
  /** The worker's inventory, as last loaded; absent: every key is unknown. */
  inventory: () => Inventory | undefined;
}): Pick<IncidentActivities, 'resolveForEachItems'> {
  return {
    resolveForEachItems(request: ForEachItemsRequest): Promise<ForEachItem[]> {
      const inventory = deps.inventory();
      if ('inventory' in request.source) {
        const query = request.source.inventory;
        const matching = (inventory?.credentials ?? []).filter((credential) => matches(credential, query));
        return Promise.resolve(
          matching.slice(0, MAX_FOR_EACH_ITEMS + 1).map((credential) => itemOf(credential.id, credential)),
        );
      }
      const keys = [...new Set(request.source.keys)].slice(0, MAX_FOR_EACH_ITEMS + 1);
      // Two keys for one credential (its id and its n8n id) must not rotate it twice.
      const keyOf = new Map<string, string>();
      return Promise.resolve(
        keys.map((key, index): ForEachItem => {
          if (typeof key !== 'string' || !ITEM_KEY_PATTERN.test(key)) {
            // Not echoed: a key a compromised platform made up may carry anything, a secret included.
            return {
              key: `invalid-item-${index + 1}`,
              owner: request.stepOwner,
              problem: `item ${index + 1} of the list is not a valid key (letters, digits and . _ : @ / -)`,
            };
          }
          const credential = inventory && lookup(inventory, key);
          if (!credential) return { key, owner: request.stepOwner };
          const first = keyOf.get(credential.id);
          if (first !== undefined) {
            return {
              key,
              owner: credential.owners[0],
              problem: `${key} names credential ${credential.id}, already item ${first}: it is acted on once`,
            };
          }
          keyOf.set(credential.id, key);
          return itemOf(key, credential);
        }),
      );
    },
  };
}

/** An inventory credential id, or an n8n credential id one of them names. */
function lookup(inventory: Inventory, key: string): Credential | undefined {
  return inventory.byId.get(key) ?? inventory.credentials.find((c) => c.identifiers.n8nCredentialId === key);
}

function matches(credential: Credential, query: InventoryQuery): boolean {
  if (query.kind && credential.kind !== query.kind) return false;
  if (query.owner && !credential.owners.includes(query.owner)) return false;
  if (query.issuer && systemOf(credential.issuer) !== query.issuer) return false;
  if (query.consumer && !credential.consumers.some((consumer) => consumer.provider === query.consumer))
    return false;
  return true;
}

function itemOf(key: string, credential: Credential): ForEachItem {
  const colon = credential.issuer.indexOf(':');
  return {
    key,
    owner: credential.owners[0],
    credentialId: credential.id,
    credential: {
      issuer: credential.issuer.slice(0, colon),
      ref: credential.issuer.slice(colon + 1),
      destinations: credential.consumers.map(({ provider, target, part }) => ({
        provider,
        target,
        ...(part ? { part } : {}),
      })),
    },
  };
}

function systemOf(reference: string): string {
  return reference.slice(0, reference.indexOf(':'));
}
