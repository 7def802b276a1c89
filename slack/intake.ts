import type { types } from '@slack/bolt';
import { z } from 'zod';
import { scrubSecrets } from '../lib/scrub';
import { fingerprintSecret } from '../lib/fingerprint';
import { incidentRequestSchema } from '../client';
import { SEVERITIES } from '../lib/runbook/types';
import { decodeJson, SECRET_LEAK_VIEW } from './binding';
import type { Block } from './messages';

/**
 * The `/secret-leak` modal (also opened by the "Contain leaked secret" message shortcut): what leaked, where
 * it was seen, which connector holds it, how bad it is. The leaked value itself is never asked for: when a
 * message carries it, only its keyed fingerprint and a redacted hint travel on, in the modal's metadata.
 */

export const SECRET_KINDS = [
  { value: 'github-token', text: 'GitHub token' },
  { value: 'github-app-key', text: 'GitHub App private key' },
  { value: 'aws-access-key', text: 'AWS access key' },
  { value: 'cloud-credential', text: 'Other cloud credential' },
  { value: 'database-password', text: 'Database password' },
  { value: 'api-key', text: 'API key / token' },
  { value: 'slack-token', text: 'Slack token or webhook' },
  { value: 'n8n-api-key', text: 'n8n API key' },
  { value: 'private-key', text: 'Private key' },
  { value: 'other', text: 'Other secret' },
] as const;

/** Block ids of the modal, named after the incident request fields they feed. */
export const FIELD_BLOCKS = {
  secretKind: 'secret_kind',
  severity: 'severity',
  connector: 'connector',
  credential: 'credential',
  whereSeen: 'where_seen',
  notes: 'notes',
} as const;

const FIELD_LABELS: Record<string, string> = {
  secret_kind: 'Secret kind',
  severity: 'Severity',
  connector: 'Connector',
  credential: 'Credential',
  where_seen: 'Where seen',
  notes: 'Notes',
};

const INPUT_ACTION = 'value';
const slackChannel = z.string().regex(/^[CGDU][A-Z0-9]{2,}$/, 'expected a Slack channel id');

/** What the modal carries between opening and submission: where to answer, and what the message told us. */
export const intakeMetadataSchema = z
  .object({
    channel: slackChannel,
    fingerprint: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    hint: z.string().max(200).optional(),
    kind: z.string().max(64).optional(),
  })
  .strict();
export type IntakeMetadata = z.infer<typeof intakeMetadataSchema>;

/** Finder kinds (gateway/siem/scrub) → the modal's secret kinds. */
function modalKind(findingKind: string): string {
  if (findingKind.startsWith('github')) return 'github-token';
  if (findingKind.startsWith('aws')) return 'aws-access-key';
  if (findingKind.startsWith('slack')) return 'slack-token';
  if (findingKind === 'n8n_api_key') return 'n8n-api-key';
  if (findingKind === 'private_key') return 'private-key';
  if (findingKind === 'password' || findingKind === 'connection_string_password') return 'database-password';
  return 'api-key';
}

/**
 * Fingerprints the secret in a text (a reported message): the strongest token the scrubber recognises, so the
 * incident joins detector alerts about the same value; the whole text when no token format matches. The text
 * is not kept: only the fingerprint and a redacted hint (kind, length, last 4) come back.
 */
export function fingerprintText(
  key: Buffer,
  text: string,
): Pick<IntakeMetadata, 'fingerprint' | 'hint' | 'kind'> {
  const [finding] = scrubSecrets(text, key).findings;
  if (finding) {
    const last4 = finding.hint.last4 ? `, ending …${finding.hint.last4}` : '';
    return {
      fingerprint: finding.fingerprint,
      kind: modalKind(finding.kind),
      hint: `${finding.kind}, ${finding.hint.length} chars${last4}, reported from a Slack message`.slice(
        0,
        200,
      ),
    };
  }
  return {
    fingerprint: fingerprintSecret(key, text),
    hint: 'reported from a Slack message (no known token format: the whole message was fingerprinted)',
  };
}

