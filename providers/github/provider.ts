import { gitHubProviderCatalog, type GitHubProviderCatalog } from './catalog';
import { defineProvider, type Provider } from '../types';
import { auditActions } from './audit';
import { GitHubClients } from './client';
import { connectorActions } from './connector';
import { installationActions } from './installation';
import type { GitHubProviderOptions } from './options';
import { secretActions, secretsDestination } from './secrets';
import { segmentActions } from './segment';
import { StepMemory, type GitHubDeps } from './shared';

export { gitHubProviderCatalog, type GitHubProviderCatalog } from './catalog';

/**
 * The `github` provider: the connector role for GitHub Actions workflows (ref `owner/repo/<workflow file or id>`),
 * the GitHub-specific containment actions, and a secret destination (`owner/repo:NAME`,
 * `owner/repo:env/<environment>:NAME`) that stores Actions secrets as sealed boxes.
 */
export function createGitHubProvider(options: GitHubProviderOptions): Provider<GitHubProviderCatalog> {
  const deps: GitHubDeps = {
    clients: new GitHubClients({ ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') }),
    options,
    memory: new StepMemory(),
  };
  return defineProvider(
    'github',
    gitHubProviderCatalog,
    {
      ...connectorActions(deps),
      ...segmentActions(deps),
      ...secretActions(deps),
      ...installationActions(deps),
      ...auditActions(deps),
    },
    secretsDestination(deps),
  );
}
