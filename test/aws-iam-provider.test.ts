import { providerTranscript } from './harness/provider-transcript';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListUserPoliciesCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDER_DIRECTORY, PROVIDERS } from '../providers';
import { awsIam } from '../providers/aws-iam';
import { awsIamOptionsFromEnv, type AwsIamProviderOptions } from '../providers/aws-iam/options';
import { proveDead, type ProbeResult } from '../providers/proof-of-death';
import { createAwsIamProvider, type AwsIamProvider } from '../providers/aws-iam/provider';
import { parseAwsIamRef } from '../providers/aws-iam/refs';
import { encodeRotation, incidentMark, rotationTagKey } from '../providers/aws-iam/state';
import { createFileDestinationProvider, type FileDestinationProvider } from '../providers/file/destination';
import { ProviderRefError } from '../providers/plugin';
import { ProviderError, type ActionContext } from '../providers/types';
import { startMoto, type MotoServer } from './harness/moto';

const QUARANTINE = 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2';
/** Short proof-of-death settings: 3 refusals over at least 400 ms, within 2.5 s. */
const PROOF_ENV = {
  TOURNIQUET_AWS_PROOF_REFUSALS: '3',
  TOURNIQUET_AWS_PROOF_WINDOW_MS: '400',
  TOURNIQUET_AWS_PROOF_DEADLINE_MS: '2500',
};

/** Everything the provider said, returned or threw, and every artifact it preserved: searched for secrets last. */
const transcript: string[] = [];
const { act, failure } = providerTranscript(transcript);
/** Every secret access key that existed during the run: the leaked ones and every one minted. */
const secrets = new Set<string>();
const artifacts: { name: string; source: string; content: string; artifactId: string }[] = [];

let moto: MotoServer;
let admin: IAMClient;
let sinkDir: string;
let fileDestination: FileDestinationProvider;
let provider: AwsIamProvider;
let baseOptions: AwsIamProviderOptions;

function makeContext(
  overrides: Partial<Pick<ActionContext, 'idempotencyKey' | 'incidentId' | 'undoOf' | 'deliverSecret'>> = {},
): ActionContext {
  const ctx: ActionContext = {
    incidentId: overrides.incidentId ?? 'inc-aws-1',
    stepId: 'step',
    idempotencyKey: overrides.idempotencyKey ?? `key-${randomBytes(4).toString('hex')}`,
    attempt: 1,
    exercise: false,
    signal: new AbortController().signal,
    log: {
      info: (fields, message) => transcript.push(JSON.stringify({ level: 'info', fields, message })),
      warn: (fields, message) => transcript.push(JSON.stringify({ level: 'warn', fields, message })),
    },
    heartbeat: (details) => transcript.push(JSON.stringify({ heartbeat: details ?? null })),
    evidence: {
      async preserve(input) {
        const chunks: Buffer[] = [];
        for await (const chunk of input.content) chunks.push(Buffer.from(chunk as Buffer));
        const content = Buffer.concat(chunks).toString('utf8');
        const artifactId = `artifact-${artifacts.length + 1}`;
        artifacts.push({ name: input.name, source: input.source, content, artifactId });
        transcript.push(content);
        return {
          artifactId,
          sha256: createHash('sha256').update(content).digest('hex'),
          bytes: Buffer.byteLength(content),
        };
      },
    },
    undoOf: overrides.undoOf,
    deliverSecret:
      overrides.deliverSecret ??
      (async (destination, value) => {
        if (destination.provider !== 'file')
          throw new Error(`no destination provider ${destination.provider}`);
        if (!value.startsWith('AKIA')) secrets.add(value);
        await fileDestination.destination.storeSecret(destination.target, value, ctx);
      }),
  };
  return ctx;
}

/** A user with one access key, the one that "leaked". */
async function leakedUser(
  name: string,
): Promise<{ user: string; keyId: string; secret: string; ref: string }> {
  await admin.send(new CreateUserCommand({ UserName: name }));
  const key = (await admin.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
  secrets.add(key.SecretAccessKey!);
  return {
    user: name,
    keyId: key.AccessKeyId!,
    secret: key.SecretAccessKey!,
    ref: `${moto.accountId}/${name}/${key.AccessKeyId!}`,
  };
}

async function keysOf(user: string): Promise<Record<string, string>> {
  const listed = await admin.send(new ListAccessKeysCommand({ UserName: user }));
  return Object.fromEntries((listed.AccessKeyMetadata ?? []).map((key) => [key.AccessKeyId!, key.Status!]));
}

async function attachedTo(user: string): Promise<string[]> {
  const listed = await admin.send(new ListAttachedUserPoliciesCommand({ UserName: user }));
  return (listed.AttachedPolicies ?? []).map((policy) => policy.PolicyArn!);
}

async function tagsOf(user: string): Promise<Record<string, string>> {
  const listed = await admin.send(new ListUserTagsCommand({ UserName: user }));
  return Object.fromEntries((listed.Tags ?? []).map((tag) => [tag.Key!, tag.Value!]));
}

/** What STS says when asked with this key pair: the caller's ARN, or the error code. */
async function whoAmI(accessKeyId: string, secretAccessKey: string): Promise<string> {
  const sts = new STSClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn!;
  } catch (error) {
    return (error as Error).name;
  } finally {
    sts.destroy();
  }
}

const userArn = (user: string) => `arn:aws:iam::${moto.accountId}:user/${user}`;
const fingerprint = 'f'.repeat(64);

