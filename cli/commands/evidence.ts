import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  EvidenceError,
  type EvidenceVault,
  type ManifestEntry,
  type VerificationReport,
  openVault,
} from '../../evidence/index';

/** A usage mistake (exit 2) as opposed to a failed operation or a failed verification (exit 1). */
class UsageError extends Error {}

function parseOption<T extends z.ZodType>(schema: T, value: unknown, flag: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag}: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

const pathOption = z.string().trim().min(1, 'must not be empty');
const fingerprintOption = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected the signing key fingerprint as 64 lowercase hex digits');

/** Who is reading: `--actor`, else TOURNIQUET_ACTOR, else the OS account on this host. */
function resolveActor(flag: unknown): string {
  if (flag !== undefined) return parseOption(pathOption, flag, '--actor');
  const fromEnv = process.env.TOURNIQUET_ACTOR;
  if (fromEnv !== undefined) return parseOption(pathOption, fromEnv, 'TOURNIQUET_ACTOR');
  return `${userInfo().username}@${hostname()}`;
}

async function vaultFor(command: Command): Promise<EvidenceVault> {
  const { dataDir } = command.optsWithGlobals<{ dataDir?: unknown }>();
  return openVault(dataDir === undefined ? {} : { dataDir: parseOption(pathOption, dataDir, '--data-dir') });
}

/**
 * Runs a subcommand so that every failure is one line on stderr and a non-zero exit code, without calling
 * process.exit: whoever mounts these commands decides when the process ends.
 */
function run(name: string, body: () => Promise<void>): Promise<void> {
  return body().catch((error: unknown) => {
    process.stderr.write(`tourniquet evidence ${name}: ${describeFailure(error)}\n`);
    process.exitCode = error instanceof UsageError || isInputError(error) ? 2 : 1;
  });
}

function isInputError(error: unknown): boolean {
  return (
    error instanceof EvidenceError && (error.code === 'invalid-input' || error.code === 'invalid-config')
  );
}

function describeFailure(error: unknown): string {
  if (error instanceof EvidenceError || error instanceof UsageError) return error.message;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `${code ? `${code}: ` : ''}${error.message.split('\n')[0]}`;
  }
  return 'unexpected failure';
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

function describeEntry(entry: ManifestEntry): string {
  switch (entry.type) {
    case 'artifact':
      return `${short(entry.sha256)}  ${entry.bytes} B  ${entry.source}  ${entry.name} (${entry.contentType})`;
    case 'event':
      return `${short(entry.sha256)}  ${entry.bytes} B  ${entry.kind} record`;
    case 'access':
      return `${short(entry.artifact)}  opened by ${entry.actor}: ${JSON.stringify(entry.reason)}`;
    case 'export':
      return `exported as ${entry.bundle} by ${entry.actor}: ${JSON.stringify(entry.reason)}`;
  }
}

function printEntries(entries: ManifestEntry[]): void {
  const rows = entries.map((entry) =>
    [
      String(entry.seq).padStart(4),
      entry.time,
      entry.type.padEnd(8),
      ('stepId' in entry && entry.stepId !== undefined ? entry.stepId : '-').padEnd(20),
      describeEntry(entry),
    ].join('  '),
  );
  process.stdout.write(
    `${[' SEQ  TIME                      TYPE      STEP                  DETAIL', ...rows].join('\n')}\n`,
  );
}

