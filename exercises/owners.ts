import { join } from 'node:path';
import {
  ensureOperatorKeys,
  loadOwnersFile,
  OwnerDirectory,
  ownersFileSchema,
  type OwnersFile,
} from '../lib/owners';
import { backupOf, type Scenario } from './scenario';

export interface Persona {
  name: string;
  roles: string[];
  /** PEM (PKCS#8) private key, generated for this exercise, 0600 in its directory. */
  privateKeyPath: string;
}

export interface ExerciseOwners {
  directory: OwnerDirectory;
  owners: OwnersFile;
  /** Role → the people who answer for it, in script order. */
  people: Record<string, string[]>;
  personas: Persona[];
}

/** Backup role of each role in an owners file (the escalation chain the exercise plays through). */
export function ownersBackups(ownersFile: string): Record<string, string> {
  const loaded = loadOwnersFile(ownersFile);
  if (!loaded.ok) return {};
  return Object.fromEntries(
    Object.entries(loaded.owners.roles)
      .filter(([, role]) => role.backup)
      .map(([name, role]) => [name, role.backup!]),
  );
}

export function peopleOf(scenario: Scenario, role: string): string[] {
  return scenario.responders[role]?.people ?? [`${role}-1`, `${role}-2`];
}

/**
 * The exercise's owners matrix: the scenario's roles, each answered only by its scripted people, whose ed25519
 * key pairs are generated into the exercise directory. Scripted responders then approve through the real
 * path: signed out-of-band decisions checked by the workflow's Update validator.
 */
export function createExerciseOwners(
  scenario: Scenario,
  dir: string,
  backups: Record<string, string>,
): ExerciseOwners {
  const people: Record<string, string[]> = {};
  const roles: Record<string, unknown> = {};
  for (const role of Object.keys(scenario.responders)) {
    people[role] = peopleOf(scenario, role);
    const backup = backupOf(scenario, role, backups);
    roles[role] = {
      description: `exercise ${scenario.id}: scripted responders`,
      slack: { users: [], usergroups: [] },
      ...(backup ? { backup } : {}),
      outOfBand: people[role].map((name) => ({ name, publicKeyFile: join('keys', `${name}.pub`) })),
    };
  }
  const owners = ownersFileSchema.parse({ roles });
  ensureOperatorKeys(owners, dir);
  const personas = new Map<string, Persona>();
  for (const [role, names] of Object.entries(people)) {
    for (const name of names) {
      const persona = personas.get(name) ?? {
        name,
        roles: [],
        privateKeyPath: join(dir, 'keys', `${name}.key`),
      };
      persona.roles.push(role);
      personas.set(name, persona);
    }
  }
  return {
    directory: new OwnerDirectory(owners, dir),
    owners,
    people,
    personas: [...personas.values()],
  };
}
