import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../lib/config';
import { resolveLogFormat } from '../lib/logger';

const ROOT = join(__dirname, '..');
const SECRET = 'ghp_leakedTokenThatMustNeverBeLogged0123';

interface Run {
  status: number | null;
  stderr: string;
}

/**
 * Logs one line carrying credentials from a fresh process (so stderr's TTY-ness and the environment are real),
 * exactly as the CLI does: TypeScript through tsx's CommonJS hook, `createLogger` with its defaults.
 */
function logFromChild(env: Record<string, string>, options: { fakeTTY?: boolean } = {}): Run {
  const script = [
    "require('tsx/cjs');",
    options.fakeTTY ? "Object.defineProperty(process.stderr, 'isTTY', { value: true });" : '',
    "const { createLogger } = require('./lib/logger.ts');",
    "const logger = createLogger('info', 'format-test');",
    'logger.info(',
    `  { incidentId: 'incident-42', token: ${JSON.stringify(SECRET)},`,
    `    headers: { authorization: ${JSON.stringify(`Bearer ${SECRET}`)} },`,
    `    credential: { password: ${JSON.stringify(SECRET)} } },`,
    "  'revoked the leaked token',",
    ');',
  ].join('\n');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('TOURNIQUET_LOG_FORMAT' in env)) delete childEnv.TOURNIQUET_LOG_FORMAT;
  delete childEnv.FORCE_COLOR;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: childEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr };
}

function lines(output: string): string[] {
  return output.split('\n').filter((line) => line.trim() !== '');
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');

function expectJsonLines(run: Run): void {
  expect(run.status).toBe(0);
  const records = lines(run.stderr).map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({
    level: 30,
    name: 'format-test',
    msg: 'revoked the leaked token',
    incidentId: 'incident-42',
    token: '[REDACTED]',
    headers: { authorization: '[REDACTED]' },
    credential: { password: '[REDACTED]' },
  });
  expect(run.stderr).not.toContain(SECRET);
}

function expectPrettyLines(run: Run): void {
  expect(run.status).toBe(0);
  const output = stripAnsi(run.stderr);
  const [first] = lines(output);
  expect(first).toBeDefined();
  expect(first.trimStart().startsWith('{')).toBe(false);
  expect(() => JSON.parse(first) as unknown).toThrow();
  expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(format-test\): revoked the leaked token$/);
  expect(output).toContain('incidentId: "incident-42"');
  expect(output).toContain('token: "[REDACTED]"');
  expect(output).toContain('"authorization": "[REDACTED]"');
  expect(output).toContain('"password": "[REDACTED]"');
  expect(output).not.toContain(SECRET);
}

test('stderr not a TTY (pipe, container): one JSON object per line, credentials redacted', () => {
  expectJsonLines(logFromChild({}));
});

test('TOURNIQUET_LOG_FORMAT=pretty: readable lines even when piped, uncoloured, credentials redacted', () => {
  const run = logFromChild({ TOURNIQUET_LOG_FORMAT: 'pretty' });
  expectPrettyLines(run);
  expect(run.stderr).not.toContain('\u001b[');
});

test('stderr a TTY: readable, coloured lines; TOURNIQUET_LOG_FORMAT=json still forces JSON', () => {
  const tty = logFromChild({}, { fakeTTY: true });
  expectPrettyLines(tty);
  expect(tty.stderr).toContain('\u001b[');
  expectJsonLines(logFromChild({ TOURNIQUET_LOG_FORMAT: 'json' }, { fakeTTY: true }));
});

test('the format follows the env var first, then whether stderr is a terminal', () => {
  expect(resolveLogFormat(undefined, false)).toBe('json');
  expect(resolveLogFormat(undefined, true)).toBe('pretty');
  expect(resolveLogFormat('json', true)).toBe('json');
  expect(resolveLogFormat('pretty', false)).toBe('pretty');
  expect(loadConfig({ TOURNIQUET_LOG_FORMAT: 'pretty' }).TOURNIQUET_LOG_FORMAT).toBe('pretty');
  expect(loadConfig({}).TOURNIQUET_LOG_FORMAT).toBeUndefined();
});

test('an unknown TOURNIQUET_LOG_FORMAT is a configuration error naming the variable', () => {
  expect(() => loadConfig({ TOURNIQUET_LOG_FORMAT: 'yaml' })).toThrow(ConfigError);
  expect(() => loadConfig({ TOURNIQUET_LOG_FORMAT: 'yaml' })).toThrow(
    /environment variable TOURNIQUET_LOG_FORMAT: .*"json"\|"pretty"/,
  );
  const run = logFromChild({ TOURNIQUET_LOG_FORMAT: 'yaml' });
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain('environment variable TOURNIQUET_LOG_FORMAT');
});
