import type { ActionCatalogs } from '../lib/runbook/types';
import type { Provider, ProviderCatalog, SecretReader } from './types';

/**
 * What a system does for an incident. `connector`: it holds the leaked secret and can be disabled (a GitHub
 * Actions workflow, an n8n workflow). `issuer`: it minted the credential and can rotate or revoke it (a database,
 * a cloud IAM). `destination`: it stores a replacement credential where its consumers read it.
 */
export const PROVIDER_ROLES = ['connector', 'issuer', 'destination'] as const;
export type ProviderRole = (typeof PROVIDER_ROLES)[number];

export type Env = Readonly<Record<string, string | undefined>>;

/** Facts a reference carries that runbooks may template (`{{connector.repository}}`). */
export interface ParsedRef {
  /** `owner/name` of the repository the reference lives in, when it lives in one. */
  repository?: string;
}

/** What an alert is, as an issuer that reads leaked values back from the alert needs it. */
export interface AlertFacts {
  source: string;
  /** The source's own id: `owner/repo#42` for a GitHub secret-scanning alert. */
  alertId: string;
  secretKind: string;
}

/** Where an alert says the secret was seen; a connector that can act there turns it into its reference. */
export interface LeakLocation {
  repository?: string;
  workflow?: string;
}

export interface ProviderDeps {
  env: Env;
  /** Destinations that can hand a stored value back, by provider name; filled once every provider exists. */
  secretReaders: Readonly<Record<string, SecretReader>>;
}

/**
 * One system Tourniquet can act on, as a plugin. Its folder under `providers/` exports one of these, and
 * `providers/index.ts` lists it: validation, simulation, the worker's registry, reference parsing and the README's
 * provider table all derive from that list. The definition must load no client library: `create` does.
 */
export interface ProviderDefinition<Options = unknown> {
  /** What runbooks and references say before the dot or colon: `github.removeDeployKeys`, `github:acme/app/ci.yml`. */
  name: string;
  /** One line for the README's provider table. */
  summary: string;
  roles: readonly ProviderRole[];
  /** Every action it offers; a role member offers the role's actions under the same names. */
  catalog: ProviderCatalog;
  /** The environment variables that configure the real system (documented, and listed in docker-compose). */
  settings: readonly string[];
  /** What turns the real system on, as a `not-configured` step tells it (default: every setting). */
  enabledBy?: string;
  /** A reference for each role it plays, as `--connector`, `--credential` or `--destination` take it. */
  examples: Partial<Record<ProviderRole, string>>;
  /** Options for the real system, or undefined when it is not configured. Reads settings; does not connect. */
  fromEnv(env: Env): Options | undefined | Promise<Options | undefined>;
  create(options: Options, deps: ProviderDeps): Provider | Promise<Provider>;
  /** Checks a reference (without the `name:` prefix) for the role; throws an Error naming what is wrong. */
  parseRef?(ref: string, role: ProviderRole): ParsedRef;
  /** The connector reference for where an alert saw the secret, when this system runs there. */
  connectorRefFor?(location: LeakLocation): string | undefined;
  /**
   * The issuer reference (with `name:`) for a leak an alert itself holds, when this issuer revokes that kind by the
   * value it reads back from the alert (a GitHub secret-scanning alert about a GitHub token).
   */
  credentialRefForAlert?(alert: AlertFacts): string | undefined;
  /**
   * An issuer reference (without `name:`) narrowed to the key an alert named, for an issuer that holds several per
   * identity (an AWS user's two access keys); undefined keeps the reference as it is.
   */
  issuerRefFor?(ref: string, identifiers: { awsAccessKeyId?: string }): string | undefined;
}

/** Typed at the definition, erased in the list (method parameters are bivariant, so any options type fits). */
export function defineProviderPlugin<Options>(
  definition: ProviderDefinition<Options>,
): ProviderDefinition<Options> {
  return definition;
}

/** `<provider>:<reference>` split and checked against the provider list. */
export interface ProviderRef extends ParsedRef {
  provider: string;
  ref: string;
}

export class ProviderRefError extends Error {}

