import { z } from 'zod';
import type { AdminSession } from './db';
import type { GrantScope } from './options';

/**
 * One object's privileges held by the role, as recovery needs them. `object` is the catalog's own canonical
 * spelling (regclass / regprocedure / regnamespace / regrole output with search_path = pg_catalog, or a
 * database name), so it is re-resolved, never trusted, when restored.
 */
export const privilegeNames = {
  database: ['CREATE', 'CONNECT', 'TEMPORARY'],
  schema: ['USAGE', 'CREATE'],
  table: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'],
  sequence: ['USAGE', 'SELECT', 'UPDATE'],
  function: ['EXECUTE'],
  membership: ['MEMBER'],
} as const;

type ObjectScope = keyof typeof privilegeNames;

function grantEntrySchema<S extends ObjectScope>(scope: S) {
  const privilege = z.enum(privilegeNames[scope] as unknown as [string, ...string[]]);
  return z.object({
    scope: z.literal(scope),
    object: z.string().min(1).max(1000),
    privileges: z.array(privilege).min(1),
    grantable: z.array(privilege).default([]),
  });
}

export const grantEntry = z.discriminatedUnion('scope', [
  grantEntrySchema('database'),
  grantEntrySchema('schema'),
  grantEntrySchema('table'),
  grantEntrySchema('sequence'),
  grantEntrySchema('function'),
  grantEntrySchema('membership'),
]);
export type GrantEntry = z.infer<typeof grantEntry>;

interface AclRow {
  object: string;
  privilege_type: string;
  is_grantable: boolean;
}

const aclQueries: Record<Exclude<ObjectScope, 'membership'>, string> = {
  // Shared catalog: every database of the cluster, seen from any of them.
  database: `SELECT d.datname AS object, a.privilege_type, a.is_grantable
               FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a WHERE a.grantee = $1`,
  schema: `SELECT n.oid::regnamespace::text AS object, a.privilege_type, a.is_grantable
             FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a WHERE a.grantee = $1`,
  table: `SELECT c.oid::regclass::text AS object, a.privilege_type, a.is_grantable
            FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
           WHERE a.grantee = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`,
  sequence: `SELECT c.oid::regclass::text AS object, a.privilege_type, a.is_grantable
               FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
              WHERE a.grantee = $1 AND c.relkind = 'S'`,
  function: `SELECT p.oid::regprocedure::text AS object, a.privilege_type, a.is_grantable
               FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a WHERE a.grantee = $1`,
};

/** The role's explicit privileges and memberships in the session's database (databases and memberships: cluster-wide). */
export async function snapshotGrants(
  session: AdminSession,
  roleOid: string,
  scopes: readonly GrantScope[],
): Promise<GrantEntry[]> {
  const entries: GrantEntry[] = [];
  for (const scope of Object.keys(aclQueries) as (keyof typeof aclQueries)[]) {
    if (!scopes.includes(scope)) continue;
    const rows = await session.query<AclRow>(`reading the ${scope} privileges`, aclQueries[scope], [roleOid]);
    const byObject = new Map<string, { privileges: string[]; grantable: string[] }>();
    for (const row of rows) {
      const entry = byObject.get(row.object) ?? { privileges: [], grantable: [] };
      entry.privileges.push(row.privilege_type);
      if (row.is_grantable) entry.grantable.push(row.privilege_type);
      byObject.set(row.object, entry);
    }
    for (const [object, entry] of byObject) {
      entries.push(
        grantEntry.parse({ scope, object, privileges: entry.privileges, grantable: entry.grantable }),
      );
    }
  }
  if (scopes.includes('membership')) {
    const rows = await session.query<{ object: string; admin_option: boolean }>(
      'reading the role memberships',
      'SELECT m.roleid::regrole::text AS object, m.admin_option FROM pg_auth_members m WHERE m.member = $1',
      [roleOid],
    );
    for (const row of rows) {
      entries.push({
        scope: 'membership',
        object: row.object,
        privileges: ['MEMBER'],
        grantable: row.admin_option ? ['MEMBER'] : [],
      });
    }
  }
  return entries;
}

const objectKeyword: Record<Exclude<ObjectScope, 'membership'>, string> = {
  database: 'DATABASE',
  schema: 'SCHEMA',
  table: 'TABLE',
  sequence: 'SEQUENCE',
  function: 'ROUTINE',
};

/** The object's canonical SQL spelling if it still exists, resolved by the server from untrusted text. */
async function resolveObject(session: AdminSession, entry: GrantEntry): Promise<string | undefined> {
  const resolvers: Record<ObjectScope, string> = {
    database: 'SELECT datname AS name FROM pg_database WHERE datname = $1',
    schema: 'SELECT to_regnamespace($1)::text AS name',
    table: 'SELECT to_regclass($1)::text AS name',
    sequence: 'SELECT to_regclass($1)::text AS name',
    function: 'SELECT to_regprocedure($1)::text AS name',
    membership: 'SELECT to_regrole($1)::text AS name',
  };
  const [row] = await session.query<{ name: string | null }>(
    `resolving ${entry.scope} ${entry.object}`,
    resolvers[entry.scope],
    [entry.object],
  );
  if (!row?.name) return undefined;
  return entry.scope === 'database' ? session.quote(row.name) : row.name;
}

export async function revokeEntry(session: AdminSession, roleSql: string, entry: GrantEntry): Promise<void> {
  const object = await resolveObject(session, entry);
  if (!object) return;
  const statement =
    entry.scope === 'membership'
      ? `REVOKE ${object} FROM ${roleSql}`
      : `REVOKE ALL PRIVILEGES ON ${objectKeyword[entry.scope]} ${object} FROM ${roleSql}`;
  await session.query(`revoking ${entry.scope} ${entry.object}`, statement);
}

/** Re-grants one entry; false when the object no longer exists. */
export async function restoreEntry(
  session: AdminSession,
  roleSql: string,
  entry: GrantEntry,
): Promise<boolean> {
  const object = await resolveObject(session, entry);
  if (!object) return false;
  if (entry.scope === 'membership') {
    const withAdmin = entry.grantable.includes('MEMBER') ? ' WITH ADMIN OPTION' : '';
    await session.query(
      `restoring membership in ${entry.object}`,
      `GRANT ${object} TO ${roleSql}${withAdmin}`,
    );
    return true;
  }
  const on = `ON ${objectKeyword[entry.scope]} ${object}`;
  const plain = entry.privileges.filter((privilege) => !entry.grantable.includes(privilege));
  if (plain.length > 0) {
    await session.query(
      `restoring ${entry.scope} ${entry.object}`,
      `GRANT ${plain.join(', ')} ${on} TO ${roleSql}`,
    );
  }
  if (entry.grantable.length > 0) {
    await session.query(
      `restoring ${entry.scope} ${entry.object}`,
      `GRANT ${entry.grantable.join(', ')} ${on} TO ${roleSql} WITH GRANT OPTION`,
    );
  }
  return true;
}
