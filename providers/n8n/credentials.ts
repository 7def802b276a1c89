import { randomBytes } from 'node:crypto';
import { deliverMinted } from '../delivery';
import type { SecretDestinationParams } from '../roles/issuer';
import { ProviderError, type ActionContext, type ActionResult } from '../types';
import type { N8nClient } from './client';
import { N8N, type CredentialTarget } from './refs';
import {
  credentialsOf,
  getWorkflow,
  listWorkflows,
  usesCredential,
  type N8nNode,
  type N8nWorkflow,
  type StepMemory,
} from './workflows';

/**
 * Credentials through n8n's public API (1.123): it can create a credential (`POST /credentials`), delete one
 * (`DELETE /credentials/{id}`), describe a type (`GET /credentials/schema/{type}`) and move one between projects,
 * but it cannot list credentials, read their data nor update them. So:
 *
 * - a credential is replaced, not updated: a new one of the same type and name holds the new value, every workflow
 *   node that named the old one is repointed (`GET` + `PUT /workflows/{id}`, active ones stay active), and only then
 *   is the old one deleted. Its id changes; its name does not.
 * - its type comes from the workflow nodes that use it (a node says `{ credentials: { <type>: { id, name } } }`);
 *   a credential no workflow uses has no readable type, and nothing to repoint.
 * - what the replacement must keep besides the secret (a header's name) cannot be read back either: the target
 *   names it (`<id>#value?name=X-Hook-Token`). Fields it does not name take their defaults.
 * - the list of credentials is the union of those the workflows name and those n8n's security audit reports as
 *   unused (`POST /audit`, category credentials): every credential is one or the other.
 */

/** The field that holds the secret, for types whose secret field is plain. Any other type needs `#<field>`. */
const SECRET_FIELD: Readonly<Record<string, string>> = {
  httpHeaderAuth: 'value',
  httpQueryAuth: 'value',
  httpBearerAuth: 'token',
  httpBasicAuth: 'password',
  httpDigestAuth: 'password',
  githubApi: 'accessToken',
  slackApi: 'accessToken',
  openAiApi: 'apiKey',
};

/** Non-secret fields without which a replacement would not work at all (an empty header name): never defaulted. */
const MUST_NAME: Readonly<Record<string, readonly string[]>> = {
  httpHeaderAuth: ['name'],
  httpQueryAuth: ['name'],
  httpBasicAuth: ['user'],
  httpDigestAuth: ['user'],
};

/** `settings` keys `PUT /workflows/{id}` accepts (its schema refuses any other); the rest are kept by n8n as they are. */
const WORKFLOW_SETTINGS = [
  'saveExecutionProgress',
  'saveManualExecutions',
  'saveDataErrorExecution',
  'saveDataSuccessExecution',
  'executionTimeout',
  'errorWorkflow',
  'timezone',
  'executionOrder',
  'callerPolicy',
  'callerIds',
  'timeSavedPerExecution',
  'availableInMCP',
] as const;

interface CredentialSchema {
  properties?: Record<string, { type?: unknown }>;
  required?: unknown;
}

interface AuditLocation {
  kind?: unknown;
  id?: unknown;
}
type AuditReport = Record<string, { sections?: { title?: unknown; location?: AuditLocation[] }[] }>;

export interface CredentialInventory {
  /** Named by a workflow node, with the type the node gives. */
  used: Map<string, string>;
  /** Reported by the audit as used by no workflow. */
  unused: Set<string>;
  /** False when the audit could not be run (the key may not): unused credentials are then missing. */
  complete: boolean;
}

export async function credentialInventory(
  client: N8nClient,
  ctx: ActionContext,
): Promise<CredentialInventory> {
  const used = new Map<string, string>();
  for (const workflow of await listWorkflows(client, ctx)) {
    for (const credential of credentialsOf(workflow)) used.set(credential.id, credential.type);
  }
  const unused = new Set<string>();
  let report: AuditReport | undefined;
  try {
    ({ data: report } = await client.json<AuditReport>(ctx, 'POST', '/audit', {
      body: { additionalOptions: { categories: ['credentials'] } },
    }));
  } catch (error) {
    if (!(error instanceof ProviderError) || error.code !== 'N8nForbidden') throw error;
    ctx.log.warn({ error: error.message }, 'n8n audit refused: listing only the credentials workflows use');
    return { used, unused, complete: false };
  }
  for (const section of report?.['Credentials Risk Report']?.sections ?? []) {
    for (const location of section.location ?? []) {
      if (location?.kind === 'credential' && typeof location.id === 'string' && !used.has(location.id)) {
        unused.add(location.id);
      }
    }
  }
  return { used, unused, complete: true };
}

