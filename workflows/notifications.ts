import { isCancellation, proxyActivities, type CancellationScope } from '@temporalio/workflow';
import type { IncidentActivities, MessageRef } from '../activities/types';
import type { ApprovalRequest, TimelineEvent } from '../lib/runbook/types';

/** The notify and record-keeping activities: Slack may be down for minutes, and the incident never waits on it. */
export const notifier = proxyActivities<IncidentActivities>({
  startToCloseTimeout: '30s',
  // Slack answering 500 or ratelimited: keep trying for a good while; the incident never waits on it.
  retry: { maximumAttempts: 20, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export interface NotificationsOptions {
  incidentId: string;
  exercise: boolean;
  demo?: true;
  severity: string;
  /** Called when a message could not be delivered, so the timeline says so instead. */
  undelivered(event: TimelineEvent, reason: unknown): void;
  /**
   * Where messages are sent from, whoever posts them. An Update handler runs in the workflow's root scope, which a
   * cancel request sent through the Temporal API cancels; the incident's messages must not go with it. Absent for an
   * incident from before signed cancels, whose recorded commands came in the caller's scope.
   */
  scope?: CancellationScope;
}

/**
 * The incident's messages to its channel: one thread per incident (the opening message), approval requests
 * updated in place when decided. Messages go out one at a time, in timeline order, off the critical path: a slow
 * or failing Slack never delays containment.
 */
export class IncidentNotifications {
  /** The opening message, once posted: every later message is a reply in its thread. */
  private thread?: MessageRef;
  /** The message asking for each step's approval, replaced by its outcome. */
  private readonly requestMessages = new Map<string, MessageRef>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: NotificationsOptions) {}

  post(event: TimelineEvent, request?: ApprovalRequest, mention?: string[]): void {
    // The request as it is now: it may change (another approval) before this message's turn comes.
    const snapshot = request ? { ...request, approvals: [...request.approvals] } : undefined;
    const send = async (): Promise<void> => {
      try {
        const result = await notifier.notify({
          incidentId: this.options.incidentId,
          exercise: this.options.exercise,
          ...(this.options.demo ? { demo: true as const } : {}),
          severity: this.options.severity,
          thread: this.thread,
          event,
          request: snapshot,
          mention,
          replaces: snapshot ? this.requestMessages.get(snapshot.stepId) : undefined,
        });
        if (event.type === 'incident-opened' && result.message) this.thread = result.message;
        if (
          snapshot &&
          result.message &&
          (event.type === 'approval-requested' || event.type === 'escalated')
        ) {
          this.requestMessages.set(snapshot.stepId, result.message);
        }
      } catch (error) {
        if (isCancellation(error)) throw error;
        this.options.undelivered(event, error);
      }
    };
    const { scope } = this.options;
    this.queue = this.queue.then(scope ? () => scope.run(send) : send);
  }

  /** The message that carries the step's approval request, once Slack has answered the post. */
  requestMessage(stepId: string): MessageRef | undefined {
    return this.requestMessages.get(stepId);
  }

  /** Resolves once every message queued so far is out or given up; a cancelled one does not hold it back. */
  drained(): Promise<void> {
    return this.queue.catch(() => undefined);
  }
}
