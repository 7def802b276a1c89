import { ProviderError } from '../types';

const PROVIDER = 'postgres';
const identifier = /^[A-Za-z_][A-Za-z0-9_$.-]{0,62}$/;

export interface PostgresTarget {
  role: string;
  /** Where grants are cut and Tourniquet's records are kept; the admin URL's database when absent. */
  database?: string;
}

/** `app_user`, `app_user@app`, optionally prefixed `postgres:` as in an incident's credential reference. */
export function parsePostgresRef(ref: string): PostgresTarget {
  const bare = ref.startsWith(`${PROVIDER}:`) ? ref.slice(PROVIDER.length + 1) : ref;
  const at = bare.lastIndexOf('@');
  const role = at === -1 ? bare : bare.slice(0, at);
  const database = at === -1 ? undefined : bare.slice(at + 1);
  if (!identifier.test(role)) {
    throw new ProviderError(
      `ref: "${ref}" does not name a PostgreSQL role (expected role or role@database)`,
      false,
    );
  }
  if (database !== undefined && !identifier.test(database)) {
    throw new ProviderError(`ref: "${ref}" does not name a database after "@"`, false);
  }
  return { role, database };
}
