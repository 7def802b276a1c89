import { createHash } from 'node:crypto';
import type { EvidenceJson, EvidenceSink, EvidenceStore, PreservedArtifact } from '../../providers/types';

/** Records what providers hand to the vault, with real SHA-256 digests of the streamed bytes. */
export class RecordingEvidenceSink implements EvidenceStore {
  readonly events: { incidentId: string; kind: string; stepId?: string; data: EvidenceJson }[] = [];

  recordEvent(
    incidentId: string,
    event: { kind: string; stepId?: string; data: EvidenceJson },
  ): Promise<PreservedArtifact> {
    this.events.push({ incidentId, ...event });
    const sha256 = createHash('sha256').update(JSON.stringify(event)).digest('hex');
    return Promise.resolve({ artifactId: sha256, sha256, bytes: 0 });
  }

  readonly artifacts: (PreservedArtifact & {
    incidentId: string;
    stepId: string;
    source: string;
    at: number;
  })[] = [];

  async preserve(input: Parameters<EvidenceSink['preserve']>[0]): Promise<PreservedArtifact> {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of input.content) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      hash.update(buffer);
      bytes += buffer.length;
    }
    const sha256 = hash.digest('hex');
    const artifact = { artifactId: sha256, sha256, bytes };
    this.artifacts.push({
      ...artifact,
      incidentId: input.incidentId,
      stepId: input.stepId,
      source: input.source,
      at: Date.now(),
    });
    return artifact;
  }
}
