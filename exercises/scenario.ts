import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { genericAlertSchema } from '../gateway/siem/adapters/generic';
import { parseDuration } from '../lib/runbook/duration';
import { ITEM_KEY_PATTERN } from '../lib/runbook/for-each';
import type { OwnersFile } from '../lib/owners';
import { MAX_FOR_EACH_ITEMS, type Runbook } from '../lib/runbook/types';
import { formatPath, type RunbookIssue } from '../lib/runbook/validate';
import { MILESTONE_IDS } from '../reports/milestones';

/** `90s`, `7m`, `+7m`, `4h` → milliseconds of scenario time. */
const scenarioDuration = z
  .string()
  .regex(/^\+?\d+(\.\d+)?(ms|s|m|h|d)$/, 'expected a duration such as 90s, +7m or 4h')
  .transform((text) => parseDuration(text.replace(/^\+/, ''))!);

const personName = z.string().regex(/^[a-z][\w.-]{0,63}$/, 'expected a lower-case name such as priya');
const roleName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case role name');

/**
 * The alert as a SIEM would send it, in the gateway's generic shape. A scenario never holds a secret: the
 * generic shape's `secret` and `secretFingerprint` are refused, and `observedAt` defaults to the moment it fires.
 */
export const scenarioAlertSchema = genericAlertSchema
  .omit({ secret: true, secretFingerprint: true, observedAt: true })
  .extend({ observedAt: z.iso.datetime({ offset: true }).optional() });
export type ScenarioAlert = z.output<typeof scenarioAlertSchema>;

const fault = {
  failAttempts: z.number().int().min(1).max(20).optional(),
  nonRetryable: z.boolean().optional(),
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  message: z.string().min(1).max(300).optional(),
};

const STEP_ID = /^[a-z][\w-]*$/;
const STEP_OR_ACTION = /^[a-z][\w-]*(\.[a-zA-Z]\w*)?(\/undo)?$/;

/** What a provider-failure's `target` (a fault key of the simulated provider) names. */
export type FaultTarget =
  | { kind: 'step'; stepId: string; undo: boolean }
  | { kind: 'action'; action: string }
  | { kind: 'item'; stepId: string; item: string };

export function splitFaultTarget(target: string): FaultTarget | undefined {
  if (STEP_OR_ACTION.test(target)) {
    const undo = target.endsWith('/undo');
    const base = undo ? target.slice(0, -'/undo'.length) : target;
    return base.includes('.') ? { kind: 'action', action: base } : { kind: 'step', stepId: base, undo };
  }
  const slash = target.indexOf('/');
  const stepId = target.slice(0, slash);
  const item = target.slice(slash + 1);
  if (slash > 0 && STEP_ID.test(stepId) && ITEM_KEY_PATTERN.test(item)) return { kind: 'item', stepId, item };
  return undefined;
}

export const injectSchema = z.discriminatedUnion('type', [
  /** A fact the responders learn at that time ("the token was used from a new IP", "Slack is down"). */
  z.strictObject({ type: z.literal('note'), at: scenarioDuration, text: z.string().min(1).max(500) }),
  /** A further alert about the same secret, from another detector: joins the incident as the gateway would. */
  z.strictObject({ type: z.literal('alert'), at: scenarioDuration, alert: scenarioAlertSchema }),
  /**
   * A provider failing when the named step (or `provider.action`) runs; armed from the start, because the
   * simulated provider reads its faults from the incident input. `note` is shown when the exercise opens.
   */
  z.strictObject({
    type: z.literal('provider-failure'),
    target: z
      .string()
      .max(300)
      .refine(
        (target) => splitFaultTarget(target) !== undefined,
        'expected a step id, <step>/undo, <step>/<item key> (one item of a forEach step) or provider.action',
      ),
    ...fault,
    note: z.string().min(1).max(500).optional(),
  }),
]);
export type Inject = z.output<typeof injectSchema>;

const script = z.strictObject({
  /** `none`: the owner never answers (on leave, asleep, unreachable). Required unless the role is `live`. */
  respond: z.enum(['approve', 'deny', 'none']).optional(),
  /** Scenario time from the moment the request reaches this role (the request, or its escalation). */
  after: scenarioDuration.default(60_000),
  reason: z.string().min(1).max(500).optional(),
});

const responderSchema = script
  .extend({
    /**
     * Real people answer: the role's Slack users and out-of-band keys from the production owners file. Every
     * message goes to Slack tagged [EXERCISE]; their clicks reach the incident through the gateway.
     */
    live: z.boolean().default(false),
    /** The role's people; each gets an ed25519 key generated for this exercise. Default: `<role>-1`, `<role>-2`. */
    people: z.array(personName).min(1).max(10).optional(),
    /** Escalation target; default: the backup of the role in the owners file. */
    backup: roleName.optional(),
    /** Per-step overrides of respond / after / reason. */
    steps: z.record(z.string().min(1), script).default({}),
  })
  .strict();
export type ResponderScript = z.output<typeof responderSchema>;

const providerRef = z.string().regex(/^[a-z][\w-]*:.+$/, 'expected <provider>:<reference>');

