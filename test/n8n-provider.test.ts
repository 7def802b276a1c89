import { createHash, randomBytes } from 'node:crypto';
import { providerTranscript } from './harness/provider-transcript';
import { createServer } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openVault } from '../evidence';
import { PROVIDER_DIRECTORY } from '../providers';
import { ProviderRefError } from '../providers/plugin';
import { N8nClient } from '../providers/n8n/client';
import { n8nOptionsFromEnv } from '../providers/n8n/options';
import { createN8nProvider, type N8nProvider } from '../providers/n8n/provider';
import {
  ProviderError,
  type ActionContext,
  type EvidenceSink,
  type PreservedArtifact,
} from '../providers/types';
import { startN8n, type N8nCredentialRef, type N8nServer, type N8nWorkflowJson } from './harness/n8n';

/*
 * The n8n provider against a real n8n (1.123, SQLite, started by test/harness/n8n.ts). Every test builds its own
 * workflows and credentials on the one server; the platform freeze runs last, and undoes itself.
 */

/** Everything the provider said or returned, and every error it threw: searched for secrets at the end. */
const transcript: string[] = [];
const { act, failure } = providerTranscript(transcript);
/** The API keys and every credential value that existed during the run. */
const secrets = new Set<string>();

let n8n: N8nServer;
let provider: N8nProvider;

interface KeptArtifact extends PreservedArtifact {
  incidentId: string;
  stepId: string;
  source: string;
  name: string;
  contentType: string;
  content: Buffer;
}

/** The vault as the provider sees it, keeping the content so that tests can read what was preserved. */
class KeepingSink implements EvidenceSink {
  readonly artifacts: KeptArtifact[] = [];

  async preserve(input: Parameters<EvidenceSink['preserve']>[0]): Promise<PreservedArtifact> {
    const chunks: Buffer[] = [];
    for await (const chunk of input.content)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    const content = Buffer.concat(chunks);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const artifact = { artifactId: sha256, sha256, bytes: content.length };
    const { content: _stream, ...meta } = input;
    this.artifacts.push({ ...artifact, ...meta, content });
    return artifact;
  }
}

const allSinks: KeepingSink[] = [];
const delivered = new Map<string, string>();

function secret(label: string): string {
  const value = `canary-${label}-${randomBytes(12).toString('hex')}`;
  secrets.add(value);
  return value;
}

