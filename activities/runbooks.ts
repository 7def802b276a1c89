import { ApplicationFailure } from '@temporalio/activity';
import type { IncidentActivities } from './types';
import { RunbookRefusedError, type RunbookCatalog } from '../runbooks/catalog';

/** `loadRunbook`: a runbook the catalog refuses fails the start at once (no retry can make it trusted). */
export function createRunbookActivities(catalog: RunbookCatalog): Pick<IncidentActivities, 'loadRunbook'> {
  return {
    loadRunbook(ref) {
      try {
        return Promise.resolve(catalog.load(ref));
      } catch (error) {
        if (error instanceof RunbookRefusedError) {
          throw ApplicationFailure.nonRetryable(error.message, 'RunbookRefused');
        }
        throw error;
      }
    },
  };
}
