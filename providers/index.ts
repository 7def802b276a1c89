import { awsIam } from './aws-iam';
import { file } from './file';
import { github } from './github';
import { githubToken } from './github-token';
import { httpConnector } from './http-connector';
import { n8n } from './n8n';
import { providerDirectory, type ProviderDefinition } from './plugin';
import { postgres } from './postgres';
import { ROLE_CATALOGS } from './roles';
import { simulated } from './simulated';
import { slackToken } from './slack-token';

/**
 * The one list of systems Tourniquet can act on. Validation, simulation, the worker's registry, reference parsing
 * and the README's provider table all derive from it: a new system is its folder plus one line here.
 */
export const PROVIDERS: readonly ProviderDefinition[] = [
  github, // Actions workflows, deploy keys, webhooks, Actions secrets
  postgres, // database roles
  httpConnector, // automation platforms over HTTP (n8n)
  n8n, // n8n on its public API: workflows, executions, credentials (replaced and repointed), audit
  file, // local files as a secret destination
  awsIam, // IAM users and their access keys
  githubToken, // leaked GitHub tokens: revoked from their secret scanning alert, proven dead
  slackToken, // leaked Slack tokens: revoked with auth.revoke from their secret scanning alert, proven dead
  simulated, // the stand-in for every system in exercises and the demo
];

export const PROVIDER_DIRECTORY = providerDirectory(PROVIDERS, ROLE_CATALOGS);
export const ACTION_CATALOGS = PROVIDER_DIRECTORY.catalogs;
export const PROVIDER_CATALOGS = ACTION_CATALOGS.systems;
export const ROLE_MEMBERS = PROVIDER_DIRECTORY.roleMembers;
export const catalogFor = (name: string) => PROVIDER_DIRECTORY.catalogFor(name);