const option = (value: string, text: string) => ({ text: { type: 'plain_text', text }, value });

function input(
  blockId: string,
  label: string,
  element: Record<string, unknown>,
  extra: { optional?: boolean; hint?: string } = {},
): Block {
  return {
    type: 'input',
    block_id: blockId,
    label: { type: 'plain_text', text: label },
    element: { action_id: INPUT_ACTION, ...element },
    ...(extra.optional ? { optional: true } : {}),
    ...(extra.hint ? { hint: { type: 'plain_text', text: extra.hint } } : {}),
  };
}

const textInput = (placeholder: string, multiline = false) => ({
  type: 'plain_text_input',
  placeholder: { type: 'plain_text', text: placeholder },
  ...(multiline ? { multiline: true, max_length: 1000 } : { max_length: 500 }),
});

export function secretLeakModal(metadata: IntakeMetadata): types.ModalView {
  const kinds = SECRET_KINDS.map((kind) => option(kind.value, kind.text));
  const initialKind = kinds.find((candidate) => candidate.value === metadata.kind);
  const severities = SEVERITIES.map((severity) => option(severity, severity));
  const fromMessage = metadata.fingerprint
    ? [
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: `:lock: The secret was fingerprinted and dropped: ${metadata.hint ?? 'fingerprint only'}.`,
            },
          ],
        },
      ]
    : [];
  return {
    type: 'modal',
    callback_id: SECRET_LEAK_VIEW,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Secret leak' },
    submit: { type: 'plain_text', text: 'Start containment' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: '*Never paste the secret itself.* Describe it; Tourniquet disables the connector at once and asks the owners for the rest.',
        },
      },
      ...fromMessage,
      input(FIELD_BLOCKS.secretKind, 'What leaked', {
        type: 'static_select',
        options: kinds,
        ...(initialKind ? { initial_option: initialKind } : {}),
      }),
      input(
        FIELD_BLOCKS.connector,
        'Connector holding it',
        textInput('github:acme/app/.github/workflows/deploy.yml'),
        {
          hint: '<provider>:<reference>, e.g. github:acme/app/.github/workflows/deploy.yml or n8n:workflow-id',
        },
      ),
      input(FIELD_BLOCKS.severity, 'Severity', {
        type: 'static_select',
        options: severities,
        initial_option: option('high', 'high'),
      }),
      input(FIELD_BLOCKS.credential, 'Credential at its issuer', textInput('postgres:app_user'), {
        optional: true,
        hint: '<issuer>:<reference>; leave empty when the connector is the issuer',
      }),
      input(
        FIELD_BLOCKS.whereSeen,
        'Where it was seen (URL)',
        textInput('https://github.com/acme/app/actions/runs/42'),
        {
          optional: true,
        },
      ),
      input(FIELD_BLOCKS.notes, 'Notes', textInput('What happened, who noticed, anything unusual', true), {
        optional: true,
      }),
    ],
  };
}

const stateValueSchema = z
  .object({
    type: z.string(),
    value: z.string().nullish(),
    selected_option: z.object({ value: z.string() }).passthrough().nullish(),
  })
  .passthrough();
const stateSchema = z.record(z.string(), z.record(z.string(), stateValueSchema));

export type IntakeResult =
  | {
      ok: true;
      request: z.output<typeof incidentRequestSchema>;
      whereSeen?: string;
      notes?: string;
    }
  | { ok: false; errors: Record<string, string> };

function fieldError(blockId: string, message: string): string {
  return `${FIELD_LABELS[blockId] ?? blockId}: ${message}`;
}

function containsSecret(key: Buffer, text: string): boolean {
  return scrubSecrets(text, key).findings.length > 0;
}

