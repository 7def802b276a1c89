import type { RevokedAtIngest } from './types';

const ISSUER_NAMES: Record<RevokedAtIngest['issuer'], string> = { 'slack-token': 'Slack' };

/**
 * The timeline's note for a revocation the gateway did at ingest, e.g. `revoked at ingest by the gateway: Slack bot
 * token (auth.revoke: revoked)`. Made of the entry's words only: never a value.
 */
export function revokedAtIngestNote(entry: RevokedAtIngest): string {
  const what = `${ISSUER_NAMES[entry.issuer] ?? entry.issuer} ${entry.tokenKind}`;
  switch (entry.outcome) {
    case 'revoked':
      return `revoked at ingest by the gateway: ${what} (${entry.method}: revoked)`;
    case 'already-dead':
      return `revocation at ingest by the gateway: ${what} was already dead (${entry.method}: already-dead, ${entry.code})`;
    case 'refused':
      return `not revoked at ingest by the gateway: ${what} (${entry.method}: refused, ${entry.code}); it may still work`;
    case 'unavailable':
      return `not revoked at ingest by the gateway: ${what} (${entry.method}: unavailable, ${entry.code}); it may still work`;
  }
}
