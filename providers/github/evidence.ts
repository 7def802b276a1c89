import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ProviderError, type ActionContext, type PreservedArtifact } from '../types';
import type { GitHubOctokit } from './client';
import { statusOf } from './shared';

export interface LogDownload {
  /** A route answered with a 302 to a short-lived URL, e.g. `GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs`. */
  route: string;
  params: Record<string, string | number>;
  /** Artifact name in the vault. */
  name: string;
  fallbackContentType: string;
}

const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

/**
 * Copies one log from GitHub into the evidence vault. The API answers with a redirect to a URL that is valid for
 * about a minute, so the URL is fetched as soon as it is known, and the body is streamed into the vault rather
 * than held in memory (run logs can be large). The short-lived URL carries its own authorisation; the API token is
 * not sent there.
 *
 * Returns undefined when GitHub has no log to give (never produced, or already deleted).
 */
export async function preserveRedirectedLog(
  octokit: GitHubOctokit,
  ctx: ActionContext,
  download: LogDownload,
  timeoutMs = DEFAULT_DOWNLOAD_TIMEOUT_MS,
): Promise<PreservedArtifact | undefined> {
  let location: string | undefined;
  try {
    const response = await octokit.request(download.route, {
      ...download.params,
      request: { redirect: 'manual' },
    });
    location = response.headers.location;
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || status === 410) return undefined;
    throw error;
  }
  if (!location) {
    throw new ProviderError(
      `GitHub gave no download location for ${download.name}`,
      true,
      'GitHubUnavailable',
    );
  }

  const response = await fetch(location, {
    redirect: 'follow',
    signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
  });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    // The URL expired or the storage hiccupped: a new attempt asks GitHub for a fresh URL.
    throw new ProviderError(
      `downloading ${download.name} from its short-lived URL failed with ${response.status}`,
      true,
      'GitHubLogDownloadFailed',
    );
  }
  const content = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  try {
    return await ctx.evidence.preserve({
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      source: 'github',
      name: download.name,
      contentType: response.headers.get('content-type') ?? download.fallbackContentType,
      content,
    });
  } finally {
    content.destroy();
  }
}