/** Everything derived from the provider list. */
export interface ProviderDirectory {
  definitions: readonly ProviderDefinition[];
  /** What the runbook validator is handed. */
  catalogs: ActionCatalogs;
  /** The catalog of a role or a system, by the name a runbook puts before the dot. */
  catalogFor(name: string): ProviderCatalog | undefined;
  /** The systems that play each role, in list order. */
  roleMembers: Readonly<Record<ProviderRole, readonly string[]>>;
  /** Parses `<provider>:<reference>` for a role; throws ProviderRefError naming what is wrong. */
  parseRef(role: ProviderRole, value: string): ProviderRef;
  /** The first connector reference a configured list member makes of a leak location. */
  connectorRefFor(location: LeakLocation): string | undefined;
  /** The first issuer reference a list member makes of an alert that holds the leaked value itself. */
  credentialRefForAlert(alert: AlertFacts): string | undefined;
  /** The real providers of every system whose settings are present; the rest are simulated by the registry. */
  createConfigured(env: Env): Promise<Provider[]>;
}

const ROLE_REF_EXAMPLE: Record<ProviderRole, string> = {
  connector: 'github:acme/app/deploy.yml',
  issuer: 'postgres:app_user',
  destination: 'github:acme/app:DEPLOY_TOKEN',
};

export function providerDirectory(
  definitions: readonly ProviderDefinition[],
  roleCatalogs: Readonly<Record<string, ProviderCatalog>>,
): ProviderDirectory {
  const byName = new Map<string, ProviderDefinition>();
  for (const definition of definitions) {
    if (!/^[a-z][a-z0-9-]*$/.test(definition.name))
      throw new Error(`provider name "${definition.name}": expected lower-case letters, digits and dashes`);
    if (byName.has(definition.name)) throw new Error(`provider "${definition.name}" is listed twice`);
    if (roleCatalogs[definition.name])
      throw new Error(
        `provider "${definition.name}" has the name of a role: runbooks could not tell them apart`,
      );
    byName.set(definition.name, definition);
  }
  const systems = Object.fromEntries(definitions.map((definition) => [definition.name, definition.catalog]));
  const roleMembers = Object.fromEntries(
    PROVIDER_ROLES.map((role) => [
      role,
      definitions
        .filter((definition) => definition.roles.includes(role))
        .map((definition) => definition.name),
    ]),
  ) as Record<ProviderRole, string[]>;

  return {
    definitions,
    catalogs: { roles: roleCatalogs, systems },
    catalogFor: (name) => roleCatalogs[name] ?? systems[name],
    roleMembers,
    parseRef(role, value) {
      const colon = value.indexOf(':');
      if (!/^[a-z][\w-]*:./.test(value)) {
        throw new ProviderRefError(`expected <provider>:<reference>, e.g. ${ROLE_REF_EXAMPLE[role]}`);
      }
      const provider = value.slice(0, colon);
      const ref = value.slice(colon + 1);
      const definition = byName.get(provider);
      if (!definition?.roles.includes(role)) {
        throw new ProviderRefError(`provider must be one of ${roleMembers[role].join(', ')}`);
      }
      try {
        return { provider, ref, ...definition.parseRef?.(ref, role) };
      } catch (error) {
        throw new ProviderRefError(`${provider}: ${(error as Error).message}`);
      }
    },
    connectorRefFor(location) {
      for (const definition of definitions) {
        if (!definition.roles.includes('connector')) continue;
        const ref = definition.connectorRefFor?.(location);
        if (ref !== undefined) return ref;
      }
      return undefined;
    },
    credentialRefForAlert(alert) {
      for (const definition of definitions) {
        if (!definition.roles.includes('issuer')) continue;
        const ref = definition.credentialRefForAlert?.(alert);
        if (ref !== undefined) return ref;
      }
      return undefined;
    },
    async createConfigured(env) {
      const secretReaders: Record<string, SecretReader> = {};
      const providers: Provider[] = [];
      for (const definition of definitions) {
        const options = await definition.fromEnv(env);
        if (options === undefined) continue;
        providers.push(await definition.create(options, { env, secretReaders }));
      }
      for (const provider of providers) {
        const destination = provider.destination as Partial<SecretReader> | undefined;
        if (typeof destination?.readSecret === 'function') {
          secretReaders[provider.name] = destination as SecretReader;
        }
      }
      return providers;
    },
  };
}
