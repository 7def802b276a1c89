import { ApplicationFailure } from '@temporalio/workflow';
import { commandRefusal, type IncidentCommandKind, type SignedCommand } from '../lib/runbook/command-check';

/**
 * The incident's door for notes, refusal reports and cancels: only a command signed by a gateway key the worker
 * trusted when it opened the incident gets through, once. The Update validator calls `check` (a refusal leaves no
 * trace in history); the handler calls `accept`, which checks again (a command that arrived while the incident was
 * opening skipped the validator) and spends the nonce.
 */
export class SignedCommands {
  /** Accepted nonces until their seal expires: after that the expiry alone refuses a copy. */
  private readonly usedNonces = new Map<string, number>();

  constructor(
    private readonly incidentId: string,
    private readonly gatewayKeys: readonly string[],
  ) {}

  check(kind: IncidentCommandKind, command: unknown): void {
    const refusal = this.refusal(kind, command);
    if (refusal) throw new Error(refusal);
  }

  accept<Body>(kind: IncidentCommandKind, command: SignedCommand<Body>): Body {
    const refusal = this.refusal(kind, command);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'CommandRefused');
    const now = Date.now();
    for (const [nonce, expiresAt] of this.usedNonces) {
      if (expiresAt < now) this.usedNonces.delete(nonce);
    }
    this.usedNonces.set(command.seal.nonce, Date.parse(command.seal.expiresAt));
    return command.body;
  }

  private refusal(kind: IncidentCommandKind, command: unknown): string | undefined {
    return commandRefusal(this.incidentId, kind, command, {
      gatewayKeys: this.gatewayKeys,
      now: Date.now(),
      usedNonces: this.usedNonces,
    });
  }
}