/**
 * Serialises the read-modify-write of one workflow within this worker. Rotating two credentials one workflow uses at
 * once (a fan-out batch runs items concurrently) would otherwise have each write back the other's old reference.
 */
export class WorkflowLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(id, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }
}

export interface Replacement {
  oldCredentialId: string;
  newCredentialId: string;
  type: string;
  field: string;
  repointedWorkflowIds: string[];
  reactivatedWorkflowIds: string[];
  oldCredentialDeleted: boolean;
}

function refused(message: string, code = 'N8nCannotReplace'): ProviderError {
  return new ProviderError(message, false, code);
}

function pickSettings(settings: Record<string, unknown> | undefined): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of WORKFLOW_SETTINGS)
    if (settings && settings[key] !== undefined) picked[key] = settings[key];
  return picked;
}

function repointNodes(
  nodes: N8nNode[],
  from: ReadonlySet<string>,
  to: { id: string; name: string },
): N8nNode[] {
  return nodes.map((node) => {
    if (!node || typeof node.credentials !== 'object' || node.credentials === null) return node;
    const credentials = Object.fromEntries(
      Object.entries(node.credentials).map(([type, value]) =>
        typeof value === 'object' && value !== null && typeof value.id === 'string' && from.has(value.id)
          ? [type, { id: to.id, name: to.name }]
          : [type, value],
      ),
    );
    return { ...node, credentials };
  });
}

/** The checks n8n's schema allows before anything is created: every problem found here is the target's. */
async function checkData(
  client: N8nClient,
  ctx: ActionContext,
  target: CredentialTarget,
  type: string,
): Promise<string> {
  const field = target.field ?? SECRET_FIELD[type];
  const where = `credential ${target.credentialId} (${type})`;
  if (!field) {
    throw refused(
      `n8n: ${where}: name the field that holds the secret in the target (<credentialId>#<field>)`,
    );
  }
  const { data: schema, status } = await client.json<CredentialSchema>(
    ctx,
    'GET',
    `/credentials/schema/${encodeURIComponent(type)}`,
    { accept: [404] },
  );
  if (status === 404 || !schema) throw refused(`n8n: ${where}: n8n does not know the credential type`);
  const properties = schema.properties ?? {};
  if (!Object.hasOwn(properties, field)) {
    throw refused(`n8n: ${where}: the type has no field "${field}"`);
  }
  if (properties[field]?.type !== 'string') {
    throw refused(`n8n: ${where}: "${field}" is not a text field`);
  }
  for (const key of Object.keys(target.fixed)) {
    if (!Object.hasOwn(properties, key)) throw refused(`n8n: ${where}: the type has no field "${key}"`);
  }
  const required = Array.isArray(schema.required)
    ? schema.required.filter((key) => typeof key === 'string')
    : [];
  const missing = [...new Set([...required, ...(MUST_NAME[type] ?? [])])].filter(
    (key) => key !== field && !Object.hasOwn(target.fixed, key),
  );
  if (missing.length > 0) {
    throw refused(
      `n8n: ${where}: the replacement needs ${missing.join(', ')}, which n8n's API cannot read back: name them in the target (?${missing.map((key) => `${key}=…`).join('&')})`,
    );
  }
  return field;
}

/**
 * Puts `value` into the credential by replacing it (see above). A retry of the same step (same idempotency key)
 * also repoints what an earlier attempt's replacement took over, and deletes that one, so attempts converge on one
 * credential.
 */
