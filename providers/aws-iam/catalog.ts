import { z } from 'zod';
import { issuerCatalog } from '../roles/issuer';
import type { ProviderCatalog } from '../types';

const credentialRef = z.object({ ref: z.string().min(1) });

/** AWS-specific actions beyond the issuer role: the reversible switch on access keys. */
export const awsIamActions = {
  deactivateAccessKey: {
    description:
      'Deactivate the leaked access key (every active key of the user when the reference names none); it can be activated again',
    params: credentialRef,
    idempotent: true,
    reversible: true,
    undo: 'activateAccessKey',
  },
  activateAccessKey: {
    description: 'Activate again the access keys this incident deactivated',
    params: credentialRef,
    idempotent: true,
    reversible: true,
    undo: 'deactivateAccessKey',
  },
} satisfies ProviderCatalog;

/** Everything the `aws-iam` provider offers: the issuer role plus the access-key switch. */
export const awsIamCatalog = { ...issuerCatalog, ...awsIamActions };
export type AwsIamCatalog = typeof awsIamCatalog;
