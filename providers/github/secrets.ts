import { timingSafeEqual } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import type { z } from 'zod';
import { fingerprintSecret, redactedHint } from '../../lib/fingerprint';
import type { githubCatalog } from './catalog';
import { ProviderError, type ActionContext, type ActionResult, type SecretDestination } from '../types';
import type { GitHubOctokit, Permissions } from './client';
import {
  describeSecretTarget,
  parseRepository,
  parseSecretTarget,
  type RepositoryRef,
  type SecretTarget,
} from './refs';
import { statusOf, withRepository, type GitHubDeps } from './shared';

type Catalog = typeof githubCatalog;
type Params<K extends keyof Catalog> = z.infer<Catalog[K]['params']>;

/** Token prefixes the credential revocation API accepts (POST /credentials/revoke). */
const REVOCABLE_PREFIXES = ['github_pat_', 'ghp_', 'gho_', 'ghu_', 'ghr_'] as const;

function repoParams(repository: RepositoryRef) {
  return { owner: repository.owner, repo: repository.repo };
}

/** GitHub Actions secrets are libsodium sealed boxes under the repository's (or environment's) public key. */
async function sealForGitHub(value: string, publicKeyBase64: string): Promise<string> {
  await sodium.ready;
  const publicKey = sodium.from_base64(publicKeyBase64, sodium.base64_variants.ORIGINAL);
  const sealed = sodium.crypto_box_seal(sodium.from_string(value), publicKey);
  return sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL);
}

function secretPermissions(
  target: { scope: 'repository' | 'environment' },
  level: 'read' | 'write',
): Permissions {
  // Environment secrets sit behind the environments permission; secrets is asked too, as GitHub documents both.
  return target.scope === 'environment' ? { secrets: level, environments: level } : { secrets: level };
}

async function putSecret(
  octokit: GitHubOctokit,
  target: SecretTarget,
  value: string,
): Promise<{ created: boolean; keyId: string }> {
  if (target.scope === 'repository') {
    const { data: key } = await octokit.rest.actions.getRepoPublicKey(repoParams(target.repository));
    const response = await octokit.rest.actions.createOrUpdateRepoSecret({
      ...repoParams(target.repository),
      secret_name: target.name,
      encrypted_value: await sealForGitHub(value, key.key),
      key_id: key.key_id,
    });
    return { created: response.status === 201, keyId: key.key_id };
  }
  const environment = { ...repoParams(target.repository), environment_name: target.environment };
  const { data: key } = await octokit.rest.actions.getEnvironmentPublicKey(environment);
  const response = await octokit.rest.actions.createOrUpdateEnvironmentSecret({
    ...environment,
    secret_name: target.name,
    encrypted_value: await sealForGitHub(value, key.key),
    key_id: key.key_id,
  });
  return { created: response.status === 201, keyId: key.key_id };
}

/** Octokit's paginate types do not unwrap this endpoint's `{ total_count, environments }` envelope: page by hand. */
async function listEnvironmentNames(octokit: GitHubOctokit, repository: RepositoryRef): Promise<string[]> {
  const names: string[] = [];
  for (let page = 1; ; page += 1) {
    const { data } = await octokit.rest.repos.getAllEnvironments({
      ...repoParams(repository),
      per_page: 100,
      page,
    });
    const environments = data.environments ?? [];
    names.push(...environments.map((environment) => environment.name));
    if (environments.length < 100) return names;
  }
}

export function secretsDestination(deps: GitHubDeps): SecretDestination {
  return {
    async storeSecret(targetText: string, value: string, ctx: ActionContext): Promise<void> {
      const target = parseSecretTarget(targetText);
      if (value.length === 0)
        throw new ProviderError(
          `github.storeSecret: refusing to store an empty value in ${targetText}`,
          false,
        );
      // GitHub's limit is 48 KB per secret; failing here keeps the value out of a 422 round trip.
      if (Buffer.byteLength(value, 'utf8') > 48 * 1024) {
        throw new ProviderError(
          `github.storeSecret: value for ${targetText} exceeds GitHub's 48 KB secret limit`,
          false,
        );
      }
      const outcome = await withRepository(
        deps,
        ctx,
        'storeSecret',
        target.repository,
        secretPermissions(target, 'write'),
        (octokit) => putSecret(octokit, target, value),
      );
      ctx.log.info(
        { target: describeSecretTarget(target), keyId: outcome.keyId, created: outcome.created },
        'GitHub Actions secret stored (sealed box)',
      );
    },
  };
}

