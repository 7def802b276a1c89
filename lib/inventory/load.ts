import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILTIN_RUNBOOKS_DIR } from '../paths';
import { readYamlFile } from '../yaml-file';
import {
  emptyInventory,
  validateInventory,
  type Inventory,
  type InventoryIssue,
  type InventoryValidationOptions,
} from './validate';

/** The setting naming the inventory file; unset (or empty) means the shipped `runbooks/inventory.yaml`. */
export const INVENTORY_SETTING = 'TOURNIQUET_INVENTORY';
export const BUILTIN_INVENTORY_FILE = join(BUILTIN_RUNBOOKS_DIR, 'inventory.yaml');

export type InventoryPath =
  | {
      ok: true;
      file: string;
      /** Named by the caller or the setting: then it must exist. The shipped default may be absent. */
      explicit: boolean;
    }
  | { ok: false; issues: InventoryIssue[] };

/** Where the inventory is: `TOURNIQUET_INVENTORY` (a .yaml or .yml file) or the shipped default. */
export function inventoryFilePath(
  env: NodeJS.ProcessEnv = process.env,
  defaultFile = BUILTIN_INVENTORY_FILE,
): InventoryPath {
  const setting = env[INVENTORY_SETTING];
  if (setting === undefined || setting.trim() === '') return { ok: true, file: defaultFile, explicit: false };
  if (setting.includes('\0') || !/\.ya?ml$/i.test(setting.trim())) {
    return {
      ok: false,
      issues: [
        {
          path: '(setting)',
          message: `expected the path of a .yaml or .yml file, got ${JSON.stringify(setting.slice(0, 200))}`,
        },
      ],
    };
  }
  return { ok: true, file: resolve(setting.trim()), explicit: true };
}

export interface LoadInventoryOptions extends InventoryValidationOptions {
  /** Where `TOURNIQUET_INVENTORY` is read when no file is given (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The default file, which may be absent (default `runbooks/inventory.yaml`). */
  defaultFile?: string;
}

export type InventoryResult =
  | {
      ok: true;
      inventory: Inventory;
      file: string;
      /** False when the shipped default file is absent: the inventory is empty. */
      found: boolean;
      warnings: InventoryIssue[];
    }
  | { ok: false; file: string; issues: InventoryIssue[]; warnings: InventoryIssue[] };

/**
 * Reads and validates the inventory: `file`, else `TOURNIQUET_INVENTORY`, else `runbooks/inventory.yaml`. Only
 * that last default may be missing (an empty inventory); a file someone named that is missing is an error.
 */
export function loadInventory(file: string | undefined, options: LoadInventoryOptions): InventoryResult {
  let path: string;
  let explicit: boolean;
  if (file !== undefined) {
    path = resolve(file);
    explicit = true;
  } else {
    const located = inventoryFilePath(options.env ?? process.env, options.defaultFile);
    if (!located.ok) return { ok: false, file: INVENTORY_SETTING, issues: located.issues, warnings: [] };
    ({ file: path, explicit } = located);
  }
  if (!explicit && !existsSync(path)) {
    return { ok: true, inventory: emptyInventory(), file: path, found: false, warnings: [] };
  }
  const read = readYamlFile(path);
  if (!read.ok) {
    const fromSetting = file === undefined && explicit ? ` (named by ${INVENTORY_SETTING})` : '';
    return {
      ok: false,
      file: path,
      issues: read.issues.map((issue) => ({ ...issue, message: `${issue.message}${fromSetting}` })),
      warnings: [],
    };
  }
  const result = validateInventory(read.raw, options);
  if (!result.ok) return { ok: false, file: path, issues: result.issues, warnings: result.warnings };
  return { ok: true, inventory: result.inventory, file: path, found: true, warnings: result.warnings };
}

/** `<file>: <path>: <message>`, one line each, as `runbook validate` prints. */
export function formatInventoryIssues(result: { file: string; issues: InventoryIssue[] }): string[] {
  return result.issues.map((issue) => `${result.file}: ${issue.path}: ${issue.message}`);
}
