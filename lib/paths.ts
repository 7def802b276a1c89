import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The repository (or installed package) root: one level above this file when run from source, two when run from the
 * compiled build in `dist/`, which holds code only.
 */
export const PACKAGE_ROOT = existsSync(resolve(__dirname, '..', 'package.json'))
  ? resolve(__dirname, '..')
  : resolve(__dirname, '..', '..');

/** The runbooks, owners file and connector presets shipped with Tourniquet (`runbooks/` at the repo root). */
export const BUILTIN_RUNBOOKS_DIR = resolve(PACKAGE_ROOT, 'runbooks');
