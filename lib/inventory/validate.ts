import type { z } from 'zod';
import { formatPath, type RunbookIssue } from '../runbook/validate';
import { identifierEntries } from './identifiers';
import {
  credentialSchema,
  inventoryFileSchema,
  consumerSchema,
  KINDS_WITH_PARTS,
  type Consumer,
  type Credential,
  type CredentialKind,
} from './schema';

/** `{ path: 'credentials[2].consumers[0].target', message }`, as runbook and owners validation report. */
export type InventoryIssue = RunbookIssue;

/**
 * What the validator needs of the provider list: which systems this build has, the roles they play, and their
 * reference parser. `PROVIDER_DIRECTORY` (providers/index.ts) is one; lib/ cannot import it, so callers pass it.
 */
export interface ProviderRefChecker {
  readonly definitions: readonly { readonly name: string; readonly roles: readonly string[] }[];
  /** Throws an Error naming what is wrong with `<provider>:<reference>` for the role. */
  parseRef(role: 'issuer' | 'destination', value: string): unknown;
}

export interface InventoryValidationOptions {
  providers: ProviderRefChecker;
  /** The owners file's roles; when given, every owner must be one of them. */
  ownerRoles?: readonly string[];
}

/** A validated inventory with its lookup indexes. */
export interface Inventory {
  readonly credentials: readonly Credential[];
  readonly byId: ReadonlyMap<string, Credential>;
  /** The inventory's own `fingerprint` fields (current values). */
  readonly byFingerprint: ReadonlyMap<string, Credential>;
  /** Identifier comparison keys (see `identifierEntries`) to their credential. */
  readonly byIdentifier: ReadonlyMap<string, Credential>;
}

export type InventoryValidation =
  | { ok: true; inventory: Inventory; warnings: InventoryIssue[] }
  | { ok: false; issues: InventoryIssue[]; warnings: InventoryIssue[] };

const IDENTIFIER_KINDS: Partial<Record<string, CredentialKind>> = {
  awsAccessKeyId: 'aws-access-key',
  githubAppId: 'github-app-key',
};

function zodIssues(error: z.ZodError, prefix: PropertyKey[]): InventoryIssue[] {
  return error.issues.flatMap((issue) => {
    // Zod reports an unknown key on its parent object: name the key itself, it is the typo to fix.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...prefix, ...issue.path, key]),
        message: 'unknown key',
      }));
    }
    return [{ path: formatPath([...prefix, ...issue.path]), message: issue.message }];
  });
}

function providerOf(ref: string): string {
  return ref.slice(0, ref.indexOf(':'));
}

/** Builds the lookup indexes of credentials that have passed validation. */
export function buildInventory(credentials: readonly Credential[]): Inventory {
  const byId = new Map<string, Credential>();
  const byFingerprint = new Map<string, Credential>();
  const byIdentifier = new Map<string, Credential>();
  for (const credential of credentials) {
    byId.set(credential.id, credential);
    if (credential.fingerprint) byFingerprint.set(credential.fingerprint, credential);
    for (const entry of identifierEntries(credential.identifiers)) byIdentifier.set(entry.key, credential);
  }
  return { credentials, byId, byFingerprint, byIdentifier };
}

export function emptyInventory(): Inventory {
  return buildInventory([]);
}

/**
 * A credential's fields that are valid on their own (consumers one by one, by index), so a credential with a
 * schema error still has its other fields checked: every error of the file is reported at once.
 */
interface CredentialFields extends Partial<Omit<Credential, 'consumers'>> {
  consumers?: (Consumer | undefined)[];
}

function fieldsOf(entry: unknown): CredentialFields {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return {};
  const raw = entry as Record<string, unknown>;
  const shape = credentialSchema.shape;
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === 'consumers') continue;
    const parsed = shape[key].safeParse(raw[key]);
    if (parsed.success && parsed.data !== undefined) fields[key] = parsed.data;
  }
  const consumers = Array.isArray(raw.consumers)
    ? raw.consumers.map((consumer) => {
        const parsed = consumerSchema.safeParse(consumer);
        return parsed.success ? parsed.data : undefined;
      })
    : undefined;
  return { ...(fields as Partial<Credential>), consumers };
}