const itemKey = z
  .string()
  .regex(ITEM_KEY_PATTERN, 'expected an item key (letters, digits and . _ : @ / -, at most 200)');

/**
 * What one list of a simulated discovery action holds: the keys themselves, or every inventory credential's `id` or
 * `identifiers.n8nCredentialId` (`{ fromInventory: n8nCredentialId }`), so a platform of 50 credentials is written once.
 */
export const platformListSchema = z.union([
  z.array(itemKey).max(MAX_FOR_EACH_ITEMS),
  z.strictObject({ fromInventory: z.enum(['id', 'n8nCredentialId']) }),
]);
export type PlatformList = z.output<typeof platformListSchema>;

/** `provider.action` → its summary lists (`credentials`) → what they hold. */
const platformSchema = z.record(
  z.string().regex(/^[a-z][\w-]*\.[a-zA-Z]\w*$/, 'expected provider.action, e.g. n8n.listCredentials'),
  z.record(
    z.string().regex(/^[A-Za-z]\w*$/, 'expected the name of a list, e.g. credentials'),
    platformListSchema,
  ),
);

export const scenarioSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9-]{1,62}$/, 'expected a lower-case id such as tj-actions-2025'),
    title: z.string().min(1).max(200),
    description: z.string().max(4000).optional(),
    /** Where the story comes from (advisory, CVE, post-mortem). */
    references: z.array(z.string().min(1).max(500)).default([]),
    /** Runbook id or YAML file; the production runbook by default. */
    runbook: z.string().min(1).default('leaked-workflow-secret'),
    alert: scenarioAlertSchema,
    /**
     * A credential inventory (YAML, as runbooks/inventory.yaml; relative to the scenario file) the exercise's own
     * worker resolves `forEach` items against: their owners, issuers and consumers. Absent: no inventory.
     */
    inventory: z
      .string()
      .min(1)
      .regex(/\.ya?ml$/i, 'expected the path of a .yaml or .yml file, relative to the scenario')
      .optional(),
    /** What the platform holds: the lists simulated discovery actions answer (`n8n.listCredentials`). */
    platform: platformSchema.default({}),
    incident: z
      .strictObject({
        credential: providerRef.optional(),
        destinations: z.array(providerRef).default([]),
        requester: z.string().min(1).max(200).optional(),
        hint: z.string().max(200).optional(),
      })
      .default({ destinations: [] }),
    clock: z.strictObject({
      /** Human-facing durations (approval deadlines, escalations, responders, injects) run this many times faster. */
      speed: z.number().min(1).max(100_000),
      /** The longest the scenario may run (scenario time); the incident is cancelled after it. */
      duration: scenarioDuration,
    }),
    injects: z.array(injectSchema).default([]),
    responders: z.record(roleName, responderSchema),
    /** Targets per milestone, scenario time from the incident opening. Missing ones use the defaults. */
    sla: z.partialRecord(z.enum(MILESTONE_IDS), scenarioDuration).default({}),
  })
  .superRefine((scenario, ctx) => {
    scenario.injects.forEach((inject, index) => {
      if (inject.type !== 'provider-failure' && inject.at > scenario.clock.duration) {
        ctx.addIssue({
          code: 'custom',
          path: ['injects', index, 'at'],
          message: 'after the end of the scenario (clock.duration)',
        });
      }
    });
    for (const [role, responder] of Object.entries(scenario.responders)) {
      const scripts: [PropertyKey[], z.output<typeof script>][] = [
        [['responders', role], responder],
        ...Object.entries(responder.steps).map(
          ([step, override]): [PropertyKey[], z.output<typeof script>] => [
            ['responders', role, 'steps', step],
            override,
          ],
        ),
      ];
      if (responder.live) {
        for (const field of ['respond', 'reason', 'people'] as const) {
          if (responder[field] !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['responders', role, field],
              message: 'a live role is answered by real people: remove the script',
            });
          }
        }
        if (Object.keys(responder.steps).length > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['responders', role, 'steps'],
            message: 'a live role is answered by real people: remove the script',
          });
        }
        continue;
      }
      for (const [path, entry] of scripts) {
        if (path.length === 2 && entry.respond === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'respond'],
            message: 'expected approve, deny or none (or `live: true` for real people)',
          });
        }
        if (entry.respond === 'deny' && !entry.reason) {
          ctx.addIssue({ code: 'custom', path: [...path, 'reason'], message: 'a denial needs a reason' });
        }
      }
      if (responder.backup && !scenario.responders[responder.backup]) {
        ctx.addIssue({
          code: 'custom',
          path: ['responders', role, 'backup'],
          message: `no responders for role "${responder.backup}"`,
        });
      }
    }
  });

export type Scenario = z.output<typeof scenarioSchema>;

export type ScenarioResult =
  | { ok: true; scenario: Scenario; file: string; sha256: string }
  | { ok: false; file: string; issues: RunbookIssue[] };

