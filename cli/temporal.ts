import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../lib/config';
import { temporalConnectionOptions } from '../lib/temporal-tls';
import { CliError } from './errors';

export async function withClient<T>(run: (client: Client, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const options = temporalConnectionOptions(config);
  const address = options.address;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: 5_000 });
  } catch {
    if (options.tls)
      throw new CliError(
        `cannot reach Temporal at ${address} over TLS: is it up, and do TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY and TEMPORAL_TLS_SERVER_NAME match its certificates?`,
      );
    throw new CliError(`cannot reach Temporal at ${address}: is \`npm start\` (tourniquet up) running?`);
  }
  try {
    return await run(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), config);
  } finally {
    await connection.close();
  }
}
