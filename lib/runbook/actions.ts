import type { IncidentContext, Params } from './types';

/**
 * Role names a runbook may use instead of a system: the incident decides which provider plays the role,
 * so one runbook serves a GitHub workflow, an n8n workflow or a database alike.
 */
export const ROLE_PROVIDERS = {
  connector: (context: IncidentContext) => context.connector.provider,
  issuer: (context: IncidentContext) => context.credential.issuer,
} as const;

export type Role = keyof typeof ROLE_PROVIDERS;

export function isRole(name: string): name is Role {
  return Object.prototype.hasOwnProperty.call(ROLE_PROVIDERS, name);
}

export function splitAction(action: string): { provider: string; action: string } {
  const dot = action.indexOf('.');
  return { provider: action.slice(0, dot), action: action.slice(dot + 1) };
}

/** `connector.disableConnector` with a GitHub connector becomes `github.disableConnector`. */
export function resolveAction(
  action: string,
  context: IncidentContext,
): { provider: string; action: string } {
  const parts = splitAction(action);
  const provider = isRole(parts.provider) ? ROLE_PROVIDERS[parts.provider](context) : parts.provider;
  return { provider, action: parts.action };
}

/**
 * What a connector step is told about where the credential it acts for is stored (as the context knows it): a
 * repository connector (`github:owner/repo`) disables only the workflows that read those Actions secrets.
 */
export function connectorDestinations(
  action: string,
  context: IncidentContext,
): { credentialDestinations?: { provider: string; target: string }[] } {
  if (splitAction(action).provider !== 'connector') return {};
  const destinations = context.credential.destinations;
  return destinations.length > 0
    ? { credentialDestinations: destinations.map(({ provider, target }) => ({ provider, target })) }
    : {};
}

/** The systems a step's rendered `destinations` param delivers to (a rotation's consumers); none when it has none. */
export function destinationSystems(params: Params): string[] {
  const destinations = params.destinations;
  if (!Array.isArray(destinations)) return [];
  return destinations.flatMap((destination) =>
    destination &&
    typeof destination === 'object' &&
    !Array.isArray(destination) &&
    typeof destination.provider === 'string'
      ? [destination.provider]
      : [],
  );
}
