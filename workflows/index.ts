// The worker bundles this file: it exports the workflow functions and nothing else.
export { incidentWorkflow } from './incident';