/** `https://host/path` of a URL: no credentials, no query or fragment (tokens hide there). */
function safeUrl(key: Buffer, text: string): { ok: true; url: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, error: 'expected an http(s) URL, e.g. https://github.com/acme/app/actions/runs/42' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, error: 'expected an http(s) URL' };
  }
  if (url.username || url.password) {
    return { ok: false, error: 'the URL carries credentials: remove them (and rotate them too)' };
  }
  const bare = `${url.origin}${url.pathname}`;
  if (containsSecret(key, bare)) {
    return {
      ok: false,
      error: 'the URL looks like it contains a secret value; give the page, not the secret',
    };
  }
  return { ok: true, url: bare };
}

/** Validates a submitted modal; every error is keyed by the block that shows it and names the field. */
export function parseIntake(
  key: Buffer,
  userId: string,
  rawValues: unknown,
  metadata: IntakeMetadata,
): IntakeResult {
  const parsedState = stateSchema.safeParse(rawValues);
  if (!parsedState.success) {
    return { ok: false, errors: { [FIELD_BLOCKS.secretKind]: 'Secret kind: the form could not be read' } };
  }
  const values = parsedState.data;
  const read = (blockId: string): string | undefined => {
    const entry = values[blockId]?.[INPUT_ACTION];
    const value = entry?.selected_option?.value ?? entry?.value ?? undefined;
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const errors: Record<string, string> = {};
  let whereSeen: string | undefined;
  const where = read(FIELD_BLOCKS.whereSeen);
  if (where) {
    const checked = safeUrl(key, where);
    if (checked.ok) whereSeen = checked.url;
    else errors[FIELD_BLOCKS.whereSeen] = fieldError(FIELD_BLOCKS.whereSeen, checked.error);
  }
  const notes = read(FIELD_BLOCKS.notes);
  if (notes && containsSecret(key, notes)) {
    errors[FIELD_BLOCKS.notes] = fieldError(
      FIELD_BLOCKS.notes,
      'looks like it contains a secret value; describe it instead (kind, where), never paste it',
    );
  }
  for (const [blockId, text] of [
    [FIELD_BLOCKS.connector, read(FIELD_BLOCKS.connector)],
    [FIELD_BLOCKS.credential, read(FIELD_BLOCKS.credential)],
  ] as const) {
    if (text && containsSecret(key, text)) {
      errors[blockId] = fieldError(
        blockId,
        'looks like it contains a secret value; give a reference, not the secret',
      );
    }
  }

  for (const blockId of [FIELD_BLOCKS.secretKind, FIELD_BLOCKS.connector, FIELD_BLOCKS.severity]) {
    if (!read(blockId)) errors[blockId] = fieldError(blockId, 'required');
  }

  const request = incidentRequestSchema.safeParse({
    secretKind: read(FIELD_BLOCKS.secretKind),
    connector: read(FIELD_BLOCKS.connector),
    ...(read(FIELD_BLOCKS.credential) ? { credential: read(FIELD_BLOCKS.credential) } : {}),
    severity: read(FIELD_BLOCKS.severity),
    requester: `slack:${userId}`,
    source: 'slack',
    ...(metadata.fingerprint ? { secretFingerprint: metadata.fingerprint } : {}),
    hint: metadata.hint ?? '',
  });
  if (!request.success) {
    for (const issue of request.error.issues) {
      const field = String(issue.path[0] ?? '');
      const blockId =
        (FIELD_BLOCKS as Record<string, string>)[field] ??
        // Metadata fields are ours, not the user's: show them where the user can act (what leaked).
        FIELD_BLOCKS.secretKind;
      errors[blockId] ??= fieldError(blockId, issue.message);
    }
  }
  if (Object.keys(errors).length > 0 || !request.success) return { ok: false, errors };
  return {
    ok: true,
    request: request.data,
    ...(whereSeen ? { whereSeen } : {}),
    ...(notes ? { notes } : {}),
  };
}

export const decodeIntakeMetadata = (text: string | undefined) =>
  decodeJson(intakeMetadataSchema, text, 'private_metadata');
