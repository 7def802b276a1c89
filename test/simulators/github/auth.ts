import { verify } from 'node:crypto';
import type { PermissionLevel, PermissionSet, SimApp, SimToken, SimulatorState } from './state';

/**
 * The permission each simulated endpoint needs from a GitHub App installation token or fine-grained token,
 * after GitHub's "Permissions required for GitHub Apps" reference. Written independently of the provider's own
 * table, so a provider asking for too little is caught here.
 */
export const REQUIRED_PERMISSIONS: Record<string, [string, 'read' | 'write']> = {
  'repos/get': ['metadata', 'read'],
  'repos/get-content': ['contents', 'read'],
  'actions/list-repo-workflows': ['actions', 'read'],
  'actions/get-workflow': ['actions', 'read'],
  'actions/disable-workflow': ['actions', 'write'],
  'actions/enable-workflow': ['actions', 'write'],
  'actions/list-workflow-runs': ['actions', 'read'],
  'actions/list-workflow-runs-for-repo': ['actions', 'read'],
  'actions/get-workflow-run': ['actions', 'read'],
  'actions/list-jobs-for-workflow-run': ['actions', 'read'],
  'actions/cancel-workflow-run': ['actions', 'write'],
  'actions/force-cancel-workflow-run': ['actions', 'write'],
  'actions/download-workflow-run-logs': ['actions', 'read'],
  'actions/download-job-logs-for-workflow-run': ['actions', 'read'],
  'actions/delete-workflow-run-logs': ['actions', 'write'],
  'actions/get-github-actions-permissions-repository': ['administration', 'read'],
  'actions/set-github-actions-permissions-repository': ['administration', 'write'],
  'actions/get-allowed-actions-repository': ['administration', 'read'],
  'actions/set-allowed-actions-repository': ['administration', 'write'],
  'repos/list-webhooks': ['repository_hooks', 'read'],
  'repos/get-webhook': ['repository_hooks', 'read'],
  'repos/update-webhook': ['repository_hooks', 'write'],
  'repos/list-deploy-keys': ['administration', 'read'],
  'repos/delete-deploy-key': ['administration', 'write'],
  'actions/list-self-hosted-runners-for-repo': ['administration', 'read'],
  'actions/delete-self-hosted-runner-from-repo': ['administration', 'write'],
  'repos/get-all-environments': ['actions', 'read'],
  'repos/get-environment': ['actions', 'read'],
  'repos/create-or-update-environment': ['administration', 'write'],
  'actions/list-repo-secrets': ['secrets', 'read'],
  'actions/get-repo-public-key': ['secrets', 'read'],
  'actions/get-repo-secret': ['secrets', 'read'],
  'actions/create-or-update-repo-secret': ['secrets', 'write'],
  'actions/delete-repo-secret': ['secrets', 'write'],
  'actions/list-repo-organization-secrets': ['secrets', 'read'],
  'actions/list-environment-secrets': ['environments', 'read'],
  'actions/get-environment-public-key': ['environments', 'read'],
  'actions/get-environment-secret': ['environments', 'read'],
  'actions/create-or-update-environment-secret': ['environments', 'write'],
  'actions/delete-environment-secret': ['environments', 'write'],
  'secret-scanning/get-alert': ['secret_scanning_alerts', 'read'],
  'orgs/get-audit-log': ['organization_administration', 'read'],
  'actions/list-org-secrets': ['organization_secrets', 'read'],
};

/** Endpoints GitHub only serves to the App itself, authenticated with its JWT. */
export const APP_JWT_OPERATIONS = new Set([
  'apps/get-installation',
  'apps/suspend-installation',
  'apps/unsuspend-installation',
  'apps/create-installation-access-token',
]);

/** "Any authenticated requests will return a 403." */
export const ANONYMOUS_ONLY_OPERATIONS = new Set(['credentials/revoke']);

/** Endpoints GitHub also serves without credentials (with the address's own, lower, rate limit). */
export const ANONYMOUS_ALLOWED_OPERATIONS = new Set(['rate-limit/get']);

const LEVELS: Record<PermissionLevel, number> = { read: 1, write: 2, admin: 3 };

export function grants(granted: PermissionSet | 'all', permission: string, level: 'read' | 'write'): boolean {
  if (granted === 'all') return true;
  if (permission === 'metadata') return true;
  const has = granted[permission];
  return has !== undefined && LEVELS[has] >= LEVELS[level];
}

export function isSubset(requested: PermissionSet, granted: PermissionSet): boolean {
  return Object.entries(requested).every(([name, level]) =>
    grants(granted, name, level === 'admin' ? 'write' : level),
  );
}

export type Credential =
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'app'; app: SimApp }
  | { kind: 'token'; token: string; grant: SimToken };

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks an App JWT the way GitHub does: RS256 by a registered App, at most ten minutes long, not expired. */
export function verifyAppJwt(state: SimulatorState, jwt: string, nowMs: number): Credential {
  const [headerPart, payloadPart, signaturePart] = jwt.split('.');
  const header = headerPart ? decodeSegment(headerPart) : undefined;
  const payload = payloadPart ? decodeSegment(payloadPart) : undefined;
  if (!header || !payload || !signaturePart || header.alg !== 'RS256') {
    return { kind: 'invalid', reason: 'A JSON web token could not be decoded' };
  }
  const app = state.apps.get(Number(payload.iss));
  if (!app) return { kind: 'invalid', reason: `Integration not found` };
  const signed = verify(
    'sha256',
    Buffer.from(`${headerPart}.${payloadPart}`),
    app.publicKey,
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!signed) return { kind: 'invalid', reason: 'A JSON web token could not be decoded' };
  const now = Math.floor(nowMs / 1000);
  const issuedAt = Number(payload.iat);
  const expiresAt = Number(payload.exp);
  if (!Number.isFinite(issuedAt) || issuedAt > now + 60) {
    return {
      kind: 'invalid',
      reason:
        "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
    };
  }
  if (!Number.isFinite(expiresAt) || expiresAt - issuedAt > 600) {
    return { kind: 'invalid', reason: "'Expiration time' claim ('exp') is too far in the future" };
  }
  if (expiresAt <= now) {
    return {
      kind: 'invalid',
      reason:
        "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
    };
  }
  return { kind: 'app', app };
}

export function identify(
  state: SimulatorState,
  authorization: string | undefined,
  nowMs: number,
): Credential {
  if (!authorization) return { kind: 'none' };
  const match = /^(token|bearer)\s+(\S+)$/i.exec(authorization.trim());
  if (!match) return { kind: 'invalid', reason: 'Bad credentials' };
  const secret = match[2];
  if (secret.split('.').length === 3) return verifyAppJwt(state, secret, nowMs);
  const grant = state.tokens.get(secret);
  if (!grant || grant.expiresAt <= nowMs) return { kind: 'invalid', reason: 'Bad credentials' };
  // Revoked (credential revocation API, DELETE /installation/token): GitHub no longer knows the token.
  if (grant.revokedAt !== undefined && grant.revokedAt <= nowMs)
    return { kind: 'invalid', reason: 'Bad credentials' };
  return { kind: 'token', token: secret, grant };
}
