import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the server at start: `client/` hands this list to the dev-server launcher and docker-compose names it. */
export const INCIDENT_KEY = defineSearchAttributeKey('TourniquetIncidentKey', SearchAttributeType.KEYWORD);
export const SEVERITY = defineSearchAttributeKey('TourniquetSeverity', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('TourniquetPhase', SearchAttributeType.KEYWORD);
export const STATE = defineSearchAttributeKey('TourniquetState', SearchAttributeType.KEYWORD);
export const RUNBOOK = defineSearchAttributeKey('TourniquetRunbook', SearchAttributeType.KEYWORD);
export const EXERCISE = defineSearchAttributeKey('TourniquetExercise', SearchAttributeType.BOOL);

export const SEARCH_ATTRIBUTES = [INCIDENT_KEY, SEVERITY, PHASE, STATE, RUNBOOK, EXERCISE];
