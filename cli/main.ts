import { Command, CommanderError } from 'commander';
import { registerAlertCommands } from './commands/alert';
import { registerApprovalCommands } from './commands/approve';
import { registerEvidenceCommands } from './commands/evidence';
import { registerExerciseCommands } from './commands/exercise';
import { registerIncidentCommands } from './commands/incident';
import { registerReplayCommands } from './commands/replay';
import { registerReportCommands } from './commands/report';
import { registerRunbookCommands } from './commands/runbook';
import { registerUpCommands } from './commands/up';
import { CliError, reportAndExit } from './errors';

const program = new Command('tourniquet')
  .description('Contain a leaked workflow secret: durable runbooks on Temporal with owner approvals')
  .showHelpAfterError()
  .exitOverride();

registerUpCommands(program);
registerIncidentCommands(program);
registerRunbookCommands(program);
registerApprovalCommands(program);
registerEvidenceCommands(program);
registerAlertCommands(program);
registerExerciseCommands(program);
registerReportCommands(program);
registerReplayCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    process.exit(error.exitCode === 1 ? 2 : error.exitCode);
  }
  reportAndExit(error instanceof Error ? error : new CliError(String(error)));
});
