import { resolve } from 'node:path';

/** The runbooks, owners file and connector presets shipped with Tourniquet (`runbooks/` at the repo root). */
export const BUILTIN_RUNBOOKS_DIR = resolve(__dirname, '..', 'runbooks');
