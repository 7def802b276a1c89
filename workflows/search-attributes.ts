import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the server at start (see lib/temporal/dev-server.ts); keep the two lists in step. */
export const INCIDENT_KEY = defineSearchAttributeKey('TourniquetIncidentKey', SearchAttributeType.KEYWORD);
export const SEVERITY = defineSearchAttributeKey('TourniquetSeverity', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('TourniquetPhase', SearchAttributeType.KEYWORD);
export const STATE = defineSearchAttributeKey('TourniquetState', SearchAttributeType.KEYWORD);
export const RUNBOOK = defineSearchAttributeKey('TourniquetRunbook', SearchAttributeType.KEYWORD);
export const EXERCISE = defineSearchAttributeKey('TourniquetExercise', SearchAttributeType.BOOL);

export const SEARCH_ATTRIBUTES = [INCIDENT_KEY, SEVERITY, PHASE, STATE, RUNBOOK, EXERCISE];