function unique(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

type TestContext = ActionContext & { evidence: KeepingSink };

function makeContext(
  overrides: Partial<Pick<ActionContext, 'undoOf' | 'evidence' | 'idempotencyKey'>> = {},
): TestContext {
  const sink = new KeepingSink();
  allSinks.push(sink);
  return {
    incidentId: 'inc-n8n',
    stepId: 'step',
    idempotencyKey: overrides.idempotencyKey ?? `key-${randomBytes(4).toString('hex')}`,
    attempt: 1,
    exercise: false,
    signal: new AbortController().signal,
    log: {
      info: (fields, message) => transcript.push(JSON.stringify({ level: 'info', fields, message })),
      warn: (fields, message) => transcript.push(JSON.stringify({ level: 'warn', fields, message })),
    },
    heartbeat: () => undefined,
    evidence: (overrides.evidence as KeepingSink | undefined) ?? sink,
    undoOf: overrides.undoOf,
    deliverSecret: (destination, value) => {
      secrets.add(value);
      delivered.set(`${destination.provider}:${destination.target}`, value);
      return Promise.resolve();
    },
  };
}

async function headerCredential(
  label: string,
  header = 'X-Hook-Token',
): Promise<N8nCredentialRef & { value: string }> {
  const value = secret(label);
  const credential = await n8n.createCredential(unique(label), 'httpHeaderAuth', { name: header, value });
  return { ...credential, value };
}

async function allWorkflows(): Promise<N8nWorkflowJson[]> {
  const found: N8nWorkflowJson[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await n8n.api<{ data: N8nWorkflowJson[]; nextCursor: string | null }>(
      'GET',
      `/workflows?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    found.push(...page.body.data);
    if (!page.body.nextCursor) return found;
    cursor = page.body.nextCursor;
  }
}

function namesCredential(workflow: N8nWorkflowJson, credentialId: string): boolean {
  const nodes = [...workflow.nodes, ...(workflow.activeVersion?.nodes ?? [])];
  return nodes.some((node) =>
    Object.values(node.credentials ?? {}).some((credential) => credential.id === credentialId),
  );
}

async function isActive(id: string): Promise<boolean> {
  return (await n8n.workflow(id))!.active;
}

beforeAll(async () => {
  n8n = await startN8n();
  secrets.add(n8n.apiKey);
  secrets.add(n8n.adminApiKey);
  const options = n8nOptionsFromEnv({ N8N_BASE_URL: n8n.baseUrl, N8N_API_KEY: n8n.apiKey });
  provider = createN8nProvider(options!);
}, 900_000);

afterAll(async () => {
  await n8n?.stop();
});

describe('connector: workflows really stop', () => {
  test('a webhook answers before disableConnector, 404 after, and enableConnector with the undo brings it back', async () => {
    const auth = await headerCredential('single');
    const path = unique('single');
    const workflow = await n8n.webhookWorkflow({ name: unique('single'), path, auth });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(200);

    const disabled = await act(
      provider.actions.disableConnector({ ref: `n8n:${workflow.id}` }, makeContext()),
    );
    expect(disabled.summary).toMatchObject({ scope: 'workflow', deactivatedWorkflowIds: [workflow.id] });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(404);
    expect(await isActive(workflow.id)).toBe(false);

    // Again: nothing left to do, and it says so rather than claim the workflow.
    const again = await act(provider.actions.disableConnector({ ref: `n8n:${workflow.id}` }, makeContext()));
    expect(again.summary).toMatchObject({
      deactivatedWorkflowIds: [],
      alreadyInactiveWorkflowIds: [workflow.id],
    });

    const enabled = await act(
      provider.actions.enableConnector(
        { ref: `n8n:${workflow.id}` },
        makeContext({ undoOf: disabled.summary }),
      ),
    );
    expect(enabled.summary).toMatchObject({ reactivatedWorkflowIds: [workflow.id] });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(200);
  });

  test('credential-scoped: only the workflows whose nodes use the credential are deactivated, and exactly those come back', async () => {
    const leaked = await headerCredential('scoped-leaked');
    const other = await headerCredential('scoped-other');
    const [pathA, pathB, pathC] = [unique('a'), unique('b'), unique('c')];
    const byAuth = await n8n.webhookWorkflow({ name: unique('by-auth'), path: pathA, auth: leaked });
    const byNode = await n8n.webhookWorkflow({
      name: unique('by-node'),
      path: pathB,
      auth: other,
      uses: [leaked],
    });
    const unrelated = await n8n.webhookWorkflow({ name: unique('unrelated'), path: pathC, auth: other });
    const offBefore = await n8n.webhookWorkflow({
      name: unique('off-before'),
      path: unique('d'),
      auth: leaked,
      active: false,
    });

    const ref = `n8n:credential/${leaked.id}`;
    const disabled = await act(provider.actions.disableConnector({ ref }, makeContext()));
    expect(new Set(disabled.summary.deactivatedWorkflowIds as string[])).toEqual(
      new Set([byAuth.id, byNode.id]),
    );
    expect(disabled.summary.alreadyInactiveWorkflowIds).toEqual([offBefore.id]);
    expect(await n8n.callWebhook(pathA, { 'X-Hook-Token': leaked.value })).toBe(404);
    expect(await n8n.callWebhook(pathB, { 'X-Hook-Token': other.value })).toBe(404);
    expect(await n8n.callWebhook(pathC, { 'X-Hook-Token': other.value })).toBe(200);
    expect(await isActive(unrelated.id)).toBe(true);

    const enabled = await act(
      provider.actions.enableConnector({ ref }, makeContext({ undoOf: disabled.summary })),
    );
    expect(new Set(enabled.summary.reactivatedWorkflowIds as string[])).toEqual(
      new Set([byAuth.id, byNode.id]),
    );
    expect(enabled.summary.leftAsBefore).toEqual([offBefore.id]);
    expect(await isActive(offBefore.id)).toBe(false);
    expect(await n8n.callWebhook(pathA, { 'X-Hook-Token': leaked.value })).toBe(200);
  });
});

describe('executions: preserved, then purged', () => {
  test('captureLogs copies every execution of the window with its data; purgeLogs deletes exactly those', async () => {
    const auth = await headerCredential('executions');
    const path = unique('executions');
    const workflow = await n8n.webhookWorkflow({ name: unique('executions'), path, auth });
    const bystanderPath = unique('bystander');
    const bystander = await n8n.webhookWorkflow({ name: unique('bystander'), path: bystanderPath });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value }, { msg: 'before the window' })).toBe(
      200,
    );
    await n8n.waitForExecutions(workflow.id, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const since = new Date().toISOString();
    for (const msg of ['one', 'two', 'three']) {
      expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value }, { msg })).toBe(200);
    }
    // Another workflow's execution in the same window is not this connector's.
    expect(await n8n.callWebhook(bystanderPath, {}, { msg: 'bystander' })).toBe(200);
    const all = await n8n.waitForExecutions(workflow.id, 4);
    await n8n.waitForExecutions(bystander.id, 1);
    const inWindow = all
      .filter((execution) => execution.startedAt! >= since)
      .map((execution) => execution.id);
    expect(inWindow).toHaveLength(3);

    const ref = `n8n:${workflow.id}`;
    const ctx = makeContext();
    const captured = await act(provider.actions.captureLogs({ ref, since }, ctx));
    expect(captured.summary).toMatchObject({ executions: 3, artifactIds: [expect.any(String)] });
    const [artifact] = ctx.evidence.artifacts;
    expect(artifact).toMatchObject({
      source: 'n8n',
      contentType: 'application/x-ndjson',
      name: expect.stringMatching(new RegExp(`^n8n/executions/${workflow.id}/\\d+-\\d+\\.ndjson$`)),
    });
    const lines = artifact.content.toString('utf8').trimEnd().split('\n');
    const [header, ...executions] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(header).toMatchObject({
      source: 'n8n',
      ref,
      executionIds: [...inWindow].sort((a, b) => Number(a) - Number(b)),
    });
    expect(executions.map((execution) => String(execution.id)).sort()).toEqual([...inWindow].sort());
    // Verbatim, data included: what the webhook saw is the evidence (the vault keeps it encrypted).
    expect(executions.every((execution) => (execution.data as object | undefined) !== undefined)).toBe(true);
    expect(artifact.content.toString('utf8')).toContain(auth.value);
    expect(artifact.content.toString('utf8')).toContain('"seen":"two"');
    expect(artifact.content.toString('utf8')).not.toContain('"seen":"bystander"');

    const purgeCtx = makeContext();
    const purged = await act(provider.actions.purgeLogs({ ref, since }, purgeCtx));
    expect(purged.summary).toMatchObject({ purgedExecutions: 3, preservedArtifactIds: [expect.any(String)] });
    expect(new Set(purged.summary.purgedExecutionIds as string[])).toEqual(new Set(inWindow));
    // Each purged execution was copied again just before: nothing is deleted unseen.
    expect(purgeCtx.evidence.artifacts).toHaveLength(1);
    expect(purgeCtx.evidence.artifacts[0].content.toString('utf8').trimEnd().split('\n')).toHaveLength(4);
    const left = (await n8n.executions(workflow.id)).map((execution) => execution.id);
    expect(left).toHaveLength(1);
    expect(left.some((id) => inWindow.includes(id))).toBe(false);
    expect(await n8n.executions(bystander.id)).toHaveLength(1);
    for (const id of inWindow) expect((await n8n.api('GET', `/executions/${id}`)).status).toBe(404);
  });

  test('into the real evidence vault: its manifest lists and verifies every artifact, and nothing is on disk in the clear', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tourniquet-n8n-vault-'));
    try {
      const vault = await openVault({ dataDir, env: {} });
      const auth = await headerCredential('vault');
      const path = unique('vault');
      const workflow = await n8n.webhookWorkflow({ name: unique('vault'), path, auth });
      for (const msg of ['one', 'two']) {
        expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value }, { msg })).toBe(200);
      }
      await n8n.waitForExecutions(workflow.id, 2);
      const ref = `n8n:credential/${auth.id}`;
      const captured = await act(provider.actions.captureLogs({ ref }, makeContext({ evidence: vault })));
      const purged = await act(provider.actions.purgeLogs({ ref }, makeContext({ evidence: vault })));
      expect(captured.summary).toMatchObject({ executions: 2, workflowIds: [workflow.id] });
      expect(purged.summary).toMatchObject({ purgedExecutions: 2 });
      expect(await n8n.executions(workflow.id)).toEqual([]);

      const entries = await vault.list('inc-n8n');
      transcript.push(JSON.stringify(entries));
      const kept = entries.flatMap((entry) => (entry.type === 'artifact' ? [entry.sha256] : []));
      expect(kept).toEqual(
        expect.arrayContaining([
          ...(captured.summary.artifactIds as string[]),
          ...(purged.summary.preservedArtifactIds as string[]),
        ]),
      );
      expect((await vault.verify('inc-n8n', { deep: true })).ok).toBe(true);
      // The executions hold the header value; the vault holds them sealed.
      const files = await readdir(dataDir, { recursive: true, withFileTypes: true });
      for (const file of files.filter((entry) => entry.isFile())) {
        const bytes = await readFile(join(file.parentPath, file.name));
        expect([file.name, bytes.includes(auth.value)]).toEqual([file.name, false]);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('purgeLogs refuses, deleting nothing, when the evidence cannot be preserved or the vault keeps other bytes', async () => {
    const auth = await headerCredential('refuse');
    const path = unique('refuse');
    const workflow = await n8n.webhookWorkflow({ name: unique('refuse'), path, auth });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(200);
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(200);
    await n8n.waitForExecutions(workflow.id, 2);
    const ref = `n8n:${workflow.id}`;

    const noVault: EvidenceSink = {
      preserve: async (input) => {
        input.content.destroy();
        return Promise.reject(new Error('vault unavailable'));
      },
    };
    const refused = await failure(provider.actions.purgeLogs({ ref }, makeContext({ evidence: noVault })));
    expect(refused).toMatchObject({ code: 'N8nEvidenceNotPreserved', retryable: false });
    expect(refused.message).toMatch(
      /refusing to delete executions .*: their evidence could not be preserved/,
    );
    expect(await n8n.executions(workflow.id)).toHaveLength(2);

    // A vault that answers for bytes other than the ones streamed into it has not kept the executions.
    const lying: EvidenceSink = {
      preserve: async (input) => {
        let bytes = 0;
        for await (const chunk of input.content) bytes += (chunk as Buffer).length;
        return { artifactId: 'a'.repeat(64), sha256: 'a'.repeat(64), bytes };
      },
    };
    const mismatch = await failure(provider.actions.purgeLogs({ ref }, makeContext({ evidence: lying })));
    expect(mismatch).toMatchObject({ code: 'N8nEvidenceNotPreserved', retryable: false });
    expect(await n8n.executions(workflow.id)).toHaveLength(2);
  });
});

describe('credentials: replaced, repointed, the old one gone', () => {
  test('rotateCredential mints a value, repoints every workflow, deletes the old credential and delivers the value', async () => {
    const leaked = await headerCredential('rotate');
    const bystanderAuth = await headerCredential('rotate-bystander');
    const path = unique('rotate');
    const guarded = await n8n.webhookWorkflow({ name: unique('guarded'), path, auth: leaked });
    const caller = await n8n.webhookWorkflow({
      name: unique('caller'),
      path: unique('caller'),
      auth: bystanderAuth,
      uses: [leaked],
      active: false,
    });
    const bystander = await n8n.webhookWorkflow({
      name: unique('bystander'),
      path: unique('bystander'),
      auth: bystanderAuth,
    });
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': leaked.value })).toBe(200);

    const destination = { provider: 'file', target: unique('hook-token') };
    const rotated = await act(
      provider.actions.rotateCredential(
        { ref: `n8n:credential/${leaked.id}#value?name=X-Hook-Token`, destinations: [destination] },
        makeContext(),
      ),
    );
    const newId = rotated.summary.newCredentialId as string;
    expect(rotated.summary).toMatchObject({
      oldCredentialId: leaked.id,
      type: 'httpHeaderAuth',
      field: 'value',
      oldCredentialDeleted: true,
      destinations: [`file:${destination.target}`],
    });
    expect(new Set(rotated.summary.repointedWorkflowIds as string[])).toEqual(
      new Set([guarded.id, caller.id]),
    );
    expect(newId).not.toBe(leaked.id);
    const value = delivered.get(`file:${destination.target}`)!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // No workflow names the old credential, in its saved version or in the one that runs.
    const workflows = await allWorkflows();
    expect(
      workflows.filter((workflow) => namesCredential(workflow, leaked.id)).map((workflow) => workflow.id),
    ).toEqual([]);
    expect(namesCredential((await n8n.workflow(guarded.id))!, newId)).toBe(true);
    expect(namesCredential((await n8n.workflow(caller.id))!, newId)).toBe(true);
    expect(namesCredential((await n8n.workflow(bystander.id))!, bystanderAuth.id)).toBe(true);
    // Active stays active, inactive stays inactive.
    expect([await isActive(guarded.id), await isActive(caller.id), await isActive(bystander.id)]).toEqual([
      true,
      false,
      true,
    ]);
    // The old credential is gone; the webhook takes the new value and refuses the leaked one.
    expect((await n8n.api('DELETE', `/credentials/${leaked.id}`)).status).toBe(404);
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': value })).toBe(200);
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': leaked.value })).toBe(403);
  });

  test('two credentials of one workflow rotated at once: neither rotation writes back the other’s old reference', async () => {
    const first = await headerCredential('both-a');
    const second = await headerCredential('both-b', 'X-Other-Token');
    const path = unique('both');
    const workflow = await n8n.webhookWorkflow({ name: unique('both'), path, auth: first, uses: [second] });
    const [a, b] = await Promise.all([
      act(
        provider.actions.rotateCredential(
          {
            ref: `n8n:credential/${first.id}?name=X-Hook-Token`,
            destinations: [{ provider: 'file', target: 'a' }],
          },
          makeContext(),
        ),
      ),
      act(
        provider.actions.rotateCredential(
          {
            ref: `n8n:credential/${second.id}?name=X-Other-Token`,
            destinations: [{ provider: 'file', target: 'b' }],
          },
          makeContext(),
        ),
      ),
    ]);
    const after = (await n8n.workflow(workflow.id))!;
    expect([namesCredential(after, first.id), namesCredential(after, second.id)]).toEqual([false, false]);
    expect(namesCredential(after, a.summary.newCredentialId as string)).toBe(true);
    expect(namesCredential(after, b.summary.newCredentialId as string)).toBe(true);
    expect(after.active).toBe(true);
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': delivered.get('file:a')! })).toBe(200);
  });

  test('as a destination, storeSecret puts another issuer’s value into the credential the same way', async () => {
    const leaked = await headerCredential('store', 'X-Store-Token');
    const path = unique('store');
    const workflow = await n8n.webhookWorkflow({ name: unique('store'), path, auth: leaked });
    const value = secret('stored');
    await provider.destination!.storeSecret(`${leaked.id}?name=X-Store-Token`, value, makeContext());
    expect(namesCredential((await n8n.workflow(workflow.id))!, leaked.id)).toBe(false);
    expect(await n8n.callWebhook(path, { 'X-Store-Token': value })).toBe(200);
    expect(await n8n.callWebhook(path, { 'X-Store-Token': leaked.value })).toBe(403);
  });

  test('a target that would lose the header name, and a credential no workflow uses, change nothing', async () => {
    const leaked = await headerCredential('guard');
    const path = unique('guard');
    const workflow = await n8n.webhookWorkflow({ name: unique('guard'), path, auth: leaked });
    const before = await allWorkflows();

    const noName = await failure(provider.destination!.storeSecret(leaked.id, secret('lost'), makeContext()));
    expect(noName).toMatchObject({ code: 'N8nCannotReplace', retryable: false });
    expect(noName.message).toMatch(
      /needs name, which n8n's API cannot read back: name them in the target \(\?name=…\)/,
    );
    const noField = await failure(
      provider.destination!.storeSecret(`${leaked.id}#token?name=X`, secret('x'), makeContext()),
    );
    expect(noField.message).toMatch(/the type has no field "token"/);

    const unused = await n8n.createCredential(unique('unused'), 'httpHeaderAuth', {
      name: 'X',
      value: secret('unused'),
    });
    const nobody = await failure(
      provider.destination!.storeSecret(`${unused.id}?name=X`, secret('y'), makeContext()),
    );
    expect(nobody).toMatchObject({ code: 'N8nCredentialUnused', retryable: false });

    const noDestination = await failure(
      provider.actions.rotateCredential(
        { ref: `n8n:credential/${leaked.id}?name=X`, destinations: [] },
        makeContext(),
      ),
    );
    expect(noDestination.code).toBe('N8nNoDestination');

    expect(await allWorkflows()).toEqual(before);
    expect(await n8n.callWebhook(path, { 'X-Hook-Token': leaked.value })).toBe(200);
    expect(namesCredential((await n8n.workflow(workflow.id))!, leaked.id)).toBe(true);
  });
});