/** Checks one credential's fields against the provider list and the owners file. */
function checkCredential(
  credential: CredentialFields,
  at: string,
  options: InventoryValidationOptions,
  issues: InventoryIssue[],
  warnings: InventoryIssue[],
): void {
  const known = new Map(options.providers.definitions.map((definition) => [definition.name, definition]));

  if (credential.issuer !== undefined) {
    const issuer = providerOf(credential.issuer);
    if (!known.has(issuer)) {
      warnings.push({
        path: `${at}.issuer`,
        message: `no issuer provider \`${issuer}\` in this build: incidents for this credential will end not-configured`,
      });
    } else {
      try {
        options.providers.parseRef('issuer', credential.issuer);
      } catch (error) {
        issues.push({ path: `${at}.issuer`, message: (error as Error).message });
      }
    }
  }

  (credential.consumers ?? []).forEach((consumer, index) => {
    if (!consumer) return;
    const path = `${at}.consumers[${index}]`;
    const definition = known.get(consumer.provider);
    if (!definition) {
      warnings.push({
        path: `${path}.provider`,
        message: `no destination provider \`${consumer.provider}\` in this build: rotations will not deliver this copy, replace it by hand`,
      });
    } else if (!definition.roles.includes('destination')) {
      const destinations = options.providers.definitions
        .filter((candidate) => candidate.roles.includes('destination'))
        .map((candidate) => candidate.name);
      issues.push({
        path: `${path}.provider`,
        message: `provider "${consumer.provider}" cannot store secrets (destinations: ${destinations.join(', ')})`,
      });
    } else {
      try {
        options.providers.parseRef('destination', `${consumer.provider}:${consumer.target}`);
      } catch (error) {
        issues.push({ path: `${path}.target`, message: (error as Error).message });
      }
    }
    if (consumer.part && credential.kind && !KINDS_WITH_PARTS.includes(credential.kind)) {
      issues.push({
        path: `${path}.part`,
        message: `a ${credential.kind} credential has no parts (only ${KINDS_WITH_PARTS.join(', ')})`,
      });
    }
  });

  if (options.ownerRoles) {
    (credential.owners ?? []).forEach((owner, index) => {
      if (!options.ownerRoles!.includes(owner)) {
        issues.push({
          path: `${at}.owners[${index}]`,
          message: `unknown owner role "${owner}" (roles: ${options.ownerRoles!.join(', ')})`,
        });
      }
    });
  }

  for (const [field, kind] of Object.entries(IDENTIFIER_KINDS)) {
    const identifiers = credential.identifiers ?? {};
    if (
      credential.kind &&
      identifiers[field as keyof Credential['identifiers']] !== undefined &&
      credential.kind !== kind
    ) {
      issues.push({
        path: `${at}.identifiers.${field}`,
        message: `only an ${kind} credential has a ${field} (this one is ${credential.kind})`,
      });
    }
  }
}

/** What each credential claims alone; two credentials claiming the same thing is an error on the later one. */
function checkUnique(parsed: { credential: CredentialFields; at: string }[], issues: InventoryIssue[]): void {
  const claim = <T>(seen: Map<string, T>, key: string, owner: T, onDuplicate: (first: T) => void): void => {
    const first = seen.get(key);
    if (first === undefined) seen.set(key, owner);
    else onDuplicate(first);
  };
  type Owner = { id: string; at: string };
  const ids = new Map<string, Owner>();
  const identifiers = new Map<string, Owner>();
  const fingerprints = new Map<string, Owner>();
  const slots = new Map<string, Owner>();
  const elsewhere = (first: Owner, current: Owner): string =>
    first.at === current.at ? 'listed twice in this credential' : `also claimed by ${first.id} (${first.at})`;

  for (const { credential, at } of parsed) {
    const owner = { id: credential.id ?? at, at };
    if (credential.id !== undefined) {
      const id = credential.id;
      claim(ids, id, owner, (first) =>
        issues.push({ path: `${at}.id`, message: `duplicate id "${id}" (first at ${first.at})` }),
      );
    }
    for (const entry of identifierEntries(credential.identifiers)) {
      claim(identifiers, entry.key, owner, (first) =>
        issues.push({
          path: `${at}.identifiers.${entry.field}`,
          message: `${entry.label} is ${elsewhere(first, owner)}: an identifier must name one credential`,
        }),
      );
    }
    if (credential.fingerprint) {
      claim(fingerprints, credential.fingerprint, owner, (first) =>
        issues.push({
          path: `${at}.fingerprint`,
          message: `fingerprint ${elsewhere(first, owner)}: one value cannot be two credentials`,
        }),
      );
    }
    (credential.consumers ?? []).forEach((consumer, index) => {
      if (!consumer) return;
      claim(slots, `${consumer.provider}:${consumer.target}`, owner, (first) =>
        issues.push({
          path: `${at}.consumers[${index}]`,
          message: `${consumer.provider}:${consumer.target} is ${elsewhere(first, owner)}: one rotation would overwrite the other's copy`,
        }),
      );
    });
  }
}

/**
 * Validates a parsed inventory file. Each credential is checked on its own, then across the file, so every error
 * is reported at once, each naming its path. Issuers and destinations of providers this build lacks are warnings.
 */
export function validateInventory(raw: unknown, options: InventoryValidationOptions): InventoryValidation {
  const issues: InventoryIssue[] = [];
  const warnings: InventoryIssue[] = [];
  const file = inventoryFileSchema.safeParse(raw);
  if (!file.success) return { ok: false, issues: zodIssues(file.error, []), warnings };

  const valid: Credential[] = [];
  const fields: { credential: CredentialFields; at: string }[] = [];
  file.data.credentials.forEach((entry, index) => {
    const at = `credentials[${index}]`;
    const result = credentialSchema.safeParse(entry);
    if (result.success) valid.push(result.data);
    else issues.push(...zodIssues(result.error, ['credentials', index]));
    const credential = result.success ? result.data : fieldsOf(entry);
    checkCredential(credential, at, options, issues, warnings);
    fields.push({ credential, at });
  });
  checkUnique(fields, issues);

  if (issues.length > 0) return { ok: false, issues, warnings };
  return { ok: true, inventory: buildInventory(valid), warnings };
}

/** The consumers as the rotation step's `destinations`. */
export function rotationDestinations(
  credential: Credential,
): { provider: string; target: string; part?: Credential['consumers'][number]['part'] }[] {
  return credential.consumers.map((consumer) => ({
    provider: consumer.provider,
    target: consumer.target,
    ...(consumer.part ? { part: consumer.part } : {}),
  }));
}
