export { incidentWorkflow, statusQuery, decideStepUpdate } from './incident';