describe('discovery and audit', () => {
  test('listCredentials finds used and unused credentials; listWorkflows says which are active', async () => {
    const used = await headerCredential('listed-used');
    const unused = await n8n.createCredential(unique('listed-unused'), 'httpBearerAuth', {
      token: secret('bearer'),
    });
    const active = await n8n.webhookWorkflow({ name: unique('listed'), path: unique('listed'), auth: used });
    const inactive = await n8n.webhookWorkflow({
      name: unique('listed-off'),
      path: unique('listed-off'),
      active: false,
    });

    const credentials = await act(provider.actions.listCredentials({}, makeContext()));
    expect(credentials.summary.credentials).toEqual(expect.arrayContaining([used.id, unused.id]));
    expect(credentials.summary).toMatchObject({
      complete: true,
      count: (credentials.summary.credentials as string[]).length,
    });
    expect(credentials.summary.notUsedByAnyWorkflow).toEqual(expect.arrayContaining([unused.id]));
    expect(credentials.summary.credentialTypes).toEqual(
      expect.arrayContaining([`${used.id}:httpHeaderAuth`]),
    );

    const workflows = await act(provider.actions.listWorkflows({}, makeContext()));
    expect(workflows.summary.workflows).toEqual(expect.arrayContaining([active.id, inactive.id]));
    expect(workflows.summary.active).toEqual(expect.arrayContaining([active.id]));
    expect(workflows.summary.active).not.toContain(inactive.id);
  });

  test("audit preserves n8n's security audit in the vault", async () => {
    await n8n.createCredential(unique('audit-unused'), 'httpHeaderAuth', {
      name: 'X',
      value: secret('audit'),
    });
    const ctx = makeContext();
    const audited = await act(provider.actions.audit({}, ctx));
    expect(audited.summary.reports).toEqual(
      expect.arrayContaining(['Credentials Risk Report', 'Instance Risk Report']),
    );
    const [artifact] = ctx.evidence.artifacts;
    expect(artifact).toMatchObject({
      name: 'n8n/security-audit.json',
      source: 'n8n',
      contentType: 'application/json',
    });
    expect(audited.summary).toMatchObject({
      artifactId: artifact.artifactId,
      bytes: artifact.content.length,
    });
    expect(JSON.parse(artifact.content.toString('utf8'))).toHaveProperty(
      'Credentials Risk Report.risk',
      'credentials',
    );
  });
});

