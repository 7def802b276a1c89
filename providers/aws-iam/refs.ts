import { ProviderError } from '../types';

export const PROVIDER = 'aws-iam';

/** AWS account ids are 12 digits, leading zeros included. */
export const ACCOUNT_ID = /^\d{12}$/;
/** IAM user names (CreateUser): 1–64 of letters, digits and `_+=,.@-`. */
const USER_NAME = /^[\w+=,.@-]{1,64}$/;
/**
 * A long-term access key of an IAM user: `AKIA` then upper-case letters and digits, 16–128 characters in all
 * (IAM's AccessKeyId is `[\w]+` of 16–128; the ones IAM issues are 20). `ASIA…` keys are temporary STS credentials:
 * IAM cannot deactivate or delete them, so they are refused here with a pointer to terminateSessions.
 */
export const ACCESS_KEY_ID = /^AKIA[A-Z0-9]{12,124}$/;

export interface AwsIamTarget {
  accountId: string;
  userName: string;
  /** The leaked access key, when the reference names it. */
  accessKeyId?: string;
}

/**
 * The reference itself is not echoed: whoever starts an incident has the secret access key at hand, and a pasted
 * one (40 characters with `/` and `+`) would otherwise travel into the CLI output, the history and the timeline.
 */
function refuse(why: string): never {
  throw new ProviderError(
    `ref ${why} (expected <account-id>/<user-name>[/<access-key-id>], e.g. 123456789012/ci-deployer/AKIA…)`,
    false,
    'InvalidParams',
  );
}

/**
 * `123456789012/ci-deployer` or `123456789012/ci-deployer/AKIA…`, optionally prefixed `aws-iam:` as in an
 * incident's credential reference. Throws a ProviderError (an Error) naming what is wrong.
 */
export function parseAwsIamRef(ref: string): AwsIamTarget {
  const bare = ref.startsWith(`${PROVIDER}:`) ? ref.slice(PROVIDER.length + 1) : ref;
  const segments = bare.split('/');
  if (segments.length < 2 || segments.length > 3) refuse('does not have two or three segments');
  const [accountId, userName, accessKeyId] = segments as [string, string, string | undefined];
  if (!ACCOUNT_ID.test(accountId)) refuse('does not start with a 12-digit AWS account id');
  if (!USER_NAME.test(userName)) {
    refuse('does not name an IAM user (1–64 letters, digits and _+=,.@-)');
  }
  if (accessKeyId !== undefined) {
    if (/^ASIA/.test(accessKeyId)) {
      refuse(
        'names a temporary STS key (ASIA…), which IAM cannot deactivate or delete: name the user only and use terminateSessions',
      );
    }
    if (!ACCESS_KEY_ID.test(accessKeyId)) {
      refuse('does not end with an IAM access key id (AKIA and 12–124 upper-case letters or digits)');
    }
  }
  return { accountId, userName, ...(accessKeyId === undefined ? {} : { accessKeyId }) };
}
