/** A failure the user can act on: printed as one line, exit code 1 (2 for bad usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function reportAndExit(error: unknown): never {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  process.stderr.write(`tourniquet: ${message}\n`);
  process.exit(error instanceof CliError ? error.exitCode : 1);
}
