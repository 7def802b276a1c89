/** The setting naming the directory the file destination writes under (default `<data dir>/secrets`). */
export const SECRETS_DIR_SETTING = 'TOURNIQUET_SECRETS_DIR';

export const MAX_SECRET_NAME_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Checks a file destination's target: a relative name under the secrets directory (`app-db-password`,
 * `team-a/app_db.password`), never a path of its own choosing. Throws an Error saying what is wrong.
 */
export function checkSecretName(name: string): void {
  const refuse = (why: string): never => {
    throw new Error(
      `${JSON.stringify(name)} must be a name under the secrets directory (${SECRETS_DIR_SETTING})${why}, e.g. app-db-password`,
    );
  };
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    // Not echoed whole: it is long, and whatever it is, it is no name.
    throw new Error(
      `"${name.slice(0, 40)}…" must be a name under the secrets directory (${SECRETS_DIR_SETTING}) of at most ${MAX_SECRET_NAME_LENGTH} characters`,
    );
  }
  if (name.startsWith('/')) refuse('');
  for (const segment of name.split('/')) {
    if (segment === '') refuse(' without an empty segment');
    if (segment === '.' || segment === '..') refuse(` without a "${segment}" segment`);
    if (!SEGMENT.test(segment)) refuse(' of letters, digits, ".", "_", "-" and "/"');
  }
}
