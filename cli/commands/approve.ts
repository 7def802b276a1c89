import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  ApprovalRefusedError,
  pendingRequest,
  readPrivateKey,
  signOutOfBandDecision,
  submitDecision,
} from '../../client';
import { gatewaySigningKey } from '../../lib/gateway-key';
import { rawPublicKey } from '../../lib/owners';
import { CliError } from '../errors';
import { withClient } from '../temporal';

const decisionOptions = z.object({
  key: z.string().min(1, 'the path of your ed25519 private key (PEM)'),
  as: z
    .string()
    .regex(/^[a-z][\w.-]*$/, 'expected your approver name from the owners file')
    .optional(),
  reason: z.string().max(500).optional(),
  json: z.boolean().optional(),
});

async function decide(
  incidentId: string,
  stepId: string,
  decision: 'approve' | 'deny',
  raw: unknown,
): Promise<void> {
  const parsed = decisionOptions.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`--${String(issue.path[0])}: ${issue.message}`, 2);
  }
  const options = parsed.data;
  if (decision === 'deny' && !options.reason) throw new CliError('--reason: a denial needs a reason', 2);
  const name = options.as ?? basename(options.key).replace(/\.(key|pem)$/, '');
  await withClient(async (client, config) => {
    try {
      const request = await pendingRequest(client, incidentId, stepId);
      const signed = signOutOfBandDecision({
        incidentId,
        request,
        decision,
        reason: options.reason,
        name,
        privateKeyPem: readPrivateKey(options.key),
      });
      // A refusal is reported to the timeline under the data dir's key, like the CLI's other commands.
      const result = await submitDecision(client, incidentId, signed, {
        gatewayKey: gatewaySigningKey(config),
      });
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else
        process.stdout.write(
          `${stepId}: ${result.outcome} (${result.approvals}/${result.required} approvals)\n`,
        );
    } catch (error) {
      if (error instanceof ApprovalRefusedError) throw new CliError(`refused: ${error.message}`);
      throw error;
    }
  });
}

export function registerApprovalCommands(program: Command): void {
  program
    .command('approve <incidentId> <stepId>')
    .description(
      'approve a step out of band, signed with your ed25519 key (when Slack is down or not configured)',
    )
    .requiredOption('--key <file>', 'your private key (PEM), e.g. .data/keys/operators/local-operator-1.key')
    .option('--as <name>', 'your name in the owners file (default: the key file name)')
    .option('--json', 'print JSON')
    .action((incidentId: string, stepId: string, options: unknown) =>
      decide(incidentId, stepId, 'approve', options),
    );

  program
    .command('deny <incidentId> <stepId>')
    .description('deny a step out of band, signed with your ed25519 key')
    .requiredOption('--key <file>', 'your private key (PEM)')
    .requiredOption('--reason <text>', 'why')
    .option('--as <name>', 'your name in the owners file (default: the key file name)')
    .option('--json', 'print JSON')
    .action((incidentId: string, stepId: string, options: unknown) =>
      decide(incidentId, stepId, 'deny', options),
    );

  program
    .command('keys')
    .command('generate')
    .description('create an out-of-band approver key pair and print its owners.yaml entry')
    .requiredOption('--name <name>', 'the approver name')
    .option('--out <dir>', 'where to write <name>.key (0600)', '.')
    .action((options: { name: string; out: string }) => {
      if (!/^[a-z][\w.-]*$/.test(options.name)) throw new CliError('--name: expected a lower-case name', 2);
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      mkdirSync(options.out, { recursive: true });
      const path = join(options.out, `${options.name}.key`);
      writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
      process.stdout.write(
        `wrote ${path}\nowners.yaml entry:\n  - { name: ${options.name}, publicKey: ${rawPublicKey(publicKey)} }\n`,
      );
    });
}