beforeAll(async () => {
  moto = await startMoto();
  secrets.add(moto.admin.secretAccessKey);
  admin = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.admin });
  sinkDir = await mkdtemp(join(tmpdir(), 'tourniquet-aws-sink-'));
  fileDestination = createFileDestinationProvider({ baseDirectory: sinkDir });
  const options = awsIamOptionsFromEnv({
    TOURNIQUET_AWS_ACCOUNT_ID: moto.accountId,
    TOURNIQUET_AWS_ENDPOINT: moto.endpoint,
    AWS_REGION: moto.region,
    ...PROOF_ENV,
  });
  expect(options).toBeDefined();
  baseOptions = { ...options!, credentials: { ...moto.admin } };
  provider = createAwsIamProvider({ ...baseOptions, secretReaders: { file: fileDestination.destination } });
}, 300_000);

afterAll(async () => {
  admin?.destroy();
  await moto?.stop();
  if (sinkDir) await rm(sinkDir, { recursive: true, force: true });
});

describe('references', () => {
  test.each([
    ['12345678901/ci-deployer', /12-digit AWS account id/],
    ['1234567890123/ci-deployer', /12-digit AWS account id/],
    ['acme/ci-deployer', /12-digit AWS account id/],
    ['123456789012', /two or three segments/],
    ['123456789012/', /does not name an IAM user/],
    ['123456789012/ci deployer', /does not name an IAM user/],
    ['123456789012/ci;deployer', /does not name an IAM user/],
    [`123456789012/${'u'.repeat(65)}`, /does not name an IAM user/],
    ['123456789012/ci-deployer/', /IAM access key id/],
    ['123456789012/ci-deployer/akiaiosfodnn7example', /IAM access key id/],
    ['123456789012/ci-deployer/AKIA123', /IAM access key id/],
    ['123456789012/ci-deployer/AKIAIOSFODNN7EXAMPL!', /IAM access key id/],
    ['123456789012/ci-deployer/ASIAIOSFODNN7EXAMPLE', /temporary STS key .* terminateSessions/],
    ['123456789012/ci-deployer/AKIAIOSFODNN7EXAMPLE/extra', /two or three segments/],
    ['123456789012/ci-deployer/wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', /two or three segments/],
  ])('%s is refused', (ref, message) => {
    expect(() => parseAwsIamRef(ref)).toThrow(message);
    expect(() => PROVIDER_DIRECTORY.parseRef('issuer', `aws-iam:${ref}`)).toThrow(ProviderRefError);
    // The reference is never echoed: a pasted secret access key would travel with the error.
    expect(() => PROVIDER_DIRECTORY.parseRef('issuer', `aws-iam:${ref}`)).toThrow(/^aws-iam: ref /);
    try {
      parseAwsIamRef(ref);
    } catch (error) {
      expect((error as Error).message).not.toContain('wJalrXUtnFEMI');
    }
  });

  test('good references, with and without the leaked key', () => {
    expect(parseAwsIamRef('012345678901/ci-deployer')).toEqual({
      accountId: '012345678901',
      userName: 'ci-deployer',
    });
    expect(parseAwsIamRef('aws-iam:123456789012/ci+bot=1,x.y@z_/AKIAIOSFODNN7EXAMPLE')).toEqual({
      accountId: '123456789012',
      userName: 'ci+bot=1,x.y@z_',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    });
    expect(PROVIDER_DIRECTORY.parseRef('issuer', 'aws-iam:123456789012/ci-deployer')).toEqual({
      provider: 'aws-iam',
      ref: '123456789012/ci-deployer',
    });
  });
});

