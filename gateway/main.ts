import { chmodSync, mkdirSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config';
import { temporalConnectionOptions } from '../lib/temporal-tls';
import { createLogger, type Logger } from '../lib/logger';
import { onShutdownSignals } from '../lib/shutdown-signals';
import { slackGatewayMount, type GatewayMount } from '../slack/mount';
import { startGateway, type Gateway } from './server';
import { siemWebhooksFromEnv } from './webhooks';

export interface ConfiguredGateway extends Gateway {
  /** Stops accepting alerts, flushes what is batched, then closes the HTTP server. */
  shutdown(): Promise<void>;
}

/** The gateway with every configured entry point (SIEM webhooks, Slack), as `up` and `gateway` run it. */
export async function startConfiguredGateway(
  config: Config,
  connection: Connection,
  logger: Logger,
): Promise<ConfiguredGateway> {
  const siem = siemWebhooksFromEnv({ config, connection, logger });
  const mounts = [
    slackGatewayMount({
      config,
      connection,
      logger,
      countRefusedRequest: (reason) => siem.metrics.slackRequestsRefused.inc({ reason }),
    }),
    siem.mount,
  ].filter((m): m is GatewayMount => !!m);
  const gateway = await startGateway({
    host: config.TOURNIQUET_HOST,
    port: config.TOURNIQUET_PORT,
    logger,
    temporalHealthy: async () => {
      await connection.healthService.check({});
      return true;
    },
    mount: (app) => mounts.forEach((mount) => mount(app)),
  });
  return {
    ...gateway,
    async shutdown() {
      await siem.close();
      await gateway.close();
    },
  };
}

/** `tourniquet gateway`: the HTTP entry point alone, against TEMPORAL_ADDRESS (docker-compose runs it so). */
export async function runGatewayProcess(): Promise<void> {
  const config = loadConfig();
  // The data dir (its keys) is its owner's alone, also when an older version left it readable.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  const logger = createLogger(config.TOURNIQUET_LOG_LEVEL, 'tourniquet-gateway');
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const gateway = await startConfiguredGateway(config, connection, logger);
  process.stdout.write(`gateway listening on ${gateway.url}\n`);
  // A second SIGINT or SIGTERM while it closes exits at once.
  await new Promise<void>((resolve) => onShutdownSignals(() => resolve()));
  await gateway.shutdown();
  await connection.close();
}
