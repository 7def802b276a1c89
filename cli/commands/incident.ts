import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { z } from 'zod';
import type { Command } from 'commander';
import { gatewaySigningKey } from '../../lib/gateway-key';
import { fingerprintKeyOf } from '../../lib/keys';
import { findRunbook, formatIssues } from '../../runbooks';
import { runbookSha256 } from '../../lib/runbook/canonical';
import { itemCountsText } from '../../lib/runbook/for-each';
import { SEVERITIES, type IncidentStatus, type Runbook } from '../../lib/runbook/types';
import { formatPath } from '../../lib/runbook/validate';
import { holdsSecret, scrubSecrets } from '../../lib/scrub';
import { awsAccessKeyId, credentialId, formatInventoryIssues, loadInventory } from '../../lib/inventory';
import { PROVIDER_DIRECTORY } from '../../providers';
import {
  addIncidentNote,
  buildIncidentInput,
  cancelIncident,
  CommandRefusedError,
  credentialChoiceFor,
  CredentialChoiceError,
  credentialChoiceSchema,
  incidentCancelSchema,
  incidentNoteSchema,
  incidentRequestSchema,
  incidentStatus,
  listIncidents,
  rerunInput,
  RerunRefusedError,
  resolveCredential,
  startIncident,
  waitForIncident,
} from '../../client';
import { CredentialResolver, withInventoryCredential } from '../../client/credentials';
import { CliError } from '../errors';
import { withClient } from '../temporal';

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reference flags name where a secret lives, never the secret itself. One that holds a secret value is refused
 * before anything else reads it (a validation message could quote it) and before anything connects, as the Slack
 * modal refuses it; the message names the flag, never the value.
 */
function refuseSecretReferences(options: Record<string, unknown>): void {
  const references = {
    '--connector': options.connector,
    '--credential': options.credential,
    '--destination': options.destination,
  };
  for (const [flag, value] of Object.entries(references)) {
    if ([value].flat().some((item) => typeof item === 'string' && holdsSecret(item))) {
      throw new CliError(
        `${flag}: looks like it contains a secret value; give a reference, not the secret`,
        2,
      );
    }
  }
}

/** A forEach step's items by state: ` [12 items: 11 succeeded, 1 failed]`. */
function itemCounts(step: IncidentStatus['steps'][number]): string {
  return step.items ? ` [${itemCountsText(step.items)}]` : '';
}