describe('guards', () => {
  test('references the provider cannot act on are refused before anything runs', async () => {
    for (const [role, value, message] of [
      ['connector', 'n8n:../etc', /^n8n: ref: "\.\.\/etc" is not a connector reference/],
      ['connector', 'n8n:credential/', /does not name a credential id/],
      ['issuer', 'n8n:abc', /is not credential\/<credentialId>/],
      ['destination', 'n8n:abc#bad-field', /"bad-field" after # is not a credential field name/],
      ['destination', 'n8n:abc?name', /expected <field>=<value> pairs/],
      ['destination', 'n8n:abc#value?value=x', /value is the secret field/],
    ] as const) {
      expect(() => PROVIDER_DIRECTORY.parseRef(role, value)).toThrow(ProviderRefError);
      expect(() => PROVIDER_DIRECTORY.parseRef(role, value)).toThrow(message);
    }
    expect(PROVIDER_DIRECTORY.parseRef('connector', 'n8n:*')).toEqual({ provider: 'n8n', ref: '*' });
    const bad = await failure(provider.actions.disableConnector({ ref: 'n8n:a/b' }, makeContext()));
    expect(bad).toMatchObject({ code: 'N8nInvalidRef', retryable: false });
    const missing = await failure(
      provider.actions.disableConnector({ ref: 'n8n:NoSuchWorkflow1' }, makeContext()),
    );
    expect(missing).toMatchObject({ code: 'N8nNotFound', retryable: false });
    // An inventory may name one of n8n's own API keys as an issuer; its public API cannot rotate them.
    expect(PROVIDER_DIRECTORY.parseRef('issuer', 'n8n:api-keys/ops-tooling')).toEqual({
      provider: 'n8n',
      ref: 'api-keys/ops-tooling',
    });
    const apiKey = await failure(
      provider.actions.rotateCredential(
        { ref: 'n8n:api-keys/ops-tooling', destinations: [{ provider: 'file', target: 'x' }] },
        makeContext(),
      ),
    );
    expect(apiKey).toMatchObject({ code: 'N8nNotSupported', retryable: false });
    const everything = await failure(provider.actions.enableConnector({ ref: 'n8n:*' }, makeContext()));
    expect(everything).toMatchObject({ code: 'N8nNothingToRestore', retryable: false });
  });

  test('settings: errors name the variable, never its value', () => {
    expect(n8nOptionsFromEnv({})).toBeUndefined();
    expect(n8nOptionsFromEnv({ N8N_BASE_URL: '', N8N_API_KEY: '' })).toBeUndefined();
    expect(
      n8nOptionsFromEnv({ N8N_BASE_URL: 'https://n8n.example.com/api/v1/', N8N_API_KEY: n8n.apiKey }),
    ).toEqual({
      baseUrl: 'https://n8n.example.com',
      apiKey: n8n.apiKey,
    });
    const cases: [Record<string, string>, RegExp][] = [
      [
        { N8N_BASE_URL: 'ftp://n8n.example.com', N8N_API_KEY: n8n.apiKey },
        /^N8N_BASE_URL: expected an http\(s\) URL/,
      ],
      [
        { N8N_BASE_URL: 'n8n.example.com', N8N_API_KEY: n8n.apiKey },
        /^N8N_BASE_URL: expected an http\(s\) URL/,
      ],
      [
        { N8N_BASE_URL: 'https://admin:hunter2@n8n.example.com', N8N_API_KEY: n8n.apiKey },
        /^N8N_BASE_URL: must not contain a user or password$/,
      ],
      [{ N8N_BASE_URL: 'https://n8n.example.com' }, /^N8N_API_KEY: required with N8N_BASE_URL$/],
      [{ N8N_API_KEY: n8n.apiKey }, /^N8N_BASE_URL: required with N8N_API_KEY$/],
      [
        { N8N_BASE_URL: 'https://n8n.example.com', N8N_API_KEY: `${n8n.apiKey} x` },
        /^N8N_API_KEY: expected printable/,
      ],
    ];
    for (const [env, message] of cases) {
      let thrown: Error | undefined;
      try {
        n8nOptionsFromEnv(env);
      } catch (error) {
        thrown = error as Error;
      }
      expect(thrown?.message).toMatch(message);
      transcript.push(thrown?.message ?? '');
    }
  });

  test('a refused key fails at once; an unreachable n8n fails retryably; neither error quotes the key', async () => {
    const wrongKey = `wrong-${randomBytes(16).toString('hex')}`;
    secrets.add(wrongKey);
    const refusedProvider = createN8nProvider({ baseUrl: n8n.baseUrl, apiKey: wrongKey });
    const refused = await failure(refusedProvider.actions.listWorkflows({}, makeContext()));
    expect(refused).toMatchObject({ code: 'N8nForbidden', retryable: false });
    expect(refused.message).toBe(
      'n8n: GET /api/v1/workflows answered 401: the API key was refused (check N8N_API_KEY)',
    );

    const down = createN8nProvider({
      baseUrl: 'http://127.0.0.1:9',
      apiKey: n8n.apiKey,
      requestTimeoutMs: 2_000,
    });
    const unreachable = await failure(down.actions.disableConnector({ ref: 'n8n:*' }, makeContext()));
    expect(unreachable).toMatchObject({ code: 'N8nUnavailable', retryable: true });
  });
});

describe('platform freeze', () => {
  test('n8n:* deactivates every active workflow; the undo reactivates exactly those', async () => {
    const auth = await headerCredential('freeze');
    const paths = [unique('freeze-a'), unique('freeze-b')];
    const frozen: N8nWorkflowJson[] = [];
    for (const path of paths) frozen.push(await n8n.webhookWorkflow({ name: unique('freeze'), path, auth }));
    const offBefore = await n8n.webhookWorkflow({
      name: unique('freeze-off'),
      path: unique('freeze-off'),
      auth,
      active: false,
    });
    const activeBefore = (await allWorkflows())
      .filter((workflow) => workflow.active)
      .map((workflow) => workflow.id);
    expect(activeBefore).toEqual(expect.arrayContaining(frozen.map((workflow) => workflow.id)));

    const disabled = await act(provider.actions.disableConnector({ ref: 'n8n:*' }, makeContext()));
    expect(new Set(disabled.summary.deactivatedWorkflowIds as string[])).toEqual(new Set(activeBefore));
    expect(disabled.summary.alreadyInactiveWorkflowIds).toContain(offBefore.id);
    expect((await allWorkflows()).filter((workflow) => workflow.active)).toEqual([]);
    for (const path of paths) expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(404);

    const enabled = await act(
      provider.actions.enableConnector({ ref: 'n8n:*' }, makeContext({ undoOf: disabled.summary })),
    );
    expect(new Set(enabled.summary.reactivatedWorkflowIds as string[])).toEqual(new Set(activeBefore));
    const activeAfter = (await allWorkflows())
      .filter((workflow) => workflow.active)
      .map((workflow) => workflow.id);
    expect(new Set(activeAfter)).toEqual(new Set(activeBefore));
    expect(await isActive(offBefore.id)).toBe(false);
    for (const path of paths) expect(await n8n.callWebhook(path, { 'X-Hook-Token': auth.value })).toBe(200);

    // An undo of a step about other workflows is refused.
    const mismatch = await failure(
      provider.actions.enableConnector(
        { ref: `n8n:credential/${auth.id}` },
        makeContext({ undoOf: disabled.summary }),
      ),
    );
    expect(mismatch.code).toBe('N8nNothingToRestore');
  });
});

describe('secret hygiene', () => {
  test('no API key and no credential value in summaries, errors, log lines or vault metadata', () => {
    // The content of an artifact is evidence and may hold them (the vault encrypts it); what the provider told the
    // vault about it (name, source, content type) may not.
    const metadata = allSinks.flatMap((sink) =>
      sink.artifacts.map(({ content: _content, ...meta }) => JSON.stringify(meta)),
    );
    const said = [...transcript, ...metadata].join('\n');
    expect(transcript.length).toBeGreaterThan(20);
    expect(metadata.length).toBeGreaterThan(2);
    const leaked = [...secrets].filter((value) => said.includes(value));
    expect(leaked).toEqual([]);
  });
});

describe('errors n8n answers with 400', () => {
  /** n8n's public API turns any error its handler throws into a 400: only a busy database is worth a retry. */
  test('a locked or busy database is retryable; a refused request is not; neither echoes the body', async () => {
    const answers = [
      'SQLITE_BUSY: database is locked',
      'deadlock detected',
      'request/body must have required property canary-body-text',
    ];
    const server = createServer((request, response) => {
      const message = answers[Number(new URL(request.url!, 'http://x').searchParams.get('case'))];
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = new N8nClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: 'test-key' });
    try {
      const outcomes = await Promise.all(
        answers.map((_, index) =>
          client.json(makeContext(), 'DELETE', `/credentials/x?case=${index}`).then(
            () => undefined,
            (error: ProviderError) => ({ retryable: error.retryable, message: error.message }),
          ),
        ),
      );
      expect(outcomes.map((outcome) => outcome?.retryable)).toEqual([true, true, false]);
      expect(JSON.stringify(outcomes)).not.toContain('canary-body-text');
    } finally {
      server.close();
    }
  });
});
