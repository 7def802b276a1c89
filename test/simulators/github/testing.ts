import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  ActionContext,
  ActionLogger,
  EvidenceSink,
  PreservedArtifact,
  SummaryValue,
} from '../../../providers/types';

/** An evidence vault for tests: hashes each stream as it arrives and keeps the bytes for assertions. */
export class HashingEvidenceSink implements EvidenceSink {
  readonly artifacts: Array<
    PreservedArtifact & { name: string; source: string; contentType: string; content: Buffer; order: number }
  > = [];
  private counter = 0;

  /** Called once an artifact is fully stored; lets a test note what the simulator had seen by then. */
  constructor(private readonly onPreserved?: (name: string) => void) {}

  async preserve(input: {
    incidentId: string;
    stepId: string;
    source: string;
    name: string;
    contentType: string;
    content: Readable;
  }): Promise<PreservedArtifact> {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    for await (const chunk of input.content) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      hash.update(buffer);
      chunks.push(buffer);
    }
    const content = Buffer.concat(chunks);
    this.counter += 1;
    const artifact = {
      artifactId: `artifact-${this.counter}`,
      sha256: hash.digest('hex'),
      bytes: content.length,
    };
    this.artifacts.push({
      ...artifact,
      name: input.name,
      source: input.source,
      contentType: input.contentType,
      content,
      order: this.counter,
    });
    this.onPreserved?.(input.name);
    return artifact;
  }
}

export interface LogLine {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  message: string;
}

export class RecordingLogger implements ActionLogger {
  readonly lines: LogLine[] = [];
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
}

export interface TestContext extends ActionContext {
  log: RecordingLogger;
  evidence: HashingEvidenceSink;
  heartbeats: unknown[];
}

let stepCounter = 0;

export function testContext(
  overrides: Partial<ActionContext> & { undoOf?: Record<string, SummaryValue> } = {},
): TestContext {
  stepCounter += 1;
  const heartbeats: unknown[] = [];
  return {
    incidentId: 'incident-test',
    stepId: `step-${stepCounter}`,
    idempotencyKey: `incident-test/step-${stepCounter}`,
    attempt: 1,
    exercise: false,
    signal: new AbortController().signal,
    log: new RecordingLogger(),
    heartbeat: (details?: unknown) => {
      heartbeats.push(details);
    },
    evidence: new HashingEvidenceSink(),
    deliverSecret: () => Promise.resolve(),
    ...overrides,
    heartbeats,
  } as TestContext;
}
