import type { Client } from '@temporalio/client';
import type { EvidenceStore } from '../../providers/types';
import { RecordingEvidenceSink } from './evidence';
import { TEST_OWNERS_FILE } from './owners';
import { startTestTemporal, type TestTemporal } from './temporal';
import { startInProcessWorker, type InProcessWorker } from './worker';

type WorkerOptions = Parameters<typeof startInProcessWorker>[0];

export interface TemporalWorkerOptions<E extends EvidenceStore = EvidenceStore> extends Omit<
  WorkerOptions,
  'address' | 'dataDir' | 'evidence'
> {
  /**
   * Where the worker's activities record and preserve evidence: a fresh RecordingEvidenceSink unless given, or
   * made from the server's data dir, e.g. `(dataDir) => openVault({ dataDir })`.
   */
  evidence?: E | ((dataDir: string) => E | Promise<E>);
}

/**
 * The options, or a function returning them. The function runs while the Temporal server starts, so it can start
 * what the worker's providers talk to (PostgreSQL, a simulator) in parallel, and read what earlier hooks set up.
 */
export type TemporalWorkerSetup<E extends EvidenceStore> =
  TemporalWorkerOptions<E> | (() => TemporalWorkerOptions<E> | Promise<TemporalWorkerOptions<E>>);

/** The real Temporal dev server with an in-process worker polling its default task queue. */
export interface TemporalWorker<E extends EvidenceStore = RecordingEvidenceSink> {
  temporal: TestTemporal;
  worker: InProcessWorker;
  client: Client;
  address: string;
  /** The server's data dir, also the worker's (operator keys, simulation journal). */
  dataDir: string;
  evidence: E;
  /** Environment for `runCli`: the CLI talks to this server, shares its data dir and the test owners file. */
  cliEnv: Record<string, string>;
  /** Stops the worker, then the server. */
  stop(): Promise<void>;
}

/** Starts a server and a worker; stops the server again when the setup or the worker fails to start. */
export async function startTemporalWorker<E extends EvidenceStore = RecordingEvidenceSink>(
  setup: TemporalWorkerSetup<E> = {},
): Promise<TemporalWorker<E>> {
  const [server, resolved] = await Promise.allSettled([
    startTestTemporal(),
    (async () => (typeof setup === 'function' ? setup() : setup))(),
  ]);
  if (server.status === 'rejected') throw server.reason;
  if (resolved.status === 'rejected') {
    await server.value.stop();
    throw resolved.reason;
  }
  const temporal = server.value;
  try {
    const { evidence: given, ...options } = resolved.value;
    const evidence =
      typeof given === 'function'
        ? await given(temporal.dataDir)
        : (given ?? (new RecordingEvidenceSink() as EvidenceStore as E));
    const worker = await startInProcessWorker({
      ...options,
      address: temporal.address,
      dataDir: temporal.dataDir,
      evidence,
    });
    return {
      temporal,
      worker,
      client: temporal.client,
      address: temporal.address,
      dataDir: temporal.dataDir,
      evidence,
      cliEnv: {
        TEMPORAL_ADDRESS: temporal.address,
        TOURNIQUET_DATA_DIR: temporal.dataDir,
        TOURNIQUET_OWNERS_FILE: TEST_OWNERS_FILE,
      },
      async stop() {
        await worker.stop();
        await temporal.stop();
      },
    };
  } catch (error) {
    await temporal.stop();
    throw error;
  }
}

/** What `useTemporalWorker` hands the suite: every field of the started stack but `stop`, which its afterAll calls. */
const FIXTURE_FIELDS = ['temporal', 'worker', 'client', 'address', 'dataDir', 'evidence', 'cliEnv'] as const;
export type TemporalWorkerFixture<E extends EvidenceStore = RecordingEvidenceSink> = Pick<
  TemporalWorker<E>,
  (typeof FIXTURE_FIELDS)[number]
>;

/**
 * The suite's server and worker: started in a `beforeAll`, stopped in an `afterAll` registered here (Jest runs a
 * file's `afterAll` hooks in the order they were registered). The fields are read from the started stack, so use
 * them inside hooks and tests only.
 */
export function useTemporalWorker<E extends EvidenceStore = RecordingEvidenceSink>(
  setup: TemporalWorkerSetup<E> = {},
): TemporalWorkerFixture<E> {
  let started: TemporalWorker<E> | undefined;
  beforeAll(async () => {
    started = await startTemporalWorker(setup);
  });
  afterAll(async () => {
    await started?.stop();
  });
  const fixture = {};
  for (const field of FIXTURE_FIELDS) {
    Object.defineProperty(fixture, field, {
      enumerable: true,
      get() {
        if (!started)
          throw new Error(
            `${field}: the Temporal server and worker are not running (read it in a hook or test)`,
          );
        return started[field];
      },
    });
  }
  return fixture as TemporalWorkerFixture<E>;
}
