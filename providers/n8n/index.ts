import { defineProviderPlugin } from '../plugin';
import { n8nCatalog } from './catalog';
import { N8N_SETTINGS, n8nOptionsFromEnv, type N8nProviderOptions } from './options';
import { N8N, parseConnectorRef, parseCredentialTarget, parseIssuerRef } from './refs';

/**
 * n8n on its public REST API: workflows as connectors (`n8n:<workflowId>`, `n8n:*` for the whole platform,
 * `n8n:credential/<credentialId>` for the workflows that use a credential), n8n credentials as a destination
 * (`n8n:<credentialId>[#<field>][?<field>=<value>…]`) and as an issuer (`n8n:credential/<credentialId>…`).
 * See docs/n8n.md.
 */
export const n8n = defineProviderPlugin<N8nProviderOptions>({
  name: N8N,
  summary:
    'workflows (one, those using a credential, or all), executions (preserve, purge), credentials, audit',
  roles: ['connector', 'issuer', 'destination'],
  catalog: n8nCatalog,
  settings: N8N_SETTINGS,
  examples: {
    connector: 'n8n:credential/Ab12',
    issuer: 'n8n:credential/Ab12?name=X-Token',
    destination: 'n8n:Ab12?name=X-Token',
  },
  enabledBy: 'N8N_BASE_URL with N8N_API_KEY',
  fromEnv: n8nOptionsFromEnv,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  create: (options) => (require('./provider') as typeof import('./provider')).createN8nProvider(options),
  parseRef(ref, role) {
    if (role === 'connector') parseConnectorRef(ref);
    else if (role === 'issuer') parseIssuerRef(ref);
    else parseCredentialTarget(ref);
    return {};
  },
});
