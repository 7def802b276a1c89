import { z } from 'zod';
import { issuerCatalog, type SecretDestinationParams } from '../roles/issuer';
import {
  defineProvider,
  ProviderError,
  type ActionContext,
  type ActionResult,
  type Provider,
  type SummaryValue,
} from '../types';
import {
  AdminSession,
  attemptLogin,
  withAdminSession,
  type ConnectionSettings,
  type LoginOutcome,
} from './db';
import { grantEntry, restoreEntry, revokeEntry, snapshotGrants, type GrantEntry } from './grants';
import { grantScopes, type GrantScope, type PostgresProviderOptions, type SecretReader } from './options';
import { assertVerifierShape, generatePassword, scramSha256Verifier, verifierFingerprint } from './scram';
import { parsePostgresRef, type PostgresTarget } from './refs';
import { ensureStateTables, type RotationRecord } from './state';

export { parsePostgresRef, type PostgresTarget } from './refs';

const PROVIDER = 'postgres';

interface Settings extends ConnectionSettings {
  terminateWaitMs: number;
  segmentScopes: readonly GrantScope[];
  stateSchema: string;
  secretReaders: Record<string, SecretReader>;
}

interface RoleInfo {
  oid: string;
  rolcanlogin: boolean;
  is_admin: boolean;
}

async function loadRole(session: AdminSession, role: string): Promise<RoleInfo> {
  const [row] = await session.query<RoleInfo>(
    `looking up role "${role}"`,
    'SELECT oid::text AS oid, rolcanlogin, rolname = current_user AS is_admin FROM pg_roles WHERE rolname = $1',
    [role],
  );
  if (!row)
    throw new ProviderError(`PostgreSQL ${session.server}: role "${role}" does not exist`, false, 'NotFound');
  return row;
}

/** A role the action may change: never Tourniquet's own admin role, which would lock Tourniquet out. */
async function loadManageableRole(session: AdminSession, role: string): Promise<RoleInfo> {
  const info = await loadRole(session, role);
  if (info.is_admin) {
    throw new ProviderError(
      `PostgreSQL ${session.server}: "${role}" is the admin role Tourniquet connects as; rotate it out of band`,
      false,
      'Refused',
    );
  }
  return info;
}

type StoredVerifier = { readable: false } | { readable: true; fingerprint: string | null };

/** Reading pg_authid needs superuser; without it, verification relies on logging in with the delivered value. */
async function readStoredVerifier(session: AdminSession, role: string): Promise<StoredVerifier> {
  const [access] = await session.query<{ allowed: boolean }>(
    'checking access to pg_authid',
    "SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS allowed",
  );
  if (!access?.allowed) return { readable: false };
  const [row] = await session.query<{ rolpassword: string | null }>(
    `reading the stored verifier of "${role}"`,
    'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
    [role],
  );
  return { readable: true, fingerprint: row?.rolpassword ? verifierFingerprint(row.rolpassword) : null };
}

function destinationLabel(destination: SecretDestinationParams): string {
  return `${destination.provider}:${destination.target}`;
}

function credentialVersion(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}

/** Holds a session-level advisory lock across the password change AND the delivery, so two concurrent attempts
 * (a retry racing a presumed-dead attempt) cannot leave the destination holding the loser's value. */
