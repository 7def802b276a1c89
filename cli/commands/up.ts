import { chmodSync, mkdirSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig, temporalAddress } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal-tls';
import { createLogger, resolveLogFormat } from '../../lib/logger';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../client';
import { findTemporalCli, startDevServer, type DevServer } from '../../temporal/dev-server';
import { modeLine, startConfiguredWorker } from '../../worker/runtime';
import { runWorkerProcess } from '../../worker/main';
import { runGatewayProcess, startConfiguredGateway } from '../../gateway/main';

async function up(): Promise<void> {
  const config = loadConfig();
  // Its owner's alone, also when an older version left it readable (`worker` and `gateway` do the same).
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  // Readable lines at a terminal, JSON when piped or in a container, unless TOURNIQUET_LOG_FORMAT says otherwise.
  const logger = createLogger(
    config.TOURNIQUET_LOG_LEVEL,
    'tourniquet',
    resolveLogFormat(config.TOURNIQUET_LOG_FORMAT),
  );
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  let server: DevServer | undefined;
  if (!config.TEMPORAL_ADDRESS) {
    const cli = findTemporalCli({ progress: say });
    server = await startDevServer({
      cli,
      dataDir: config.dataDir,
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      searchAttributes: INCIDENT_SEARCH_ATTRIBUTES,
    });
  }
  const address = temporalAddress(config);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const { worker, running, registry } = await startConfiguredWorker(config, logger);
  const gateway = await startConfiguredGateway(config, connection, logger);

  say(`Tourniquet is up (data in ${config.dataDir})`);
  say(`  Temporal     ${address}${server ? ' (local dev server)' : ''}`);
  if (server?.uiUrl) say(`  Temporal UI  ${server.uiUrl}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`);
  say(`  Gateway      ${gateway.url}  (GET /healthz)`);
  say(`  Mode         ${modeLine(registry)}`);
  say(
    '  Try: npx tourniquet incident start --secret-kind github-token --connector github:acme/app/deploy.yml --severity high',
  );
  say('Press Ctrl-C to stop.');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      say('Stopping…');
      await gateway.shutdown().catch(() => undefined);
      await worker.shutdown();
      await running.catch(() => undefined);
      await worker.connection.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await server?.stop();
      say('Stopped.');
    })());
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await running.catch(async (error: unknown) => {
    logger.error(
      { error: error instanceof Error ? error.message : String(error) },
      'worker stopped unexpectedly',
    );
    await stop();
    process.exitCode = 1;
  });
  await stop();
}

export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description('run the Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker and the gateway')
    .action(up);
  program
    .command('worker')
    .description('run one worker process against TEMPORAL_ADDRESS')
    .action(() => runWorkerProcess());
  program
    .command('gateway')
    .description('run the HTTP gateway against TEMPORAL_ADDRESS')
    .action(runGatewayProcess);
  program
    .command('temporal-cli')
    .description('print the path of the Temporal CLI, building it once from the Go module proxy when missing')
    .action(() => {
      process.stdout.write(`${findTemporalCli({ progress: (line) => process.stderr.write(`${line}\n`) })}\n`);
    });
}