export function secretActions(deps: GitHubDeps) {
  return {
    async listSecrets(
      { repository, environments }: Params<'listSecrets'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const permissions: Permissions = { secrets: 'read', environments: 'read', actions: 'read' };
      return withRepository(deps, ctx, 'listSecrets', repo, permissions, async (octokit) => {
        const repositorySecrets = await octokit.paginate(octokit.rest.actions.listRepoSecrets, {
          ...repoParams(repo),
          per_page: 100,
        });
        const organizationSecrets = await octokit.paginate(octokit.rest.actions.listRepoOrganizationSecrets, {
          ...repoParams(repo),
          per_page: 100,
        });
        const environmentNames = environments ?? (await listEnvironmentNames(octokit, repo));
        const environmentSecrets: string[] = [];
        for (const environment of environmentNames) {
          const secrets = await octokit.paginate(octokit.rest.actions.listEnvironmentSecrets, {
            ...repoParams(repo),
            environment_name: environment,
            per_page: 100,
          });
          environmentSecrets.push(...secrets.map((secret) => `env/${environment}:${secret.name}`));
        }
        return {
          summary: {
            repository: repo.fullName,
            repositorySecrets: repositorySecrets.map((secret) => secret.name),
            organizationSecrets: organizationSecrets.map((secret) => secret.name),
            environmentSecrets,
            environments: environmentNames,
            total: repositorySecrets.length + organizationSecrets.length + environmentSecrets.length,
          },
        };
      });
    },

    async deleteSecret(
      { repository, name, environment }: Params<'deleteSecret'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const target: SecretTarget = environment
        ? { scope: 'environment', repository: repo, environment, name }
        : { scope: 'repository', repository: repo, name };
      return withRepository(
        deps,
        ctx,
        'deleteSecret',
        repo,
        secretPermissions(target, 'write'),
        async (octokit) => {
          let existed = true;
          try {
            if (target.scope === 'repository')
              await octokit.rest.actions.getRepoSecret({ ...repoParams(repo), secret_name: name });
            else
              await octokit.rest.actions.getEnvironmentSecret({
                ...repoParams(repo),
                environment_name: target.environment,
                secret_name: name,
              });
          } catch (error) {
            if (statusOf(error) !== 404) throw error;
            existed = false;
          }
          if (existed) {
            if (target.scope === 'repository')
              await octokit.rest.actions.deleteRepoSecret({ ...repoParams(repo), secret_name: name });
            else
              await octokit.rest.actions.deleteEnvironmentSecret({
                ...repoParams(repo),
                environment_name: target.environment,
                secret_name: name,
              });
          }
          ctx.log.info(
            { target: describeSecretTarget(target), alreadyDeleted: !existed },
            'GitHub Actions secret deleted',
          );
          return {
            summary: { target: describeSecretTarget(target), deleted: true, alreadyDeleted: !existed },
          };
        },
      );
    },

    async revokeLeakedToken(
      { repository, alertNumber, fingerprint }: Params<'revokeLeakedToken'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      if (fingerprint && !deps.options.fingerprintKey) {
        throw new ProviderError(
          'github.revokeLeakedToken: a fingerprint was given but the provider has no fingerprint key to check it with',
          false,
          'Configuration',
        );
      }
      const permissions: Permissions = { secret_scanning_alerts: 'read' };
      // The token is read from the alert inside this activity and handed only to the revocation endpoint.
      const alert = await withRepository(
        deps,
        ctx,
        'revokeLeakedToken',
        repo,
        permissions,
        async (octokit) => {
          const { data } = await octokit.rest.secretScanning.getAlert({
            ...repoParams(repo),
            alert_number: alertNumber,
          });
          return data;
        },
      );
      const token = alert.secret;
      if (!token) {
        throw new ProviderError(
          `github.revokeLeakedToken: secret scanning alert ${alertNumber} in ${repo.fullName} carries no secret to revoke`,
          false,
          'GitHubNothingToRevoke',
        );
      }
      if (fingerprint && deps.options.fingerprintKey) {
        const actual = Buffer.from(fingerprintSecret(deps.options.fingerprintKey, token), 'hex');
        if (!timingSafeEqual(actual, Buffer.from(fingerprint, 'hex'))) {
          throw new ProviderError(
            `github.revokeLeakedToken: the secret in alert ${alertNumber} is not the one this incident is about (fingerprint differs)`,
            false,
            'GitHubFingerprintMismatch',
          );
        }
      }
      const prefix = REVOCABLE_PREFIXES.find((candidate) => token.startsWith(candidate));
      const hint = redactedHint(prefix ? prefix.replace(/_$/, '') : (alert.secret_type ?? 'unknown'), token);
      if (!prefix) {
        throw new ProviderError(
          `github.revokeLeakedToken: alert ${alertNumber} holds a ${alert.secret_type ?? 'secret'} that GitHub's credential revocation API does not accept; revoke it at its issuer`,
          false,
          'GitHubNotRevocable',
        );
      }
      try {
        await deps.clients.anonymous(ctx).rest.credentials.revoke({ credentials: [token] });
      } catch (error) {
        if (statusOf(error) === 422 || statusOf(error) === 403) {
          throw new ProviderError(
            `github.revokeLeakedToken: GitHub refused to revoke the ${hint.kind} token ending ${hint.last4} (status ${statusOf(error)})`,
            false,
            'GitHubRefused',
          );
        }
        throw new ProviderError(
          `github.revokeLeakedToken: revocation request failed (status ${statusOf(error) ?? 'network'})`,
          true,
          'GitHubUnavailable',
        );
      }
      ctx.log.info(
        { repository: repo.fullName, alertNumber, tokenKind: hint.kind },
        'leaked GitHub token submitted for revocation',
      );
      return {
        summary: {
          repository: repo.fullName,
          alertNumber,
          secretType: alert.secret_type ?? null,
          tokenKind: hint.kind,
          tokenLength: hint.length,
          tokenLast4: hint.last4,
          revocationAccepted: true,
        },
      };
    },
  };
}