async function withRoleLock<T>(
  session: AdminSession,
  settings: Settings,
  role: string,
  ctx: ActionContext,
  body: () => Promise<T>,
): Promise<T> {
  const key = `tourniquet:pg-credential:${role}`;
  const deadline = Date.now() + settings.statementTimeoutMs;
  for (;;) {
    const [row] = await session.query<{ locked: boolean }>(
      `locking role "${role}"`,
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
      [key],
    );
    if (row?.locked) break;
    if (Date.now() > deadline) {
      throw new ProviderError(
        `another Tourniquet action is changing the credential of "${role}"`,
        true,
        'Busy',
      );
    }
    ctx.heartbeat({ waitingFor: 'role lock' });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    return await body();
  } finally {
    await session
      .query('unlocking the role', 'SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
      .catch(() => undefined);
  }
}

function rotationSummary(
  target: PostgresTarget,
  session: AdminSession,
  record: Pick<
    RotationRecord,
    'verifier_fingerprint' | 'previous_verifier_fingerprint' | 'destinations' | 'rotated_at'
  >,
  reusedEarlierAttempt: boolean,
): Record<string, SummaryValue> {
  return {
    role: target.role,
    database: session.address.database,
    credentialVersion: credentialVersion(record.verifier_fingerprint),
    rotatedAt: record.rotated_at.toISOString(),
    destinations: record.destinations,
    previousCredentialKnown: record.previous_verifier_fingerprint !== null,
    reusedEarlierAttempt,
  };
}

async function rotateCredential(
  settings: Settings,
  params: { ref: string; destinations: SecretDestinationParams[] },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  if (params.destinations.length === 0) {
    throw new ProviderError(
      `${PROVIDER}.rotateCredential ${params.ref}: no destination given; the new password would be lost (use revokeCredential to lock the role instead)`,
      false,
      'InvalidParams',
    );
  }
  const rotations = (session: AdminSession) =>
    `${session.quote(settings.stateSchema)}.pg_credential_rotations`;
  return withAdminSession(settings, target.database, async (session) => {
    await ensureStateTables(session, settings.stateSchema);
    await loadManageableRole(session, target.role);
    return withRoleLock(session, settings, target.role, ctx, async () => {
      const [earlier] = await session.query<RotationRecord>(
        'reading the earlier attempt',
        `SELECT * FROM ${rotations(session)} WHERE idempotency_key = $1`,
        [ctx.idempotencyKey],
      );
      if (earlier && earlier.role_name !== target.role) {
        throw new ProviderError(
          `idempotency key ${ctx.idempotencyKey} already rotated role "${earlier.role_name}", not "${target.role}"`,
          false,
          'InvalidParams',
        );
      }
      const stored = await readStoredVerifier(session, target.role);
      const earlierStillInForce =
        earlier?.delivered_at && (!stored.readable || stored.fingerprint === earlier.verifier_fingerprint);
      if (earlier && earlierStillInForce) {
        ctx.log.info(
          { role: target.role, credentialVersion: credentialVersion(earlier.verifier_fingerprint) },
          'rotation already completed by an earlier attempt of this step; nothing to do',
        );
        return { summary: rotationSummary(target, session, earlier, true) };
      }
      // Not delivered (or overwritten since): mint a fresh value rather than trying to recover the lost one, which
      // Tourniquet never stored. The role has a single password, so the newest value is the only valid one.
      const password = generatePassword();
      const verifier = scramSha256Verifier(password);
      session.secrets.push(password, verifier);
      assertVerifierShape(verifier);
      const record = {
        verifier_fingerprint: verifierFingerprint(verifier),
        previous_verifier_fingerprint: earlier
          ? earlier.previous_verifier_fingerprint
          : stored.readable
            ? stored.fingerprint
            : null,
        destinations: params.destinations.map(destinationLabel),
        rotated_at: new Date(),
      };
      await session.transaction(`rotating the password of "${target.role}"`, async () => {
        await session.querySecretStatement(
          `setting the new password of "${target.role}"`,
          `ALTER ROLE ${session.quote(target.role)} PASSWORD '${verifier}'`,
        );
        await session.query(
          'recording the rotation',
          `INSERT INTO ${rotations(session)} (idempotency_key, incident_id, step_id, role_name, verifier_fingerprint,
              previous_verifier_fingerprint, destinations, rotated_at, delivered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)
           ON CONFLICT (idempotency_key) DO UPDATE SET verifier_fingerprint = EXCLUDED.verifier_fingerprint,
              destinations = EXCLUDED.destinations, rotated_at = EXCLUDED.rotated_at, delivered_at = NULL`,
          [
            ctx.idempotencyKey,
            ctx.incidentId,
            ctx.stepId,
            target.role,
            record.verifier_fingerprint,
            record.previous_verifier_fingerprint,
            record.destinations,
            record.rotated_at,
          ],
        );
      });
      ctx.log.info(
        { role: target.role, credentialVersion: credentialVersion(record.verifier_fingerprint) },
        'password replaced at the server; delivering it',
      );
      for (const destination of params.destinations) {
        try {
          await ctx.deliverSecret(destination, password);
        } catch (error) {
          const reason = error instanceof Error ? error.message : 'unknown error';
          throw new ProviderError(
            `delivering the new credential of "${target.role}" to ${destinationLabel(destination)} failed (${reason}); a retry mints and delivers a fresh one`,
            !(error instanceof ProviderError) || error.retryable,
            'DeliveryFailed',
          );
        }
      }
      await session.query(
        'recording the delivery',
        `UPDATE ${rotations(session)} SET delivered_at = now() WHERE idempotency_key = $1 AND verifier_fingerprint = $2`,
        [ctx.idempotencyKey, record.verifier_fingerprint],
      );
      ctx.log.info({ role: target.role, destinations: record.destinations }, 'new credential delivered');
      return { summary: rotationSummary(target, session, record, false) };
    });
  });
}

async function terminateSessions(
  settings: Settings,
  params: { ref: string },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  return withAdminSession(settings, target.database, async (session) => {
    const role = await loadManageableRole(session, target.role);
    const liveSessions = async () =>
      session.query<{ pid: number }>(
        `listing the sessions of "${target.role}"`,
        'SELECT pid FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()',
        [role.oid],
      );
    const found = await liveSessions();
    let signalled = 0;
    for (const { pid } of found) {
      // The timeout form waits for the backend to exit; false means it was already gone or did not exit in time.
      const [row] = await session.query<{ done: boolean }>(
        `terminating session ${pid}`,
        'SELECT pg_terminate_backend($1, $2) AS done',
        [pid, settings.terminateWaitMs],
      );
      if (row?.done) signalled += 1;
      ctx.heartbeat({ terminated: signalled });
    }
    const deadline = Date.now() + settings.terminateWaitMs;
    let remaining = await liveSessions();
    while (remaining.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      remaining = await liveSessions();
    }
    ctx.log.info(
      { role: target.role, found: found.length, remaining: remaining.length },
      'sessions terminated',
    );
    if (remaining.length > 0) {
      throw new ProviderError(
        `${remaining.length} session(s) of "${target.role}" are still alive after termination`,
        true,
        'SessionsAlive',
      );
    }
    return {
      summary: {
        role: target.role,
        sessionsFound: found.length,
        sessionsTerminated: signalled,
        remaining: 0,
      },
    };
  });
}

const segmentationSummary = z.object({
  role: z.string(),
  database: z.string(),
  snapshotKey: z.string(),
  wasLogin: z.boolean(),
  revokedGrants: z.array(z.string()),
});

function encodeEntries(entries: GrantEntry[]): string[] {
  return entries.map((entry) => JSON.stringify(entry));
}

function decodeEntries(encoded: string[]): GrantEntry[] {
  return encoded.map((text, index) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ProviderError(`undoOf.revokedGrants[${index}]: not JSON`, false, 'InvalidParams');
    }
    const parsed = grantEntry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProviderError(
        `undoOf.revokedGrants[${index}].${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        false,
        'InvalidParams',
      );
    }
    return parsed.data;
  });
}

async function revokeGrants(
  settings: Settings,
  params: { ref: string },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  const scopes = settings.segmentScopes;
  return withAdminSession(settings, target.database, async (session) => {
    await ensureStateTables(session, settings.stateSchema);
    const role = await loadManageableRole(session, target.role);
    const roleSql = session.quote(target.role);
    const segmentations = `${session.quote(settings.stateSchema)}.pg_segmentations`;
    // One transaction: the REVOKEs, NOLOGIN and the record of what they removed commit together, so a retry after a
    // crash either finds the record or finds nothing done — it can never re-snapshot an already-cut role as "empty".
    const summary = await session.transaction(
      `segmenting "${target.role}"`,
      async (): Promise<Record<string, SummaryValue>> => {
        await session.query('locking the role', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `tourniquet:pg-grants:${target.role}`,
        ]);
        const [earlier] = await session.query<{ summary: Record<string, SummaryValue> }>(
          'reading the earlier attempt',
          `SELECT summary FROM ${segmentations} WHERE idempotency_key = $1`,
          [ctx.idempotencyKey],
        );
        if (earlier) return { ...earlier.summary, reusedEarlierAttempt: true };
        const entries = await snapshotGrants(session, role.oid, scopes);
        for (const entry of entries) await revokeEntry(session, roleSql, entry);
        const disableLogin = scopes.includes('login') && role.rolcanlogin;
        if (disableLogin)
          await session.query(`disabling login of "${target.role}"`, `ALTER ROLE ${roleSql} NOLOGIN`);
        const remaining = await snapshotGrants(session, role.oid, scopes);
        const [facts] = await session.query<{ public_connect: string[]; owned: number }>(
          'reading what revocation cannot cut',
          `SELECT ARRAY(SELECT datname::text FROM pg_database
                       WHERE datallowconn AND NOT datistemplate AND has_database_privilege('public', oid, 'CONNECT')
                       ORDER BY datname) AS public_connect,
                (SELECT count(*)::int FROM pg_class WHERE relowner = $1) AS owned`,
          [role.oid],
        );
        const result: Record<string, SummaryValue> = {
          role: target.role,
          database: session.address.database,
          snapshotKey: ctx.idempotencyKey,
          scopes: [...scopes],
          wasLogin: role.rolcanlogin,
          loginDisabled: disableLogin || !role.rolcanlogin,
          revokedGrants: encodeEntries(entries),
          revokedCount: entries.length,
          // Grants made by a grantor other than the object owner survive a superuser's REVOKE; shown, not hidden.
          remainingGrants: encodeEntries(remaining),
          // CONNECT granted to PUBLIC still lets the role in once it can log in again: NOLOGIN is what holds.
          publicConnectDatabases: facts?.public_connect ?? [],
          // An owner keeps its privileges on what it owns whatever is revoked.
          ownedObjects: facts?.owned ?? 0,
        };
        await session.query(
          'recording the segmentation',
          `INSERT INTO ${segmentations} (idempotency_key, incident_id, step_id, role_name, summary, revoked_at)
         VALUES ($1, $2, $3, $4, $5, now())`,
          [ctx.idempotencyKey, ctx.incidentId, ctx.stepId, target.role, JSON.stringify(result)],
        );
        return { ...result, reusedEarlierAttempt: false };
      },
    );
    ctx.log.info(
      { role: target.role, revokedCount: summary.revokedCount, loginDisabled: summary.loginDisabled },
      'role segmented',
    );
    if (Array.isArray(summary.remainingGrants) && summary.remainingGrants.length > 0) {
      ctx.log.warn(
        { role: target.role, remainingGrants: summary.remainingGrants },
        'some grants survived the revoke',
      );
    }
    return { summary };
  });
}

async function restoreGrants(
  settings: Settings,
  params: { ref: string },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  return withAdminSession(settings, target.database, async (session) => {
    await ensureStateTables(session, settings.stateSchema);
    await loadManageableRole(session, target.role);
    const segmentations = `${session.quote(settings.stateSchema)}.pg_segmentations`;
    let source: z.infer<typeof segmentationSummary>;
    if (ctx.undoOf) {
      const parsed = segmentationSummary.safeParse(ctx.undoOf);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ProviderError(
          `undoOf.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'} (expected a revokeGrants summary)`,
          false,
          'InvalidParams',
        );
      }
      source = parsed.data;
    } else {
      // Recovery started by hand, outside a compensation: the newest segmentation of this incident not yet undone.
      const [row] = await session.query<{ summary: unknown }>(
        'finding the segmentation to undo',
        `SELECT summary FROM ${segmentations} WHERE role_name = $1 AND incident_id = $2 AND restored_at IS NULL
          ORDER BY revoked_at DESC LIMIT 1`,
        [target.role, ctx.incidentId],
      );
      if (!row) {
        throw new ProviderError(
          `no segmentation of "${target.role}" in incident ${ctx.incidentId} is waiting to be restored`,
          false,
          'NotFound',
        );
      }
      source = segmentationSummary.parse(row.summary);
    }
    if (source.role !== target.role || source.database !== session.address.database) {
      throw new ProviderError(
        `undoOf describes "${source.role}@${source.database}", not "${target.role}@${session.address.database}"`,
        false,
        'InvalidParams',
      );
    }
    const entries = decodeEntries(source.revokedGrants);
    const roleSql = session.quote(target.role);
    const missing: string[] = [];
    await session.transaction(`restoring the grants of "${target.role}"`, async () => {
      for (const entry of entries) {
        if (!(await restoreEntry(session, roleSql, entry))) missing.push(`${entry.scope}:${entry.object}`);
      }
      if (source.wasLogin)
        await session.query(`re-enabling login of "${target.role}"`, `ALTER ROLE ${roleSql} LOGIN`);
      await session.query(
        'recording the restore',
        `UPDATE ${segmentations} SET restored_at = now() WHERE idempotency_key = $1 AND restored_at IS NULL`,
        [source.snapshotKey],
      );
    });
    ctx.log.info(
      { role: target.role, restored: entries.length - missing.length, missing },
      'grants restored',
    );
    return {
      summary: {
        role: target.role,
        database: session.address.database,
        restoredCount: entries.length - missing.length,
        missingObjects: missing,
        loginRestored: source.wasLogin,
      },
    };
  });
}