describe('settings', () => {
  test('unset account id: not configured, nothing loaded', () => {
    expect(awsIamOptionsFromEnv({ AWS_REGION: 'not a region' })).toBeUndefined();
    expect(awsIam.settings[0]).toBe('TOURNIQUET_AWS_ACCOUNT_ID');
    expect(PROVIDERS.map((definition) => definition.name)).toContain('aws-iam');
  });

  test('defaults', () => {
    expect(awsIamOptionsFromEnv({ TOURNIQUET_AWS_ACCOUNT_ID: '123456789012' })).toEqual({
      accountId: '123456789012',
      region: 'us-east-1',
      endpoint: undefined,
      quarantinePolicyArn: QUARANTINE,
      proof: { refusals: 3, windowMs: 60_000, deadlineMs: 300_000 },
    });
  });

  test.each([
    [{ TOURNIQUET_AWS_ACCOUNT_ID: '12345' }, /^TOURNIQUET_AWS_ACCOUNT_ID: expected the 12-digit/],
    [
      { TOURNIQUET_AWS_ACCOUNT_ID: '123456789012', AWS_REGION: 'Mars' },
      /^AWS_REGION: expected an AWS region/,
    ],
    [
      { TOURNIQUET_AWS_ACCOUNT_ID: '123456789012', TOURNIQUET_AWS_ENDPOINT: 'ftp://x' },
      /^TOURNIQUET_AWS_ENDPOINT: expected an http\(s\) URL/,
    ],
    [
      { TOURNIQUET_AWS_ACCOUNT_ID: '123456789012', TOURNIQUET_AWS_QUARANTINE_POLICY: 'Quarantine' },
      /^TOURNIQUET_AWS_QUARANTINE_POLICY: expected a managed policy ARN/,
    ],
    [
      { TOURNIQUET_AWS_ACCOUNT_ID: '123456789012', TOURNIQUET_AWS_PROOF_REFUSALS: 'many' },
      /^TOURNIQUET_AWS_PROOF_REFUSALS: /,
    ],
    [
      {
        TOURNIQUET_AWS_ACCOUNT_ID: '123456789012',
        TOURNIQUET_AWS_PROOF_WINDOW_MS: '60000',
        TOURNIQUET_AWS_PROOF_DEADLINE_MS: '30000',
      },
      /^TOURNIQUET_AWS_PROOF_DEADLINE_MS: must exceed TOURNIQUET_AWS_PROOF_WINDOW_MS/,
    ],
    [{ TOURNIQUET_AWS_ENDPOINT: 'http://127.0.0.1:5000' }, /TOURNIQUET_AWS_ACCOUNT_ID is not/],
  ])('%j is refused, naming the variable', (env, message) => {
    expect(() => awsIamOptionsFromEnv(env)).toThrow(message);
  });

  test('a configured worker gets the provider without any call to AWS', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tourniquet-data-'));
    const providers = await PROVIDER_DIRECTORY.createConfigured({
      TOURNIQUET_DATA_DIR: dataDir,
      TOURNIQUET_CONNECTORS_DIR: dataDir,
      TOURNIQUET_AWS_ACCOUNT_ID: '123456789012',
      // Nothing listens there: creating the provider must not connect.
      TOURNIQUET_AWS_ENDPOINT: 'http://127.0.0.1:1',
    });
    expect(providers.map((candidate) => candidate.name)).toContain('aws-iam');
    expect(Object.keys(providers.find((candidate) => candidate.name === 'aws-iam')!.catalog).sort()).toEqual(
      [
        'activateAccessKey',
        'deactivateAccessKey',
        'restoreGrants',
        'revokeCredential',
        'revokeGrants',
        'rotateCredential',
        'terminateSessions',
        'verifyRevoked',
      ].sort(),
    );
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe('the account guard', () => {
  test('a reference naming another account is refused before any call, and nothing changes', async () => {
    const leak = await leakedUser('guarded-user');
    const before = { keys: await keysOf(leak.user), policies: await attachedTo(leak.user) };
    // IAM calls carry no account: without the guard these would act on this account's same-named user.
    const otherAccountRef = `210987654321/${leak.user}/${leak.keyId}`;
    const ctx = makeContext();
    for (const [action, call] of [
      ['revokeGrants', provider.actions.revokeGrants({ ref: otherAccountRef }, ctx)],
      ['deactivateAccessKey', provider.actions.deactivateAccessKey({ ref: otherAccountRef }, ctx)],
      ['revokeCredential', provider.actions.revokeCredential({ ref: otherAccountRef, fingerprint }, ctx)],
      ['terminateSessions', provider.actions.terminateSessions({ ref: otherAccountRef }, ctx)],
      [
        'rotateCredential',
        provider.actions.rotateCredential(
          { ref: otherAccountRef, destinations: [{ provider: 'file', target: 'guard.secret' }] },
          ctx,
        ),
      ],
    ] as const) {
      const error = await failure(call);
      expect([action, error.retryable, error.code]).toEqual([action, false, 'WrongAccount']);
      expect(error.message).toMatch(
        new RegExp(`names AWS account 210987654321, but this worker acts only on account ${moto.accountId}`),
      );
    }
    expect(await keysOf(leak.user)).toEqual(before.keys);
    expect(await attachedTo(leak.user)).toEqual(before.policies);
    expect(await tagsOf(leak.user)).toEqual({});
    expect((await admin.send(new ListUserPoliciesCommand({ UserName: leak.user }))).PolicyNames).toEqual([]);
  });

  test('credentials of another account than the configured one: every action is refused', async () => {
    const leak = await leakedUser('guarded-user-2');
    const elsewhere = createAwsIamProvider({ ...baseOptions, accountId: '210987654321' });
    const error = await failure(
      elsewhere.actions.revokeGrants({ ref: `210987654321/${leak.user}/${leak.keyId}` }, makeContext()),
    );
    expect([error.retryable, error.code]).toEqual([false, 'WrongAccount']);
    expect(error.message).toMatch(
      `the worker's AWS credentials belong to account ${moto.accountId}, not to 210987654321`,
    );
    expect(await attachedTo(leak.user)).toEqual([]);
  });

  test("the worker's own IAM user is refused", async () => {
    const error = await failure(
      provider.actions.revokeGrants({ ref: `${moto.accountId}/${moto.admin.userName}` }, makeContext()),
    );
    expect([error.retryable, error.code]).toEqual([false, 'Refused']);
    expect(await attachedTo(moto.admin.userName)).toEqual([]);
  });
});

describe('quarantine (revokeGrants / restoreGrants)', () => {
  test('attach and detach, each idempotent', async () => {
    const leak = await leakedUser('quarantine-user');
    const ctx = makeContext({ incidentId: 'inc-quarantine' });
    const first = await act(provider.actions.revokeGrants({ ref: leak.ref }, ctx));
    expect(first.summary).toMatchObject({ user: leak.user, policyArn: QUARANTINE, changed: true });
    expect(await attachedTo(leak.user)).toEqual([QUARANTINE]);
    const again = await act(provider.actions.revokeGrants({ ref: leak.ref }, ctx));
    expect(again.summary).toMatchObject({ changed: false, attachedByThisIncident: true });
    expect(await attachedTo(leak.user)).toEqual([QUARANTINE]);

    const restored = await act(provider.actions.restoreGrants({ ref: leak.ref }, ctx));
    expect(restored.summary).toMatchObject({ changed: true, outcome: 'detached', attached: false });
    expect(await attachedTo(leak.user)).toEqual([]);
    const restoredAgain = await act(provider.actions.restoreGrants({ ref: leak.ref }, ctx));
    expect(restoredAgain.summary).toMatchObject({ changed: false, outcome: 'not-attached' });
    expect(await tagsOf(leak.user)).toEqual({});
  });

  test('a quarantine AWS (or anyone else) attached first is never lifted', async () => {
    const leak = await leakedUser('aws-quarantined-user');
    await admin.send(new AttachUserPolicyCommand({ UserName: leak.user, PolicyArn: QUARANTINE }));
    const ctx = makeContext({ incidentId: 'inc-preexisting' });
    const cut = await act(provider.actions.revokeGrants({ ref: leak.ref }, ctx));
    expect(cut.summary).toMatchObject({ changed: false, attachedByThisIncident: false });
    const restored = await act(provider.actions.restoreGrants({ ref: leak.ref }, ctx));
    expect(restored.summary).toMatchObject({
      changed: false,
      outcome: 'left-attached-not-ours',
      attached: true,
    });
    expect(await attachedTo(leak.user)).toEqual([QUARANTINE]);
  });
});

describe('deactivateAccessKey / activateAccessKey', () => {
  test('the named key only, then back with the undo summary', async () => {
    const leak = await leakedUser('deactivate-user');
    const other = (await admin.send(new CreateAccessKeyCommand({ UserName: leak.user }))).AccessKey!;
    secrets.add(other.SecretAccessKey!);
    const ctx = makeContext({ incidentId: 'inc-deactivate' });
    const cut = await act(provider.actions.deactivateAccessKey({ ref: leak.ref }, ctx));
    expect(cut.summary).toMatchObject({ deactivated: [leak.keyId], alreadyInactive: [], changed: true });
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Inactive', [other.AccessKeyId!]: 'Active' });
    const again = await act(provider.actions.deactivateAccessKey({ ref: leak.ref }, ctx));
    expect(again.summary).toMatchObject({ deactivated: [], alreadyInactive: [leak.keyId], changed: false });

    const undo = await act(
      provider.actions.activateAccessKey(
        { ref: leak.ref },
        makeContext({ incidentId: ctx.incidentId, undoOf: cut.summary }),
      ),
    );
    expect(undo.summary).toMatchObject({ activated: [leak.keyId], changed: true });
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Active', [other.AccessKeyId!]: 'Active' });
  });

  test('a key deleted already is fine; a key of another user is a wrong reference', async () => {
    const leak = await leakedUser('deactivate-gone-user');
    const bystander = await leakedUser('deactivate-bystander');
    const ctx = makeContext({ incidentId: 'inc-deactivate-gone' });
    await act(provider.actions.revokeCredential({ ref: leak.ref, fingerprint }, ctx));
    const gone = await act(provider.actions.deactivateAccessKey({ ref: leak.ref }, ctx));
    expect(gone.summary).toMatchObject({ deactivated: [], alreadyDeleted: [leak.keyId], changed: false });
    const error = await failure(
      provider.actions.deactivateAccessKey({ ref: `${moto.accountId}/${leak.user}/${bystander.keyId}` }, ctx),
    );
    expect([error.retryable, error.code]).toEqual([false, 'Refused']);
    expect(await keysOf(bystander.user)).toEqual({ [bystander.keyId]: 'Active' });
  });

  test('no key named: every active key, undone from the tags without a summary', async () => {
    const leak = await leakedUser('deactivate-all-user');
    const other = (await admin.send(new CreateAccessKeyCommand({ UserName: leak.user }))).AccessKey!;
    secrets.add(other.SecretAccessKey!);
    const userRef = `${moto.accountId}/${leak.user}`;
    const ctx = makeContext({ incidentId: 'inc-deactivate-all' });
    const cut = await act(provider.actions.deactivateAccessKey({ ref: userRef }, ctx));
    expect([...(cut.summary.deactivated as string[])].sort()).toEqual(
      [leak.keyId, other.AccessKeyId!].sort(),
    );
    expect(Object.values(await keysOf(leak.user))).toEqual(['Inactive', 'Inactive']);
    // Another incident did not deactivate them: it has nothing to activate.
    const foreign = await act(
      provider.actions.activateAccessKey({ ref: userRef }, makeContext({ incidentId: 'inc-other' })),
    );
    expect(foreign.summary).toMatchObject({ activated: [], changed: false });
    const undo = await act(provider.actions.activateAccessKey({ ref: userRef }, ctx));
    expect([...(undo.summary.activated as string[])].sort()).toEqual([leak.keyId, other.AccessKeyId!].sort());
    expect(Object.values(await keysOf(leak.user))).toEqual(['Active', 'Active']);
  });
});

describe('rotateCredential', () => {
  const destinations = (user: string) => [
    { provider: 'file', target: `${user}.key-id`, part: 'accessKeyId' as const },
    { provider: 'file', target: `${user}.secret` },
  ];

  test('delivers both parts; the new key signs in as the user; a retry reuses it', async () => {
    const leak = await leakedUser('rotate-user');
    const ctx = makeContext({ incidentId: 'inc-rotate' });
    const rotated = await act(
      provider.actions.rotateCredential({ ref: leak.ref, destinations: destinations(leak.user) }, ctx),
    );
    const newKeyId = rotated.summary.newAccessKeyId as string;
    expect(newKeyId).toMatch(/^AKIA/);
    expect(newKeyId).not.toBe(leak.keyId);
    expect(rotated.summary).toMatchObject({
      user: leak.user,
      reusedEarlierAttempt: false,
      destinations: [`file:${leak.user}.key-id (accessKeyId)`, `file:${leak.user}.secret (secretAccessKey)`],
    });
    const deliveredId = await readFile(join(sinkDir, `${leak.user}.key-id`), 'utf8');
    const deliveredSecret = await readFile(join(sinkDir, `${leak.user}.secret`), 'utf8');
    expect(deliveredId).toBe(newKeyId);
    expect(deliveredSecret).toMatch(/^\S{40}$/);
    expect(await whoAmI(deliveredId, deliveredSecret)).toBe(userArn(leak.user));
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Active', [newKeyId]: 'Active' });

    const retried = await act(
      provider.actions.rotateCredential({ ref: leak.ref, destinations: destinations(leak.user) }, ctx),
    );
    expect(retried.summary).toMatchObject({ newAccessKeyId: newKeyId, reusedEarlierAttempt: true });
    expect(Object.keys(await keysOf(leak.user))).toHaveLength(2);
  });

  test('a retry after a failed delivery deletes the undelivered key and mints another: no orphan', async () => {
    const leak = await leakedUser('rotate-crash-user');
    const idempotencyKey = 'rotate-crash-key';
    let broken = true;
    const ctx = makeContext({
      incidentId: 'inc-rotate-crash',
      idempotencyKey,
      deliverSecret: async (destination, value) => {
        if (!value.startsWith('AKIA')) secrets.add(value);
        if (broken && destination.target.endsWith('.secret')) {
          // A destination that echoes what it was handed: the provider must strike it out.
          throw new ProviderError(`store refused value ${value}`, true, 'DestinationDown');
        }
        await fileDestination.destination.storeSecret(destination.target, value, ctx);
      },
    });
    const error = await failure(
      provider.actions.rotateCredential({ ref: leak.ref, destinations: destinations(leak.user) }, ctx),
    );
    expect([error.retryable, error.code]).toEqual([true, 'DeliveryFailed']);
    expect(error.message).toContain('[redacted]');
    const afterCrash = Object.keys(await keysOf(leak.user));
    expect(afterCrash).toHaveLength(2);
    const lost = afterCrash.find((id) => id !== leak.keyId)!;

    broken = false;
    const retried = await act(
      provider.actions.rotateCredential({ ref: leak.ref, destinations: destinations(leak.user) }, ctx),
    );
    expect(retried.summary).toMatchObject({ removedOrphanKeys: [lost], reusedEarlierAttempt: false });
    const newKeyId = retried.summary.newAccessKeyId as string;
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Active', [newKeyId]: 'Active' });
    expect(await whoAmI(newKeyId, await readFile(join(sinkDir, `${leak.user}.secret`), 'utf8'))).toBe(
      userArn(leak.user),
    );
  });

  test('a crash between CreateAccessKey and its record: the retry finds the orphan by the "before" list', async () => {
    const leak = await leakedUser('rotate-pending-user');
    const idempotencyKey = 'rotate-pending-key';
    const incidentId = 'inc-rotate-pending';
    // What the crashed attempt left: its pending record, then the key it created and never recorded.
    await admin.send(
      new TagUserCommand({
        UserName: leak.user,
        Tags: [
          {
            Key: rotationTagKey(idempotencyKey),
            Value: encodeRotation({
              state: 'pending',
              at: Date.now(),
              incident: incidentMark(incidentId),
              keyIds: [leak.keyId],
            }),
          },
        ],
      }),
    );
    const orphan = (await admin.send(new CreateAccessKeyCommand({ UserName: leak.user }))).AccessKey!;
    secrets.add(orphan.SecretAccessKey!);
    const retried = await act(
      provider.actions.rotateCredential(
        { ref: leak.ref, destinations: destinations(leak.user) },
        makeContext({ incidentId, idempotencyKey }),
      ),
    );
    expect(retried.summary.removedOrphanKeys).toEqual([orphan.AccessKeyId]);
    expect(Object.keys(await keysOf(leak.user)).sort()).toEqual(
      [leak.keyId, retried.summary.newAccessKeyId as string].sort(),
    );
  });

  test('a user with two keys already: refused, nothing deleted', async () => {
    const leak = await leakedUser('rotate-full-user');
    const other = (await admin.send(new CreateAccessKeyCommand({ UserName: leak.user }))).AccessKey!;
    secrets.add(other.SecretAccessKey!);
    const error = await failure(
      provider.actions.rotateCredential(
        { ref: leak.ref, destinations: destinations(leak.user) },
        makeContext({ incidentId: 'inc-rotate-full' }),
      ),
    );
    expect([error.retryable, error.code]).toEqual([false, 'LimitExceeded']);
    expect(error.message).toMatch(/already has 2 access keys .* delete the leaked one first/);
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Active', [other.AccessKeyId!]: 'Active' });
  });

  test('no destination for the secret: refused before anything is created', async () => {
    const leak = await leakedUser('rotate-nowhere-user');
    const error = await failure(
      provider.actions.rotateCredential(
        { ref: leak.ref, destinations: [{ provider: 'file', target: 'id-only', part: 'accessKeyId' }] },
        makeContext(),
      ),
    );
    expect([error.retryable, error.code]).toEqual([false, 'InvalidParams']);
    expect(Object.keys(await keysOf(leak.user))).toEqual([leak.keyId]);
  });
});

describe('revokeCredential', () => {
  test('deletes the leaked key only, never the rotated one; a retry finds it gone', async () => {
    const leak = await leakedUser('revoke-user');
    const incidentId = 'inc-revoke';
    // The leaked key was used: its last use is recorded before it is deleted.
    expect(await whoAmI(leak.keyId, leak.secret)).toBe(userArn(leak.user));
    const rotated = await act(
      provider.actions.rotateCredential(
        { ref: leak.ref, destinations: [{ provider: 'file', target: `${leak.user}.secret` }] },
        makeContext({ incidentId }),
      ),
    );
    const newKeyId = rotated.summary.newAccessKeyId as string;

    const refused = await failure(
      provider.actions.revokeCredential(
        { ref: `${moto.accountId}/${leak.user}/${newKeyId}`, fingerprint },
        makeContext({ incidentId }),
      ),
    );
    expect([refused.retryable, refused.code]).toEqual([false, 'Refused']);

    const revoked = await act(
      provider.actions.revokeCredential({ ref: leak.ref, fingerprint }, makeContext({ incidentId })),
    );
    expect(revoked.summary).toMatchObject({
      accessKeyId: leak.keyId,
      outcome: 'deleted',
      statusBefore: 'Active',
      lastUsedService: 'sts',
      leakedFingerprint: fingerprint,
    });
    expect(revoked.summary.lastUsedAt).toEqual(expect.any(String));
    expect(await keysOf(leak.user)).toEqual({ [newKeyId]: 'Active' });
    const again = await act(
      provider.actions.revokeCredential({ ref: leak.ref, fingerprint }, makeContext({ incidentId })),
    );
    expect(again.summary).toMatchObject({ outcome: 'already-deleted' });
    expect(await keysOf(leak.user)).toEqual({ [newKeyId]: 'Active' });
  });

  test('without a key in the reference, or with another user’s key: refused', async () => {
    const leak = await leakedUser('revoke-nokey-user');
    const bystander = await leakedUser('revoke-bystander');
    const noKey = await failure(
      provider.actions.revokeCredential(
        { ref: `${moto.accountId}/${leak.user}`, fingerprint },
        makeContext(),
      ),
    );
    expect([noKey.retryable, noKey.code]).toEqual([false, 'InvalidParams']);
    const wrongUser = await failure(
      provider.actions.revokeCredential(
        { ref: `${moto.accountId}/${leak.user}/${bystander.keyId}`, fingerprint },
        makeContext(),
      ),
    );
    expect([wrongUser.retryable, wrongUser.code]).toEqual([false, 'Refused']);
    expect(wrongUser.message).toMatch(/belongs to IAM user "revoke-bystander"/);
    expect(await keysOf(bystander.user)).toEqual({ [bystander.keyId]: 'Active' });
    expect(await keysOf(leak.user)).toEqual({ [leak.keyId]: 'Active' });
  });
});

describe('terminateSessions', () => {
  test('an inline deny-all for tokens issued before now', async () => {
    const leak = await leakedUser('sessions-user');
    const before = Date.now();
    const result = await act(provider.actions.terminateSessions({ ref: leak.ref }, makeContext()));
    const stored = await admin.send(
      new GetUserPolicyCommand({ UserName: leak.user, PolicyName: 'AWSRevokeOlderSessions' }),
    );
    // IAM returns policy documents URL-encoded (RFC 3986).
    const document = JSON.parse(decodeURIComponent(stored.PolicyDocument!));
    const cutOff = result.summary.sessionsIssuedBefore as string;
    expect(document).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TourniquetRevokeOlderSessions',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { DateLessThan: { 'aws:TokenIssueTime': cutOff } },
        },
      ],
    });
    expect(Date.parse(cutOff)).toBeGreaterThanOrEqual(before - 1_000);
    expect(Date.parse(cutOff)).toBeLessThanOrEqual(Date.now());
  });
});

