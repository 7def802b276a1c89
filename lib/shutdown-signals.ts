import { constants } from 'node:os';

/**
 * How a long-running command (`up`, `worker`, `gateway`) stops: the first of `signals` starts `stop`, an orderly
 * shutdown that ends on its own; a second one, while that runs, calls `force` (for what must not outlive the
 * process) and exits at once with 128 + the signal's number, as a second Ctrl-C does in most CLIs.
 */
export function onShutdownSignals(
  stop: (signal: NodeJS.Signals) => void,
  options: { signals?: NodeJS.Signals[]; force?: () => void; say?: (line: string) => void } = {},
): void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let stopping = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stopping = true;
      stop(signal);
      return;
    }
    options.say?.(`${signal} again: exiting now.`);
    try {
      options.force?.();
    } finally {
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
  };
  for (const signal of signals) process.on(signal, handle);
}
