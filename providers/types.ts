import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { ProviderCatalog, SummaryValue } from '../lib/runbook/types';

export type { ActionSpec, ProviderCatalog, SummaryValue } from '../lib/runbook/types';

/** A preserved artifact as the vault reports it back; never the artifact's content. */
export interface PreservedArtifact {
  artifactId: string;
  sha256: string;
  bytes: number;
}

/** Where providers hand artifacts (run logs, audit entries) before anything destructive happens. */
export interface EvidenceSink {
  preserve(input: {
    incidentId: string;
    stepId: string;
    source: string;
    name: string;
    contentType: string;
    content: Readable;
  }): Promise<PreservedArtifact>;
}

export type EvidenceJson =
  string | number | boolean | null | EvidenceJson[] | { [key: string]: EvidenceJson };

/** Structured records kept with the incident's evidence: actions, approvals, the timeline, its history. */
export interface EvidenceRecorder {
  recordEvent(
    incidentId: string,
    event: { kind: string; stepId?: string; data: EvidenceJson },
  ): Promise<PreservedArtifact>;
}

export type EvidenceStore = EvidenceSink & EvidenceRecorder;

export interface ActionLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ActionContext {
  incidentId: string;
  stepId: string;
  /** Stable across retries of one step execution; real APIs that take idempotency keys get this. */
  idempotencyKey: string;
  attempt: number;
  /** Tabletop exercise: only the simulated provider may act. */
  exercise: boolean;
  /** A demo incident (TOURNIQUET_MODE=demo): systems without a real provider are simulated. */
  demo?: boolean;
  signal: AbortSignal;
  log: ActionLogger;
  heartbeat(details?: unknown): void;
  evidence: EvidenceSink;
  /** Fault injection for the simulated provider (tests, exercises); real providers ignore it. */
  simulation?: SimulationOptions;
  /** When this call undoes an earlier step (compensation, recovery): that step's summary, e.g. previous settings. */
  undoOf?: Record<string, SummaryValue>;
  /**
   * Where the incident's credential is stored for its consumers (`github` / `acme/app:DEPLOY_TOKEN`), as the incident
   * knows it when the step runs; given to connector steps. A repository connector reads the secret names there.
   */
  credentialDestinations?: readonly { provider: string; target: string }[];
  /**
   * Hands a freshly minted credential to the provider that stores it for its consumers (e.g. a GitHub Actions
   * secret). The value goes from the issuing activity straight to the destination and is never returned.
   */
  deliverSecret(destination: { provider: string; target: string }, value: string): Promise<void>;
}

/** A provider that can hold a credential for its consumers. `target` is provider-specific, e.g. `owner/repo:NAME`. */
export interface SecretDestination {
  storeSecret(target: string, value: string, ctx: ActionContext): Promise<void>;
}

/** Reads back a value a destination holds, so verification can connect with what consumers actually get. */
export interface SecretReader {
  readSecret(target: string): Promise<string>;
}

export interface ActionResult {
  /** Non-secret facts for the timeline: ids, counts, state before and after. Never a secret value. */
  summary: Record<string, SummaryValue>;
}

export interface SimulatedFault {
  latencyMs?: number;
  /** Fail this many attempts before succeeding (retryable), or fail always when `nonRetryable`. */
  failAttempts?: number;
  nonRetryable?: boolean;
  message?: string;
  /** Delay after the effect is applied and before answering: a crash then tests idempotency. */
  settleMs?: number;
  /** What a simulated discovery action lists, by summary field (`credentials`): the platform of an exercise. */
  answers?: Record<string, string[]>;
}

export interface SimulationOptions {
  /** Keyed by `provider.action` or by step id. */
  faults?: Record<string, SimulatedFault>;
}

export type ActionImplementations<C extends ProviderCatalog> = {
  [K in keyof C]: (params: z.infer<C[K]['params']>, ctx: ActionContext) => Promise<ActionResult>;
};

export interface Provider<C extends ProviderCatalog = ProviderCatalog> {
  /** The name runbooks use before the dot in `provider.action`. */
  name: string;
  catalog: C;
  actions: ActionImplementations<C>;
  destination?: SecretDestination;
  /** The deterministic stand-in rather than the real system. */
  simulated?: boolean;
}

/**
 * A failure a provider understands. `retryable: false` stops Temporal retries at once (a missing permission,
 * a 404 that will not heal); the message must name what is wrong and must never contain a secret value.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code = 'ProviderError',
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export function defineProvider<C extends ProviderCatalog>(
  name: string,
  catalog: C,
  actions: ActionImplementations<C>,
  destination?: SecretDestination,
): Provider<C> {
  return { name, catalog, actions, destination };
}
