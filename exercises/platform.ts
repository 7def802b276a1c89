import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadInventory, type Credential, type Inventory } from '../lib/inventory';
import { FOR_EACH_LISTS, ITEM_KEY_PATTERN, listReference } from '../lib/runbook/for-each';
import {
  MAX_FOR_EACH_ITEMS,
  type InventoryQuery,
  type Runbook,
  type RunbookStep,
} from '../lib/runbook/types';
import type { RunbookIssue } from '../lib/runbook/validate';
import { PROVIDER_CATALOGS, PROVIDER_DIRECTORY } from '../providers';
import { backupOf, splitFaultTarget, type PlatformList, type Scenario } from './scenario';

/**
 * The platform an exercise plays against: the credential inventory its own worker resolves `forEach` items with, and
 * what the simulated discovery actions list (`n8n.listCredentials` → `credentials`).
 */
export interface ExercisePlatform {
  inventory?: {
    /** Absolute path, and the SHA-256 of the file as it was read (recorded with the exercise's evidence). */
    file: string;
    sha256: string;
    inventory: Inventory;
  };
  /** `provider.action` → list → keys: `simulation.faults[<provider.action>].answers`. */
  answers: Record<string, Record<string, string[]>>;
}

/**
 * Loads the scenario's `inventory` (relative to the scenario file) and resolves its `platform` lists. Every problem
 * names its field: `inventory` (with the inventory file's own path inside it), `platform.<provider.action>.<list>`.
 * `ownerRoles`: the roles an inventory owner may name (the scenario's responders and the production owners file's).
 */
export function loadExercisePlatform(
  scenario: Scenario,
  scenarioFile: string,
  ownerRoles: readonly string[],
): { platform: ExercisePlatform; issues: RunbookIssue[] } {
  const issues: RunbookIssue[] = [];
  const platform: ExercisePlatform = { answers: {} };
  if (scenario.inventory !== undefined) {
    const file = resolve(dirname(scenarioFile), scenario.inventory);
    const loaded = loadInventory(file, { providers: PROVIDER_DIRECTORY, ownerRoles });
    const problems = loaded.ok ? [] : loaded.issues;
    // An exercise acts on simulated stand-ins of this build's providers only: a system it lacks cannot be simulated,
    // so what is a warning for a production inventory (not-configured) would fail here.
    const unsimulated = loaded.warnings.map((warning) => ({
      ...warning,
      message: `${warning.message.replace(/:.*$/, '')}: an exercise can only simulate the systems this build has`,
    }));
    for (const problem of [...problems, ...unsimulated]) {
      const where = problem.path === '(file)' ? '' : `${problem.path}: `;
      issues.push({ path: 'inventory', message: `${scenario.inventory}: ${where}${problem.message}` });
    }
    if (loaded.ok && unsimulated.length === 0) {
      platform.inventory = {
        file,
        sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
        inventory: loaded.inventory,
      };
    }
  }

  for (const [action, lists] of Object.entries(scenario.platform)) {
    const dot = action.indexOf('.');
    const [system, name] = [action.slice(0, dot), action.slice(dot + 1)];
    const catalog = PROVIDER_CATALOGS[system];
    const spec = catalog && Object.hasOwn(catalog, name) ? catalog[name] : undefined;
    const at = `platform.${action}`;
    if (!catalog) {
      issues.push({ path: at, message: `no provider "${system}" in this build` });
      continue;
    }
    if (!spec?.lists) {
      const discovery = Object.entries(catalog)
        .filter(([, candidate]) => candidate.lists)
        .map(([candidate]) => `${system}.${candidate}`);
      issues.push({
        path: at,
        message: `${spec ? `${action} lists nothing` : `${system} has no action "${name}"`} (discovery actions: ${discovery.join(', ') || 'none'})`,
      });
      continue;
    }
    platform.answers[action] = {};
    for (const [field, list] of Object.entries(lists)) {
      if (!spec.lists.includes(field)) {
        issues.push({
          path: `${at}.${field}`,
          message: `${action} has no list "${field}" (it lists ${spec.lists.join(', ')})`,
        });
        continue;
      }
      const keys = listKeys(list, platform.inventory?.inventory, scenario.inventory !== undefined);
      if ('problem' in keys) issues.push({ path: `${at}.${field}.fromInventory`, message: keys.problem });
      else platform.answers[action][field] = keys.keys;
    }
  }
  return { platform, issues };
}

