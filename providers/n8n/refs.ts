import { ProviderError } from '../types';

export const N8N = 'n8n';

/** n8n ids: nanoids (`2tUt1wbLX592XDdX`) since 1.0, decimal numbers before. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_FIXED_VALUE = 512;

/** What a connector reference names: one workflow, every workflow, or the workflows that use a credential. */
export type ConnectorScope =
  | { kind: 'workflow'; workflowId: string }
  | { kind: 'platform' }
  | { kind: 'credential'; credentialId: string };

/**
 * Where a secret goes: the credential, the field of its data that holds the secret (the type's usual one when
 * absent), and the non-secret fields to carry into the replacement. n8n's public API never returns a credential's
 * data, so whatever the replacement must keep besides the secret (a header's name, a user name) is named here.
 */
export interface CredentialTarget {
  credentialId: string;
  field?: string;
  fixed: Record<string, string>;
}

function strip(ref: string): string {
  return ref.startsWith(`${N8N}:`) ? ref.slice(N8N.length + 1) : ref;
}

function invalid(message: string): ProviderError {
  return new ProviderError(message, false, 'N8nInvalidRef');
}

/** `<workflowId>`, `*` (the whole platform) or `credential/<credentialId>`, optionally prefixed `n8n:`. */
export function parseConnectorRef(ref: string): ConnectorScope {
  const bare = strip(ref);
  if (bare === '*') return { kind: 'platform' };
  if (bare.startsWith('credential/')) {
    const credentialId = bare.slice('credential/'.length);
    if (ID.test(credentialId)) return { kind: 'credential', credentialId };
    throw invalid(`ref: "${ref}" does not name a credential id after credential/`);
  }
  if (ID.test(bare)) return { kind: 'workflow', workflowId: bare };
  throw invalid(
    `ref: "${ref}" is not a connector reference (expected <workflowId>, * or credential/<credentialId>)`,
  );
}

/** The reference as summaries carry it, so that an undo can check it acts on what the step acted on. */
export function connectorRefText(scope: ConnectorScope): string {
  if (scope.kind === 'platform') return `${N8N}:*`;
  if (scope.kind === 'credential') return `${N8N}:credential/${scope.credentialId}`;
  return `${N8N}:${scope.workflowId}`;
}

/**
 * `<credentialId>[#<field>][?<field>=<value>&…]`, optionally prefixed `n8n:`: e.g. `7Hq2…#value?name=X-Hook-Token`.
 * The values after `?` are URL-encoded and end up in runbooks, history and summaries: never put a secret there.
 */
export function parseCredentialTarget(target: string): CredentialTarget {
  const bare = strip(target);
  const query = bare.indexOf('?');
  const head = query === -1 ? bare : bare.slice(0, query);
  const hash = head.indexOf('#');
  const credentialId = hash === -1 ? head : head.slice(0, hash);
  const field = hash === -1 ? undefined : head.slice(hash + 1);
  if (!ID.test(credentialId)) {
    throw invalid(
      `target: "${target}" does not start with a credential id (expected <credentialId>[#<field>])`,
    );
  }
  if (field !== undefined && !FIELD.test(field)) {
    throw invalid(`target: "${target}": "${field}" after # is not a credential field name`);
  }
  const fixed: Record<string, string> = {};
  if (query !== -1) {
    for (const pair of bare.slice(query + 1).split('&')) {
      const equals = pair.indexOf('=');
      const key = equals === -1 ? pair : pair.slice(0, equals);
      if (!FIELD.test(key) || equals === -1) {
        throw invalid(`target: "${target}": expected <field>=<value> pairs after ?`);
      }
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(equals + 1));
      } catch {
        throw invalid(`target: "${target}": the value of ${key} is not URL-encoded`);
      }
      const control = [...value].some((char) => char < ' ' || char === '\u007f');
      if (value.length > MAX_FIXED_VALUE || control) {
        throw invalid(`target: "${target}": the value of ${key} is too long or has control characters`);
      }
      if (key === field) throw invalid(`target: "${target}": ${key} is the secret field; it takes no value`);
      if (Object.hasOwn(fixed, key)) throw invalid(`target: "${target}": ${key} is given twice`);
      fixed[key] = value;
    }
  }
  return { credentialId, field, fixed };
}

/**
 * An issuer reference: `credential/<target>` (a credential n8n itself checks, e.g. a webhook's header auth), or
 * `api-keys/<label>` (one of n8n's own API keys). The second is recognised so that an inventory may name it, but n8n
 * 1.123's public API cannot create, rotate or delete API keys: actions on it say so.
 */
export type IssuerRef = ({ kind: 'credential' } & CredentialTarget) | { kind: 'api-key'; label: string };

const API_KEY_LABEL = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,49}$/;

export function parseIssuerRef(ref: string): IssuerRef {
  const bare = strip(ref);
  if (bare.startsWith('api-keys/')) {
    const label = bare.slice('api-keys/'.length);
    if (API_KEY_LABEL.test(label)) return { kind: 'api-key', label };
    throw invalid(`ref: "${ref}" does not name an API key label after api-keys/`);
  }
  if (!bare.startsWith('credential/')) {
    throw invalid(
      `ref: "${ref}" is not credential/<credentialId>[#<field>][?<field>=<value>…] or api-keys/<label>`,
    );
  }
  return { kind: 'credential', ...parseCredentialTarget(bare.slice('credential/'.length)) };
}
