/**
 * The one way to talk to an incident. The CLI, the gateway, Slack, exercises and reports start, signal, update
 * and query incidents only through these functions; none of them imports `workflows/`.
 */
export * from './approvals';
export * from './commands';
export * from './incidents';
export * from './rerun';
export type { ApprovalRefusal, CredentialChoice, IncidentCancel, IncidentNote } from '../workflows/messages';
export { SEARCH_ATTRIBUTES as INCIDENT_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
/** Each search attribute by name (`incidentAttributes.STATE`), for readers of a listing or a description. */
export * as incidentAttributes from '../workflows/search-attributes';
