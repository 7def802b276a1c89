import { z } from 'zod';
import { DURATION_PATTERN } from './duration';
import { ITEM_KEY_PATTERN, LIST_TEMPLATE } from './for-each';
import {
  APPROVAL_POLICIES,
  FOR_EACH_APPROVALS,
  MAX_FOR_EACH_ITEMS,
  ON_FAILURE,
  ON_ITEM_FAILURE,
  PHASES,
  SEVERITIES,
  type ParamValue,
} from './types';

const duration = z.string().regex(DURATION_PATTERN, 'expected a duration such as 500ms, 30s, 5m or 1h');

const paramValue: z.ZodType<ParamValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(paramValue),
    z.record(z.string(), paramValue),
  ]),
);

const actionName = z.string().regex(/^[a-z][\w-]*\.[A-Za-z]\w*$/, 'expected provider.action');

export const retrySchema = z
  .object({
    maximumAttempts: z.number().int().min(1).max(100).default(5),
    initialInterval: duration.default('1s'),
    backoffCoefficient: z.number().min(1).max(10).default(2),
    maximumInterval: duration.default('30s'),
  })
  .strict();

const itemKey = z
  .string()
  .regex(ITEM_KEY_PATTERN, 'expected an item key: letters, digits and . _ : @ / - (at most 200)');

const inventoryQuery = z
  .strictObject({
    consumer: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a system name such as n8n'),
    issuer: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a system name such as aws-iam'),
    kind: z.string().min(1),
    owner: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected an owner role'),
  })
  .partial()
  .refine((query) => Object.keys(query).length > 0, 'name at least one of consumer, issuer, kind, owner');

/** Where the items come from: an earlier step's list, literal keys, or the inventory. */
const forEachItems = z.union(
  [
    z
      .string()
      .regex(
        LIST_TEMPLATE,
        'expected a list output of an earlier step, {{steps.<step id>.<list>}}, literal keys, or { inventory: {...} }',
      ),
    z
      .array(itemKey)
      .min(1, 'a literal list needs at least one item')
      .max(MAX_FOR_EACH_ITEMS, `at most ${MAX_FOR_EACH_ITEMS} items`)
      .refine((keys) => new Set(keys).size === keys.length, 'the same item is listed twice'),
    z.strictObject({ inventory: inventoryQuery }),
  ],
  {
    error:
      'expected {{steps.<step id>.<list>}}, a list of item keys, or { inventory: { consumer, issuer, kind, owner } }',
  },
);

export const forEachSchema = z.preprocess(
  // `forEach: '{{steps.discover.credentials}}'` is short for `forEach: { items: ... }`.
  (raw) => (typeof raw === 'string' || Array.isArray(raw) ? { items: raw } : raw),
  z.strictObject({
    items: forEachItems,
    concurrency: z.number().int().min(1).max(100).default(10),
    approval: z.enum(FOR_EACH_APPROVALS).default('per-owner-batch'),
    onItemFailure: z.enum(ON_ITEM_FAILURE).default('continue'),
  }),
);

export const stepSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
    title: z.string().min(1),
    phase: z.enum(PHASES),
    action: actionName,
    params: z.record(z.string(), paramValue).default({}),
    after: z.array(z.string()).default([]),
    owner: z.string().min(1),
    approval: z
      .object({
        policy: z.enum(APPROVAL_POLICIES).default('none'),
        deadline: duration.default('15m'),
        escalateTo: z.string().min(1).optional(),
        breakGlass: z
          .object({ atOrAbove: z.enum(SEVERITIES) })
          .strict()
          .optional(),
        separationOfDuties: z.boolean().optional(),
      })
      .strict()
      .default({ policy: 'none', deadline: '15m' }),
    reversible: z.boolean(),
    timeout: duration.default('30s'),
    retry: retrySchema.default({
      maximumAttempts: 5,
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
    }),
    onFailure: z.enum(ON_FAILURE).default('halt'),
    compensate: z
      .object({ action: actionName, params: z.record(z.string(), paramValue).optional() })
      .strict()
      .optional(),
    when: z.record(z.string(), z.string()).optional(),
    undoes: z.string().optional(),
    preapproved: z
      .string()
      .trim()
      .min(1, 'preapproved needs a reason')
      .max(200, 'preapproved: at most 200 characters')
      .optional(),
    forEach: forEachSchema.optional(),
  })
  .strict();

export const runbookSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
    title: z.string().min(1),
    description: z.string().optional(),
    steps: z.array(stepSchema).min(1, 'a runbook needs at least one step'),
  })
  .strict();
