import { randomBytes } from 'node:crypto';
import { constants, mkdirSync } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type Provider,
  type SecretDestination,
} from '../types';
import { checkSecretName } from './refs';

export interface FileDestinationOptions {
  /** Every target is a name under this directory (TOURNIQUET_SECRETS_DIR); nothing else is ever written. */
  baseDirectory: string;
}

/** A destination that can also hand its value back, so verification can log in with what consumers read. */
export interface FileSecretDestination extends SecretDestination {
  readSecret(target: string): Promise<string>;
}

export type FileDestinationProvider = Provider<Record<string, never>> & {
  destination: FileSecretDestination;
};

const invalid = (message: string): ProviderError => new ProviderError(message, false, 'InvalidParams');

function inside(base: string, path: string): boolean {
  const rest = relative(base, path);
  return rest !== '' && !rest.startsWith('..') && !isAbsolute(rest);
}

/**
 * The file a target names, refused unless it is a name under the base directory. Checked again here, not only when
 * the incident starts: whatever reaches the worker (a runbook's params, a replayed history), it writes nowhere else.
 */
function resolveTarget(target: string, base: string): string {
  try {
    checkSecretName(target);
  } catch (error) {
    throw invalid(`file target: ${(error as Error).message}`);
  }
  const path = resolve(base, target);
  if (!inside(base, path)) throw invalid(`file target "${target}": outside ${base}`);
  return path;
}

/**
 * The directories between the base and the file, created 0700 when `create` is set. Each must be a real directory:
 * a symbolic link someone planted under the base must not lead the write (or the read) out of it.
 */
async function directoriesOnTheWay(
  base: string,
  path: string,
  target: string,
  create: boolean,
): Promise<void> {
  let directory = base;
  for (const segment of relative(base, dirname(path)).split(sep).filter(Boolean)) {
    directory = join(directory, segment);
    if (create) {
      await mkdir(directory, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    if (!(await lstat(directory)).isDirectory()) {
      throw invalid(`file target "${target}": ${directory} is not a directory (a symbolic link?)`);
    }
  }
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
  if (error instanceof ProviderError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  // Missing directories and permissions will not heal by retrying; a full disk or I/O hiccup might.
  const retryable = !['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ELOOP'].includes(code);
  return new ProviderError(
    `file destination: ${action} ${path} failed (${code})`,
    retryable,
    'FileDestination',
  );
}

/**
 * The `file` destination: `target` is a name under `baseDirectory` (created 0700), the file holds the value and
 * nothing else, readable by its owner only.
 */
export function createFileDestinationProvider(options: FileDestinationOptions): FileDestinationProvider {
  const base = resolve(options.baseDirectory);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const destination: FileSecretDestination = {
    async storeSecret(target: string, value: string, ctx: ActionContext): Promise<void> {
      const path = resolveTarget(target, base);
      try {
        await directoriesOnTheWay(base, path, target, true);
        // Renaming over a symbolic link replaces the link, never the file it points to.
        await writeAtomically(path, value);
      } catch (error) {
        throw fileError('writing', path, error);
      }
      ctx.log.info({ destination: 'file', target: path }, 'secret stored');
    },
    async readSecret(target: string): Promise<string> {
      const path = resolveTarget(target, base);
      try {
        await directoriesOnTheWay(base, path, target, false);
        const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          return await handle.readFile('utf8');
        } finally {
          await handle.close();
        }
      } catch (error) {
        throw fileError('reading', path, error);
      }
    },
  };
  return { ...defineProvider('file', {}, {}, destination), destination };
}
