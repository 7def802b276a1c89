import type { Logger } from 'pino';
import { loadInventory, type InventoryResult } from '../lib/inventory';
import { loadOwnersFile, type OwnersFile } from '../lib/owners';
import { PROVIDER_DIRECTORY } from '../providers';

/** The role whose owners name a credential the inventory could not resolve (as the workflow asks them). */
export const INCIDENT_COMMANDER_ROLE = 'incident-commander';

/** This process's credential inventory (`TOURNIQUET_INVENTORY`, else the shipped one), read again on each call. */
export function readInventory(env: NodeJS.ProcessEnv = process.env): InventoryResult {
  return loadInventory(undefined, { providers: PROVIDER_DIRECTORY, env });
}

/** The ids the prompt's select offers; none when the inventory cannot be read (the CLI command still works). */
export function inventoryCredentialIds(read: () => InventoryResult = readInventory): string[] {
  const result = read();
  return result.ok ? result.inventory.credentials.map((credential) => credential.id) : [];
}

/** Who may name an incident's credential from Slack: the owners of the incident-commander role. */
export interface CommanderPolicy {
  isCommander(user: string): Promise<boolean>;
}

/**
 * The Slack users of the incident-commander role, as the worker's owners snapshot counts them: the role's users,
 * the members of its user groups and the Slack accounts of its people. The owners file is read again at most every
 * `ttlMs`; one that cannot be read, or has no such role, lets nobody choose (fail closed, and said in the log).
 */
export function commanderPolicy(options: {
  ownersFile: string;
  /** A user group's members (`slackUsergroupResolver`). */
  expandUsergroup: (usergroupId: string) => Promise<string[]>;
  logger: Logger;
  ttlMs?: number;
}): CommanderPolicy {
  const ttlMs = options.ttlMs ?? 30_000;
  const expand = options.expandUsergroup;
  let cached: { at: number; owners?: OwnersFile } | undefined;
  const owners = (): OwnersFile | undefined => {
    if (!cached || Date.now() - cached.at >= ttlMs) {
      const loaded = loadOwnersFile(options.ownersFile);
      if (!loaded.ok) {
        options.logger.error(
          { file: options.ownersFile, issues: loaded.issues.slice(0, 3) },
          'owners file unreadable: nobody may name a credential from Slack until it is fixed',
        );
      }
      cached = { at: Date.now(), ...(loaded.ok ? { owners: loaded.owners } : {}) };
    }
    return cached.owners;
  };
  return {
    async isCommander(user) {
      const file = owners();
      const role = file?.roles[INCIDENT_COMMANDER_ROLE];
      if (!file || !role) return false;
      if (role.slack.users.includes(user)) return true;
      if (role.people.some((name) => file.people[name]?.slack.includes(user))) return true;
      for (const group of role.slack.usergroups) {
        const members = await expand(group).catch((error: unknown) => {
          options.logger.warn(
            { usergroup: group, error: (error as Error).message },
            'could not expand user group',
          );
          return [] as string[];
        });
        if (members.includes(user)) return true;
      }
      return false;
    },
  };
}
