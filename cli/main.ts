import { Command, CommanderError } from 'commander';
import { CliError, reportAndExit } from './errors';

/*
 * What Tourniquet creates is its owner's alone: the data dir holds keys, every incident's history (Temporal's SQLite
 * file) and the simulation journal. Set before any command creates a file; child processes such as the Temporal dev
 * server inherit it.
 */
process.umask(0o077);

type Register = (program: Command) => void;

/*
 * Each command group is loaded only when it is invoked: `up` alone pulls in the Temporal worker (about a second
 * of module loading), which `tourniquet approve` at 3 a.m. should not wait for. The CLI runs under tsx's CommonJS
 * hook, where `import()` of a .ts file does not resolve, hence `require`.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const GROUPS: { commands: string[]; load: () => Register }[] = [
  {
    commands: ['up', 'worker', 'gateway', 'temporal-cli'],
    load: () => (require('./commands/up') as typeof import('./commands/up')).registerUpCommands,
  },
  {
    commands: ['incident'],
    load: () =>
      (require('./commands/incident') as typeof import('./commands/incident')).registerIncidentCommands,
  },
  {
    commands: ['runbook'],
    load: () =>
      (require('./commands/runbook') as typeof import('./commands/runbook')).registerRunbookCommands,
  },
  {
    commands: ['approve', 'deny', 'keys'],
    load: () =>
      (require('./commands/approve') as typeof import('./commands/approve')).registerApprovalCommands,
  },
  {
    commands: ['evidence'],
    load: () =>
      (require('./commands/evidence') as typeof import('./commands/evidence')).registerEvidenceCommands,
  },
  {
    commands: ['alert'],
    load: () => (require('./commands/alert') as typeof import('./commands/alert')).registerAlertCommands,
  },
  {
    commands: ['exercise'],
    load: () =>
      (require('./commands/exercise') as typeof import('./commands/exercise')).registerExerciseCommands,
  },
  {
    commands: ['report'],
    load: () => (require('./commands/report') as typeof import('./commands/report')).registerReportCommands,
  },
  {
    commands: ['replay'],
    load: () => (require('./commands/replay') as typeof import('./commands/replay')).registerReplayCommands,
  },
  {
    commands: ['inventory'],
    load: () =>
      (require('./commands/inventory') as typeof import('./commands/inventory')).registerInventoryCommands,
  },
];
/* eslint-enable @typescript-eslint/no-require-imports */

const program = new Command('tourniquet')
  .description('Contain a leaked workflow secret: durable runbooks on Temporal with owner approvals')
  .showHelpAfterError()
  .exitOverride();

// The first word that is not an option names the command; without one (or for help), every group is listed.
const invoked = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
const group = GROUPS.find((candidate) => invoked !== undefined && candidate.commands.includes(invoked));
for (const candidate of group ? [group] : GROUPS) candidate.load()(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    process.exit(error.exitCode === 1 ? 2 : error.exitCode);
  }
  reportAndExit(error instanceof Error ? error : new CliError(String(error)));
});
