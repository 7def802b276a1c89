import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { z } from 'zod';
import { ProviderError, type ActionContext } from '../types';
import { createAppJwtSigner } from './app-jwt';
import type { GitHubProviderOptions } from './options';
import type { RepositoryRef } from './refs';

/**
 * A cancelled call is not tried again: Octokit's retry plugin takes an aborted request for a server error and retries
 * it after 1, 4 and 9 s, which kept a cancelled step, and a worker shutting down, waiting 14 s for nothing. Registered
 * before `retry`, so its error hook sees the failure first.
 */
export function noRetryOnceAborted(octokit: Pick<Octokit, 'hook'>): void {
  octokit.hook.error('request', (error, options) => {
    const request = options.request as { signal?: AbortSignal; retries?: number } | undefined;
    if (request?.signal?.aborted) request.retries = 0;
    throw error;
  });
}

/** Retry is registered last so it wraps throttling: rate limits are sat out before the generic retry sees them. */
export const GitHubOctokit = Octokit.plugin(noRetryOnceAborted, throttling, retry);
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>;

export type PermissionLevel = 'read' | 'write';
/** GitHub App permission names, as in `POST /app/installations/{id}/access_tokens`. */
export type Permissions = Partial<
  Record<
    | 'actions'
    | 'administration'
    | 'contents'
    | 'environments'
    | 'metadata'
    | 'organization_administration'
    | 'repository_hooks'
    | 'secret_scanning_alerts'
    | 'secrets',
    PermissionLevel
  >
>;

export function describePermissions(permissions: Permissions): string {
  return Object.entries(permissions)
    .map(([name, level]) => `${name}=${level}`)
    .join(', ');
}

type WriteGroup = NonNullable<ThrottlingOptions['write']>;

/** Stands in for the plugin's write group when spacing is turned off: runs each job at once. */
const unspacedWrites = {
  key: () => ({
    schedule: <T>(_options: unknown, job: (...args: unknown[]) => T, ...args: unknown[]) =>
      Promise.resolve(job(...args)),
  }),
} as unknown as WriteGroup;

/** Statuses the generic retry leaves alone: they will not heal by retrying, or the throttle owns them (403/429). */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 429, 451];

const tokenAuthentication = z.object({ token: z.string().min(1) });

interface RequestErrorLike {
  status: number;
  message: string;
  request?: { method?: string; url?: string };
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

export function isRequestError(error: unknown): error is RequestErrorLike {
  return error instanceof Error && typeof (error as { status?: unknown }).status === 'number';
}

/** `GET /repos/acme/app/hooks` without the host or query: what a timeline may show about a request. */
function describeRequest(error: RequestErrorLike): string {
  const method = error.request?.method ?? 'request';
  const url = error.request?.url;
  if (!url) return method;
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return `${method} ${url.split('?')[0]}`;
  }
}

function gitHubMessage(error: RequestErrorLike): string {
  const data = error.response?.data;
  if (data && typeof data === 'object' && 'message' in data && typeof data.message === 'string')
    return data.message;
  return error.message.split(' - ')[0];
}

export function isRateLimitError(error: RequestErrorLike): boolean {
  if (error.status !== 403 && error.status !== 429) return false;
  return (
    error.response?.headers?.['x-ratelimit-remaining'] === '0' || /rate limit/i.test(gitHubMessage(error))
  );
}

/**
 * Turns whatever Octokit threw into a ProviderError that says what failed and whether retrying can help.
 * Messages carry the request line and GitHub's message, never headers or bodies.
 */
