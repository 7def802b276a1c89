import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/config';
import { parseSecretList, signGenericAlert, siemSecretEnvName } from '../../gateway/siem';
import { CliError } from '../errors';

const optionsSchema = z.object({
  source: z.literal('generic', { error: 'only the generic format is signed by the CLI' }),
  file: z.string().min(1),
  url: z
    .string()
    .refine(
      (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
      'expected an http(s) URL',
    )
    .optional(),
  secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
  timeout: z.coerce.number().int().min(1).max(600).default(30),
});

function flagName(path: PropertyKey[]): string {
  return `--${String(path[0] ?? '')
    .replace(/([A-Z])/g, '-$1')
    .toLowerCase()}`;
}

/** The exact bytes to sign and send: the file as written (or stdin for `-`), which must be JSON. */
function readAlert(file: string): Buffer {
  let body: Buffer;
  try {
    body = readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    throw new CliError(`--file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, 2);
  }
  try {
    JSON.parse(body.toString('utf8'));
  } catch {
    // No parser message: it would quote the file, which may hold the leaked value.
    throw new CliError(`--file: ${file} is not valid JSON`, 2);
  }
  return body;
}

/** One line from the gateway's JSON answer, never the request (which may hold the secret). */
function describeRefusal(status: number, text: string): string {
  try {
    const answer = JSON.parse(text) as { error?: unknown; field?: unknown; message?: unknown };
    const parts = [answer.field, answer.message ?? answer.error].filter((part) => typeof part === 'string');
    if (parts.length > 0) return `gateway answered ${status}: ${parts.join(': ')}`;
  } catch {
    // not JSON
  }
  return `gateway answered ${status}`;
}

async function sendAlert(options: Record<string, unknown>): Promise<void> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${flagName(issue.path)}: ${issue.message}`, 2);
  }
  const { file, secretEnv, timeout } = parsed.data;
  const [secret] = parseSecretList(process.env[secretEnv]);
  if (!secret) throw new CliError(`--secret-env: ${secretEnv} is not set`, 2);
  const config = loadConfig();
  const base = parsed.data.url ?? `http://${config.TOURNIQUET_HOST}:${config.TOURNIQUET_PORT}`;
  const url = new URL(`webhooks/siem/${parsed.data.source}`, base.endsWith('/') ? base : `${base}/`);
  const body = readAlert(file);

  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signGenericAlert(secret, body) },
      body,
      signal: AbortSignal.timeout(timeout * 1000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason =
      error instanceof Error && error.name === 'TimeoutError' ? `no answer in ${timeout} s` : cause;
    throw new CliError(`cannot reach the gateway at ${url.origin}${reason ? `: ${reason}` : ''}`);
  }
  const text = await response.text();
  if (!response.ok) throw new CliError(describeRefusal(response.status, text));
  process.stdout.write(`${text.trim()}\n`);
}

export function registerAlertCommands(program: Command): void {
  const alert = program.command('alert').description('send SIEM alerts to the gateway');
  alert
    .command('send')
    .description('sign an alert in the generic format and post it to POST /webhooks/siem/generic')
    .requiredOption('--source <source>', 'alert format; the CLI signs the generic format', 'generic')
    .requiredOption('--file <path>', 'the alert JSON, sent byte for byte ("-" reads stdin)')
    .option('--url <url>', 'gateway base URL (default http://TOURNIQUET_HOST:TOURNIQUET_PORT)')
    .option(
      '--secret-env <name>',
      'environment variable holding the signing secret',
      siemSecretEnvName('generic'),
    )
    .option('--timeout <seconds>', 'give up after this many seconds', '30')
    .action(sendAlert);
}
