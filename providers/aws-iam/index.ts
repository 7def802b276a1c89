import { defineProviderPlugin } from '../plugin';
import { awsIamCatalog } from './catalog';
import { AWS_IAM_SETTINGS, awsIamOptionsFromEnv, type AwsIamProviderOptions } from './options';
import { ACCESS_KEY_ID, parseAwsIamRef } from './refs';

/**
 * AWS IAM users as an issuer (`aws-iam:<account-id>/<user-name>[/<leaked access key id>]`): quarantine policy,
 * access keys deactivated, rotated into the destinations and deleted, older sessions denied, and a proof of death
 * for the leaked key that survives IAM's eventual consistency. Acts only on TOURNIQUET_AWS_ACCOUNT_ID (docs/aws-iam.md).
 */
export const awsIam = defineProviderPlugin<AwsIamProviderOptions>({
  name: 'aws-iam',
  summary:
    'IAM users: quarantine policy, deactivate and rotate access keys, deny older sessions, prove the leaked key dead',
  roles: ['issuer'],
  catalog: awsIamCatalog,
  settings: AWS_IAM_SETTINGS,
  examples: { issuer: 'aws-iam:123456789012/ci-deployer/AKIAIOSFODNN7EXAMPLE' },
  fromEnv: awsIamOptionsFromEnv,
  // The AWS SDK loads only in a worker that has AWS configured, not in the CLI.
  create: (options, { secretReaders }) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./provider') as typeof import('./provider')).createAwsIamProvider({
      ...options,
      secretReaders,
    }),
  parseRef(ref) {
    parseAwsIamRef(ref);
    return {};
  },
  // The inventory names the user; the alert names which of its (up to two) keys leaked.
  issuerRefFor(ref, { awsAccessKeyId }) {
    const target = parseAwsIamRef(ref);
    if (target.accessKeyId || !awsAccessKeyId || !ACCESS_KEY_ID.test(awsAccessKeyId)) return undefined;
    return `${ref}/${awsAccessKeyId}`;
  },
  enabledBy: 'TOURNIQUET_AWS_ACCOUNT_ID with AWS credentials (docs/aws-iam.md)',
});
