import type { Logger } from 'pino';
import type { OwnerDirectory } from '../lib/owners';
import type { IncidentNotification, NotificationResult } from './types';

/** Where incident messages go: Slack when configured (gateway/slack), the log otherwise. */
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
      `${notification.exercise ? '[EXERCISE] ' : ''}${event.type}${event.detail ? `: ${event.detail}` : ''}`,
    );
    return Promise.resolve({});
  }
}

export function createOwnerActivities(directory: OwnerDirectory, notifier: Notifier) {
  return {
    resolveOwners: (role: string) => directory.snapshot(role),
    notify: (notification: IncidentNotification) => notifier.notify(notification),
  };
}
