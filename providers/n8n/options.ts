import { z } from 'zod';

export const N8N_SETTINGS = ['N8N_BASE_URL', 'N8N_API_KEY'] as const;

/**
 * What the API key must be allowed (n8n enforces API key scopes where its licence enables them; elsewhere the key
 * acts as its user, who must be the instance owner or an admin to see every workflow and credential).
 */
export const N8N_API_KEY_SCOPES = [
  'workflow:list',
  'workflow:read',
  'workflow:update',
  'workflow:activate',
  'workflow:deactivate',
  'execution:list',
  'execution:read',
  'execution:delete',
  'credential:create',
  'credential:delete',
  'securityAudit:generate',
] as const;

export interface N8nProviderOptions {
  /** The instance root, without `/api/v1`: `https://n8n.example.com`. */
  baseUrl: string;
  apiKey: string;
  /** How long one request may take before it counts as a (retryable) failure. */
  requestTimeoutMs?: number;
}

const envSchema = z.object({
  N8N_BASE_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://n8n.example.com' })
    .refine((value) => !/[?#]/.test(value), 'expected the instance root, without a query or fragment')
    // fetch refuses such URLs, and the URL goes into evidence headers: the API key is the only credential.
    .refine(
      (value) => !URL.canParse(value) || (!new URL(value).username && !new URL(value).password),
      'must not contain a user or password',
    )
    .optional(),
  // The key goes into a header: whitespace or a line break in it is a pasting mistake, not part of the key.
  N8N_API_KEY: z
    .string()
    .min(16, 'too short to be an n8n API key')
    .regex(/^[\x21-\x7e]+$/, 'expected printable characters without spaces')
    .optional(),
});

function configurationError(field: string, problem: string): Error {
  return new Error(`${field}: ${problem}`);
}

/**
 * Options for the n8n provider, or undefined when neither setting is present. Reads settings only: nothing is
 * called. Errors name the variable at fault, never a value.
 */
export function n8nOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): N8nProviderOptions | undefined {
  // An empty variable counts as unset (compose passes `${VAR:-}` through as "").
  const relevant = Object.fromEntries(N8N_SETTINGS.map((name) => [name, env[name] || undefined]));
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configurationError(issue?.path.join('.') || 'environment', issue?.message ?? 'invalid');
  }
  const { N8N_BASE_URL: baseUrl, N8N_API_KEY: apiKey } = parsed.data;
  if (baseUrl === undefined && apiKey === undefined) return undefined;
  if (baseUrl === undefined) throw configurationError('N8N_BASE_URL', 'required with N8N_API_KEY');
  if (apiKey === undefined) throw configurationError('N8N_API_KEY', 'required with N8N_BASE_URL');
  // The http-connector preset documents the root; a URL copied from the API docs ends in /api/v1.
  return { baseUrl: baseUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, ''), apiKey };
}
