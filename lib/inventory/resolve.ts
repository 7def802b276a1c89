import { identifierEntries, shortFingerprint, type IdentifierEntry } from './identifiers';
import { identifiersSchema, type Credential, type CredentialIdentifiers } from './schema';
import type { Inventory } from './validate';

/** What a detector may say about a leak, in the inventory's identifier shapes (ids may arrive as numbers). */
export interface AlertIdentifiers {
  awsAccessKeyId?: string;
  githubSecrets?: { repository: string; name: string }[];
  githubAppId?: string | number;
  n8nCredentialId?: string | number;
}

/** The parts of an alert (after ingest: scrubbed, fingerprinted) that can name the credential it is about. */
export interface AlertForResolution {
  /** The keyed fingerprint of the leaked value (the incident key). */
  fingerprint?: string;
  identifiers?: AlertIdentifiers;
  location?: { repository?: string; workflow?: string };
}

export type ResolvedBy = 'fingerprint' | 'identifier' | 'location';

export type CredentialResolution =
  | { unresolved?: undefined; credential: Credential; by: ResolvedBy; reason: string }
  | { unresolved: true; reason: string; candidates: string[] };

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** `acme/app`, `https://github.com/acme/app.git` and `ACME/App` are one repository. */
function normaliseRepository(repository: string): string {
  return repository
    .trim()
    .replace(/^https?:\/\/[^/]+\//i, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .toLowerCase();
}

/** `deploy.yml`, `/.github/workflows/deploy.yml` and `.github/workflows/Deploy.yml` are one workflow. */
function normaliseWorkflow(workflow: string): string {
  return workflow
    .trim()
    .replace(/^\/+/, '')
    .replace(/^\.github\/workflows\//i, '')
    .toLowerCase();
}

function describeLocation(location: { repository: string; workflow?: string }): string {
  return location.workflow ? `${location.repository} (${location.workflow})` : location.repository;
}

/**
 * The alert's identifiers that are well formed, field by field: a malformed one (a secret pasted where a key id
 * belongs) is dropped, never compared or echoed.
 */
function wellFormedIdentifiers(identifiers: AlertIdentifiers | undefined): CredentialIdentifiers {
  if (!identifiers) return {};
  const shape = identifiersSchema.shape;
  const result: CredentialIdentifiers = {};
  const aws = shape.awsAccessKeyId.safeParse(identifiers.awsAccessKeyId);
  if (aws.success && aws.data) result.awsAccessKeyId = aws.data;
  const app = shape.githubAppId.safeParse(identifiers.githubAppId);
  if (app.success && app.data) result.githubAppId = app.data;
  const n8n = shape.n8nCredentialId.safeParse(identifiers.n8nCredentialId);
  if (n8n.success && n8n.data) result.n8nCredentialId = n8n.data;
  const secrets = (Array.isArray(identifiers.githubSecrets) ? identifiers.githubSecrets : []).flatMap(
    (secret) => {
      const parsed = shape.githubSecrets.unwrap().element.safeParse(secret);
      return parsed.success ? [parsed.data] : [];
    },
  );
  if (secrets.length > 0) result.githubSecrets = secrets;
  return result;
}

function listIds(ids: string[]): string {
  return ids.join(', ');
}

type Step = { resolution: CredentialResolution; final: true } | { note: string; final: false };

function byFingerprint(
  inventory: Inventory,
  fingerprint: string | undefined,
  rotated: ReadonlyMap<string, string> | undefined,
): Step {
  const value = fingerprint?.trim().toLowerCase();
  if (!value || !FINGERPRINT.test(value)) return { final: false, note: 'the alert carries no fingerprint' };
  const short = shortFingerprint(value);
  const current = inventory.byFingerprint.get(value);
  const rotatedId = rotated?.get(value);
  const recorded = rotatedId === undefined ? undefined : inventory.byId.get(rotatedId);
  if (current && recorded && current.id !== recorded.id) {
    return {
      final: true,
      resolution: {
        unresolved: true,
        candidates: [current.id, recorded.id],
        reason: `fingerprint ${short} is the current value of credential ${current.id} in the inventory but was recorded by a rotation of credential ${recorded.id}: correct the inventory`,
      },
    };
  }
  if (current) {
    return {
      final: true,
      resolution: {
        credential: current,
        by: 'fingerprint',
        reason: `fingerprint ${short} is the current value of credential ${current.id}`,
      },
    };
  }
  if (recorded) {
    return {
      final: true,
      resolution: {
        credential: recorded,
        by: 'fingerprint',
        reason: `fingerprint ${short} is a value a rotation of credential ${recorded.id} minted`,
      },
    };
  }
  if (rotatedId !== undefined) {
    return {
      final: false,
      note: `fingerprint ${short} was minted by a rotation of ${rotatedId}, which the inventory no longer lists`,
    };
  }
  return { final: false, note: `no credential has fingerprint ${short}` };
}

function byIdentifier(inventory: Inventory, identifiers: AlertIdentifiers | undefined): Step {
  const entries = identifierEntries(wellFormedIdentifiers(identifiers));
  if (entries.length === 0) return { final: false, note: 'the alert carries no identifier' };
  const matches = new Map<string, { credential: Credential; entries: IdentifierEntry[] }>();
  for (const entry of entries) {
    const credential = inventory.byIdentifier.get(entry.key);
    if (!credential) continue;
    const match = matches.get(credential.id) ?? { credential, entries: [] };
    match.entries.push(entry);
    matches.set(credential.id, match);
  }
  const labels = (list: IdentifierEntry[]) => list.map((entry) => entry.label).join(' and ');
  if (matches.size === 0) return { final: false, note: `no credential has ${labels(entries)}` };
  if (matches.size === 1) {
    const [{ credential, entries: matched }] = [...matches.values()];
    return {
      final: true,
      resolution: {
        credential,
        by: 'identifier',
        reason: `${labels(matched)} ${matched.length > 1 ? 'are' : 'is'} credential ${credential.id}`,
      },
    };
  }
  return {
    final: true,
    resolution: {
      unresolved: true,
      candidates: [...matches.keys()],
      reason: `the alert's identifiers name different credentials: ${[...matches.values()]
        .map((match) => `${labels(match.entries)} is ${match.credential.id}`)
        .join('; ')}`,
    },
  };
}

function locationMatches(
  location: Credential['locations'][number],
  repository: string,
  workflow: string | undefined,
): boolean {
  if (normaliseRepository(location.repository) !== repository) return false;
  // A credential location without a workflow is read by every workflow of the repository; an alert without one
  // may be about any of them.
  if (location.workflow === undefined || workflow === undefined) return true;
  return normaliseWorkflow(location.workflow) === workflow;
}

function byLocation(inventory: Inventory, location: AlertForResolution['location']): Step {
  const repository = location?.repository ? normaliseRepository(location.repository) : '';
  if (!repository) return { final: false, note: 'the alert names no repository' };
  const workflow = location?.workflow ? normaliseWorkflow(location.workflow) : undefined;
  const where = describeLocation({ repository: location!.repository!.trim(), workflow: location?.workflow });
  const candidates = inventory.credentials.filter((credential) =>
    credential.locations.some((entry) => locationMatches(entry, repository, workflow)),
  );
  if (candidates.length === 1) {
    return {
      final: true,
      resolution: {
        credential: candidates[0],
        by: 'location',
        reason: `${where} can read one credential of the inventory: ${candidates[0].id}`,
      },
    };
  }
  if (candidates.length === 0) {
    return { final: false, note: `no credential of the inventory is read at ${where}` };
  }
  const ids = candidates.map((credential) => credential.id);
  return {
    final: true,
    resolution: {
      unresolved: true,
      candidates: ids,
      reason: `${where} can read ${ids.length} credentials (${listIds(ids)}): not guessing, name the credential`,
    },
  };
}

/**
 * Which credential of the inventory an alert is about: by fingerprint (the inventory's `fingerprint` or one a
 * rotation recorded), else by identifier, else by location when exactly one credential is read there. Several
 * candidates are never guessed between. Reasons are timeline sentences: key ids by prefix and last four,
 * fingerprints shortened, never a secret (the resolver is never handed one).
 */
export function resolveCredential(
  inventory: Inventory,
  alert: AlertForResolution,
  rotatedFingerprints?: ReadonlyMap<string, string>,
): CredentialResolution {
  const notes: string[] = [];
  for (const step of [
    () => byFingerprint(inventory, alert.fingerprint, rotatedFingerprints),
    () => byIdentifier(inventory, alert.identifiers),
    () => byLocation(inventory, alert.location),
  ]) {
    const outcome = step();
    if (outcome.final) return outcome.resolution;
    notes.push(outcome.note);
  }
  return { unresolved: true, candidates: [], reason: `no credential resolved: ${notes.join('; ')}` };
}
