import { ApplicationFailure } from '@temporalio/activity';
import type { IncidentActivities } from './types';
import type { ProviderRegistry } from '../providers/registry';
import { rerunRefusal } from '../lib/runbook/for-each';
import { startRefusal } from '../lib/runbook/start-check';
import type { Runbook } from '../lib/runbook/types';
import { RunbookRefusedError, type RunbookCatalog } from '../runbooks/catalog';

/**
 * `openIncident`: what the worker believes about a start, from its own configuration only. A refusal fails the
 * incident at once (`IncidentRefused`, not retried: no retry makes a start signed or a runbook trusted).
 */
export function createOpeningActivities(deps: {
  runbooks: RunbookCatalog;
  /** The gateway keys this worker trusts (`trustedGatewayKeys`). */
  gatewayKeys: () => string[];
  /** The owners file's own keys by name: an owner may sign a start with theirs (`incident start --key`). */
  ownerKeys: () => Record<string, string>;
  /** The worker's providers: an incident keeps the mode it opened with. */
  registry: Pick<ProviderRegistry, 'mode' | 'unconfigured'>;
}): Pick<IncidentActivities, 'openIncident'> {
  const refuse = (message: string) => ApplicationFailure.nonRetryable(message, 'IncidentRefused');
  return {
    openIncident({ input, startedAt }) {
      const gatewayKeys = deps.gatewayKeys();
      const unsigned = startRefusal(input, { gatewayKeys, ownerKeys: deps.ownerKeys }, Date.parse(startedAt));
      if (unsigned) return Promise.reject(refuse(unsigned));
      const rerun = (runbook: Runbook) =>
        input.rerun ? rerunRefusal(runbook.steps, input.rerun.items) : undefined;
      if (input.exercise && input.runbook) {
        const refusal = rerun(input.runbook);
        return refusal ? Promise.reject(refuse(refusal)) : Promise.resolve({ gatewayKeys });
      }
      if (input.runbook) {
        return Promise.reject(
          refuse(
            'runbook: a real incident names its runbook (runbookRef); the worker reads it from its own catalog, never from the start',
          ),
        );
      }
      if (!input.runbookRef) {
        return Promise.reject(refuse('runbookRef: required (the id of a runbook in the worker catalog)'));
      }
      try {
        const { mode } = deps.registry;
        const trusted = deps.runbooks.load(input.runbookRef);
        const refusal = rerun(trusted.runbook);
        if (refusal) return Promise.reject(refuse(refusal));
        return Promise.resolve({
          ...trusted,
          gatewayKeys,
          mode,
          ...(mode === 'live' ? { unconfigured: deps.registry.unconfigured() } : {}),
        });
      } catch (error) {
        if (error instanceof RunbookRefusedError) return Promise.reject(refuse(error.message));
        throw error;
      }
    },
  };
}
