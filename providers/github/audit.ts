import { Readable } from 'node:stream';
import type { z } from 'zod';
import type { githubCatalog } from './catalog';
import type { ActionContext, ActionResult } from '../types';
import { toProviderError, type GitHubOctokit, type Permissions } from './client';
import { parseRepository } from './refs';
import { statusOf, type GitHubDeps } from './shared';

type Params = z.infer<(typeof githubCatalog)['captureAuditLog']['params']>;

interface AuditEntry {
  action?: string;
  created_at?: number;
  '@timestamp'?: number;
  /** `workflows.prepared_workflow_job` lists the names of the secrets handed to the job. */
  secrets_passed?: unknown;
  [field: string]: unknown;
}

const AUDIT_ROUTE = 'GET /orgs/{org}/audit-log';

function auditPhrase(since?: string, until?: string, repository?: string): string | undefined {
  const terms: string[] = [];
  if (since && until) terms.push(`created:${since}..${until}`);
  else if (since) terms.push(`created:>=${since}`);
  else if (until) terms.push(`created:<=${until}`);
  if (repository) terms.push(`repo:${repository}`);
  return terms.length > 0 ? terms.join(' ') : undefined;
}

function secretNames(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : [];
}

/**
 * Streams the organization audit log of the window into the vault as NDJSON, page by page. The REST audit log is
 * a GitHub Enterprise Cloud feature: elsewhere the endpoint answers 404 and the step reports it as unavailable.
 */
export function auditActions(deps: GitHubDeps) {
  return {
    async captureAuditLog(
      { organization, since, until, repository }: Params,
      ctx: ActionContext,
    ): Promise<ActionResult> {
      if (repository) parseRepository(repository);
      const permissions: Permissions = { organization_administration: 'read' };
      const octokit: GitHubOctokit = await deps.clients.forOrganization(ctx, permissions, 'captureAuditLog');
      const phrase = auditPhrase(since, until, repository);
      const pages = octokit.paginate
        .iterator(AUDIT_ROUTE, {
          org: organization,
          include: 'all',
          order: 'asc',
          per_page: 100,
          ...(phrase ? { phrase } : {}),
        })
        [Symbol.asyncIterator]();

      // The first page is fetched before the vault is involved, so "not available" leaves no empty artifact behind.
      let first: IteratorResult<{ data: unknown }>;
      try {
        first = await pages.next();
      } catch (error) {
        if (statusOf(error) === 404) {
          ctx.log.warn({ organization }, 'organization audit log not available through the REST API');
          return {
            summary: {
              organization,
              available: false,
              reason: 'audit log REST API not available (GitHub Enterprise Cloud only)',
            },
          };
        }
        throw toProviderError(error, 'captureAuditLog', permissions);
      }

      let entries = 0;
      let preparedJobs = 0;
      const secretsPassed = new Set<string>();
      async function* ndjson(): AsyncGenerator<string> {
        let page = first;
        while (!page.done) {
          for (const entry of page.value.data as AuditEntry[]) {
            entries += 1;
            if (entry.action === 'workflows.prepared_workflow_job') {
              preparedJobs += 1;
              for (const name of secretNames(entry.secrets_passed)) secretsPassed.add(name);
            }
            yield `${JSON.stringify(entry)}\n`;
          }
          ctx.heartbeat({ auditEntries: entries });
          page = await pages.next();
        }
      }

      let artifact;
      try {
        artifact = await ctx.evidence.preserve({
          incidentId: ctx.incidentId,
          stepId: ctx.stepId,
          source: 'github',
          name: `${organization}/audit-log${since || until ? `/${since ?? ''}..${until ?? ''}` : ''}.ndjson`,
          contentType: 'application/x-ndjson',
          content: Readable.from(ndjson()),
        });
      } catch (error) {
        throw toProviderError(error, 'captureAuditLog', permissions);
      }
      ctx.log.info({ organization, entries, preparedJobs }, 'audit log preserved');
      return {
        summary: {
          organization,
          available: true,
          entries,
          preparedWorkflowJobs: preparedJobs,
          secretsPassed: [...secretsPassed].sort(),
          artifactId: artifact.artifactId,
          sha256: artifact.sha256,
        },
      };
    },
  };
}
