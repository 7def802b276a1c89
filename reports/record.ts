import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MILESTONE_IDS } from './milestones';

/** Where an exercise keeps its keys, run record and reports: `<data dir>/exercises/<incident id>/`. */
export function exerciseDir(dataDir: string, incidentId: string): string {
  return join(dataDir, 'exercises', incidentId);
}

const decisionSchema = z.object({
  at: z.string(),
  stepId: z.string(),
  person: z.string(),
  role: z.string(),
  decision: z.enum(['approve', 'deny']),
  outcome: z.enum(['approved', 'recorded', 'denied', 'refused', 'error']),
  detail: z.string().optional(),
});
export type ScriptedDecision = z.infer<typeof decisionSchema>;

/** What the workflow timeline does not hold about an exercise: its script, injects and scripted decisions. */
export const exerciseRecordSchema = z.object({
  version: z.literal(1),
  incidentId: z.string(),
  scenario: z.object({
    id: z.string(),
    title: z.string(),
    file: z.string(),
    sha256: z.string(),
    references: z.array(z.string()),
  }),
  speed: z.number(),
  taskQueue: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Wall-clock milliseconds from the start of the incident to its close. */
  wallMs: z.number().optional(),
  outcome: z.enum(['running', 'closed', 'timed-out', 'aborted']),
  sla: z.partialRecord(z.enum(MILESTONE_IDS), z.number()),
  notes: z.array(
    z.object({
      at: z.string(),
      kind: z.enum(['note', 'alert', 'provider-failure', 'exercise']),
      text: z.string(),
    }),
  ),
  personas: z.array(z.object({ name: z.string(), roles: z.array(z.string()) })),
  /** Real people of the live roles: identity (`slack:U…`, `key:<name>`) → the roles they answered for. */
  live: z.record(z.string(), z.array(z.string())).default({}),
  decisions: z.array(decisionSchema),
  reports: z.object({ markdown: z.string(), html: z.string() }).optional(),
});
export type ExerciseRecord = z.infer<typeof exerciseRecordSchema>;

export function recordPath(dataDir: string, incidentId: string): string {
  return join(exerciseDir(dataDir, incidentId), 'record.json');
}

export function saveExerciseRecord(dataDir: string, record: ExerciseRecord): string {
  const path = recordPath(dataDir, record.incidentId);
  mkdirSync(exerciseDir(dataDir, record.incidentId), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

/** The record of an exercise run from this data dir, or undefined for a real incident (or another machine's). */
export function loadExerciseRecord(dataDir: string, incidentId: string): ExerciseRecord | undefined {
  let text: string;
  try {
    text = readFileSync(recordPath(dataDir, incidentId), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = exerciseRecordSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

/** Approver identity → roles, as the report wants it. */
export function personaRoles(record: Pick<ExerciseRecord, 'personas' | 'live'>): Record<string, string[]> {
  return {
    ...record.live,
    ...Object.fromEntries(record.personas.map((persona) => [`key:${persona.name}`, persona.roles])),
  };
}
