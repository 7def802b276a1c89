import { join, resolve } from 'node:path';
import {
  ensureOperatorKeys,
  OwnerDirectory,
  ownersFileSchema,
  type OwnersFile,
  type UsergroupResolver,
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
export function ownersBackups(owners: OwnersFile | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(owners?.roles ?? {})
      .filter(([, role]) => role.backup)
      .map(([name, role]) => [name, role.backup!]),
  );
}

export function peopleOf(scenario: Scenario, role: string): string[] {
  if (scenario.responders[role]?.live) return [];
  return scenario.responders[role]?.people ?? [`${role}-1`, `${role}-2`];
}

/** The production owners matrix live roles are copied from, and the data dir its key files are relative to. */
export interface ProductionOwners {
  owners: OwnersFile;
  dataDir: string;
}

/** A live role as the production owners file defines it, its key files made absolute (they stay where they are). */
function liveRole(production: ProductionOwners, role: string, backup: string | undefined): unknown {
  const { slack, outOfBand, people } = production.owners.roles[role];
  return {
    description: `exercise: live responders of ${role}`,
    slack,
    people,
    ...(backup ? { backup } : {}),
    outOfBand: outOfBand.map((approver) =>
      approver.publicKeyFile
        ? { ...approver, publicKeyFile: resolve(production.dataDir, approver.publicKeyFile) }
        : approver,
    ),
  };
}

/**
 * The exercise's owners matrix: the scenario's roles, each answered only by its scripted people, whose ed25519
 * key pairs are generated into the exercise directory. Scripted responders then approve through the real
 * path: signed out-of-band decisions checked by the workflow's Update validator. A live role keeps its real
 * people from the production owners file.
 */
export function createExerciseOwners(
  scenario: Scenario,
  dir: string,
  backups: Record<string, string>,
  production: ProductionOwners | undefined,
  /** The gateway keys the exercise's worker believes (the engine signs the start; live clicks come through one). */
  trust: { gatewayKeys: string[]; expandUsergroup?: UsergroupResolver },
): ExerciseOwners {
  const people: Record<string, string[]> = {};
  const roles: Record<string, unknown> = {};
  for (const [role, responder] of Object.entries(scenario.responders)) {
    people[role] = peopleOf(scenario, role);
    const backup = backupOf(scenario, role, backups);
    if (responder.live) {
      if (!production?.owners.roles[role]) throw new Error(`live role ${role} is not in the owners file`);
      roles[role] = liveRole(production, role, backup);
      continue;
    }
    roles[role] = {
      description: `exercise ${scenario.id}: scripted responders`,
      slack: { users: [], usergroups: [] },
      ...(backup ? { backup } : {}),
      outOfBand: people[role].map((name) => ({ name, publicKeyFile: join('keys', `${name}.pub`) })),
    };
  }
  // The production people a live role lists come along, their key files resolved against the production data dir.
  const productionPeople = Object.fromEntries(
    Object.entries(production?.owners.people ?? {}).map(([name, person]) => [
      name,
      person.publicKeyFile
        ? { ...person, publicKeyFile: resolve(production!.dataDir, person.publicKeyFile) }
        : person,
    ]),
  );
  const owners = ownersFileSchema.parse({ people: productionPeople, roles });
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
    directory: new OwnerDirectory(owners, dir, {
      gatewayKeys: trust.gatewayKeys,
      expandUsergroup: trust.expandUsergroup,
    }),
    owners,
    people,
    personas: [...personas.values()],
  };
}
