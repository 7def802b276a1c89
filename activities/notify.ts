import type { Logger } from 'pino';
import type { OwnerDirectory } from '../lib/owners';
import type { IncidentStatus, TimelineEventType } from '../lib/runbook/types';
import type { EvidenceJson, EvidenceStore } from '../providers/types';
import {
  notificationTag,
  type IncidentActivities,
  type IncidentNotification,
  type NotificationResult,
} from './types';

/** Where incident messages go: Slack when configured (slack/notifier.ts), the log otherwise. */
export interface Notifier {
  notify(notification: IncidentNotification): Promise<NotificationResult>;
}

/** Without Slack, people follow the incident with `tourniquet incident status`; the log keeps the same lines. */
export class LogNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}

  notify(notification: IncidentNotification): Promise<NotificationResult> {
    const { event, request } = notification;
    this.logger.info(
      {
        incidentId: notification.incidentId,
        event: event.type,
        stepId: event.stepId,
        ...(request
          ? { nonce: request.nonce, paramsHash: request.paramsHash, expiresAt: request.expiresAt }
          : {}),
      },
      `${notificationTag(notification)}${event.type}${event.detail ? `: ${event.detail}` : ''}`,
    );
    return Promise.resolve({});
  }
}

/** Approval traffic is evidence: every request, decision, refusal and escalation goes to the vault. */
const EVIDENCE_KINDS: Partial<Record<TimelineEventType, string>> = {
  'approval-requested': 'approval',
  'approval-recorded': 'approval',
  approved: 'approval',
  denied: 'approval',
  'approval-refused': 'refusal',
  escalated: 'escalation',
  'break-glass': 'escalation',
};

export interface RecordActivityDependencies {
  owners: OwnerDirectory;
  notifier: Notifier;
  evidence: EvidenceStore;
  /** The incident's Temporal history as JSON (read through a client when the incident closes). */
  fetchHistory: (incidentId: string) => Promise<EvidenceJson>;
}

function json(value: unknown): EvidenceJson {
  return JSON.parse(JSON.stringify(value)) as EvidenceJson;
}

export function createRecordActivities(
  deps: RecordActivityDependencies,
): Pick<IncidentActivities, 'resolveOwners' | 'notify' | 'preserveIncidentRecord'> {
  return {
    resolveOwners: (role) => deps.owners.snapshot(role),
    async notify(notification) {
      const kind = EVIDENCE_KINDS[notification.event.type];
      if (kind) {
        await deps.evidence.recordEvent(notification.incidentId, {
          kind,
          ...(notification.event.stepId ? { stepId: notification.event.stepId } : {}),
          data: json({ event: notification.event, request: notification.request ?? null }),
        });
      }
      const delivered = await deps.notifier.notify(notification);
      if (delivered.message || notification.thread) {
        // What the incident's Slack thread says, as posted: part of the evidence when Slack is used.
        await deps.evidence.recordEvent(notification.incidentId, {
          kind: 'slack-thread',
          ...(notification.event.stepId ? { stepId: notification.event.stepId } : {}),
          data: json({
            message: delivered.message,
            thread: notification.thread ?? null,
            event: notification.event,
          }),
        });
      }
      return delivered;
    },
    async preserveIncidentRecord(status: IncidentStatus) {
      await deps.evidence.recordEvent(status.incidentId, { kind: 'timeline', data: json(status) });
      await deps.evidence.recordEvent(status.incidentId, {
        kind: 'temporal-history',
        data: await deps.fetchHistory(status.incidentId),
      });
    },
  };
}