export function toProviderError(error: unknown, action: string, permissions?: Permissions): ProviderError {
  if (error instanceof ProviderError) return error;
  if (!isRequestError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new ProviderError(`github.${action}: ${message}`, true, 'GitHubUnavailable');
  }
  const request = describeRequest(error);
  const message = gitHubMessage(error);
  if (isRateLimitError(error)) {
    return new ProviderError(
      `github.${action}: still rate limited by GitHub on ${request} after waiting; retry later`,
      true,
      'GitHubRateLimited',
    );
  }
  switch (error.status) {
    case 401:
      return new ProviderError(
        `github.${action}: GitHub rejected the credentials on ${request} (${message})`,
        false,
        'GitHubUnauthorized',
      );
    case 403: {
      if (/suspended/i.test(message)) {
        return new ProviderError(
          `github.${action}: the GitHub App installation is suspended (${request})`,
          false,
          'GitHubInstallationRefused',
        );
      }
      const accepted = error.response?.headers?.['x-accepted-github-permissions'];
      const needed = accepted ?? (permissions ? describePermissions(permissions) : 'unknown');
      return new ProviderError(
        `github.${action}: missing permission ${needed} for ${request} (${message})`,
        false,
        'GitHubMissingPermission',
      );
    }
    case 404:
      return new ProviderError(
        `github.${action}: ${request} not found (it does not exist, or the credentials cannot see it)`,
        false,
        'GitHubNotFound',
      );
    case 409:
    case 410:
    case 422:
      return new ProviderError(
        `github.${action}: GitHub refused ${request} with ${error.status} (${message})`,
        false,
        'GitHubRefused',
      );
    default:
      return new ProviderError(
        `github.${action}: ${request} failed with ${error.status} (${message})`,
        error.status >= 500 || error.status === 408,
        'GitHubUnavailable',
      );
  }
}

/**
 * Builds Octokit clients for one action call: rate limits honoured (and reported through the action's logger),
 * cancellation wired to the activity's abort signal, and, with App auth, an installation token narrowed to the
 * one repository and the permissions the action needs.
 */
export class GitHubClients {
  private readonly appOctokit: GitHubOctokit | undefined;
  private readonly repositoryIds = new Map<string, number>();

  constructor(private readonly options: GitHubProviderOptions) {
    if ('appId' in options.auth) {
      const { appId, privateKey, installationId } = options.auth;
      this.appOctokit = new GitHubOctokit({
        ...this.commonOptions(undefined),
        authStrategy: createAppAuth,
        auth: { appId, installationId, createJwt: createAppJwtSigner(appId, privateKey) },
      });
    }
  }

  get installationId(): number | undefined {
    return 'installationId' in this.options.auth ? this.options.auth.installationId : undefined;
  }

  /** A client whose token reaches only `repository`, with only `permissions` (App auth). */
  async forRepository(
    ctx: ActionContext,
    repository: RepositoryRef,
    permissions: Permissions,
    action: string,
  ): Promise<GitHubOctokit> {
    if ('token' in this.options.auth) return this.build(ctx, this.options.auth.token);
    const repositoryId = await this.repositoryId(ctx, repository, action);
    const token = await this.installationToken({ repositoryIds: [repositoryId], permissions }, action);
    return this.build(ctx, token);
  }

  /** A client for organization-level endpoints: permissions narrowed, repositories not. */
  async forOrganization(
    ctx: ActionContext,
    permissions: Permissions,
    action: string,
  ): Promise<GitHubOctokit> {
    if ('token' in this.options.auth) return this.build(ctx, this.options.auth.token);
    return this.build(ctx, await this.installationToken({ permissions }, action));
  }

  /** A client authenticated as the App itself (JWT), for `/app/...` endpoints. */
  async asApp(ctx: ActionContext, action: string): Promise<GitHubOctokit> {
    if (!this.appOctokit) {
      throw new ProviderError(
        `github.${action}: needs GitHub App credentials (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID); a token cannot act as an App`,
        false,
        'GitHubAppRequired',
      );
    }
    try {
      const { token } = tokenAuthentication.parse(await this.appOctokit.auth({ type: 'app' }));
      return this.build(ctx, token);
    } catch (error) {
      throw toProviderError(error, action);
    }
  }

  /** No credentials at all: the credential revocation API refuses authenticated requests. */
  anonymous(ctx: ActionContext): GitHubOctokit {
    return this.build(ctx, undefined);
  }

