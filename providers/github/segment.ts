import type { z } from 'zod';
import type { githubCatalog } from './catalog';
import type { ActionContext, ActionResult } from '../types';
import type { GitHubOctokit } from './client';
import { parseRepository, type RepositoryRef } from './refs';
import {
  requireUndoSummary,
  statusOf,
  stringList,
  withRepository,
  type GitHubDeps,
  type Summary,
} from './shared';

type Catalog = typeof githubCatalog;
type Params<K extends keyof Catalog> = z.infer<Catalog[K]['params']>;

/** Repository Actions settings, flattened so a step summary can carry them to recovery. */
interface ActionsSettings {
  enabled: boolean;
  allowedActions: string | null;
  shaPinningRequired: boolean | null;
  githubOwnedAllowed: boolean | null;
  verifiedAllowed: boolean | null;
  patternsAllowed: string[] | null;
}

function repoParams(repository: RepositoryRef) {
  return { owner: repository.owner, repo: repository.repo };
}

async function readActionsSettings(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
): Promise<ActionsSettings> {
  const { data } = await octokit.rest.actions.getGithubActionsPermissionsRepository(repoParams(repository));
  const settings: ActionsSettings = {
    enabled: data.enabled,
    allowedActions: data.allowed_actions ?? null,
    shaPinningRequired: data.sha_pinning_required ?? null,
    githubOwnedAllowed: null,
    verifiedAllowed: null,
    patternsAllowed: null,
  };
  // The selection only exists (and can only be read) while the policy is "selected".
  if (data.enabled && data.allowed_actions === 'selected') {
    const { data: selected } = await octokit.rest.actions.getAllowedActionsRepository(repoParams(repository));
    settings.githubOwnedAllowed = selected.github_owned_allowed ?? null;
    settings.verifiedAllowed = selected.verified_allowed ?? null;
    settings.patternsAllowed = selected.patterns_allowed ?? [];
  }
  return settings;
}

function previousSettingsSummary(settings: ActionsSettings): Summary {
  return {
    previousEnabled: settings.enabled,
    previousAllowedActions: settings.allowedActions,
    previousShaPinningRequired: settings.shaPinningRequired,
    previousGithubOwnedAllowed: settings.githubOwnedAllowed,
    previousVerifiedAllowed: settings.verifiedAllowed,
    previousPatternsAllowed: settings.patternsAllowed,
  };
}

function sameMembers(left: readonly string[], right: readonly string[]): boolean {
  const a = new Set(left);
  return a.size === new Set(right).size && right.every((item) => a.has(item));
}

/** The "before" a state change remembers, preferring what an earlier attempt of the same step saw. */
function beforeOf(deps: GitHubDeps, action: string, ctx: ActionContext, current: Summary): Summary {
  const remembered = deps.memory.recall(action, ctx);
  if (remembered) return remembered;
  deps.memory.remember(action, ctx, current);
  return current;
}

interface EnvironmentProtection {
  reviewers: Array<{ type: 'User' | 'Team'; id: number }>;
  waitTimer: number | undefined;
  preventSelfReview: boolean | undefined;
  deploymentBranchPolicy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
}

async function readEnvironment(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  environment: string,
): Promise<EnvironmentProtection> {
  const { data } = await octokit.rest.repos.getEnvironment({
    ...repoParams(repository),
    environment_name: environment,
  });
  const protection: EnvironmentProtection = {
    reviewers: [],
    waitTimer: undefined,
    preventSelfReview: undefined,
    deploymentBranchPolicy: data.deployment_branch_policy ?? null,
  };
  for (const rule of data.protection_rules ?? []) {
    if ('wait_timer' in rule && rule.type === 'wait_timer') protection.waitTimer = rule.wait_timer;
    if ('reviewers' in rule && rule.type === 'required_reviewers') {
      protection.preventSelfReview = rule.prevent_self_review;
      for (const entry of rule.reviewers ?? []) {
        const id = entry.reviewer && 'id' in entry.reviewer ? entry.reviewer.id : undefined;
        if ((entry.type === 'User' || entry.type === 'Team') && typeof id === 'number') {
          protection.reviewers.push({ type: entry.type, id });
        }
      }
    }
  }
  return protection;
}

