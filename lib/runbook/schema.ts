import { z } from 'zod';
import { DURATION_PATTERN } from './duration';
import { APPROVAL_POLICIES, ON_FAILURE, PHASES, SEVERITIES, type ParamValue } from './types';

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
