import { ProviderError } from '../types';

export interface RepositoryRef {
  owner: string;
  repo: string;
  /** `owner/repo`, as runbooks and summaries spell it. */
  fullName: string;
}

export interface WorkflowRef extends RepositoryRef {
  /** What the REST API takes as `workflow_id`: the file name (`deploy.yml`) or the numeric id. */
  workflowId: string | number;
}

/** A connector: one workflow, or every workflow of a repository that can read the leaked secret. */
export type ConnectorRef = ({ scope: 'workflow' } & WorkflowRef) | ({ scope: 'repository' } & RepositoryRef);

export type SecretTarget =
  | { scope: 'repository'; repository: RepositoryRef; name: string }
  | { scope: 'environment'; repository: RepositoryRef; environment: string; name: string };

const namePart = /^[A-Za-z0-9_.-]+$/;
/** GitHub's limits: logins up to 39 characters, repository names up to 100. */
const MAX_OWNER_LENGTH = 39;
const MAX_REPO_LENGTH = 100;
/** GitHub's rule for Actions secret names: letters, digits, underscores; not starting with a digit or GITHUB_. */
const secretName = /^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$/i;

function invalid(what: string, value: string, expected: string): ProviderError {
  return new ProviderError(
    `${what} "${value}" is not valid: expected ${expected}`,
    false,
    'GitHubInvalidReference',
  );
}

/** A name part that is a path segment of its own in a URL: `.` and `..` would climb out of `/repos/{owner}/{repo}`. */
function isNamePart(part: string, maxLength: number): boolean {
  return part.length <= maxLength && namePart.test(part) && part !== '.' && part !== '..';
}

export function parseRepository(value: string): RepositoryRef {
  const [owner, repo, ...rest] = value.split('/');
  if (
    !owner ||
    !repo ||
    rest.length > 0 ||
    !isNamePart(owner, MAX_OWNER_LENGTH) ||
    !isNamePart(repo, MAX_REPO_LENGTH)
  ) {
    throw invalid('repository', value, 'owner/repo');
  }
  return { owner, repo, fullName: `${owner}/${repo}` };
}

const CONNECTOR_EXPECTED =
  'owner/repo (every workflow of the repository that can read the secret) or owner/repo/<workflow file name or id>, e.g. acme/payments/deploy.yml';

/**
 * The connector reference: `owner/repo` (the repository: every workflow in it that can read the leaked secret) or
 * one workflow, `owner/repo/<workflow file or id>` (see parseWorkflowRef); `github:` prefix allowed.
 */
export function parseConnectorRef(value: string): ConnectorRef {
  const bare = value.replace(/^github:/, '');
  if (bare.split('/').length === 2) {
    return { scope: 'repository', ...repositoryWithin(bare, 'connector ref', value, CONNECTOR_EXPECTED) };
  }
  try {
    return { scope: 'workflow', ...parseWorkflowRef(value) };
  } catch {
    throw invalid('connector ref', value, CONNECTOR_EXPECTED);
  }
}

/**
 * The connector reference: `owner/repo/<workflow file or id>`; the file may be given with its directory
 * (`owner/repo/.github/workflows/deploy.yml`) and the whole reference may carry the `github:` provider prefix.
 */
export function parseWorkflowRef(value: string): WorkflowRef {
  const expected = 'owner/repo/<workflow file name or id>, e.g. acme/payments/deploy.yml';
  const parts = value.replace(/^github:/, '').split('/');
  if (parts.length < 3) throw invalid('connector ref', value, expected);
  const [owner, repo, ...workflowPath] = parts;
  let workflow = workflowPath.join('/');
  if (workflowPath.length > 1) {
    const prefix = '.github/workflows/';
    if (!workflow.startsWith(prefix) || workflowPath.length !== 3) {
      throw invalid('connector ref', value, expected);
    }
    workflow = workflow.slice(prefix.length);
  }
  const repository = repositoryWithin(`${owner}/${repo}`, 'connector ref', value, expected);
  if (/^\d+$/.test(workflow)) return { ...repository, workflowId: Number(workflow) };
  if (!/^[A-Za-z0-9_.-]+\.ya?ml$/.test(workflow)) throw invalid('connector ref', value, expected);
  return { ...repository, workflowId: workflow };
}

/** The repository part of a larger reference; a failure names the whole reference, not just the part. */
function repositoryWithin(
  repository: string,
  what: string,
  original: string,
  expected: string,
): RepositoryRef {
  try {
    return parseRepository(repository);
  } catch {
    throw invalid(what, original, expected);
  }
}

/** Secret destination target: `owner/repo:NAME` or `owner/repo:env/<environment>:NAME` (`github:` prefix allowed). */
export function parseSecretTarget(value: string): SecretTarget {
  const expected = 'owner/repo:SECRET_NAME or owner/repo:env/<environment>:SECRET_NAME';
  const parts = value.replace(/^github:/, '').split(':');
  const repository = repositoryWithin(parts[0] ?? '', 'secret target', value, expected);
  if (parts.length === 2) {
    const name = parts[1];
    if (!secretName.test(name)) throw invalid('secret target', value, expected);
    return { scope: 'repository', repository, name };
  }
  if (parts.length === 3 && parts[1].startsWith('env/')) {
    const environment = parts[1].slice('env/'.length);
    const name = parts[2];
    if (!environment || environment.length > 255 || !secretName.test(name)) {
      throw invalid('secret target', value, expected);
    }
    return { scope: 'environment', repository, environment, name };
  }
  throw invalid('secret target', value, expected);
}

export function describeSecretTarget(target: SecretTarget): string {
  return target.scope === 'repository'
    ? `${target.repository.fullName}:${target.name}`
    : `${target.repository.fullName}:env/${target.environment}:${target.name}`;
}