describe('verifyRevoked (proof of death)', () => {
  test('after rotation and deletion: proven over the window, probes in the evidence, replacement works', async () => {
    const leak = await leakedUser('verify-user');
    const incidentId = 'inc-verify';
    await act(
      provider.actions.rotateCredential(
        {
          ref: leak.ref,
          destinations: [
            { provider: 'file', target: 'verify/key-id', part: 'accessKeyId' },
            { provider: 'file', target: 'verify/secret', part: 'secretAccessKey' },
            // Stored only by its simulated stand-in in exercises: no reader, reported as such.
            { provider: 'vault', target: 'aws/verify' },
          ],
        },
        makeContext({
          incidentId,
          deliverSecret: async (destination, value) => {
            if (!value.startsWith('AKIA')) secrets.add(value);
            if (destination.provider === 'file') {
              await fileDestination.destination.storeSecret(destination.target, value, makeContext());
            }
          },
        }),
      ),
    );
    await act(provider.actions.revokeCredential({ ref: leak.ref, fingerprint }, makeContext({ incidentId })));
    const started = Date.now();
    const verified = await act(
      provider.actions.verifyRevoked({ ref: leak.ref }, makeContext({ incidentId })),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(verified.summary).toMatchObject({
      accessKeyId: leak.keyId,
      keyInIam: 'absent',
      verdict: 'dead',
      refusalsInARow: 3,
      oldCredentialDead: true,
      replacementChecks: [
        'file:verify/key-id (accessKeyId)=holds-the-rotated-key-id',
        'file:verify/secret (secretAccessKey)=works',
        'vault:aws/verify (secretAccessKey)=not-readable',
      ],
    });
    expect(verified.summary.windowMs as number).toBeGreaterThanOrEqual(400);
    const artifact = artifacts.find(
      (candidate) => candidate.artifactId === verified.summary.evidenceArtifactId,
    )!;
    expect(artifact).toMatchObject({ name: 'proof-of-death.json', source: 'aws-iam' });
    const proof = JSON.parse(artifact.content);
    expect(proof.probes.length).toBe(verified.summary.probes);
    for (const probe of proof.probes) {
      expect(probe).toEqual({
        answer: 'refused',
        code: 'InvalidClientTokenId',
        at: expect.any(String),
        elapsedMs: expect.any(Number),
        tookMs: expect.any(Number),
      });
    }
    expect(proof).toMatchObject({ verdict: 'dead', accessKeyId: leak.keyId, keyInIamBefore: 'absent' });
  });

  test('a key that still exists is not proven dead: probes say so until the deadline (retryable)', async () => {
    const leak = await leakedUser('verify-alive-user');
    // Deactivated only: real AWS refuses an inactive key, moto still answers SignatureDoesNotMatch for it.
    await admin.send(
      new UpdateAccessKeyCommand({ UserName: leak.user, AccessKeyId: leak.keyId, Status: 'Inactive' }),
    );
    const error = await failure(provider.actions.verifyRevoked({ ref: leak.ref }, makeContext()));
    expect([error.retryable, error.code]).toEqual([true, 'VerificationFailed']);
    expect(error.message).toMatch(/was not refused 3 times in a row over 400 ms within 2500 ms/);
    const artifactId = /evidence artifact (artifact-\d+)/.exec(error.message)![1];
    const proof = JSON.parse(artifacts.find((candidate) => candidate.artifactId === artifactId)!.content);
    expect(proof.verdict).toBe('not-proven');
    expect(proof.probes.length).toBeGreaterThan(3);
    expect(new Set((proof.probes as ProbeResult[]).map((probe) => probe.code))).toEqual(
      new Set(['SignatureDoesNotMatch']),
    );
  });

  test('an active key is refused at once, without probing', async () => {
    const leak = await leakedUser('verify-active-user');
    const error = await failure(provider.actions.verifyRevoked({ ref: leak.ref }, makeContext()));
    expect([error.retryable, error.code]).toEqual([false, 'VerificationFailed']);
    expect(error.message).toMatch(/IAM lists access key .* as Active/);
  });

  test('a replacement the destination holds wrongly fails the proof', async () => {
    const leak = await leakedUser('verify-bad-replacement');
    const incidentId = 'inc-verify-bad';
    await act(
      provider.actions.rotateCredential(
        { ref: leak.ref, destinations: [{ provider: 'file', target: 'verify-bad/secret' }] },
        makeContext({ incidentId }),
      ),
    );
    await act(provider.actions.revokeCredential({ ref: leak.ref, fingerprint }, makeContext({ incidentId })));
    // Someone overwrote the destination since.
    await fileDestination.destination.storeSecret('verify-bad/secret', 'not-the-secret', makeContext());
    const error = await failure(
      provider.actions.verifyRevoked({ ref: leak.ref }, makeContext({ incidentId })),
    );
    expect([error.retryable, error.code]).toEqual([false, 'VerificationFailed']);
    expect(error.message).toMatch(/file:verify-bad\/secret \(secretAccessKey\): rejected/);
  });

  describe('the probing loop', () => {
    const scripted = (answers: ProbeResult['answer'][]) => {
      let index = 0;
      return () =>
        Promise.resolve<ProbeResult>({
          answer: answers[Math.min(index++, answers.length - 1)],
          code: 'scripted',
        });
    };
    const controls = { signal: new AbortController().signal, heartbeat: () => undefined };

    test('refused, then accepted again: alive-again at once', async () => {
      const outcome = await proveDead(
        scripted(['accepted', 'refused', 'refused', 'accepted', 'refused']),
        { refusals: 3, windowMs: 100, deadlineMs: 5_000 },
        controls,
      );
      expect(outcome.verdict).toBe('alive-again');
      expect(outcome.probes.map((probe) => probe.answer)).toEqual([
        'accepted',
        'refused',
        'refused',
        'accepted',
      ]);
    });

    test('an inconclusive probe restarts the streak; the streak must span the window', async () => {
      const outcome = await proveDead(
        scripted(['refused', 'inconclusive', 'refused', 'refused', 'refused']),
        { refusals: 3, windowMs: 150, deadlineMs: 5_000 },
        controls,
      );
      expect(outcome.verdict).toBe('dead');
      expect(outcome.probes.map((probe) => probe.answer).slice(0, 2)).toEqual(['refused', 'inconclusive']);
      expect(outcome.streakMs).toBeGreaterThanOrEqual(150);
    });

    test('cancellation stops the probing (retryable)', async () => {
      const abort = new AbortController();
      const probing = proveDead(
        scripted(['accepted']),
        { refusals: 3, windowMs: 1_000, deadlineMs: 60_000 },
        { signal: abort.signal, heartbeat: () => undefined },
      );
      setTimeout(() => abort.abort(), 50);
      const error = await failure(probing);
      expect([error.retryable, error.code]).toEqual([true, 'Cancelled']);
    });
  });
});

describe('errors', () => {
  test('a denial names the missing permission and is not retried', async () => {
    const leak = await leakedUser('denied-target');
    await admin.send(new CreateUserCommand({ UserName: 'weak-worker' }));
    await admin.send(
      new PutUserPolicyCommand({
        UserName: 'weak-worker',
        PolicyName: 'read-keys-only',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iam:ListAccessKeys', Resource: '*' }],
        }),
      }),
    );
    const weak = (await admin.send(new CreateAccessKeyCommand({ UserName: 'weak-worker' }))).AccessKey!;
    secrets.add(weak.SecretAccessKey!);
    const weakProvider = createAwsIamProvider({
      ...baseOptions,
      credentials: { accessKeyId: weak.AccessKeyId!, secretAccessKey: weak.SecretAccessKey! },
    });
    const error = await failure(weakProvider.actions.revokeGrants({ ref: leak.ref }, makeContext()));
    expect([error.retryable, error.code]).toEqual([false, 'AccessDenied']);
    expect(error.message).toMatch(
      /AWS denied iam:(ListAttachedUserPolicies|ListUserTags) to the worker's credentials/,
    );
    expect(await attachedTo(leak.user)).toEqual([]);
  });

  test('without iam:GetAccessKeyLastUsed the leaked key is still deleted (the forensic extra is skipped)', async () => {
    const leak = await leakedUser('revoke-minimal-target');
    await admin.send(new CreateUserCommand({ UserName: 'minimal-worker' }));
    await admin.send(
      new PutUserPolicyCommand({
        UserName: 'minimal-worker',
        PolicyName: 'revoke-only',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['iam:ListAccessKeys', 'iam:ListUserTags', 'iam:DeleteAccessKey'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    const minimal = (await admin.send(new CreateAccessKeyCommand({ UserName: 'minimal-worker' }))).AccessKey!;
    secrets.add(minimal.SecretAccessKey!);
    const minimalProvider = createAwsIamProvider({
      ...baseOptions,
      credentials: { accessKeyId: minimal.AccessKeyId!, secretAccessKey: minimal.SecretAccessKey! },
    });
    const revoked = await act(
      minimalProvider.actions.revokeCredential({ ref: leak.ref, fingerprint }, makeContext()),
    );
    expect(revoked.summary).toMatchObject({ outcome: 'deleted', lastUsedReadable: false, lastUsedAt: null });
    expect(await keysOf(leak.user)).toEqual({});
  });

  test('rejected worker credentials: not retried', async () => {
    const bogus = createAwsIamProvider({
      ...baseOptions,
      credentials: { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) },
    });
    const error = await failure(
      bogus.actions.revokeGrants({ ref: `${moto.accountId}/anyone` }, makeContext()),
    );
    expect([error.retryable, error.code]).toEqual([false, 'Credentials']);
  });

  test('an unreachable endpoint is retryable', async () => {
    const unreachable = createAwsIamProvider({ ...baseOptions, endpoint: 'http://127.0.0.1:1' });
    const error = await failure(
      unreachable.actions.revokeGrants({ ref: `${moto.accountId}/anyone` }, makeContext()),
    );
    expect([error.retryable, error.code]).toEqual([true, 'Unavailable']);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  test('a user that does not exist: not found, not retried', async () => {
    const error = await failure(
      provider.actions.deactivateAccessKey({ ref: `${moto.accountId}/nobody-here` }, makeContext()),
    );
    expect([error.retryable, error.code]).toEqual([false, 'NotFound']);
  });
});

test('a worker holding only the policy of docs/aws-iam.md runs the whole containment', async () => {
  const doc = await readFile(join(__dirname, '..', 'docs', 'aws-iam.md'), 'utf8');
  const json = /## Least-privilege policy[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)![1];
  const policy = JSON.parse(json.replaceAll('111122223333', moto.accountId)) as {
    Statement: { Effect: string; Resource: string | string[] }[];
  };
  // moto authorises IAM calls against the resource "*" (it matches no user ARN): widen the allows, keep the deny.
  for (const statement of policy.Statement) if (statement.Effect === 'Allow') statement.Resource = '*';
  await admin.send(new CreateUserCommand({ UserName: 'tourniquet-worker' }));
  await admin.send(
    new PutUserPolicyCommand({
      UserName: 'tourniquet-worker',
      PolicyName: 'tourniquet',
      PolicyDocument: JSON.stringify(policy),
    }),
  );
  const key = (await admin.send(new CreateAccessKeyCommand({ UserName: 'tourniquet-worker' }))).AccessKey!;
  secrets.add(key.SecretAccessKey!);
  const worker = createAwsIamProvider({
    ...baseOptions,
    credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! },
    secretReaders: { file: fileDestination.destination },
  });
  const leak = await leakedUser('least-privilege-target');
  const incidentId = 'inc-least-privilege';
  const ctx = () => makeContext({ incidentId });
  await act(worker.actions.revokeGrants({ ref: leak.ref }, ctx()));
  const cut = await act(worker.actions.deactivateAccessKey({ ref: leak.ref }, ctx()));
  await act(
    worker.actions.rotateCredential(
      {
        ref: leak.ref,
        destinations: [
          { provider: 'file', target: 'least/key-id', part: 'accessKeyId' },
          { provider: 'file', target: 'least/secret' },
        ],
      },
      ctx(),
    ),
  );
  await act(worker.actions.terminateSessions({ ref: leak.ref }, ctx()));
  await act(worker.actions.revokeCredential({ ref: leak.ref, fingerprint }, ctx()));
  const verified = await act(worker.actions.verifyRevoked({ ref: leak.ref }, ctx()));
  expect(verified.summary).toMatchObject({ oldCredentialDead: true, keyInIam: 'absent' });
  await act(
    worker.actions.activateAccessKey({ ref: leak.ref }, makeContext({ incidentId, undoOf: cut.summary })),
  );
  const restored = await act(worker.actions.restoreGrants({ ref: leak.ref }, ctx()));
  expect(restored.summary).toMatchObject({ outcome: 'detached' });
  expect(await attachedTo(leak.user)).toEqual([]);
});

test('no secret access key appears in any summary, log line, error or evidence artifact', () => {
  expect(secrets.size).toBeGreaterThan(10);
  expect(artifacts.length).toBeGreaterThan(0);
  const everything = [...transcript, ...artifacts.map((artifact) => artifact.content)].join('\n');
  for (const secret of secrets) {
    expect(everything.includes(secret)).toBe(false);
  }
});
