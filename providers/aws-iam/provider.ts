import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  DetachUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  type AccessKeyMetadata,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { SecretDestinationParams } from '../roles/issuer';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type Provider,
  type SecretReader,
  type SummaryValue,
} from '../types';
import { awsIamCatalog, type AwsIamCatalog } from './catalog';
import { awsErrorFacts, scrub, toProviderError } from './errors';
import type { AwsCredentials, AwsIamProviderOptions, ProofSettings } from './options';
import { proveDead, type ProbeResult, type ProofOutcome } from '../proof-of-death';
import { ACCESS_KEY_ID, parseAwsIamRef, PROVIDER, type AwsIamTarget } from './refs';
import {
  deactivationTagKey,
  decodeDeliveries,
  decodeKeyIds,
  decodeRotation,
  deliveryTagKey,
  encodeDeliveries,
  encodeQuarantine,
  encodeRotation,
  incidentMark,
  keysRotatedIn,
  latestDeliveredRotation,
  quarantineIncident,
  quarantineTagKey,
  rotationsIn,
  rotationTagKey,
  type DeliveryLabel,
  type RotationRecord,
} from './state';

export { parseAwsIamRef, type AwsIamTarget } from './refs';

/** The inline policy terminateSessions puts on the user (the name AWS's console uses for roles). */
export const REVOKE_SESSIONS_POLICY = 'AWSRevokeOlderSessions';
/** A crashed attempt's key is recognised by creation time too, with this much clock skew allowed. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Rotation records of other idempotency keys are pruned once their key is gone, or when pending this long. */
const STALE_PENDING_MS = 24 * 3_600_000;

interface Settings {
  accountId: string;
  region: string;
  endpoint?: string;
  quarantinePolicyArn: string;
  proof: ProofSettings;
  credentials?: AwsCredentials;
  secretReaders: Readonly<Record<string, SecretReader>>;
}

interface CallerIdentity {
  account: string;
  arn: string;
}

/** `arn:<partition>:iam::<account>:user/[<path>/]<name>`; IAM user names are unique regardless of case. */
function isUserArn(arn: string, accountId: string, userName: string): boolean {
  const match = /^arn:[\w-]+:iam::(\d{12}):user\/(?:[^\s]*\/)?([\w+=,.@-]+)$/.exec(arn);
  return match !== null && match[1] === accountId && match[2].toLowerCase() === userName.toLowerCase();
}

function describeTarget(target: AwsIamTarget): string {
  return `IAM user "${target.userName}" in account ${target.accountId}`;
}

function destinationLabel(destination: { provider: string; target: string }): string {
  return `${destination.provider}:${destination.target}`;
}

function clientConfig(settings: Settings, credentials: AwsCredentials | undefined, maxAttempts: number) {
  return {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 },
  };
}

/** One action's view of IAM: every failure leaves as a ProviderError naming the operation and the permission. */
class IamSession {
  /** Values to strike out of any text we keep: what this action minted or read back. */
  readonly secrets: string[] = [];

  constructor(
    private readonly iam: IAMClient,
    readonly target: AwsIamTarget,
    private readonly signal: AbortSignal,
  ) {}

  get user(): string {
    return this.target.userName;
  }