async function latestDeliveredRotation(
  session: AdminSession,
  settings: Settings,
  role: string,
  incidentId: string,
): Promise<RotationRecord | undefined> {
  const [row] = await session.query<RotationRecord>(
    'reading the rotation record',
    `SELECT * FROM ${session.quote(settings.stateSchema)}.pg_credential_rotations
      WHERE role_name = $1 AND incident_id = $2 AND delivered_at IS NOT NULL
      ORDER BY delivered_at DESC LIMIT 1`,
    [role, incidentId],
  );
  return row;
}

async function revokeCredential(
  settings: Settings,
  params: { ref: string; fingerprint: string },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  return withAdminSession(settings, target.database, async (session) => {
    await ensureStateTables(session, settings.stateSchema);
    await loadManageableRole(session, target.role);
    const revocations = `${session.quote(settings.stateSchema)}.pg_credential_revocations`;
    return withRoleLock(session, settings, target.role, ctx, async () => {
      const [earlier] = await session.query<{ summary: Record<string, SummaryValue> }>(
        'reading the earlier attempt',
        `SELECT summary FROM ${revocations} WHERE idempotency_key = $1`,
        [ctx.idempotencyKey],
      );
      if (earlier) return { summary: { ...earlier.summary, reusedEarlierAttempt: true } };
      const rotation = await latestDeliveredRotation(session, settings, target.role, ctx.incidentId);
      const stored = await readStoredVerifier(session, target.role);
      // Only a rotation of THIS incident counts: a password Tourniquet minted in an earlier incident may be the
      // very value that leaked now.
      const replacedByRotation =
        rotation !== undefined && (!stored.readable || stored.fingerprint === rotation.verifier_fingerprint);
      let outcome: string;
      if (replacedByRotation) {
        outcome = 'already-replaced-by-rotation';
      } else if (stored.readable && stored.fingerprint === null) {
        outcome = 'role-has-no-password';
      } else {
        await session.query(
          `removing the password of "${target.role}"`,
          `ALTER ROLE ${session.quote(target.role)} PASSWORD NULL`,
        );
        outcome = 'password-removed';
      }
      const summary: Record<string, SummaryValue> = {
        role: target.role,
        database: session.address.database,
        leakedFingerprint: params.fingerprint,
        outcome,
        credentialVersion: rotation ? credentialVersion(rotation.verifier_fingerprint) : null,
      };
      await session.query(
        'recording the revocation',
        `INSERT INTO ${revocations} (idempotency_key, incident_id, role_name, leaked_fingerprint, summary, revoked_at)
         VALUES ($1, $2, $3, $4, $5, now())`,
        [ctx.idempotencyKey, ctx.incidentId, target.role, params.fingerprint, JSON.stringify(summary)],
      );
      ctx.log.info({ role: target.role, outcome }, 'leaked credential revoked');
      return { summary: { ...summary, reusedEarlierAttempt: false } };
    });
  });
}

