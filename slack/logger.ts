import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';

/**
 * Bolt's and WebClient's logs, routed to pino. Their debug output prints request bodies (a message shortcut's
 * text may hold the leaked secret), so debug is dropped whatever the level, and other lines keep only text:
 * an Error becomes its message, objects are not written.
 */
export function slackLogger(logger: Logger, name = 'slack'): SlackLogger {
  const child = logger.child({ component: name });
  const render = (parts: unknown[]): string =>
    parts
      .map((part) =>
        typeof part === 'string' ? part : part instanceof Error ? `${part.name}: ${part.message}` : '',
      )
      .filter(Boolean)
      .join(' ')
      .slice(0, 500);
  let level = LogLevel.INFO;
  return {
    debug: () => undefined,
    info: (...parts: unknown[]) => child.info(render(parts)),
    warn: (...parts: unknown[]) => child.warn(render(parts)),
    error: (...parts: unknown[]) => child.error(render(parts)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