  async call<T>(
    operation: string,
    permission: string,
    send: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.signal.aborted) throw new ProviderError(`cancelled before ${operation}`, true, 'Cancelled');
    try {
      return await send(this.signal);
    } catch (error) {
      throw toProviderError(error, { operation, permission, secrets: this.secrets });
    }
  }

  async listKeys(): Promise<AccessKeyMetadata[]> {
    const keys: AccessKeyMetadata[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call(
        `listing the access keys of ${describeTarget(this.target)}`,
        'iam:ListAccessKeys',
        (abortSignal) =>
          this.iam.send(new ListAccessKeysCommand({ UserName: this.user, Marker: marker }), { abortSignal }),
      );
      keys.push(...(page.AccessKeyMetadata ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return keys;
  }

  async listTags(): Promise<Map<string, string>> {
    const tags = new Map<string, string>();
    let marker: string | undefined;
    do {
      const page = await this.call(
        `reading the tags of ${describeTarget(this.target)}`,
        'iam:ListUserTags',
        (abortSignal) =>
          this.iam.send(new ListUserTagsCommand({ UserName: this.user, Marker: marker }), { abortSignal }),
      );
      for (const tag of page.Tags ?? []) if (tag.Key) tags.set(tag.Key, tag.Value ?? '');
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return tags;
  }

  async tag(tags: Record<string, string>, why: string): Promise<void> {
    await this.call(`tagging ${describeTarget(this.target)} (${why})`, 'iam:TagUser', (abortSignal) =>
      this.iam.send(
        new TagUserCommand({
          UserName: this.user,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
        { abortSignal },
      ),
    );
  }

  async untag(keys: string[], why: string): Promise<void> {
    if (keys.length === 0) return;
    await this.call(`untagging ${describeTarget(this.target)} (${why})`, 'iam:UntagUser', (abortSignal) =>
      this.iam.send(new UntagUserCommand({ UserName: this.user, TagKeys: keys }), { abortSignal }),
    );
  }

  async attachedPolicies(): Promise<string[]> {
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call(
        `listing the policies attached to ${describeTarget(this.target)}`,
        'iam:ListAttachedUserPolicies',
        (abortSignal) =>
          this.iam.send(new ListAttachedUserPoliciesCommand({ UserName: this.user, Marker: marker }), {
            abortSignal,
          }),
      );
      for (const policy of page.AttachedPolicies ?? []) if (policy.PolicyArn) arns.push(policy.PolicyArn);
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return arns;
  }

  async setKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void> {
    await this.call(
      `${status === 'Active' ? 'activating' : 'deactivating'} access key ${accessKeyId} of ${describeTarget(this.target)}`,
      'iam:UpdateAccessKey',
      (abortSignal) =>
        this.iam.send(
          new UpdateAccessKeyCommand({ UserName: this.user, AccessKeyId: accessKeyId, Status: status }),
          { abortSignal },
        ),
    );
  }

  async deleteKey(accessKeyId: string, why: string): Promise<void> {
    await this.call(
      `deleting access key ${accessKeyId} of ${describeTarget(this.target)} (${why})`,
      'iam:DeleteAccessKey',
      (abortSignal) =>
        this.iam.send(new DeleteAccessKeyCommand({ UserName: this.user, AccessKeyId: accessKeyId }), {
          abortSignal,
        }),
    );
  }

  /**
   * Which user owns a key id in this account, and when and where it was last used: `undefined` when AWS knows no
   * such key, `unreadable` when iam:GetAccessKeyLastUsed is denied. Best effort on purpose: it is a forensic extra
   * and a guard against a wrong reference, and must not block containment.
   */
  async keyLastUsed(accessKeyId: string): Promise<KeyLastUsed | 'unreadable' | undefined> {
    try {
      const answer = await this.call(
        `reading when access key ${accessKeyId} was last used`,
        'iam:GetAccessKeyLastUsed',
        (abortSignal) =>
          this.iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }), { abortSignal }),
      );
      const used = answer.AccessKeyLastUsed;
      const known = (value: string | undefined) => (value && value !== 'N/A' ? value : null);
      return {
        userName: answer.UserName ?? '',
        lastUsed: used?.LastUsedDate ? used.LastUsedDate.toISOString() : null,
        service: known(used?.ServiceName),
        region: known(used?.Region),
      };
    } catch (error) {
      if (error instanceof ProviderError && error.code === 'NotFound') return undefined;
      if (error instanceof ProviderError && error.code === 'AccessDenied') return 'unreadable';
      throw error;
    }
  }
}

interface KeyLastUsed {
  userName: string;
  lastUsed: string | null;
  service: string | null;
  region: string | null;
}

/** A key the user does not have belongs to another user when AWS says so; otherwise it is gone (or unknown). */
function otherOwner(found: KeyLastUsed | 'unreadable' | undefined, userName: string): string | undefined {
  return typeof found === 'object' && found.userName.toLowerCase() !== userName.toLowerCase()
    ? found.userName
    : undefined;
}

export type AwsIamProvider = Provider<AwsIamCatalog>;

export function createAwsIamProvider(options: AwsIamProviderOptions): AwsIamProvider {
  const settings: Settings = {
    accountId: options.accountId,
    region: options.region,
    endpoint: options.endpoint,
    quarantinePolicyArn: options.quarantinePolicyArn,
    proof: options.proof,
    credentials: options.credentials,
    secretReaders: options.secretReaders ?? {},
  };
  const iam = new IAMClient(clientConfig(settings, settings.credentials, 3));
  const sts = new STSClient(clientConfig(settings, settings.credentials, 3));

  /** The worker's own identity, asked once; a failed look-up is asked again by the next action. */
  let identity: Promise<CallerIdentity> | undefined;
  const callerIdentity = (): Promise<CallerIdentity> => {
    identity ??= sts
      .send(new GetCallerIdentityCommand({}))
      .then((answer) => ({ account: answer.Account ?? '', arn: answer.Arn ?? '' }))
      .catch((error: unknown) => {
        identity = undefined;
        throw toProviderError(error, {
          operation: "checking which AWS account the worker's credentials belong to",
          permission: 'sts:GetCallerIdentity',
        });
      });
    return identity;
  };

  /**
   * Before anything else: the reference must name the configured account, and the worker's credentials must belong
   * to it. IAM calls carry no account id (they act on the caller's account), so without this a runbook or an
   * alert naming `aws-iam:<other account>/<user>` would act on a same-named user of whatever account the worker's
   * credentials reach. The worker's own user is refused too: quarantining it would lock Tourniquet out.
   */
  async function open(ref: string, action: string, ctx: ActionContext): Promise<IamSession> {
    const target = parseAwsIamRef(ref);
    if (target.accountId !== settings.accountId) {
      throw new ProviderError(
        `${PROVIDER}.${action}: the reference names AWS account ${target.accountId}, but this worker acts only on account ${settings.accountId} (TOURNIQUET_AWS_ACCOUNT_ID); refused, nothing was changed`,
        false,
        'WrongAccount',
      );
    }
    const me = await callerIdentity();
    if (me.account !== settings.accountId) {
      throw new ProviderError(
        `${PROVIDER}.${action}: the worker's AWS credentials belong to account ${me.account || 'unknown'}, not to ${settings.accountId} (TOURNIQUET_AWS_ACCOUNT_ID); refused, nothing was changed`,
        false,
        'WrongAccount',
      );
    }
    if (isUserArn(me.arn, settings.accountId, target.userName)) {
      throw new ProviderError(
        `${PROVIDER}.${action}: "${target.userName}" is the IAM user Tourniquet acts as; contain it out of band`,
        false,
        'Refused',
      );
    }
    return new IamSession(iam, target, ctx.signal);
  }

  function requireKey(target: AwsIamTarget, action: string): string {
    if (!target.accessKeyId) {
      throw new ProviderError(
        `${PROVIDER}.${action}: the reference names no access key; name the leaked one (aws-iam:${target.accountId}/${target.userName}/AKIA…)`,
        false,
        'InvalidParams',
      );
    }
    return target.accessKeyId;
  }

  // ---- revokeGrants / restoreGrants: the quarantine policy ------------------------------------------------------

  /**
   * Attaches the quarantine policy. The user's tag `tourniquet:quarantine:<policy hash>` says this incident did it,
   * and is written before the attachment: a retry after a crash in between still knows the attachment is ours. A
   * policy that was attached already (AWS attaches it itself when it finds a key exposed) is left as it is, and
   * restoreGrants will not detach it.
   */
  async function revokeGrants(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const session = await open(params.ref, 'revokeGrants', ctx);
    const policyArn = settings.quarantinePolicyArn;
    const tagKey = quarantineTagKey(policyArn);
    const [attached, tags] = await Promise.all([session.attachedPolicies(), session.listTags()]);
    const ours = quarantineIncident(tags.get(tagKey)) === incidentMark(ctx.incidentId);
    const wasAttached = attached.includes(policyArn);
    let changed = false;
    if (!wasAttached || ours) {
      if (!ours) await session.tag({ [tagKey]: encodeQuarantine(ctx.incidentId, Date.now()) }, 'quarantine');
      if (!wasAttached) {
        await session.call(
          `attaching ${policyArn} to ${describeTarget(session.target)}`,
          'iam:AttachUserPolicy',
          (abortSignal) =>
            iam.send(new AttachUserPolicyCommand({ UserName: session.user, PolicyArn: policyArn }), {
              abortSignal,
            }),
        );
        changed = true;
      }
    }
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      policyArn,
      attached: true,
      changed,
      // Attached by someone else before (AWS, an operator, another incident): restoreGrants leaves it.
      attachedByThisIncident: ours || !wasAttached,
    };
    ctx.log.info(summary, changed ? 'quarantine policy attached' : 'quarantine policy already attached');
    return { summary };
  }

  async function restoreGrants(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const session = await open(params.ref, 'restoreGrants', ctx);
    const policyArn = settings.quarantinePolicyArn;
    const tagKey = quarantineTagKey(policyArn);
    const [attached, tags] = await Promise.all([session.attachedPolicies(), session.listTags()]);
    const owner = quarantineIncident(tags.get(tagKey));
    const ours = owner === incidentMark(ctx.incidentId);
    const isAttached = attached.includes(policyArn);
    let changed = false;
    let outcome: string;
    if (!ours) {
      outcome = isAttached ? 'left-attached-not-ours' : 'not-attached';
    } else {
      if (isAttached) {
        await session.call(
          `detaching ${policyArn} from ${describeTarget(session.target)}`,
          'iam:DetachUserPolicy',
          (abortSignal) =>
            iam.send(new DetachUserPolicyCommand({ UserName: session.user, PolicyArn: policyArn }), {
              abortSignal,
            }),
        );
        changed = true;
      }
      // Detached first, untagged second: a crash in between leaves a tag a retry clears.
      await session.untag([tagKey], 'quarantine lifted');
      outcome = 'detached';
    }
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      policyArn,
      attached: isAttached && !changed,
      changed,
      outcome,
    };
    ctx.log.info(summary, changed ? 'quarantine policy detached' : 'quarantine policy left as it was');
    return { summary };
  }

  // ---- deactivateAccessKey / activateAccessKey -------------------------------------------------------------------

  /**
   * The named key, or every active key of the user except the replacement this incident's rotation created. The ids
   * go into the tag `tourniquet:deactivated:<incident>` before the change, so activateAccessKey can undo exactly this
   * incident's deactivations even without the step's summary.
   */
  async function deactivateAccessKey(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const session = await open(params.ref, 'deactivateAccessKey', ctx);
    const [keys, tags] = await Promise.all([session.listKeys(), session.listTags()]);
    const replacement = keysRotatedIn(tags, ctx.incidentId);
    const named = session.target.accessKeyId;
    let absent: string[] = [];
    if (named && !keys.some((key) => key.AccessKeyId === named)) {
      // Gone already (revokeCredential ran first) is what deactivation wants; another user's key is a wrong ref.
      const owner = otherOwner(await session.keyLastUsed(named), session.user);
      if (owner) {
        throw new ProviderError(
          `${PROVIDER}.deactivateAccessKey: access key ${named} belongs to IAM user "${owner}", not "${session.user}"; check the reference`,
          false,
          'Refused',
        );
      }
      absent = [named];
    }
    if (named && replacement.has(named)) {
      throw new ProviderError(
        `${PROVIDER}.deactivateAccessKey: access key ${named} is the replacement this incident's rotation created, not the leaked key`,
        false,
        'Refused',
      );
    }
    const candidates = keys.filter((key) =>
      named ? key.AccessKeyId === named : !replacement.has(key.AccessKeyId ?? ''),
    );
    const toDeactivate = candidates.filter((key) => key.Status === 'Active').map((key) => key.AccessKeyId!);
    const alreadyInactive = candidates
      .filter((key) => key.Status !== 'Active')
      .map((key) => key.AccessKeyId!);
    const spared = keys.map((key) => key.AccessKeyId!).filter((id) => replacement.has(id));
    if (toDeactivate.length > 0) {
      const tagKey = deactivationTagKey(ctx.incidentId);
      const recorded = new Set([...decodeKeyIds(tags.get(tagKey)), ...toDeactivate]);
      await session.tag({ [tagKey]: [...recorded].join(' ') }, 'keys deactivated by this incident');
      for (const id of toDeactivate) await session.setKeyStatus(id, 'Inactive');
    }
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      deactivated: toDeactivate,
      alreadyInactive,
      alreadyDeleted: absent,
      sparedReplacement: spared,
      changed: toDeactivate.length > 0,
    };
    ctx.log.info(summary, 'access keys deactivated');
    return { summary };
  }

  /** Activates the keys the undone step deactivated (its summary), else the ones this incident recorded in tags. */
  async function activateAccessKey(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const session = await open(params.ref, 'activateAccessKey', ctx);
    const [keys, tags] = await Promise.all([session.listKeys(), session.listTags()]);
    const tagKey = deactivationTagKey(ctx.incidentId);
    const fromUndo = ctx.undoOf?.deactivated;
    const wanted = Array.isArray(fromUndo)
      ? fromUndo.filter((id) => ACCESS_KEY_ID.test(id))
      : decodeKeyIds(tags.get(tagKey));
    const byId = new Map(keys.map((key) => [key.AccessKeyId ?? '', key]));
    const activated: string[] = [];
    const alreadyActive: string[] = [];
    const missing: string[] = [];
    for (const id of wanted) {
      const key = byId.get(id);
      if (!key) missing.push(id);
      else if (key.Status === 'Active') alreadyActive.push(id);
      else {
        await session.setKeyStatus(id, 'Active');
        activated.push(id);
      }
    }
    if (tags.has(tagKey)) await session.untag([tagKey], 'deactivations undone');
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      activated,
      alreadyActive,
      // Deleted since (revokeCredential): nothing to bring back.
      missing,
      changed: activated.length > 0,
    };
    ctx.log.info(summary, 'access keys activated');
    return { summary };
  }

  // ---- rotateCredential -----------------------------------------------------------------------------------------

  /**
   * Creates a new access key and delivers its parts to the destinations. IAM returns a secret once, at creation, and
   * access keys cannot be tagged, so the attempt keeps its record on the user as the tag
   * `tourniquet:rotation:<sha-256 of the idempotency key>`:
   *
   *   pending/<t>/<incident>/<keys before>  →  CreateAccessKey  →  created/<t>/<incident>/<new key>  →  deliveries
   *   →  delivered/<t>/<incident>/<new key>
   *
   * A retry of the same step reads it first. `delivered` and the key still there: done, nothing is created.
   * `created`: the key was never delivered everywhere and its secret is lost with the crashed attempt, so it is
   * deleted and a fresh one minted. `pending`: the attempt died around CreateAccessKey; any key not in the recorded
   * "before" list and created since (clock skew allowed) is that attempt's orphan and is deleted. Only keys a record
   * of this very idempotency key points at are ever deleted here. Two attempts running at once (a presumed-dead
   * worker still alive) are not excluded: IAM has no lock; Temporal's heartbeat timeout makes it rare.
   */
  async function rotateCredential(
    params: { ref: string; destinations: SecretDestinationParams[] },
    ctx: ActionContext,
  ): Promise<ActionResult> {
    const target = parseAwsIamRef(params.ref);
    const parts: DeliveryLabel[] = params.destinations.map((destination) => ({
      provider: destination.provider,
      target: destination.target,
      part: destination.part ?? 'secretAccessKey',
    }));
    if (!parts.some((label) => label.part === 'secretAccessKey')) {
      throw new ProviderError(
        `${PROVIDER}.rotateCredential ${describeTarget(target)}: no destination takes the secret access key; the new key would be lost (use revokeCredential to only delete the leaked one)`,
        false,
        'InvalidParams',
      );
    }
    const session = await open(params.ref, 'rotateCredential', ctx);
    const tagKey = rotationTagKey(ctx.idempotencyKey);
    const deliveryKey = deliveryTagKey(tagKey);
    const [listedKeys, tags] = await Promise.all([session.listKeys(), session.listTags()]);
    let keys = listedKeys;
    const earlier = tags.has(tagKey) ? decodeRotation(tagKey, tags.get(tagKey)!) : undefined;
    const keyIds = () => keys.map((key) => key.AccessKeyId!);

    if (earlier?.state === 'delivered' && keyIds().includes(earlier.keyIds[0])) {
      ctx.log.info(
        { user: session.user, newAccessKeyId: earlier.keyIds[0] },
        'rotation already completed by an earlier attempt of this step; nothing to do',
      );
      return {
        summary: rotationSummary(session, earlier.keyIds[0], new Date(earlier.at), parts, [], true),
      };
    }
    const orphans = earlier ? orphansOf(earlier, keys) : [];
    for (const id of orphans) await session.deleteKey(id, 'created by a crashed attempt of this step');
    if (orphans.length > 0) keys = keys.filter((key) => !orphans.includes(key.AccessKeyId!));

    if (keys.length >= 2) {
      throw new ProviderError(
        `${PROVIDER}.rotateCredential: ${describeTarget(session.target)} already has 2 access keys (${keyIds().join(', ')}), the most IAM allows; delete the leaked one first (revokeCredential). Tourniquet deletes no key it was not told to`,
        false,
        'LimitExceeded',
      );
    }
    await pruneRotationRecords(session, tags, keyIds(), tagKey);
    await session.tag(
      {
        [tagKey]: encodeRotation({
          state: 'pending',
          at: Date.now(),
          incident: incidentMark(ctx.incidentId),
          keyIds: keyIds(),
        }),
      },
      'rotation starting',
    );
    const created = await session.call(
      `creating an access key for ${describeTarget(session.target)}`,
      'iam:CreateAccessKey',
      (abortSignal) =>
        iam.send(new CreateAccessKeyCommand({ UserName: session.user }), { abortSignal }).then((answer) => {
          // The secret is struck out of every message from here on, whatever fails.
          if (answer.AccessKey?.SecretAccessKey) session.secrets.push(answer.AccessKey.SecretAccessKey);
          return answer;
        }),
    );
    const newKeyId = created.AccessKey?.AccessKeyId;
    const secret = created.AccessKey?.SecretAccessKey;
    if (!newKeyId || !secret) {
      throw new ProviderError('AWS IAM CreateAccessKey answered without a key', true, 'Unavailable');
    }
    const createdAt = created.AccessKey?.CreateDate ?? new Date();
    const record = { at: Date.now(), incident: incidentMark(ctx.incidentId), keyIds: [newKeyId] };
    await session.tag(
      {
        [tagKey]: encodeRotation({ ...record, state: 'created' }),
        [deliveryKey]: encodeDeliveries(parts),
      },
      'rotation created its key',
    );
    for (const label of parts) {
      try {
        await ctx.deliverSecret(
          { provider: label.provider, target: label.target },
          label.part === 'accessKeyId' ? newKeyId : secret,
        );
      } catch (error) {
        const message = scrub(error instanceof Error ? error.message : String(error), session.secrets);
        throw new ProviderError(
          `${PROVIDER}.rotateCredential: delivering the new key's ${label.part} to ${destinationLabel(label)} failed (${message}); a retry deletes key ${newKeyId} and mints another`,
          error instanceof ProviderError ? error.retryable : true,
          'DeliveryFailed',
        );
      }
    }
    await session.tag(
      { [tagKey]: encodeRotation({ ...record, at: Date.now(), state: 'delivered' }) },
      'rotation delivered',
    );
    const summary = rotationSummary(session, newKeyId, createdAt, parts, orphans, false);
    ctx.log.info(summary, 'access key rotated');
    return { summary };
  }

  /** Keys a crashed attempt of the same step created: only ever ones its own record points at. */
  function orphansOf(earlier: RotationRecord, keys: AccessKeyMetadata[]): string[] {
    if (earlier.state === 'pending') {
      const before = new Set(earlier.keyIds);
      return keys
        .filter(
          (key) =>
            !before.has(key.AccessKeyId!) &&
            (key.CreateDate?.getTime() ?? Number.POSITIVE_INFINITY) >= earlier.at - CLOCK_SKEW_MS,
        )
        .map((key) => key.AccessKeyId!);
    }
    // `created` (never fully delivered), or `delivered` whose key was deleted since: mint again.
    const id = earlier.keyIds[0];
    return earlier.state === 'created' && id && keys.some((key) => key.AccessKeyId === id) ? [id] : [];
  }

  /** Keeps the user under IAM's 50 tags: drops other rotations' records whose key is gone (or long pending). */
  async function pruneRotationRecords(
    session: IamSession,
    tags: ReadonlyMap<string, string>,
    liveKeys: string[],
    keep: string,
  ): Promise<void> {
    const stale = rotationsIn(tags)
      .filter((record) => record.tagKey !== keep)
      .filter((record) =>
        record.state === 'pending'
          ? Date.now() - record.at > STALE_PENDING_MS
          : !liveKeys.includes(record.keyIds[0] ?? ''),
      )
      .flatMap((record) => [record.tagKey, deliveryTagKey(record.tagKey)])
      .filter((key) => tags.has(key));
    if (stale.length > 0) await session.untag(stale, 'records of rotations whose key is gone');
  }

  function rotationSummary(
    session: IamSession,
    newKeyId: string,
    createdAt: Date,
    parts: DeliveryLabel[],
    removedOrphans: string[],
    reusedEarlierAttempt: boolean,
  ): Record<string, SummaryValue> {
    return {
      account: session.target.accountId,
      user: session.user,
      newAccessKeyId: newKeyId,
      createdAt: createdAt.toISOString(),
      destinations: parts.map((label) => `${destinationLabel(label)} (${label.part})`),
      removedOrphanKeys: removedOrphans,
      reusedEarlierAttempt,
    };
  }

  // ---- revokeCredential -----------------------------------------------------------------------------------------

  /**
   * Deletes the leaked key: the one the reference names, only. Refuses the replacement this incident's rotation
   * created. Records when and where the key was last used before deleting it (the answer is gone afterwards).
   */
  async function revokeCredential(
    params: { ref: string; fingerprint: string },
    ctx: ActionContext,
  ): Promise<ActionResult> {
    const accessKeyId = requireKey(parseAwsIamRef(params.ref), 'revokeCredential');
    const session = await open(params.ref, 'revokeCredential', ctx);
    const [keys, tags] = await Promise.all([session.listKeys(), session.listTags()]);
    if (keysRotatedIn(tags, ctx.incidentId).has(accessKeyId)) {
      throw new ProviderError(
        `${PROVIDER}.revokeCredential: access key ${accessKeyId} is the replacement this incident's rotation created; refusing to delete it`,
        false,
        'Refused',
      );
    }
    const key = keys.find((candidate) => candidate.AccessKeyId === accessKeyId);
    // Read before deleting: AWS forgets when and where a deleted key was last used.
    const lastUsed = await session.keyLastUsed(accessKeyId);
    let outcome: string;
    if (!key) {
      const owner = otherOwner(lastUsed, session.user);
      if (owner) {
        throw new ProviderError(
          `${PROVIDER}.revokeCredential: access key ${accessKeyId} belongs to IAM user "${owner}", not "${session.user}"; check the reference`,
          false,
          'Refused',
        );
      }
      outcome = 'already-deleted';
    } else {
      await session.deleteKey(accessKeyId, 'the leaked key');
      outcome = 'deleted';
    }
    const used = typeof lastUsed === 'object' ? lastUsed : undefined;
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      accessKeyId,
      outcome,
      statusBefore: key?.Status ?? null,
      lastUsedAt: used?.lastUsed ?? null,
      lastUsedService: used?.service ?? null,
      lastUsedRegion: used?.region ?? null,
      lastUsedReadable: lastUsed !== 'unreadable',
      leakedFingerprint: params.fingerprint,
    };
    ctx.log.info(summary, 'leaked access key revoked');
    return { summary };
  }

  // ---- terminateSessions ----------------------------------------------------------------------------------------

  /**
   * Temporary credentials (GetSessionToken, GetFederationToken, console sessions) cannot be revoked one by one; AWS's
   * documented way is a deny-all that applies only to tokens issued before now (`aws:TokenIssueTime`). Requests
   * signed with a long-term access key carry no token issue time, so the replacement key is not affected. A retry
   * moves the cut-off later, which only covers more.
   */
  async function terminateSessions(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const session = await open(params.ref, 'terminateSessions', ctx);
    const revokedBefore = new Date().toISOString();
    const document = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TourniquetRevokeOlderSessions',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { DateLessThan: { 'aws:TokenIssueTime': revokedBefore } },
        },
      ],
    };
    await session.call(
      `putting the inline policy ${REVOKE_SESSIONS_POLICY} on ${describeTarget(session.target)}`,
      'iam:PutUserPolicy',
      (abortSignal) =>
        iam.send(
          new PutUserPolicyCommand({
            UserName: session.user,
            PolicyName: REVOKE_SESSIONS_POLICY,
            PolicyDocument: JSON.stringify(document),
          }),
          { abortSignal },
        ),
    );
    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      policyName: REVOKE_SESSIONS_POLICY,
      sessionsIssuedBefore: revokedBefore,
    };
    ctx.log.info(summary, 'temporary sessions issued before now are denied');
    return { summary };
  }

  // ---- verifyRevoked --------------------------------------------------------------------------------------------

  /** Asks STS who signs with `accessKeyId` and a deliberately wrong secret: only whether AWS knows the key answers. */
  async function probeLeakedKey(accessKeyId: string, signal: AbortSignal): Promise<ProbeResult> {
    const wrongSecret = randomBytes(30).toString('base64');
    const client = new STSClient(clientConfig(settings, { accessKeyId, secretAccessKey: wrongSecret }, 1));
    try {
      await client.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
      // A random secret cannot sign; if it ever "works", treat it as alive (and loud).
      return { answer: 'accepted', code: 'OK' };
    } catch (error) {
      const { code } = awsErrorFacts(error);
      if (code === 'InvalidClientTokenId') return { answer: 'refused', code };
      if (code === 'SignatureDoesNotMatch') return { answer: 'accepted', code };
      return { answer: 'inconclusive', code };
    } finally {
      client.destroy();
    }
  }

  type ReplacementOutcome =
    | 'works'
    | 'holds-the-rotated-key-id'
    | 'rejected'
    | 'key-unknown'
    | 'wrong-identity'
    | 'wrong-key-id'
    | 'read-failed'
    | 'not-readable'
    | 'inconclusive';

  /** Reads each delivered part back where a reader exists and signs in with it: the user's ARN must answer. */
  async function checkReplacement(
    session: IamSession,
    rotation: RotationRecord,
    deliveries: DeliveryLabel[],
  ): Promise<{ label: string; outcome: ReplacementOutcome }[]> {
    const newKeyId = rotation.keyIds[0];
    const results: { label: string; outcome: ReplacementOutcome }[] = [];
    for (const delivery of deliveries) {
      const label = `${destinationLabel(delivery)} (${delivery.part})`;
      const reader = settings.secretReaders[delivery.provider];
      if (!reader) {
        results.push({ label, outcome: 'not-readable' });
        continue;
      }
      let value: string;
      try {
        value = (await reader.readSecret(delivery.target)).trim();
      } catch {
        results.push({ label, outcome: 'read-failed' });
        continue;
      }
      if (delivery.part === 'accessKeyId') {
        results.push({ label, outcome: value === newKeyId ? 'holds-the-rotated-key-id' : 'wrong-key-id' });
        continue;
      }
      session.secrets.push(value);
      const client = new STSClient(
        clientConfig(settings, { accessKeyId: newKeyId, secretAccessKey: value }, 1),
      );
      try {
        const answer = await client.send(new GetCallerIdentityCommand({}));
        results.push({
          label,
          outcome: isUserArn(answer.Arn ?? '', settings.accountId, session.user) ? 'works' : 'wrong-identity',
        });
      } catch (error) {
        const { code } = awsErrorFacts(error);
        results.push({
          label,
          // SignatureDoesNotMatch: the destination holds another secret. InvalidClientTokenId: AWS does not know
          // the key (yet: a new key can take seconds to reach every endpoint, so that one is worth a retry).
          outcome:
            code === 'SignatureDoesNotMatch'
              ? 'rejected'
              : code === 'InvalidClientTokenId'
                ? 'key-unknown'
                : 'inconclusive',
        });
      } finally {
        client.destroy();
      }
    }
    return results;
  }

  /**
   * Proof of death for the leaked key, built to survive IAM's eventual consistency: STS is probed with the key id
   * and a wrong secret until it has refused `refusals` times in a row over at least `windowMs` (no secret is needed:
   * AWS says InvalidClientTokenId for a key it does not know, SignatureDoesNotMatch for one it does). Every probe
   * goes into the evidence vault as `proof-of-death.json`. Then the replacement: for each destination of this
   * incident's rotation that Tourniquet can read back, the delivered key must sign in as the user.
   *
   * GetCallerIdentity cannot be denied by any policy, so a refusal proves the key no longer authenticates at all
   * (deleted, or deactivated on AWS), and says nothing about the quarantine policy.
   */
  async function verifyRevoked(params: { ref: string }, ctx: ActionContext): Promise<ActionResult> {
    const accessKeyId = requireKey(parseAwsIamRef(params.ref), 'verifyRevoked');
    const session = await open(params.ref, 'verifyRevoked', ctx);
    const [keys, tags] = await Promise.all([session.listKeys(), session.listTags()]);
    if (keysRotatedIn(tags, ctx.incidentId).has(accessKeyId)) {
      throw new ProviderError(
        `${PROVIDER}.verifyRevoked: access key ${accessKeyId} is the replacement this incident's rotation created, not the leaked key`,
        false,
        'InvalidParams',
      );
    }
    const listed = keys.find((key) => key.AccessKeyId === accessKeyId);
    const inIam = listed ? (listed.Status ?? 'unknown') : 'absent';
    const startedAt = new Date().toISOString();
    let proof: ProofOutcome;
    if (listed?.Status === 'Active') {
      // IAM itself lists the key as active: no probing can make that dead.
      proof = { verdict: 'not-proven', probes: [], refusals: 0, streakMs: 0 };
    } else {
      proof = await proveDead(() => probeLeakedKey(accessKeyId, ctx.signal), settings.proof, {
        signal: ctx.signal,
        heartbeat: (details) => ctx.heartbeat(details),
      });
    }

    const rotation = latestDeliveredRotation(tags, ctx.incidentId);
    const deliveries = rotation ? decodeDeliveries(tags.get(deliveryTagKey(rotation.tagKey))) : undefined;
    const replacement =
      rotation && deliveries ? await checkReplacement(session, rotation, deliveries.labels) : [];
    const unrecorded = deliveries ? deliveries.total - deliveries.labels.length : 0;

    const failures: string[] = [];
    // A failure a retry cannot heal: the key is alive (or IAM says so), or a destination holds the wrong thing.
    let fatal = false;
    if (inIam === 'Active') {
      failures.push(`IAM lists access key ${accessKeyId} as Active`);
      fatal = true;
    } else if (proof.verdict === 'alive-again') {
      failures.push(
        `STS refused access key ${accessKeyId} and then accepted it again: it is NOT dead (re-created, or AWS is still converging); investigate before trusting any earlier refusal`,
      );
      fatal = true;
    } else if (proof.verdict === 'not-proven') {
      failures.push(
        `access key ${accessKeyId} was not refused ${settings.proof.refusals} times in a row over ${settings.proof.windowMs} ms within ${settings.proof.deadlineMs} ms (${proof.probes.filter((probe) => probe.answer === 'accepted').length} probes still saw it)`,
      );
    }
    for (const result of replacement) {
      if (['rejected', 'wrong-identity', 'wrong-key-id', 'read-failed'].includes(result.outcome)) {
        failures.push(`${result.label}: ${result.outcome}`);
        fatal = true;
      } else if (result.outcome === 'key-unknown') {
        failures.push(
          `${result.label}: AWS does not know the rotated key ${rotation?.keyIds[0] ?? ''} (yet)`,
        );
      }
    }
    const retryable = !fatal;

    const verdict =
      failures.length === 0
        ? 'dead'
        : proof.verdict === 'dead'
          ? 'dead-but-replacement-failed'
          : proof.verdict;
    const preserve = ctx.evidence.preserve({
      incidentId: ctx.incidentId,
      stepId: ctx.stepId,
      source: PROVIDER,
      name: 'proof-of-death.json',
      contentType: 'application/json',
      content: Readable.from([
        JSON.stringify(
          {
            provider: PROVIDER,
            account: session.target.accountId,
            user: session.user,
            accessKeyId,
            keyInIamBefore: inIam,
            method:
              'sts:GetCallerIdentity signed with the leaked key id and a random wrong secret: InvalidClientTokenId = refused (unknown key), SignatureDoesNotMatch = accepted (key exists)',
            required: settings.proof,
            startedAt,
            finishedAt: new Date().toISOString(),
            verdict,
            refusalsInARow: proof.refusals,
            streakMs: proof.streakMs,
            probes: proof.probes,
            replacement: {
              rotatedAccessKeyId: rotation?.keyIds[0] ?? null,
              checks: replacement,
              unrecordedDestinations: unrecorded,
            },
            failures,
          },
          null,
          2,
        ),
      ]),
    });
    // The probes are the proof: without them in the vault the step has not done its job, whatever they said.
    const artifact = await preserve.catch((error: unknown) => {
      throw new ProviderError(
        `${PROVIDER}.verifyRevoked: the evidence vault did not take proof-of-death.json (${scrub(error instanceof Error ? error.message : String(error), session.secrets)})`,
        true,
        'EvidenceFailed',
      );
    });

    const summary: Record<string, SummaryValue> = {
      account: session.target.accountId,
      user: session.user,
      accessKeyId,
      keyInIam: inIam,
      verdict,
      probes: proof.probes.length,
      refusalsInARow: proof.refusals,
      windowMs: proof.streakMs,
      evidenceArtifactId: artifact.artifactId,
      replacementAccessKeyId: rotation?.keyIds[0] ?? null,
      replacementChecks: replacement.map((result) => `${result.label}=${result.outcome}`),
      oldCredentialDead: failures.length === 0,
    };
    if (failures.length > 0) {
      ctx.log.warn({ ...summary, failures }, 'leaked access key not proven dead');
      throw new ProviderError(
        scrub(
          `${describeTarget(session.target)}: leaked key not proven dead: ${failures.join('; ')} (probes in evidence artifact ${artifact.artifactId})`,
          session.secrets,
        ),
        retryable,
        proof.verdict === 'alive-again' ? 'AliveAgain' : 'VerificationFailed',
      );
    }
    ctx.log.info(summary, 'leaked access key proven dead');
    return { summary };
  }

  return defineProvider(PROVIDER, awsIamCatalog, {
    rotateCredential,
    terminateSessions,
    revokeCredential,
    revokeGrants,
    restoreGrants,
    verifyRevoked,
    deactivateAccessKey,
    activateAccessKey,
  });
}
