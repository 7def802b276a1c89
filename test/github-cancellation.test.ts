import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubOctokit } from '../providers/github/client';

/** A GitHub stand-in that takes every request and never answers, as a hung API does. */
async function hungServer(): Promise<{ server: Server; url: string }> {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('a cancelled GitHub call', () => {
  it('is not retried once its step is cancelled', async () => {
    const { server, url } = await hungServer();
    const controller = new AbortController();
    let attempts = 0;
    const octokit = new GitHubOctokit({
      baseUrl: url,
      request: {
        signal: controller.signal,
        fetch: (input: string | URL | Request, init?: RequestInit) => {
          attempts += 1;
          return fetch(input, init);
        },
      },
      retry: { retries: 3, retryAfterBaseValue: 10 },
      throttle: { enabled: false },
    });
    try {
      const call = octokit.rest.repos.get({ owner: 'acme', repo: 'app' });
      setTimeout(() => controller.abort(), 50);
      await expect(call).rejects.toThrow();
      expect(attempts).toBe(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
