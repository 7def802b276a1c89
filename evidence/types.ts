import type { Readable } from 'node:stream';
import type { EvidenceSink, PreservedArtifact } from '../providers/types';
import type { ManifestEntry, StoredEntry, VerificationReport } from './manifest';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The records the runbook keeps besides provider artifacts; any other lowercase kind is accepted too. */
export type KnownEventKind =
  'action' | 'approval' | 'refusal' | 'escalation' | 'slack-thread' | 'temporal-history' | 'timeline';

export interface EvidenceEvent {
  kind: KnownEventKind | (string & {});
  stepId?: string;
  /** Stored encrypted, as canonical JSON (sorted keys), so the same record always gets the same hash. */
  data: JsonValue;
}

/** Who reads or exports evidence, and why: both go into the manifest before anything is released. */
export interface CustodyContext {
  actor: string;
  reason: string;
}

export interface OpenedArtifact {
  entry: StoredEntry;
  /** The plaintext; every chunk is authenticated before it is emitted, and the stream errors on any mismatch. */
  content: Readable;
}

export interface ExportResult {
  bundlePath: string;
  incidentId: string;
  entries: number;
  artifacts: number;
  headHash: string;
  /** Fingerprint (SHA-256 of the SPKI DER) of the signing key, to compare against a trusted copy. */
  signer: string;
}

export interface VerifyOptions {
  /** Also decrypt every artifact and compare its plaintext SHA-256 (needs the encryption key). */
  deep?: boolean;
}

export interface BundleVerifyOptions {
  /** Signing-key fingerprint the bundle must carry; without it the bundle only proves self-consistency. */
  trustedSigner?: string;
}

export interface EvidenceVault extends EvidenceSink {
  recordEvent(incidentId: string, event: EvidenceEvent): Promise<PreservedArtifact>;
  list(incidentId: string): Promise<ManifestEntry[]>;
  listIncidents(): Promise<string[]>;
  verify(incidentId: string, options?: VerifyOptions): Promise<VerificationReport>;
  export(incidentId: string, options: CustodyContext & { out: string }): Promise<ExportResult>;
  /** `artifact` is the artifact's SHA-256 or an unambiguous prefix of at least 8 hex digits. */
  open(incidentId: string, artifact: string, custody: CustodyContext): Promise<OpenedArtifact>;
  verifyBundle(bundlePath: string, options?: BundleVerifyOptions): Promise<VerificationReport>;
}