  private async installationToken(
    request: { repositoryIds?: number[]; permissions: Permissions },
    action: string,
  ): Promise<string> {
    try {
      const authentication = await this.appOctokit!.auth({ type: 'installation', ...request });
      return tokenAuthentication.parse(authentication).token;
    } catch (error) {
      if (isRequestError(error) && error.status === 422) {
        throw new ProviderError(
          `github.${action}: the GitHub App installation was not granted ${describePermissions(request.permissions)} on the repositories this action needs (${gitHubMessage(error)})`,
          false,
          'GitHubMissingPermission',
        );
      }
      if (isRequestError(error) && error.status === 403 && !isRateLimitError(error)) {
        throw new ProviderError(
          `github.${action}: GitHub refused an installation token (${gitHubMessage(error)}); is the installation suspended?`,
          false,
          'GitHubInstallationRefused',
        );
      }
      throw toProviderError(error, action);
    }
  }

  /** Ids are what GitHub recommends narrowing tokens by (names can be reused after a rename); they never change. */
  private async repositoryId(ctx: ActionContext, repository: RepositoryRef, action: string): Promise<number> {
    const cached = this.repositoryIds.get(repository.fullName.toLowerCase());
    if (cached !== undefined) return cached;
    const metadataOnly = this.build(
      ctx,
      await this.installationToken({ permissions: { metadata: 'read' } }, action),
    );
    try {
      const { data } = await metadataOnly.rest.repos.get({ owner: repository.owner, repo: repository.repo });
      this.repositoryIds.set(repository.fullName.toLowerCase(), data.id);
      return data.id;
    } catch (error) {
      throw toProviderError(error, action, { metadata: 'read' });
    }
  }

  private build(ctx: ActionContext, token: string | undefined): GitHubOctokit {
    return new GitHubOctokit({ ...this.commonOptions(ctx), auth: token });
  }

  private commonOptions(ctx: ActionContext | undefined) {
    const throttle = this.options.throttle ?? {};
    const maxRetries = throttle.maxRateLimitRetries ?? 6;
    const maxRetryAfter = throttle.maxRetryAfterSeconds ?? 15 * 60;
    const onLimit =
      (limit: 'primary' | 'secondary') =>
      (
        retryAfter: number,
        request: { method: string; url: string },
        _octokit: unknown,
        retryCount: number,
      ) => {
        const fields = {
          limit,
          method: request.method,
          route: request.url,
          retryAfterSeconds: retryAfter,
          retryCount,
        };
        if (ctx?.signal.aborted) return false;
        if (retryCount >= maxRetries || retryAfter > maxRetryAfter) {
          ctx?.log.warn(fields, 'GitHub rate limit: giving the step back to be retried later');
          return false;
        }
        ctx?.log.warn(fields, 'GitHub rate limit: waiting as told before retrying');
        ctx?.heartbeat({ githubRateLimitedForSeconds: retryAfter });
        return true;
      };
    const quiet = () => undefined;
    return {
      baseUrl: this.options.baseUrl,
      userAgent: 'tourniquet-incident-response',
      headers: { 'x-github-api-version': '2022-11-28' },
      request: ctx ? { signal: ctx.signal } : {},
      log: {
        debug: quiet,
        info: quiet,
        warn: (message: string) => ctx?.log.warn({ source: 'octokit' }, message),
        error: (message: string) => ctx?.log.warn({ source: 'octokit' }, message),
      },
      throttle: {
        onRateLimit: onLimit('primary'),
        onSecondaryRateLimit: onLimit('secondary'),
        retryAfterBaseValue: throttle.retryAfterBaseValueMs ?? 1000,
        ...(throttle.writeSpacing === 'none' ? { write: unspacedWrites } : {}),
      },
      retry: {
        doNotRetry: DO_NOT_RETRY,
        retries: this.options.retry?.retries ?? 3,
        retryAfterBaseValue: this.options.retry?.retryAfterBaseValueMs ?? 1000,
      },
    };
  }
}