export async function replaceCredential(
  client: N8nClient,
  ctx: ActionContext,
  memory: StepMemory,
  locks: WorkflowLocks,
  target: CredentialTarget,
  value: string,
): Promise<Replacement> {
  const memoryKey = `replaceCredential:${target.credentialId}`;
  const earlier = memory.recall(memoryKey, ctx);
  const replaced = new Set([target.credentialId, ...earlier]);
  const workflows = (await listWorkflows(client, ctx)).filter((workflow) =>
    usesCredential(workflow, replaced),
  );
  const named = workflows.flatMap(credentialsOf).filter((credential) => replaced.has(credential.id));
  const types = new Set(named.map((credential) => credential.type));
  if (types.size === 0) {
    throw refused(
      `n8n: credential ${target.credentialId} is used by no workflow: n8n's public API cannot tell its type, and nothing reads it (delete it instead)`,
      'N8nCredentialUnused',
    );
  }
  if (types.size > 1) {
    throw refused(
      `n8n: credential ${target.credentialId} is named with several types (${[...types].join(', ')})`,
    );
  }
  const [type] = types;
  const name =
    named.find((credential) => credential.id === target.credentialId)?.name ??
    named.find((credential) => credential.name)?.name ??
    `credential ${target.credentialId}`;
  const field = await checkData(client, ctx, target, type);

  const { data: created } = await client.json<{ id?: unknown }>(ctx, 'POST', '/credentials', {
    body: { name, type, data: { ...target.fixed, [field]: value } },
  });
  if (!created || typeof created.id !== 'string') {
    throw new ProviderError('n8n: POST /api/v1/credentials answered without an id', true, 'N8nBadAnswer');
  }
  const newId = created.id;
  memory.remember(memoryKey, ctx, [...earlier, newId]);

  const repointed = new Set<string>();
  const reactivated = new Set<string>();
  const repointAll = async (ids: string[]) => {
    for (const id of ids) {
      const outcome = await locks.run(id, () => repoint(client, ctx, id, replaced, { id: newId, name }));
      if (outcome !== 'gone') repointed.add(id);
      if (outcome === 'reactivated') reactivated.add(id);
      ctx.heartbeat({ workflowsRepointed: repointed.size, of: workflows.length });
    }
  };
  try {
    await repointAll(workflows.map((workflow) => workflow.id));
  } catch (error) {
    // Nothing uses the new credential yet: do not leave a second live copy of the secret behind.
    if (repointed.size === 0) {
      await client
        .json(ctx, 'DELETE', `/credentials/${encodeURIComponent(newId)}`, { accept: [404] })
        .then(() => memory.remember(memoryKey, ctx, earlier))
        .catch(() => undefined);
    }
    throw error;
  }

  // Another writer (a rotation in another worker, someone in the editor) may have saved an older copy of a workflow
  // meanwhile: the old credential is deleted only once no workflow names it.
  for (let round = 1; ; round += 1) {
    const stale = (await listWorkflows(client, ctx)).filter((workflow) => usesCredential(workflow, replaced));
    if (stale.length === 0) break;
    if (round > 3) {
      throw new ProviderError(
        `n8n: workflows ${stale.map((workflow) => workflow.id).join(', ')} name credential ${target.credentialId} again after repointing; it is kept until they do not`,
        true,
        'N8nNotRepointed',
      );
    }
    await repointAll(stale.map((workflow) => workflow.id));
  }

  let oldDeleted = false;
  for (const id of replaced) {
    const { status } = await client.json(ctx, 'DELETE', `/credentials/${encodeURIComponent(id)}`, {
      accept: [404],
    });
    if (id === target.credentialId) oldDeleted = status !== 404;
  }
  memory.remember(memoryKey, ctx, [newId]);
  ctx.log.info(
    {
      credential: target.credentialId,
      replacement: newId,
      type,
      field,
      workflows: [...repointed],
    },
    'n8n credential replaced and its workflows repointed',
  );
  return {
    oldCredentialId: target.credentialId,
    newCredentialId: newId,
    type,
    field,
    repointedWorkflowIds: [...repointed],
    reactivatedWorkflowIds: [...reactivated],
    oldCredentialDeleted: oldDeleted,
  };
}

/**
 * Repoints one workflow's nodes to the new credential and proves it: neither the saved version nor the one that runs
 * names a replaced credential afterwards, and an active workflow is still active. Where n8n runs a published version
 * apart from the saved one (draft/publish), the repointed version is published by activating it again.
 */
