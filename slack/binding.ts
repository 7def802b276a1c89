import { z } from 'zod';

/** Action ids of the buttons on an approval request, and the callback ids of the modals. */
export const APPROVE_ACTION = 'tourniquet_approve';
export const DENY_ACTION = 'tourniquet_deny';
export const DENY_VIEW = 'tourniquet_deny_reason';
export const SECRET_LEAK_VIEW = 'secret_leak';
export const SECRET_LEAK_COMMAND = '/secret-leak';
export const CONTAIN_SHORTCUT = 'contain_leaked_secret';
/** The select on the prompt that asks the incident commander which credential an unresolved secret is. */
export const NAME_CREDENTIAL_ACTION = 'tourniquet_name_credential';
const CREDENTIAL_BLOCK_PREFIX = 'credential:';

/** The ids and timestamps Slack payloads carry, as Slack writes them. */
export const slackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/, 'expected a Slack id');
export const slackTs = z.string().regex(/^\d+\.\d+$/, 'expected a Slack timestamp');

/**
 * What an Approve / Deny button carries: exactly the action it approves. No secret: the nonce only names the
 * request (the workflow's validator checks it), the hash names the parameters.
 */
export const approvalBindingSchema = z
  .object({
    incidentId: z.string().regex(/^[A-Za-z0-9][\w.-]{0,199}$/, 'expected an incident id'),
    stepId: z.string().regex(/^[a-z][a-z0-9-]{0,99}$/, 'expected a step id'),
    nonce: z.string().regex(/^[\w-]{8,100}$/, 'expected a request nonce'),
    paramsHash: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-hex parameter hash'),
  })
  .strict();
export type ApprovalBinding = z.infer<typeof approvalBindingSchema>;

export function encodeBinding(binding: ApprovalBinding): string {
  return JSON.stringify({
    incidentId: binding.incidentId,
    stepId: binding.stepId,
    nonce: binding.nonce,
    paramsHash: binding.paramsHash,
  });
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses JSON text with a schema; the error names the field, never echoes the input. */
export function decodeJson<T>(schema: z.ZodType<T>, text: string | undefined, what: string): Decoded<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    return { ok: false, error: `${what}: not JSON` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `${what}.${issue.path.join('.') || '(value)'}: ${issue.message}` };
}

export const decodeBinding = (value: string | undefined): Decoded<ApprovalBinding> =>
  decodeJson(approvalBindingSchema, value, 'button value');

/** The prompt's actions block names its incident: the select's value is only the credential id. */
export function credentialBlockId(incidentId: string): string {
  return `${CREDENTIAL_BLOCK_PREFIX}${incidentId}`;
}

export const credentialSelectionSchema = z
  .object({
    incidentId: approvalBindingSchema.shape.incidentId,
    credentialId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected an inventory credential id'),
  })
  .strict();
export type CredentialSelection = z.infer<typeof credentialSelectionSchema>;

/** The incident (from the block id) and the credential (the chosen option) of a choice on the prompt. */
export function decodeCredentialSelection(
  blockId: string | undefined,
  value: string | undefined,
): Decoded<CredentialSelection> {
  const incidentId = blockId?.startsWith(CREDENTIAL_BLOCK_PREFIX)
    ? blockId.slice(CREDENTIAL_BLOCK_PREFIX.length)
    : undefined;
  const parsed = credentialSelectionSchema.safeParse({ incidentId, credentialId: value });
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `credential choice.${issue.path.join('.')}: ${issue.message}` };
}
