import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../client';
import { findTemporalCli, startDevServer, type DevServer } from '../../temporal/dev-server';
import { bundleWorkflows } from '../../worker/create-worker';
import { freePort } from './ports';

const ROOT = join(__dirname, '..', '..');

export interface TestTemporal {
  address: string;
  port: number;
  dataDir: string;
  client: Client;
  connection: Connection;
  server: DevServer;
  /** Stop the server (SIGTERM or SIGKILL) and start it again on the same SQLite file and port. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export function makeDataDir(prefix = 'tourniquet-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The real Temporal dev server (the same binary `npm start` uses) on a free port with its own SQLite file. */
export async function startTestTemporal(dataDir = makeDataDir()): Promise<TestTemporal> {
  const cli = findTemporalCli({ progress: (line) => process.stderr.write(`${line}\n`) });
  const port = await freePort();
  const serverOptions = { cli, dataDir, port, headless: true, searchAttributes: INCIDENT_SEARCH_ATTRIBUTES };
  let server = await startDevServer(serverOptions);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    address: server.address,
    port,
    dataDir,
    client,
    connection,
    get server() {
      return server;
    },
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      await server.stop(signal);
      server = await startDevServer(serverOptions);
    },
    async stop() {
      await connection.close().catch(() => undefined);
      await server.stop();
    },
  };
}

function sourceDigest(): string {
  const hash = createHash('sha256');
  for (const dir of ['workflows', 'lib/runbook', 'activities']) {
    for (const file of readdirSync(join(ROOT, dir)).sort()) {
      if (file.endsWith('.ts')) hash.update(file).update(readFileSync(join(ROOT, dir, file)));
    }
  }
  // The bundler options (preloaded modules) live here.
  hash.update(readFileSync(join(ROOT, 'worker', 'create-worker.ts')));
  return hash.digest('hex').slice(0, 16);
}

/** One webpack bundle of the workflow code per source version, shared by every test and worker child. */
export async function workflowBundlePath(): Promise<string> {
  const path = join(tmpdir(), `tourniquet-workflow-bundle-${sourceDigest()}.js`);
  if (!existsSync(path)) {
    const bundle = await bundleWorkflows();
    writeFileSync(`${path}.tmp`, bundle.code);
    const { renameSync } = await import('node:fs');
    renameSync(`${path}.tmp`, path);
  }
  return path;
}