function listKeys(
  list: PlatformList,
  inventory: Inventory | undefined,
  named: boolean,
): { keys: string[] } | { problem: string } {
  if (Array.isArray(list)) return { keys: [...new Set(list)] };
  if (!inventory) {
    // An inventory that did not load has its own issues already.
    return named ? { keys: [] } : { problem: 'needs the scenario’s `inventory` to list its credentials' };
  }
  const field = list.fromInventory;
  const keys = inventory.credentials
    .map((credential) => (field === 'id' ? credential.id : credential.identifiers.n8nCredentialId))
    .filter((key): key is string => key !== undefined);
  if (keys.length === 0) return { problem: `no credential of the inventory has an ${field}` };
  const bad = keys.find((key) => !ITEM_KEY_PATTERN.test(key));
  if (bad !== undefined) return { problem: `${field} "${bad}" is not a valid item key` };
  if (keys.length > MAX_FOR_EACH_ITEMS) {
    return { problem: `${keys.length} keys; a forEach step takes at most ${MAX_FOR_EACH_ITEMS}` };
  }
  return { keys: [...new Set(keys)] };
}

/** The credential a key names, as the worker's `resolveForEachItems` looks it up. */
function credentialOf(inventory: Inventory | undefined, key: string): Credential | undefined {
  return (
    inventory?.byId.get(key) ??
    inventory?.credentials.find((credential) => credential.identifiers.n8nCredentialId === key)
  );
}

function matches(credential: Credential, query: InventoryQuery): boolean {
  return (
    (!query.kind || credential.kind === query.kind) &&
    (!query.owner || credential.owners.includes(query.owner)) &&
    (!query.issuer || credential.issuer.slice(0, credential.issuer.indexOf(':')) === query.issuer) &&
    (!query.consumer || credential.consumers.some((consumer) => consumer.provider === query.consumer))
  );
}

/**
 * The keys a `forEach` step of the exercise can iterate over: its literal keys, its inventory query's matches, or
 * what the platform lists for the discovery step it reads (an earlier forEach's `succeededItems`: that step's keys).
 */
export function exerciseItemKeys(
  step: RunbookStep,
  runbook: Runbook,
  platform: ExercisePlatform,
  seen = new Set<string>(),
): string[] {
  const items = step.forEach?.items;
  if (items === undefined || seen.has(step.id)) return [];
  seen.add(step.id);
  if (Array.isArray(items)) return items;
  if (typeof items !== 'string') {
    return (platform.inventory?.inventory.credentials ?? [])
      .filter((credential) => matches(credential, items.inventory))
      .map((credential) => credential.id);
  }
  const reference = listReference(items);
  const source = reference && runbook.steps.find((candidate) => candidate.id === reference.stepId);
  if (!reference || !source) return [];
  if (source.forEach && FOR_EACH_LISTS.includes(reference.field)) {
    return exerciseItemKeys(source, runbook, platform, seen);
  }
  // A role action (`connector.listCredentials`) resolves at run time: any platform list of that name may answer.
  const exact = platform.answers[source.action]?.[reference.field];
  const lists = exact
    ? [exact]
    : Object.values(platform.answers).map((answer) => answer[reference.field] ?? []);
  return [...new Set(lists.flat())];
}

/**
 * Checks the platform against the runbook: every owner a `forEach` step will ask for a batch (the first owner of each
 * item's inventory credential, else the step's owner) and their escalation target have responders, and a
 * provider-failure on `<step>/<item>` names an item that step will have.
 */
export function checkPlatform(
  scenario: Scenario,
  runbook: Runbook,
  platform: ExercisePlatform,
  ownersBackups: Record<string, string>,
): RunbookIssue[] {
  const issues: RunbookIssue[] = [];
  const inventory = platform.inventory?.inventory;
  const reported = new Set<string>();
  for (const step of runbook.steps) {
    if (!step.forEach || step.approval.policy === 'none') continue;
    const byOwner = new Map<string, string[]>();
    for (const key of exerciseItemKeys(step, runbook, platform)) {
      const owner = credentialOf(inventory, key)?.owners[0] ?? step.owner;
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), key]);
    }
    for (const [owner, keys] of byOwner) {
      const escalation = step.approval.escalateTo ?? backupOf(scenario, owner, ownersBackups);
      const asked: [string, string][] = [
        [owner, `it approves its batch of step "${step.id}": ${keys.length} items such as ${keys[0]}`],
        ...(escalation
          ? [[escalation, `escalation target of ${owner}'s batch of step "${step.id}"`] as [string, string]]
          : []),
      ];
      for (const [role, why] of asked) {
        if (scenario.responders[role] || reported.has(role)) continue;
        reported.add(role);
        issues.push({ path: `responders.${role}`, message: `missing: ${why}` });
      }
    }
  }
  scenario.injects.forEach((inject, index) => {
    if (inject.type !== 'provider-failure') return;
    const target = splitFaultTarget(inject.target);
    if (target?.kind !== 'item') return;
    const step = runbook.steps.find((candidate) => candidate.id === target.stepId);
    if (!step?.forEach) return; // checkScenarioAgainstRunbook names it
    const keys = exerciseItemKeys(step, runbook, platform);
    if (!keys.includes(target.item)) {
      issues.push({
        path: `injects[${index}].target`,
        message: `"${target.item}" is not an item of step "${step.id}" (${keys.length === 0 ? 'it has none: see platform and inventory' : `its ${keys.length} items are ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}`})`,
      });
    }
  });
  return issues;
}