async function repoint(
  client: N8nClient,
  ctx: ActionContext,
  id: string,
  from: ReadonlySet<string>,
  to: { id: string; name: string },
): Promise<'repointed' | 'reactivated' | 'gone'> {
  const path = `/workflows/${encodeURIComponent(id)}`;
  const current = await getWorkflow(client, ctx, id);
  if (!current) return 'gone';
  const wasActive = current.active;
  const { status } = await client.json<N8nWorkflow>(ctx, 'PUT', path, {
    body: {
      name: current.name,
      nodes: repointNodes(current.nodes ?? [], from, to),
      connections: current.connections ?? {},
      settings: pickSettings(current.settings),
    },
    accept: [404],
  });
  if (status === 404) return 'gone';
  let after = await getWorkflow(client, ctx, id);
  let outcome: 'repointed' | 'reactivated' = 'repointed';
  if (after && wasActive && (!after.active || usesCredential(after, from))) {
    await client.json(ctx, 'POST', `${path}/activate`, {});
    after = await getWorkflow(client, ctx, id);
    outcome = 'reactivated';
  }
  if (!after) return 'gone';
  if (usesCredential(after, from)) {
    throw new ProviderError(
      `n8n: workflow ${id} still names the replaced credential after PUT ${path}`,
      true,
      'N8nNotRepointed',
    );
  }
  if (wasActive && !after.active) {
    throw new ProviderError(
      `n8n: workflow ${id} is no longer active after repointing`,
      false,
      'N8nNotActive',
    );
  }
  return outcome;
}

export function credentialActions(client: N8nClient, memory: StepMemory) {
  const locks = new WorkflowLocks();
  return {
    async listCredentials(ctx: ActionContext): Promise<ActionResult> {
      const inventory = await credentialInventory(client, ctx);
      const credentials = [...new Set([...inventory.used.keys(), ...inventory.unused])].sort();
      ctx.log.info(
        { credentials: credentials.length, complete: inventory.complete },
        'n8n credentials listed',
      );
      return {
        summary: {
          credentials,
          count: credentials.length,
          usedByWorkflows: [...inventory.used.keys()].sort(),
          notUsedByAnyWorkflow: [...inventory.unused].sort(),
          credentialTypes: [...inventory.used].map(([id, type]) => `${id}:${type}`).sort(),
          complete: inventory.complete,
          note: inventory.complete
            ? `${credentials.length} credentials: ${inventory.used.size} named by workflows, ${inventory.unused.size} used by none (security audit)`
            : 'only the credentials workflows name: the API key may not run the security audit, which reports the rest',
        },
      };
    },

    async rotateCredential(
      target: CredentialTarget,
      destinations: SecretDestinationParams[],
      ctx: ActionContext,
    ): Promise<ActionResult> {
      if (destinations.length === 0) {
        throw refused(
          `n8n.rotateCredential: credential ${target.credentialId} has no destination: its consumers would not get the new value`,
          'N8nNoDestination',
        );
      }
      // n8n only compares what a caller sends with what it stores: any long random text will do.
      const value = randomBytes(32).toString('base64url');
      const replacement = await replaceCredential(client, ctx, memory, locks, target, value);
      const delivered: string[] = [];
      for (const destination of destinations) {
        await deliverMinted(N8N, destination, value, ctx);
        delivered.push(`${destination.provider}:${destination.target}`);
      }
      ctx.log.info(
        {
          credential: target.credentialId,
          replacement: replacement.newCredentialId,
          destinations: delivered,
        },
        'n8n credential rotated',
      );
      return {
        summary: {
          credential: `${N8N}:credential/${replacement.oldCredentialId}`,
          ...replacement,
          destinations: delivered,
          note: `replaced credential ${replacement.oldCredentialId} by ${replacement.newCredentialId} (same name and type), repointed ${replacement.repointedWorkflowIds.length} workflows, deleted the old one`,
        },
      };
    },

    /** The destination role: the value another issuer minted goes into an n8n credential the same way. */
    async storeSecret(target: CredentialTarget, value: string, ctx: ActionContext): Promise<void> {
      await replaceCredential(client, ctx, memory, locks, target, value);
    },
  };
}
