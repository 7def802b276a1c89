import { defineProviderPlugin } from '../plugin';
import { gitHubProviderCatalog } from './catalog';
import { gitHubOptionsFromEnv, type GitHubProviderOptions } from './options';
import { parseConnectorRef, parseRepository, parseSecretTarget, parseWorkflowRef } from './refs';

/**
 * GitHub: Actions workflows as connectors (`github:owner/repo/<workflow file or id>`, or `github:owner/repo` for every
 * workflow of the repository that can read the secret), the GitHub-specific containment actions, and Actions secrets
 * as a destination (`github:owner/repo:NAME`).
 */
export const github = defineProviderPlugin<GitHubProviderOptions>({
  name: 'github',
  summary:
    'Actions workflows (disable, cancel runs, logs), deploy keys, webhooks, Actions secrets (sealed boxes)',
  roles: ['connector', 'destination'],
  catalog: gitHubProviderCatalog,
  settings: [
    'GITHUB_API_URL',
    'GITHUB_TOKEN',
    'GITHUB_APP_ID',
    'GITHUB_APP_INSTALLATION_ID',
    'GITHUB_APP_PRIVATE_KEY',
    'GITHUB_APP_PRIVATE_KEY_FILE',
  ],
  examples: { connector: 'github:acme/app/deploy.yml', destination: 'github:acme/app:DEPLOY_TOKEN' },
  enabledBy:
    'GITHUB_APP_ID with GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY(_FILE), or GITHUB_TOKEN',
  fromEnv: gitHubOptionsFromEnv,
  // Octokit loads only in a worker that has GitHub configured, not in the CLI.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  create: (options) => (require('./provider') as typeof import('./provider')).createGitHubProvider(options),
  parseRef(ref, role) {
    if (role === 'destination') return { repository: parseSecretTarget(ref).repository.fullName };
    return { repository: parseConnectorRef(ref).fullName };
  },
  /**
   * Where an alert saw the secret: the workflow, when it names one; else the repository (every GitHub secret-scanning
   * alert), whose workflows that can read the secret are the connector. A workflow that does not parse makes no
   * reference: the alert is not taken to mean the whole repository because one of its fields is malformed.
   */
  connectorRefFor({ repository, workflow }) {
    if (!repository) return undefined;
    try {
      if (!workflow) return `github:${parseRepository(repository).fullName}`;
      const ref = `${repository}/${workflow.replace(/^\/+/, '')}`;
      parseWorkflowRef(ref);
      return `github:${ref}`;
    } catch {
      return undefined;
    }
  },
});
