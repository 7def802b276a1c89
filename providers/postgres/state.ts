import type { AdminSession } from './db';

/**
 * Tourniquet's bookkeeping lives next to the role it acts on (the target database), so a segmentation record
 * commits in the same transaction as the REVOKEs it describes. It holds fingerprints and object names only:
 * never a password, never a verifier.
 */
export async function ensureStateTables(session: AdminSession, schema: string): Promise<void> {
  const schemaSql = session.quote(schema);
  await session.transaction('creating the Tourniquet state tables', async () => {
    // Two first-time actions racing on CREATE … IF NOT EXISTS can still collide on the catalog's unique index.
    await session.query('locking the state setup', `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `tourniquet:state:${schema}`,
    ]);
    await session.query('creating the state schema', `CREATE SCHEMA IF NOT EXISTS ${schemaSql}`);
    await session.query(
      'creating the rotation table',
      `CREATE TABLE IF NOT EXISTS ${schemaSql}.pg_credential_rotations (
         idempotency_key text PRIMARY KEY,
         incident_id text NOT NULL,
         step_id text NOT NULL,
         role_name text NOT NULL,
         verifier_fingerprint text NOT NULL,
         previous_verifier_fingerprint text,
         destinations text[] NOT NULL,
         rotated_at timestamptz NOT NULL,
         delivered_at timestamptz
       )`,
    );
    await session.query(
      'creating the segmentation table',
      `CREATE TABLE IF NOT EXISTS ${schemaSql}.pg_segmentations (
         idempotency_key text PRIMARY KEY,
         incident_id text NOT NULL,
         step_id text NOT NULL,
         role_name text NOT NULL,
         summary jsonb NOT NULL,
         revoked_at timestamptz NOT NULL,
         restored_at timestamptz
       )`,
    );
    await session.query(
      'creating the revocation table',
      `CREATE TABLE IF NOT EXISTS ${schemaSql}.pg_credential_revocations (
         idempotency_key text PRIMARY KEY,
         incident_id text NOT NULL,
         role_name text NOT NULL,
         leaked_fingerprint text NOT NULL,
         summary jsonb NOT NULL,
         revoked_at timestamptz NOT NULL
       )`,
    );
  });
}

export interface RotationRecord {
  idempotency_key: string;
  role_name: string;
  verifier_fingerprint: string;
  previous_verifier_fingerprint: string | null;
  destinations: string[];
  rotated_at: Date;
  delivered_at: Date | null;
}
