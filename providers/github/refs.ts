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

export type SecretTarget =
  | { scope: 'repository'; repository: RepositoryRef; name: string }
  | { scope: 'environment'; repository: RepositoryRef; environment: string; name: string };

const namePart = /^[A-Za-z0-9_.-]+$/;
/** GitHub's rule for Actions secret names: letters, digits, underscores; not starting with a digit or GITHUB_. */
const secretName = /^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$/i;

function invalid(what: string, value: string, expected: string): ProviderError {
  return new ProviderError(
    `${what} "${value}" is not valid: expected ${expected}`,
    false,
    'GitHubInvalidReference',
  );
}

export function parseRepository(value: string): RepositoryRef {
  const [owner, repo, ...rest] = value.split('/');
  if (!owner || !repo || rest.length > 0 || !namePart.test(owner) || !namePart.test(repo)) {
    throw invalid('repository', value, 'owner/repo');
  }
  return { owner, repo, fullName: `${owner}/${repo}` };
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
