import { statSync } from 'node:fs';
import {
  loadRotatedFingerprints,
  resolveCredential,
  rotatedFingerprintsFile,
  rotationDestinations,
  type AlertForResolution,
  type Inventory,
} from '../lib/inventory';
import { PROVIDER_DIRECTORY } from '../providers';

/** How the incident's credential was found: what its timeline says first. */
export interface CredentialResolutionNote {
  /** The inventory id, when one was found. */
  credentialId?: string;
  by: 'fingerprint' | 'identifier' | 'location' | 'alert' | 'unresolved';
  /** A timeline sentence: key ids by prefix and last four, fingerprints shortened, never a secret. */
  reason: string;
}

/** What an incident request gets from the inventory: the issuer to act through and where the new value goes. */
export interface ResolvedIncidentCredential {
  credential?: string;
  destinations: { provider: string; target: string; part?: 'accessKeyId' | 'secretAccessKey' }[];
  resolution: CredentialResolutionNote;
}

/** What an alert (or a start) says about its secret, after ingest: never the value. */
export interface LeakFacts extends Omit<AlertForResolution, 'location'> {
  locations?: { repository?: string; workflow?: string }[];
}

/**
 * Maps a leak to the inventory's credential, for every entry point (SIEM alerts, the CLI). Rotations append the
 * new value's fingerprint to the data dir (`lib/inventory/fingerprints.ts`); the file is read again when it changed,
 * so a later leak of a rotated value maps back without a restart.
 */
export class CredentialResolver {
  private rotated = new Map<string, string>();
  private rotatedVersion = '';

  constructor(
    private readonly inventory: Inventory,
    private readonly dataDir?: string,
  ) {}

  resolve(facts: LeakFacts): ResolvedIncidentCredential {
    const rotated = this.rotatedFingerprints();
    const locations = facts.locations?.length ? facts.locations : [undefined];
    let resolution = resolveCredential(this.inventory, { ...facts, location: locations[0] }, rotated);
    for (const location of locations.slice(1)) {
      if (!resolution.unresolved) break;
      const next = resolveCredential(this.inventory, { ...facts, location }, rotated);
      if (!next.unresolved || next.candidates.length > resolution.candidates.length) resolution = next;
    }
    if (resolution.unresolved) {
      const candidates = resolution.candidates.length
        ? ` (candidates: ${resolution.candidates.join(', ')})`
        : '';
      return {
        destinations: [],
        resolution: { by: 'unresolved', reason: `${resolution.reason}${candidates}` },
      };
    }
    const { credential, by, reason } = resolution;
    return {
      credential: issuerRefFor(credential.issuer, facts.identifiers?.awsAccessKeyId),
      destinations: rotationDestinations(credential),
      resolution: { credentialId: credential.id, by, reason },
    };
  }

  private rotatedFingerprints(): ReadonlyMap<string, string> {
    if (!this.dataDir) return this.rotated;
    let version: string;
    try {
      // Called for every alert: a missing file (no rotation yet) is an answer, not an exception to build.
      const stat = statSync(rotatedFingerprintsFile(this.dataDir), { throwIfNoEntry: false });
      if (!stat) return this.rotated;
      version = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      return this.rotated;
    }
    if (version !== this.rotatedVersion) {
      this.rotated = loadRotatedFingerprints(this.dataDir);
      this.rotatedVersion = version;
    }
    return this.rotated;
  }
}

/**
 * The issuer reference an incident acts through: the inventory's, narrowed to the key the alert named when its
 * issuer can act on one key (an AWS user holds two).
 */
function issuerRefFor(issuer: string, keyId: string | undefined): string {
  const colon = issuer.indexOf(':');
  const definition = PROVIDER_DIRECTORY.definitions.find(
    (candidate) => candidate.name === issuer.slice(0, colon),
  );
  const narrowed = keyId
    ? definition?.issuerRefFor?.(issuer.slice(colon + 1), { awsAccessKeyId: keyId })
    : undefined;
  return narrowed === undefined ? issuer : `${issuer.slice(0, colon + 1)}${narrowed}`;
}

/**
 * A start from a person (CLI, Slack modal) that named no credential: the inventory's, found by the secret's fingerprint
 * or where the connector runs. A named credential is kept as given. Unlike an alert's, an unresolved one is left as it
 * was (the person is there: `--credential` or the modal's field names it), not made to wait.
 */
export function withInventoryCredential<
  R extends { credential?: string; connector: string; secretFingerprint?: string; exercise?: boolean },
>(request: R, resolver: CredentialResolver | undefined): R {
  if (request.credential || request.exercise || !resolver) return request;
  let repository: string | undefined;
  try {
    repository = PROVIDER_DIRECTORY.parseRef('connector', request.connector).repository;
  } catch {
    repository = undefined;
  }
  const found = resolver.resolve({
    ...(request.secretFingerprint ? { fingerprint: request.secretFingerprint } : {}),
    ...(repository ? { locations: [{ repository }] } : {}),
  });
  if (found.resolution.by === 'unresolved') return request;
  return {
    ...request,
    ...(found.credential ? { credential: found.credential } : {}),
    ...(found.destinations.length > 0 ? { destinations: found.destinations } : {}),
    credentialResolution: found.resolution,
  };
}