/**
 * Tourniquet never holds the leaked password (only its fingerprint), so "the old credential fails" is proven
 * indirectly: PostgreSQL keeps exactly one password per role, and the role's password is now a fresh 256-bit
 * random value minted in this incident — shown either by the stored verifier matching the one Tourniquet set
 * (needs read access to pg_authid) or by logging in with the value read back from the destination. Because a
 * password change does not end sessions, and `trust` lines in pg_hba.conf ignore passwords, both are checked too.
 */
async function verifyRevoked(
  settings: Settings,
  params: { ref: string },
  ctx: ActionContext,
): Promise<ActionResult> {
  const target = parsePostgresRef(params.ref);
  return withAdminSession(settings, target.database, async (session) => {
    await ensureStateTables(session, settings.stateSchema);
    const role = await loadRole(session, target.role);
    const rotation = await latestDeliveredRotation(session, settings, target.role, ctx.incidentId);
    if (!rotation) {
      throw new ProviderError(
        `no delivered rotation of "${target.role}" is recorded for incident ${ctx.incidentId} in ${session.server}: rotate first`,
        false,
        'NotRotated',
      );
    }
    const failures: string[] = [];
    const stored = await readStoredVerifier(session, target.role);
    const storedMatches = stored.readable ? stored.fingerprint === rotation.verifier_fingerprint : null;
    if (storedMatches === false) failures.push('the role password was changed after the rotation');
    const previousGone =
      stored.readable && rotation.previous_verifier_fingerprint !== null
        ? stored.fingerprint !== rotation.previous_verifier_fingerprint
        : null;
    if (previousGone === false) failures.push('the role still has the password it had before the rotation');

    const logins: string[] = [];
    let loginProof = false;
    for (const label of rotation.destinations) {
      const separator = label.indexOf(':');
      const provider = label.slice(0, separator);
      const reader = settings.secretReaders[provider];
      if (!reader) {
        logins.push(`${label}=not-readable`);
        continue;
      }
      let outcome: LoginOutcome | 'read-failed';
      try {
        const value = await reader.readSecret(label.slice(separator + 1));
        session.secrets.push(value);
        outcome = await attemptLogin(session.address, target.role, value, settings.connectTimeoutMs);
      } catch {
        outcome = 'read-failed';
      }
      logins.push(`${label}=${outcome}`);
      if (outcome === 'connected' || outcome === 'accepted-but-blocked') loginProof = true;
      if (outcome === 'rejected') failures.push(`${label} holds a credential the server rejects`);
      if (outcome === 'read-failed') failures.push(`${label} could not be read back`);
    }
    if (!loginProof && storedMatches !== true) {
      failures.push(
        'nothing proves the role password is the rotated one (grant the admin read access to pg_authid, or use a destination Tourniquet can read back)',
      );
    }

    const [sessions] = await session.query<{ count: number }>(
      'counting sessions opened before the rotation',
      'SELECT count(*)::int AS count FROM pg_stat_activity WHERE usesysid = $1 AND backend_start < $2',
      [role.oid, rotation.rotated_at],
    );
    const sessionsFromBeforeRotation = sessions?.count ?? 0;
    if (sessionsFromBeforeRotation > 0) {
      failures.push(`${sessionsFromBeforeRotation} session(s) opened before the rotation are still alive`);
    }

    let trustRules: number | null = null;
    const [hbaAccess] = await session.query<{ allowed: boolean }>(
      'checking access to pg_hba_file_rules',
      "SELECT has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE') AS allowed",
    );
    if (hbaAccess?.allowed) {
      const [rules] = await session.query<{ count: number }>(
        'reading pg_hba.conf rules',
        `SELECT count(*)::int AS count FROM pg_hba_file_rules
          WHERE error IS NULL AND auth_method = 'trust' AND user_name && ARRAY['all', $1]::text[]`,
        [target.role],
      );
      trustRules = rules?.count ?? 0;
      if (trustRules > 0)
        failures.push(`pg_hba.conf has ${trustRules} trust rule(s) that admit the role without a password`);
    }

    const summary: Record<string, SummaryValue> = {
      role: target.role,
      database: session.address.database,
      credentialVersion: credentialVersion(rotation.verifier_fingerprint),
      rotatedAt: rotation.rotated_at.toISOString(),
      storedVerifierMatches: storedMatches,
      previousPasswordGone: previousGone,
      destinationLogins: logins,
      sessionsFromBeforeRotation,
      trustRules,
      oldCredentialDead: failures.length === 0,
    };
    if (failures.length > 0) {
      ctx.log.warn({ ...summary, failures }, 'leaked credential not proven dead');
      throw new ProviderError(
        `"${target.role}" in ${session.server} is not proven safe: ${failures.join('; ')}`,
        false,
        'VerificationFailed',
      );
    }
    ctx.log.info(summary, 'leaked credential proven dead');
    return { summary };
  });
}

export type PostgresProvider = Provider<typeof issuerCatalog>;

export function createPostgresProvider(options: PostgresProviderOptions): PostgresProvider {
  const settings: Settings = {
    adminUrlSource: options.adminUrlSource,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    statementTimeoutMs: options.statementTimeoutMs ?? 15_000,
    terminateWaitMs: options.terminateWaitMs ?? 5_000,
    segmentScopes: options.segmentScopes ?? grantScopes,
    stateSchema: options.stateSchema ?? 'tourniquet',
    secretReaders: options.secretReaders ?? {},
  };
  return defineProvider(PROVIDER, issuerCatalog, {
    rotateCredential: (params, ctx) => rotateCredential(settings, params, ctx),
    terminateSessions: (params, ctx) => terminateSessions(settings, params, ctx),
    revokeCredential: (params, ctx) => revokeCredential(settings, params, ctx),
    revokeGrants: (params, ctx) => revokeGrants(settings, params, ctx),
    restoreGrants: (params, ctx) => restoreGrants(settings, params, ctx),
    verifyRevoked: (params, ctx) => verifyRevoked(settings, params, ctx),
  });
}