function printVerification(target: string, report: VerificationReport): void {
  if (!report.ok) throw new Error(`${target}: FAILED: ${report.problem.message}`);
  const lines = [
    `${target}: OK: ${report.entries} entries, ${report.artifacts} artifacts, chain head ${report.headSeq} (${short(report.headHash)})`,
    `signed by ed25519 key ${report.signer}`,
    ...report.notes.map((note) => `note: ${note}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function assertAbsent(path: string, flag: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new UsageError(`${flag}: ${path} already exists`);
}

export function registerEvidenceCommands(program: Command): void {
  const evidence = program
    .command('evidence')
    .description('list, verify, export and open the tamper-evident evidence of an incident')
    .option('--data-dir <dir>', 'data directory (default: $TOURNIQUET_DATA_DIR, else .data)');

  evidence
    .command('list')
    .description('show the manifest of an incident: what was preserved, opened and exported')
    .argument('<incident>', 'incident id')
    .option('--json', 'one JSON manifest entry per line')
    .action((incident: string, options: { json?: boolean }, command: Command) =>
      run('list', async () => {
        const entries = await (await vaultFor(command)).list(incident);
        if (options.json) {
          process.stdout.write(entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
        } else {
          printEntries(entries);
        }
      }),
    );

  evidence
    .command('verify')
    .description('check the hash chain, signatures and artifacts of an incident or of an exported bundle')
    .argument('<target>', 'incident id, or the path of a bundle .tar.gz')
    .option(
      '--deep',
      'also decrypt every artifact and check its plaintext SHA-256 (needs the encryption key)',
    )
    .option(
      '--trusted-signer <fingerprint>',
      'for bundles: the signing key fingerprint the bundle must carry',
    )
    .action((target: string, options: { deep?: boolean; trustedSigner?: unknown }, command: Command) =>
      run('verify', async () => {
        const vault = await vaultFor(command);
        if (await isFile(target)) {
          if (options.deep)
            throw new UsageError('--deep: applies to an incident in the vault, not to a bundle');
          const trustedSigner =
            options.trustedSigner === undefined
              ? undefined
              : parseOption(fingerprintOption, options.trustedSigner, '--trusted-signer');
          printVerification(target, await vault.verifyBundle(target, { trustedSigner }));
          return;
        }
        if (options.trustedSigner !== undefined) {
          throw new UsageError(
            '--trusted-signer: applies to bundles; an incident is checked against the vault key',
          );
        }
        printVerification(`incident ${target}`, await vault.verify(target, { deep: options.deep === true }));
      }),
    );

  evidence
    .command('export')
    .description(
      'write a self-verifying bundle: manifest, signing public key and the still-encrypted artifacts',
    )
    .argument('<incident>', 'incident id')
    .requiredOption('--out <bundle>', 'path of the .tar.gz to create (never overwritten)')
    .option('--reason <why>', 'why the evidence leaves the vault; recorded in the manifest')
    .option('--actor <who>', 'who exports (default: $TOURNIQUET_ACTOR, else user@host)')
    .action(
      (incident: string, options: { out?: unknown; reason?: unknown; actor?: unknown }, command: Command) =>
        run('export', async () => {
          const out = resolve(parseOption(pathOption, options.out, '--out'));
          const reason =
            options.reason === undefined ? 'not given' : parseOption(pathOption, options.reason, '--reason');
          const actor = resolveActor(options.actor);
          const result = await (await vaultFor(command)).export(incident, { out, actor, reason });
          process.stdout.write(
            `exported incident ${result.incidentId}: ${result.entries} entries, ${result.artifacts} artifacts -> ${result.bundlePath}\n` +
              `signed by ed25519 key ${result.signer}\n`,
          );
        }),
    );

  evidence
    .command('open')
    .description('decrypt one artifact to stdout or a file; the read is recorded in the manifest first')
    .argument('<incident>', 'incident id')
    .argument('<artifact>', 'artifact SHA-256, or a prefix of at least 8 hex digits')
    .option('--reason <why>', 'why you need the plaintext (required; recorded in the manifest)')
    .option('--out <file>', 'write the plaintext to this new file (mode 0600) instead of stdout')
    .option('--actor <who>', 'who opens it (default: $TOURNIQUET_ACTOR, else user@host)')
    .action(
      (
        incident: string,
        artifact: string,
        options: { reason?: unknown; out?: unknown; actor?: unknown },
        command: Command,
      ) =>
        run('open', async () => {
          if (options.reason === undefined) {
            throw new UsageError('--reason: required; say why you need the plaintext of this evidence');
          }
          const reason = parseOption(pathOption, options.reason, '--reason');
          const out =
            options.out === undefined ? undefined : resolve(parseOption(pathOption, options.out, '--out'));
          if (out !== undefined) await assertAbsent(out, '--out');
          const actor = resolveActor(options.actor);
          const opened = await (await vaultFor(command)).open(incident, artifact, { actor, reason });
          if (out === undefined) {
            await pipeline(opened.content, process.stdout, { end: false });
            return;
          }
          // A partial plaintext never sits under the final name: it appears only once fully authenticated.
          const partial = `${out}.${process.pid}-${randomBytes(6).toString('hex')}.partial`;
          try {
            await pipeline(
              opened.content,
              createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true }),
            );
            await rename(partial, out);
          } catch (error) {
            await rm(partial, { force: true });
            throw error;
          }
          process.stderr.write(
            `wrote ${opened.entry.bytes} bytes of artifact ${short(opened.entry.sha256)} to ${out}\n`,
          );
        }),
    );
}
