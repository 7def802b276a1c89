import type { types } from '@slack/bolt';
import { z } from 'zod';
import { scrubSecrets } from '../lib/scrub';
import { approvalBindingSchema, decodeJson, DENY_VIEW, slackId, slackTs } from './binding';
import { escapeMrkdwn } from './messages';

/**
 * The modal a Deny button opens: a deny must say why. It carries the clicked binding and where the request
 * message is; the reason, like every field a person types, must not hold a secret value.
 */

export const DENY_REASON_BLOCK = 'reason';
const DENY_REASON_ACTION = 'value';
const MAX_REASON_LENGTH = 500;

const denyMetadataSchema = z
  .object({
    binding: approvalBindingSchema,
    channel: slackId,
    /** The request message the Deny button was on: the gateway vouches for the decision on it. */
    messageTs: slackTs,
    threadTs: slackTs.optional(),
  })
  .strict();
export type DenyMetadata = z.infer<typeof denyMetadataSchema>;

export const decodeDenyMetadata = (text: string | undefined) =>
  decodeJson(denyMetadataSchema, text, 'private_metadata');

export function denyModal(metadata: DenyMetadata): types.ModalView {
  return {
    type: 'modal',
    callback_id: DENY_VIEW,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Deny this step' },
    submit: { type: 'plain_text', text: 'Deny' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Deny step \`${escapeMrkdwn(metadata.binding.stepId)}\` of \`${escapeMrkdwn(metadata.binding.incidentId)}\`? It will not run; the incident's runbook decides what happens next.`,
        },
      },
      {
        type: 'input',
        block_id: DENY_REASON_BLOCK,
        label: { type: 'plain_text', text: 'Reason' },
        element: {
          type: 'plain_text_input',
          action_id: DENY_REASON_ACTION,
          multiline: true,
          max_length: MAX_REASON_LENGTH,
        },
      },
    ],
  };
}

/** The submitted reason, trimmed, or the error the modal shows under it. */
export function readDenyReason(
  key: Buffer,
  values: unknown,
): { ok: true; reason: string } | { ok: false; error: string } {
  const parsed = z
    .record(z.string(), z.record(z.string(), z.object({ value: z.string().nullish() }).passthrough()))
    .safeParse(values);
  const reason = (
    parsed.success ? parsed.data[DENY_REASON_BLOCK]?.[DENY_REASON_ACTION]?.value : undefined
  )?.trim();
  if (!reason) return { ok: false, error: 'Reason: required' };
  if (reason.length > MAX_REASON_LENGTH) return { ok: false, error: 'Reason: at most 500 characters' };
  if (scrubSecrets(reason, key).findings.length > 0) {
    return { ok: false, error: 'Reason: looks like it contains a secret value; describe it instead' };
  }
  return { ok: true, reason };
}
