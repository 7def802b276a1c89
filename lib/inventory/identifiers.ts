import type { CredentialIdentifiers } from './schema';

/** One identifier: a comparison key (case folded as its system folds it) and a label safe for any timeline. */
export interface IdentifierEntry {
  /** Which field of `identifiers` it came from, with the list index for lists: `githubSecrets[1]`. */
  field: string;
  key: string;
  label: string;
}

/** `AKIA…MPLE`: the prefix says what it is, the last four which one; never the whole id. */
export function keyIdHint(keyId: string): string {
  return keyId.length > 8 ? `${keyId.slice(0, 4)}…${keyId.slice(-4)}` : '…';
}

/** `…MPLE`: the last four of a key id, as `inventory list` shows it. */
export function keyIdLast4(keyId: string): string {
  return keyId.length > 8 ? `…${keyId.slice(-4)}` : '…';
}

/** `3f2a1b4c…c9d1`: enough to tell fingerprints apart in a sentence. */
export function shortFingerprint(fingerprint: string): string {
  return fingerprint.length > 16 ? `${fingerprint.slice(0, 8)}…${fingerprint.slice(-4)}` : fingerprint;
}

/**
 * Every identifier of a credential (or of an alert) as comparison keys. GitHub compares repository names and
 * secret names without case, so the keys do too.
 */
export function identifierEntries(identifiers: CredentialIdentifiers | undefined): IdentifierEntry[] {
  if (!identifiers) return [];
  const entries: IdentifierEntry[] = [];
  if (identifiers.awsAccessKeyId) {
    entries.push({
      field: 'awsAccessKeyId',
      key: `aws-access-key-id:${identifiers.awsAccessKeyId.toUpperCase()}`,
      label: `AWS access key id ${keyIdHint(identifiers.awsAccessKeyId)}`,
    });
  }
  (identifiers.githubSecrets ?? []).forEach((secret, index) => {
    entries.push({
      field: `githubSecrets[${index}]`,
      key: `github-secret:${secret.repository.toLowerCase()}:${secret.name.toUpperCase()}`,
      label: `GitHub secret ${secret.repository}:${secret.name}`,
    });
  });
  if (identifiers.githubAppId) {
    entries.push({
      field: 'githubAppId',
      key: `github-app:${identifiers.githubAppId}`,
      label: `GitHub App ${identifiers.githubAppId}`,
    });
  }
  if (identifiers.n8nCredentialId) {
    entries.push({
      field: 'n8nCredentialId',
      key: `n8n-credential:${identifiers.n8nCredentialId}`,
      label: `n8n credential ${identifiers.n8nCredentialId}`,
    });
  }
  return entries;
}

/** Short forms for a table: key ids by their last four only. */
export function identifierSummary(identifiers: CredentialIdentifiers): string[] {
  return [
    ...(identifiers.awsAccessKeyId ? [`aws-key-id ${keyIdLast4(identifiers.awsAccessKeyId)}`] : []),
    ...(identifiers.githubSecrets ?? []).map((secret) => `github-secret ${secret.repository}:${secret.name}`),
    ...(identifiers.githubAppId ? [`github-app ${identifiers.githubAppId}`] : []),
    ...(identifiers.n8nCredentialId ? [`n8n-credential ${identifiers.n8nCredentialId}`] : []),
  ];
}
