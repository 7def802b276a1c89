import { Client, Connection } from '@temporalio/client';
import { loadConfig, temporalAddress, type Config } from '../lib/config';
import { CliError } from './errors';

export async function withClient<T>(run: (client: Client, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const address = temporalAddress(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5_000 });
  } catch {
    throw new CliError(`cannot reach Temporal at ${address}: is \`npm start\` (tourniquet up) running?`);
  }
  try {
    return await run(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), config);
  } finally {
    await connection.close();
  }
}