function printStatus(status: IncidentStatus): void {
  const lines = [
    `${status.demo ? '[SIMULATED] ' : ''}${status.incidentId}  ${status.state}  severity ${status.severity}  phase ${status.phase}  runbook ${status.runbookId}`,
    ...(status.demo
      ? ['  demo mode: steps marked SIMULATED ran against a simulation and changed nothing']
      : []),
    ...(status.refusal ? [`  refused by the worker, no step ran: ${status.refusal}`] : []),
    ...status.steps.map((step) =>
      `  ${step.state.padEnd(17)} ${step.id.padEnd(28)} ${step.phase.padEnd(19)} ${step.provider?.startsWith('simulated:') ? 'SIMULATED ' : ''}${step.error ?? step.reason ?? ''}${itemCounts(step)}`.trimEnd(),
    ),
    ...status.approvals.map(
      (request) =>
        `  awaiting approval: ${request.stepId} by ${request.roles.join(' or ')} (${request.policy}, ${request.approvals.length}/${request.required}) ` +
        `${request.action} on ${request.target}, params ${request.paramsHash.slice(0, 12)}…, until ${request.expiresAt}` +
        `  -> tourniquet approve ${status.incidentId} ${request.stepId} --key <your key>`,
    ),
    ...(status.flags.includes('credential-unresolved')
      ? [
          `  credential unresolved: the steps on it wait  -> tourniquet incident resolve-credential ${status.incidentId} <credential-id>`,
        ]
      : []),
    ...(status.flags.length > 0 ? [`  flags: ${status.flags.join(', ')}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerIncidentCommands(program: Command): void {
  const incident = program.command('incident').description('start, inspect and cancel incidents');

  incident
    .command('start')
    .description('start containment for a leaked secret')
    .requiredOption('--runbook <id>', 'runbook id or YAML file', 'leaked-workflow-secret')
    .requiredOption(
      '--secret-kind <kind>',
      'what leaked, e.g. github-token, aws-access-key, database-password',
    )
    .requiredOption(
      '--connector <provider:ref>',
      'the connector holding the secret, e.g. github:acme/app/deploy.yml',
    )
    .requiredOption('--severity <level>', SEVERITIES.join(' | '))
    .option('--credential <issuer:ref>', 'the credential at its issuer, e.g. postgres:app_user')
    .option(
      '--destination <provider:target...>',
      'where the replacement credential goes, e.g. github:acme/app:DB_PASSWORD',
    )
    .option(
      '--secret-fingerprint <hex>',
      'the keyed fingerprint of the leaked value, when a detector gave one',
    )
    .option('--exercise', 'tabletop exercise: route every action to the simulated provider')
    .option(
      '--key <file>',
      "sign the start with your own key from the owners file (you become the requester, key:<name>); without it, the data dir's gateway key signs for your user",
    )
    .option('--as <name>', 'the name your key has in the owners file (default: the key file name)')
    .option('--wait', 'wait until the incident closes')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, unknown>) => {
      refuseSecretReferences(options);
      const ownKey = options.key === undefined ? undefined : ownStartKey(options.key, options.as);
      const request = incidentRequestSchema.safeParse({
        ...(ownKey ? { requester: `key:${ownKey.name}` } : {}),
        secretKind: options.secretKind,
        connector: options.connector,
        credential: options.credential,
        destinations: options.destination,
        severity: options.severity,
        secretFingerprint: options.secretFingerprint,
        exercise: options.exercise === true,
      });
      if (!request.success) {
        const issue = request.error.issues[0];
        // `destinations[0]` is the first `--destination`: the flag is singular and repeated.
        const flag = `--${formatPath(issue.path)
          .replace(/\[\d+\]$/, '')
          .replace(/^destinations$/, 'destination')
          .replace(/([A-Z])/g, '-$1')
          .toLowerCase()}`;
        throw new CliError(`${flag}: ${issue.message}`, 2);
      }
      const found = findRunbook(String(options.runbook), process.env.TOURNIQUET_RUNBOOKS_DIR);
      if (!found.ok) throw new CliError(formatIssues(found).join('\n'), 2);
      if (!request.data.exercise) refuseRunbookOutsideCatalog(found.runbook, found.file);

      await withClient(async (client, config) => {
        const key = fingerprintKeyOf(config);
        const inventory = loadInventory(undefined, { providers: PROVIDER_DIRECTORY });
        if (!inventory.ok) throw new CliError(formatInventoryIssues(inventory).join('\n'), 2);
        const withCredential = withInventoryCredential(
          request.data,
          new CredentialResolver(inventory.inventory, config.dataDir),
        );
        const input = buildIncidentInput(found.runbook, withCredential, key);
        // Without --key, the local channel: whoever runs the CLI with this data dir speaks through the gateway's key.
        const started = await startIncident(
          client,
          config.TEMPORAL_TASK_QUEUE,
          input,
          ownKey ?? gatewaySigningKey(config),
        );
        const status = options.wait ? await waitForIncident(client, started.incidentId) : undefined;
        if (options.json) {
          printJson({
            incidentId: started.incidentId,
            created: started.created,
            runbook: found.runbook.id,
            ...(status ? { state: status.state } : {}),
          });
        } else {
          process.stdout.write(
            `${started.created ? 'Started' : 'Joined existing'} incident ${started.incidentId} (runbook ${found.runbook.id})\n`,
          );
          if (status) printStatus(status);
        }
      });
    });

  incident
    .command('status <incidentId>')
    .description('show an incident and its steps')
    .option('--json', 'print JSON')
    .action(async (incidentId: string, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const status = await incidentStatus(client, incidentId).catch((error: Error) => {
          throw new CliError(`incident ${incidentId}: ${error.message}`);
        });
        if (options.json) printJson(status);
        else printStatus(status);
      });
    });

  incident
    .command('list')
    .description('list incidents, newest first')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withClient(async (client) => {
        const incidents = await listIncidents(client);
        if (options.json) return printJson(incidents);
        for (const item of incidents) {
          process.stdout.write(
            `${item.incidentId}  ${item.state.padEnd(17)} ${item.severity.padEnd(8)} ${item.phase.padEnd(19)} ${item.runbook}  ${item.startedAt}\n`,
          );
        }
      });
    });

  incident
    .command('note <incidentId> <text...>')
    .description(
      'add a note to the incident timeline and thread as yourself (secrets in it are redacted first)',
    )
    .action(async (incidentId: string, words: string[]) => {
      const request = incidentNoteSchema.safeParse({
        incidentId,
        text: words.join(' '),
        author: userInfo().username,
      });
      if (!request.success) {
        const issue = request.error.issues[0];
        const field = { incidentId: '<incidentId>', text: '<text>', author: 'your user name' }[
          String(issue.path[0])
        ];
        throw new CliError(`${field ?? formatPath(issue.path)}: ${issue.message}`, 2);
      }
      await withClient(async (client, config) => {
        const keys = { fingerprintKey: fingerprintKeyOf(config), gatewayKey: gatewaySigningKey(config) };
        const added = await addIncidentNote(client, request.data, keys).catch(commandFailed(incidentId));
        if (added.redacted.length > 0) {
          process.stderr.write(
            `Redacted what looked like a secret (${added.redacted.join(', ')}): the note never holds it.\n`,
          );
        }
        process.stdout.write(`Note added to ${incidentId}: ${added.text}\n`);
      });
    });

  incident
    .command('cancel <incidentId>')
    .description('stop an incident as yourself; steps already done stay done')
    .option('--reason <text>', 'why, for the timeline and the report')
    .action(async (incidentId: string, options: { reason?: string }) => {
      const request = incidentCancelSchema.safeParse({ incidentId, reason: options.reason });
      if (!request.success) {
        const issue = request.error.issues[0];
        const field = { incidentId: '<incidentId>', reason: '--reason' }[String(issue.path[0])];
        throw new CliError(`${field ?? formatPath(issue.path)}: ${issue.message}`, 2);
      }
      await withClient(async (client, config) => {
        const { incidentId: id, reason } = request.data;
        const scrubbed = reason ? String(scrubSecrets(reason, fingerprintKeyOf(config)).redacted) : undefined;
        const cancel = { actor: `cli:${userInfo().username}`, ...(scrubbed ? { reason: scrubbed } : {}) };
        await cancelIncident(client, id, cancel, gatewaySigningKey(config)).catch(commandFailed(id));
        process.stdout.write(`Cancelled ${id}: steps already done stay done\n`);
      });
    });

  incident
    .command('rerun <incidentId>')
    .description(
      'run a failed incident again for the forEach items that failed, and only those (owners approve them again)',
    )
    .option('--wait', 'wait until the rerun closes')
    .option('--json', 'print JSON')
    .action(async (incidentId: string, options: { wait?: boolean; json?: boolean }) => {
      const id = incidentNoteSchema.shape.incidentId.safeParse(incidentId);
      if (!id.success) throw new CliError(`<incidentId>: ${id.error.issues[0].message}`, 2);
      await withClient(async (client, config) => {
        const input = await rerunInput(client, id.data).catch((error: Error) => {
          throw new CliError(
            error instanceof RerunRefusedError ? error.message : `incident ${id.data}: ${error.message}`,
          );
        });
        const started = await startIncident(
          client,
          config.TEMPORAL_TASK_QUEUE,
          input,
          gatewaySigningKey(config),
        );
        const retried = Object.entries(input.rerun!.items).map(([step, keys]) => ({ step, items: keys }));
        const status = options.wait ? await waitForIncident(client, started.incidentId) : undefined;
        if (options.json) {
          printJson({
            incidentId: started.incidentId,
            rerun: retried,
            ...(status ? { state: status.state } : {}),
          });
          return;
        }
        const what = retried.map(
          ({ step, items }) => `${step}: ${items.length} item${items.length === 1 ? '' : 's'}`,
        );
        process.stdout.write(
          `Rerunning ${started.incidentId} for the items that failed (${what.join('; ')})\n`,
        );
        if (status) printStatus(status);
      });
    });

  registerResolveCredential(incident);
}

/** `tourniquet incident resolve-credential`: the incident, the inventory credential, and optionally why and which key. */
const resolveCredentialSchema = z
  .object({
    incidentId: incidentNoteSchema.shape.incidentId,
    credentialId,
    reason: incidentCancelSchema.shape.reason,
    awsAccessKeyId: awsAccessKeyId.optional(),
    author: incidentNoteSchema.shape.author,
  })
  .strict();

/**
 * Names the credential of an incident whose secret the inventory could not resolve, from this machine's inventory:
 * the issuer (narrowed to the leaked AWS key when given) and the consumers, signed with the gateway key as the
 * local user, as `incident note` is. Everything is checked before anything connects.
 */
function registerResolveCredential(incident: Command): void {
  incident
    .command('resolve-credential <incidentId> <credentialId>')
    .description(
      'name the inventory credential of an incident whose secret matched none: the steps on the credential, which wait for it, run',
    )
    .option('--reason <text>', 'why this credential, for the timeline and the report')
    .option(
      '--aws-access-key-id <id>',
      'the leaked access key id, when the credential is an AWS IAM user: the steps act on that key only',
    )
    .action(
      async (
        incidentId: string,
        credential: string,
        options: { reason?: string; awsAccessKeyId?: string },
      ) => {
        const request = resolveCredentialSchema.safeParse({
          incidentId,
          credentialId: credential,
          reason: options.reason,
          awsAccessKeyId: options.awsAccessKeyId,
          author: userInfo().username,
        });
        if (!request.success) {
          const issue = request.error.issues[0];
          const field = {
            incidentId: '<incident-id>',
            credentialId: '<credential-id>',
            reason: '--reason',
            awsAccessKeyId: '--aws-access-key-id',
            author: 'your user name',
          }[String(issue.path[0])];
          throw new CliError(`${field ?? formatPath(issue.path)}: ${issue.message}`, 2);
        }
        const { incidentId: id, credentialId: chosen, reason, author } = request.data;
        const inventory = loadInventory(undefined, { providers: PROVIDER_DIRECTORY });
        if (!inventory.ok) {
          throw new CliError(`credential inventory: ${formatInventoryIssues(inventory).join('; ')}`);
        }
        const entry = inventory.inventory.byId.get(chosen);
        if (!entry) {
          const known = inventory.inventory.credentials.map((candidate) => candidate.id);
          throw new CliError(
            `<credential-id>: "${chosen}" is not in the inventory ${inventory.file}; ` +
              (known.length > 0
                ? `known credentials: ${known.join(', ')}`
                : 'it lists no credential (set TOURNIQUET_INVENTORY)'),
            2,
          );
        }
        let choice: ReturnType<typeof credentialChoiceFor>;
        try {
          choice = credentialChoiceFor(entry, { awsAccessKeyId: request.data.awsAccessKeyId });
        } catch (error) {
          if (!(error instanceof CredentialChoiceError)) throw error;
          throw new CliError(error.message.replace(/^awsAccessKeyId:/, '--aws-access-key-id:'), 2);
        }
        // The entry must parse for its role (the workflow can only check its shape): said before connecting.
        const checked = credentialChoiceSchema.safeParse({ actor: `cli:${author}`, ...choice });
        if (!checked.success) {
          const issue = checked.error.issues[0];
          throw new CliError(
            `<credential-id>: ${chosen} in ${inventory.file}: ${formatPath(issue.path)}: ${issue.message}`,
            2,
          );
        }
        await withClient(async (client, config) => {
          const scrubbed = reason ? scrubSecrets(reason, fingerprintKeyOf(config)) : undefined;
          if (scrubbed && scrubbed.findings.length > 0) {
            process.stderr.write(
              `Redacted what looked like a secret (${scrubbed.findings.map((finding) => finding.kind).join(', ')}): the reason never holds it.\n`,
            );
          }
          const sent = {
            actor: `cli:${author}`,
            ...choice,
            ...(scrubbed ? { reason: String(scrubbed.redacted) } : {}),
          };
          await resolveCredential(client, id, sent, gatewaySigningKey(config)).catch(commandFailed(id));
          const targets = choice.destinations.map(
            (destination) => `${destination.provider}:${destination.target}`,
          );
          process.stdout.write(
            `Named the credential of ${id}: ${chosen} (${choice.credential}), ` +
              `${targets.length > 0 ? `replacement to ${targets.join(', ')}` : 'no destination'}; the steps on it run now\n`,
          );
        });
      },
    );
}

/** A command the incident refused already names it; any other failure is said about the incident. */
function commandFailed(incidentId: string): (error: Error) => never {
  return (error) => {
    throw new CliError(
      error instanceof CommandRefusedError ? error.message : `incident ${incidentId}: ${error.message}`,
    );
  };
}

/** `--key <file> [--as <name>]`: an owner's own ed25519 key (PEM, PKCS#8) and the name it has in the owners file. */
function ownStartKey(file: unknown, as: unknown): { name: string; key: KeyObject } {
  const parsed = ownKeySchema.safeParse({ key: file, as });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`--${String(issue.path[0])}: ${issue.message}`, 2);
  }
  const name = parsed.data.as ?? basename(parsed.data.key).replace(/\.(key|pem)$/, '');
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(parsed.data.key, 'utf8'));
  } catch {
    throw new CliError(`--key: cannot read an ed25519 private key from ${parsed.data.key}`, 2);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new CliError('--key: expected an ed25519 private key', 2);
  return { name, key };
}

const ownKeySchema = z
  .object({
    key: z.string().min(1, 'expected a key file'),
    as: z
      .string()
      .regex(/^[\w.@-]{1,64}$/, 'expected a name of letters, digits, dots, dashes, @ or underscores')
      .optional(),
  })
  .strict();

/**
 * A real incident runs the worker's own copy of its runbook, found by id: a file given by path must be that copy,
 * or the worker would run something else (or refuse the start). Said here, before anything starts.
 */
function refuseRunbookOutsideCatalog(runbook: Runbook, file: string): void {
  const catalog = findRunbook(runbook.id, process.env.TOURNIQUET_RUNBOOKS_DIR);
  if (catalog.ok && runbookSha256(catalog.runbook) === runbookSha256(runbook)) return;
  throw new CliError(
    catalog.ok
      ? `--runbook: ${file} is not the runbook "${runbook.id}" the worker runs (${catalog.file}); a real incident runs the worker's copy`
      : `--runbook: "${runbook.id}" is not in the worker's runbooks; put ${file} in TOURNIQUET_RUNBOOKS_DIR (or run it with --exercise)`,
    2,
  );
}
