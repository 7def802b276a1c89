import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type Provider,
  type SecretDestination,
} from '../types';

export interface FileDestinationOptions {
  /** When set, every target must resolve inside this directory (relative targets are taken from it). */
  baseDirectory?: string;
}

/** A destination that can also hand its value back, so verification can log in with what consumers read. */
export interface FileSecretDestination extends SecretDestination {
  readSecret(target: string): Promise<string>;
}

export type FileDestinationProvider = Provider<Record<string, never>> & {
  destination: FileSecretDestination;
};

function resolveTarget(target: string, options: FileDestinationOptions): string {
  if (target.includes('\0'))
    throw new ProviderError('file target: contains a NUL byte', false, 'InvalidParams');
  if (!options.baseDirectory) {
    if (!isAbsolute(target)) {
      throw new ProviderError(`file target "${target}": expected an absolute path`, false, 'InvalidParams');
    }
    return resolve(target);
  }
  const base = resolve(options.baseDirectory);
  const path = resolve(base, target);
  const inside = relative(base, path);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new ProviderError(`file target "${target}": outside ${base}`, false, 'InvalidParams');
  }
  return path;
}

/**
 * Writes the value to a sibling temp file created 0600 (never readable by others, not even briefly), flushes it,
 * and renames it over the target: a reader sees the old value or the new one, never half of it.
 */
async function writeAtomically(path: string, value: string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(value, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    const directory = await open(dirname(path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function fileError(action: string, path: string, error: unknown): ProviderError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  // Missing directories and permissions will not heal by retrying; a full disk or I/O hiccup might.
  const retryable = !['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS'].includes(code);
  return new ProviderError(
    `file destination: ${action} ${path} failed (${code})`,
    retryable,
    'FileDestination',
  );
}

/** The `file` destination for local use: `target` is a path; the file holds the value and nothing else. */
export function createFileDestinationProvider(options: FileDestinationOptions = {}): FileDestinationProvider {
  const destination: FileSecretDestination = {
    async storeSecret(target: string, value: string, ctx: ActionContext): Promise<void> {
      const path = resolveTarget(target, options);
      try {
        await writeAtomically(path, value);
      } catch (error) {
        throw fileError('writing', path, error);
      }
      ctx.log.info({ destination: 'file', target: path }, 'secret stored');
    },
    async readSecret(target: string): Promise<string> {
      const path = resolveTarget(target, options);
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        throw fileError('reading', path, error);
      }
    },
  };
  return { ...defineProvider('file', {}, {}, destination), destination };
}