/** Rewrites the environment's protection, sending every setting it read so none is dropped on the way. */
async function writeEnvironment(
  octokit: GitHubOctokit,
  repository: RepositoryRef,
  environment: string,
  protection: EnvironmentProtection,
): Promise<void> {
  await octokit.rest.repos.createOrUpdateEnvironment({
    ...repoParams(repository),
    environment_name: environment,
    reviewers: protection.reviewers,
    deployment_branch_policy: protection.deploymentBranchPolicy,
    ...(protection.waitTimer !== undefined ? { wait_timer: protection.waitTimer } : {}),
    ...(protection.preventSelfReview !== undefined
      ? { prevent_self_review: protection.preventSelfReview }
      : {}),
  });
}

const reviewerKey = (reviewer: { type: string; id: number }) => `${reviewer.type}:${reviewer.id}`;

function parseReviewerKey(key: string): { type: 'User' | 'Team'; id: number } | undefined {
  const match = /^(User|Team):(\d+)$/.exec(key);
  return match ? { type: match[1] as 'User' | 'Team', id: Number(match[2]) } : undefined;
}

export function segmentActions(deps: GitHubDeps) {
  return {
    async disableActions(
      { repository }: Params<'disableActions'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      return withRepository(
        deps,
        ctx,
        'disableActions',
        repo,
        { administration: 'write' },
        async (octokit) => {
          const current = await readActionsSettings(octokit, repo);
          const before = beforeOf(deps, 'disableActions', ctx, previousSettingsSummary(current));
          if (current.enabled)
            await octokit.rest.actions.setGithubActionsPermissionsRepository({
              ...repoParams(repo),
              enabled: false,
            });
          ctx.log.info(
            { repository: repo.fullName, alreadyDisabled: !current.enabled },
            'GitHub Actions disabled',
          );
          return {
            summary: {
              repository: repo.fullName,
              ...before,
              enabled: false,
              alreadyDisabled: !current.enabled,
            },
          };
        },
      );
    },

    async restrictActions(
      { repository, allowed, githubOwnedAllowed }: Params<'restrictActions'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      return withRepository(
        deps,
        ctx,
        'restrictActions',
        repo,
        { administration: 'write' },
        async (octokit) => {
          const current = await readActionsSettings(octokit, repo);
          const before = beforeOf(deps, 'restrictActions', ctx, previousSettingsSummary(current));
          if (!current.enabled) {
            // Nothing runs at all: tightening the selection would only turn into loosening at recovery.
            return {
              summary: {
                repository: repo.fullName,
                ...before,
                actionsDisabled: true,
                alreadyRestricted: true,
              },
            };
          }
          const alreadyRestricted =
            current.allowedActions === 'selected' &&
            current.shaPinningRequired === true &&
            current.githubOwnedAllowed === githubOwnedAllowed &&
            current.verifiedAllowed === false &&
            sameMembers(current.patternsAllowed ?? [], allowed);
          if (!alreadyRestricted) {
            await octokit.rest.actions.setGithubActionsPermissionsRepository({
              ...repoParams(repo),
              enabled: true,
              allowed_actions: 'selected',
              sha_pinning_required: true,
            });
            await octokit.rest.actions.setAllowedActionsRepository({
              ...repoParams(repo),
              github_owned_allowed: githubOwnedAllowed,
              verified_allowed: false,
              patterns_allowed: allowed,
            });
          }
          ctx.log.info(
            { repository: repo.fullName, allowed: allowed.length, alreadyRestricted },
            'allowed actions restricted',
          );
          return {
            summary: {
              repository: repo.fullName,
              ...before,
              allowedActions: 'selected',
              patternsAllowed: allowed,
              alreadyRestricted,
            },
          };
        },
      );
    },

    async restoreActionsSettings(
      { repository }: Params<'restoreActionsSettings'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const previous = requireUndoSummary(ctx, 'restoreActionsSettings', 'previousEnabled');
      return withRepository(
        deps,
        ctx,
        'restoreActionsSettings',
        repo,
        { administration: 'write' },
        async (octokit) => {
          const enabled = previous.previousEnabled === true;
          const allowedActions = previous.previousAllowedActions;
          const shaPinning = previous.previousShaPinningRequired;
          await octokit.rest.actions.setGithubActionsPermissionsRepository({
            ...repoParams(repo),
            enabled,
            ...(enabled &&
            (allowedActions === 'all' || allowedActions === 'local_only' || allowedActions === 'selected')
              ? { allowed_actions: allowedActions }
              : {}),
            ...(enabled && typeof shaPinning === 'boolean' ? { sha_pinning_required: shaPinning } : {}),
          });
          if (enabled && allowedActions === 'selected') {
            await octokit.rest.actions.setAllowedActionsRepository({
              ...repoParams(repo),
              ...(typeof previous.previousGithubOwnedAllowed === 'boolean'
                ? { github_owned_allowed: previous.previousGithubOwnedAllowed }
                : {}),
              ...(typeof previous.previousVerifiedAllowed === 'boolean'
                ? { verified_allowed: previous.previousVerifiedAllowed }
                : {}),
              patterns_allowed: stringList(previous.previousPatternsAllowed),
            });
          }
          const restored = await readActionsSettings(octokit, repo);
          ctx.log.info({ repository: repo.fullName, enabled: restored.enabled }, 'Actions settings restored');
          return {
            summary: {
              repository: repo.fullName,
              enabled: restored.enabled,
              allowedActions: restored.allowedActions,
              shaPinningRequired: restored.shaPinningRequired,
              patternsAllowed: restored.patternsAllowed,
            },
          };
        },
      );
    },

    async deactivateWebhooks(
      { repository, hookIds }: Params<'deactivateWebhooks'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      return withRepository(
        deps,
        ctx,
        'deactivateWebhooks',
        repo,
        { repository_hooks: 'write' },
        async (octokit) => {
          const hooks = await octokit.paginate(octokit.rest.repos.listWebhooks, {
            ...repoParams(repo),
            per_page: 100,
          });
          const inScope = hooks.filter((hook) => !hookIds || hookIds.includes(hook.id));
          const before = beforeOf(deps, 'deactivateWebhooks', ctx, {
            activeHookIds: inScope.filter((hook) => hook.active).map((hook) => String(hook.id)),
          });
          const deactivated: string[] = [];
          for (const hook of inScope) {
            if (!hook.active) continue;
            // Only `active` is sent: a PATCH carrying `config` without the secret would erase the secret.
            await octokit.rest.repos.updateWebhook({ ...repoParams(repo), hook_id: hook.id, active: false });
            deactivated.push(String(hook.id));
          }
          const deactivatedHookIds = stringList(before.activeHookIds);
          ctx.log.info(
            { repository: repo.fullName, deactivated: deactivated.length },
            'webhooks deactivated',
          );
          return {
            summary: {
              repository: repo.fullName,
              deactivatedHookIds,
              alreadyInactiveHookIds: inScope
                .map((hook) => String(hook.id))
                .filter((id) => !deactivatedHookIds.includes(id)),
              missingHookIds: (hookIds ?? [])
                .filter((id) => !hooks.some((hook) => hook.id === id))
                .map(String),
            },
          };
        },
      );
    },

    async reactivateWebhooks(
      { repository, hookIds }: Params<'reactivateWebhooks'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const wanted =
        hookIds?.map(String) ??
        stringList(requireUndoSummary(ctx, 'reactivateWebhooks', 'deactivatedHookIds').deactivatedHookIds);
      return withRepository(
        deps,
        ctx,
        'reactivateWebhooks',
        repo,
        { repository_hooks: 'write' },
        async (octokit) => {
          const hooks = await octokit.paginate(octokit.rest.repos.listWebhooks, {
            ...repoParams(repo),
            per_page: 100,
          });
          const reactivated: string[] = [];
          const alreadyActive: string[] = [];
          for (const hook of hooks) {
            if (!wanted.includes(String(hook.id))) continue;
            if (hook.active) {
              alreadyActive.push(String(hook.id));
              continue;
            }
            await octokit.rest.repos.updateWebhook({ ...repoParams(repo), hook_id: hook.id, active: true });
            reactivated.push(String(hook.id));
          }
          const missing = wanted.filter((id) => !hooks.some((hook) => String(hook.id) === id));
          ctx.log.info(
            { repository: repo.fullName, reactivated: reactivated.length, missing: missing.length },
            'webhooks reactivated',
          );
          return {
            summary: {
              repository: repo.fullName,
              reactivatedHookIds: reactivated,
              alreadyActiveHookIds: alreadyActive,
              missingHookIds: missing,
            },
          };
        },
      );
    },

    async removeDeployKeys(
      { repository, keyIds }: Params<'removeDeployKeys'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      return withRepository(
        deps,
        ctx,
        'removeDeployKeys',
        repo,
        { administration: 'write' },
        async (octokit) => {
          const keys = await octokit.paginate(octokit.rest.repos.listDeployKeys, {
            ...repoParams(repo),
            per_page: 100,
          });
          const removed: string[] = [];
          const removedTitles: string[] = [];
          for (const key of keys) {
            if (keyIds && !keyIds.includes(key.id)) continue;
            try {
              await octokit.rest.repos.deleteDeployKey({ ...repoParams(repo), key_id: key.id });
            } catch (error) {
              if (statusOf(error) !== 404) throw error;
            }
            removed.push(String(key.id));
            removedTitles.push(key.title);
          }
          const alreadyRemoved = (keyIds ?? [])
            .filter((id) => !keys.some((key) => key.id === id))
            .map(String);
          ctx.log.info({ repository: repo.fullName, removed: removed.length }, 'deploy keys removed');
          return {
            summary: {
              repository: repo.fullName,
              removedKeyIds: removed,
              removedKeyTitles: removedTitles,
              alreadyRemovedKeyIds: alreadyRemoved,
              readWriteKeysRemoved: keys.filter((key) => removed.includes(String(key.id)) && !key.read_only)
                .length,
            },
          };
        },
      );
    },

    async removeRunners(
      { repository, runnerIds }: Params<'removeRunners'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      return withRepository(
        deps,
        ctx,
        'removeRunners',
        repo,
        { administration: 'write' },
        async (octokit) => {
          const runners = await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForRepo, {
            ...repoParams(repo),
            per_page: 100,
          });
          const removed: string[] = [];
          const removedNames: string[] = [];
          for (const runner of runners) {
            if (runnerIds && !runnerIds.includes(runner.id)) continue;
            try {
              await octokit.rest.actions.deleteSelfHostedRunnerFromRepo({
                ...repoParams(repo),
                runner_id: runner.id,
              });
            } catch (error) {
              if (statusOf(error) !== 404) throw error;
            }
            removed.push(String(runner.id));
            removedNames.push(runner.name);
          }
          const alreadyRemoved = (runnerIds ?? [])
            .filter((id) => !runners.some((runner) => runner.id === id))
            .map(String);
          ctx.log.info({ repository: repo.fullName, removed: removed.length }, 'self-hosted runners removed');
          return {
            summary: {
              repository: repo.fullName,
              removedRunnerIds: removed,
              removedRunnerNames: removedNames,
              busyWhenRemoved: runners.filter((runner) => removed.includes(String(runner.id)) && runner.busy)
                .length,
              alreadyRemovedRunnerIds: alreadyRemoved,
            },
          };
        },
      );
    },

    async requireEnvironmentReviewers(
      { repository, environment, reviewers }: Params<'requireEnvironmentReviewers'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const permissions = { administration: 'write', actions: 'read' } as const;
      return withRepository(deps, ctx, 'requireEnvironmentReviewers', repo, permissions, async (octokit) => {
        const current = await readEnvironment(octokit, repo, environment);
        const before = beforeOf(deps, 'requireEnvironmentReviewers', ctx, {
          previousReviewers: current.reviewers.map(reviewerKey),
        });
        const wanted = reviewers.map(reviewerKey);
        const alreadyRequired = sameMembers(current.reviewers.map(reviewerKey), wanted);
        // Replaced, not merged: any one reviewer can approve, so a reviewer kept from before could wave jobs through.
        if (!alreadyRequired) await writeEnvironment(octokit, repo, environment, { ...current, reviewers });
        ctx.log.info(
          { repository: repo.fullName, environment, reviewers: wanted.length, alreadyRequired },
          'environment reviewers required',
        );
        return {
          summary: { repository: repo.fullName, environment, ...before, reviewers: wanted, alreadyRequired },
        };
      });
    },

    async restoreEnvironmentReviewers(
      { repository, environment }: Params<'restoreEnvironmentReviewers'>,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const repo = parseRepository(repository);
      const previous = stringList(
        requireUndoSummary(ctx, 'restoreEnvironmentReviewers', 'previousReviewers').previousReviewers,
      );
      const reviewers = previous.map(parseReviewerKey).filter((reviewer) => reviewer !== undefined);
      const permissions = { administration: 'write', actions: 'read' } as const;
      return withRepository(deps, ctx, 'restoreEnvironmentReviewers', repo, permissions, async (octokit) => {
        const current = await readEnvironment(octokit, repo, environment);
        const alreadyRestored = sameMembers(current.reviewers.map(reviewerKey), reviewers.map(reviewerKey));
        if (!alreadyRestored) await writeEnvironment(octokit, repo, environment, { ...current, reviewers });
        ctx.log.info(
          { repository: repo.fullName, environment, alreadyRestored },
          'environment reviewers restored',
        );
        return {
          summary: {
            repository: repo.fullName,
            environment,
            reviewers: reviewers.map(reviewerKey),
            alreadyRestored,
          },
        };
      });
    },
  };
}
