import { Connection } from '@temporalio/client';
import { loadConfig, temporalAddress } from '../lib/config';
import { createLogger } from '../lib/logger';
import { slackGatewayMount, type GatewayMount } from '../slack/gateway';
import { startGateway } from './server';
import { siemWebhooksFromEnv } from './webhooks';

/** `tourniquet gateway`: the HTTP entry point alone, against TEMPORAL_ADDRESS (docker-compose runs it so). */
export async function runGatewayProcess(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.TOURNIQUET_LOG_LEVEL, 'tourniquet-gateway');
  const connection = await Connection.connect({ address: temporalAddress(config) });
  const siem = siemWebhooksFromEnv({ config, connection, logger });
  const mounts = [slackGatewayMount({ config, connection, logger }), siem.mount].filter(
    (m): m is GatewayMount => !!m,
  );
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
  process.stdout.write(`gateway listening on ${gateway.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await siem.close();
  await gateway.close();
  await connection.close();
}
