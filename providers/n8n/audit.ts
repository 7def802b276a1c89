import { Readable } from 'node:stream';
import { ProviderError, type ActionContext, type ActionResult } from '../types';
import type { N8nClient } from './client';
import type { AUDIT_CATEGORIES } from './catalog';
import { N8N } from './refs';

const MAX_AUDIT_BYTES = 32 * 1024 * 1024;

type Report = Record<string, { risk?: unknown; sections?: unknown[] } | undefined>;

/**
 * n8n's own security audit (`POST /audit`): unused credentials, SQL built from expressions, nodes that reach the
 * filesystem or run code, community nodes, unprotected webhooks, the instance's security settings. The answer is
 * preserved verbatim; the summary says which reports came back and how many findings each has.
 */
export function auditActions(client: N8nClient) {
  return {
    async audit(
      params: { categories?: (typeof AUDIT_CATEGORIES)[number][]; daysAbandonedWorkflow?: number },
      ctx: ActionContext,
    ): Promise<ActionResult> {
      const additionalOptions = {
        ...(params.categories ? { categories: params.categories } : {}),
        ...(params.daysAbandonedWorkflow !== undefined
          ? { daysAbandonedWorkflow: params.daysAbandonedWorkflow }
          : {}),
      };
      const response = await client.send(ctx, 'POST', '/audit', { body: { additionalOptions } });
      // Small (a few findings per risk): read whole, so that the summary can count what the vault keeps.
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_AUDIT_BYTES) {
          response.body.destroy();
          throw new ProviderError(
            `n8n: POST /api/v1/audit: the answer exceeds ${MAX_AUDIT_BYTES} bytes`,
            false,
            'N8nBadAnswer',
          );
        }
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      let report: Report;
      try {
        const parsed = JSON.parse(body.toString('utf8')) as unknown;
        // An instance with nothing to report answers an empty list.
        report =
          parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Report) : {};
      } catch {
        throw new ProviderError('n8n: POST /api/v1/audit: the answer is not JSON', false, 'N8nBadAnswer');
      }
      const artifact = await ctx.evidence.preserve({
        incidentId: ctx.incidentId,
        stepId: ctx.stepId,
        source: N8N,
        name: 'n8n/security-audit.json',
        contentType: 'application/json',
        content: Readable.from([body]),
      });
      const reports = Object.keys(report).sort();
      const findings = reports.map((name) => {
        const sections = report[name]?.sections;
        return `${name}: ${Array.isArray(sections) ? sections.length : 0}`;
      });
      ctx.log.info({ reports: reports.length, ...artifact }, 'n8n security audit preserved');
      return {
        summary: {
          reports,
          sectionsPerReport: findings,
          artifactId: artifact.artifactId,
          sha256: artifact.sha256,
          bytes: artifact.bytes,
          note:
            reports.length === 0
              ? 'the audit found nothing to report'
              : `the audit returned ${reports.length} reports; preserved as ${artifact.artifactId}`,
        },
      };
    },
  };
}