function issuesOf(error: z.ZodError): RunbookIssue[] {
  return error.issues.map((issue) => {
    const path = [...issue.path];
    // An unknown key is reported on its parent; name the key itself.
    if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
    return { path: formatPath(path) || '(scenario)', message: issue.message };
  });
}

/** A scenario is shared and committed: refuse one that carries a secret (or its fingerprint) outright. */
function secretFields(raw: unknown): RunbookIssue[] {
  if (!raw || typeof raw !== 'object') return [];
  const scenario = raw as { alert?: unknown; injects?: unknown };
  const alerts: [string, unknown][] = [['alert', scenario.alert]];
  if (Array.isArray(scenario.injects)) {
    scenario.injects.forEach((inject: unknown, index) => {
      if (inject && typeof inject === 'object')
        alerts.push([`injects[${index}].alert`, (inject as { alert?: unknown }).alert]);
    });
  }
  const issues: RunbookIssue[] = [];
  for (const [path, alert] of alerts) {
    if (!alert || typeof alert !== 'object') continue;
    for (const field of ['secret', 'secretFingerprint']) {
      if (field in alert) {
        issues.push({
          path: `${path}.${field}`,
          message: 'a scenario never holds a secret or its fingerprint: remove it',
        });
      }
    }
  }
  return issues;
}

export function parseScenario(raw: unknown, file = '(scenario)', sha256 = ''): ScenarioResult {
  const secrets = secretFields(raw);
  if (secrets.length > 0) return { ok: false, file, issues: secrets };
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, file, issues: issuesOf(parsed.error) };
  return { ok: true, scenario: parsed.data, file, sha256 };
}

export function loadScenarioFile(file: string): ScenarioResult {
  let text: string;
  let raw: unknown;
  try {
    text = readFileSync(file, 'utf8');
    raw = parse(text);
  } catch (error) {
    const message =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `not valid YAML: ${(error as Error).message.split('\n')[0]}`;
    return { ok: false, file, issues: [{ path: '(file)', message }] };
  }
  return parseScenario(raw, file, createHash('sha256').update(text).digest('hex'));
}

/** The escalation chain the exercise uses: the scenario's `backup`, else the owners file's. */
export function backupOf(
  scenario: Scenario,
  role: string,
  ownersBackups: Record<string, string>,
): string | undefined {
  const backup = scenario.responders[role]?.backup ?? ownersBackups[role];
  return backup && scenario.responders[backup] ? backup : undefined;
}

/** The roles real people answer for in this exercise. */
export function liveRoles(scenario: Scenario): string[] {
  return Object.entries(scenario.responders)
    .filter(([, responder]) => responder.live)
    .map(([role]) => role);
}

/**
 * Checks a valid scenario against its runbook: every role that will be asked (step owners, escalation
 * targets) has scripted or live responders, a live role has people in the production owners file, step
 * overrides and fault targets name real steps.
 */
export function checkScenarioAgainstRunbook(
  scenario: Scenario,
  runbook: Runbook,
  ownersBackups: Record<string, string>,
  productionOwners?: OwnersFile,
): RunbookIssue[] {
  const issues: RunbookIssue[] = [];
  for (const role of liveRoles(scenario)) {
    const members = productionOwners?.roles[role];
    if (
      !members ||
      members.slack.users.length + members.slack.usergroups.length + members.outOfBand.length === 0
    ) {
      issues.push({
        path: `responders.${role}.live`,
        message: `the owners file has no people for role "${role}" (Slack users, user groups or out-of-band keys)`,
      });
    }
  }
  const stepIds = new Set(runbook.steps.map((step) => step.id));
  const asked = new Map<string, string>();
  for (const step of runbook.steps) {
    if (step.approval.policy === 'none') continue;
    if (!asked.has(step.owner)) asked.set(step.owner, `owner of step "${step.id}"`);
    const escalation = step.approval.escalateTo ?? backupOf(scenario, step.owner, ownersBackups);
    if (escalation && !asked.has(escalation)) asked.set(escalation, `escalation target of step "${step.id}"`);
  }
  for (const [role, why] of asked) {
    if (!scenario.responders[role]) {
      issues.push({ path: `responders.${role}`, message: `missing: the role is asked to approve (${why})` });
    }
  }
  for (const [role, responder] of Object.entries(scenario.responders)) {
    for (const step of Object.keys(responder.steps)) {
      if (!stepIds.has(step)) {
        issues.push({
          path: `responders.${role}.steps.${step}`,
          message: `runbook "${runbook.id}" has no step "${step}"`,
        });
      }
    }
  }
  scenario.injects.forEach((inject, index) => {
    if (inject.type !== 'provider-failure') return;
    const target = splitFaultTarget(inject.target);
    if (!target || target.kind === 'action') return;
    const path = `injects[${index}].target`;
    const step = runbook.steps.find((candidate) => candidate.id === target.stepId);
    if (!step) {
      issues.push({ path, message: `runbook "${runbook.id}" has no step "${target.stepId}"` });
    } else if (target.kind === 'item' && !step.forEach) {
      issues.push({
        path,
        message: `step "${step.id}" has no forEach: only one item of a forEach step can be a target`,
      });
    }
  });
  return issues;
}
