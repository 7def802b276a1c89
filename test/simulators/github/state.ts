import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import sodium from 'libsodium-wrappers';

/** Everything the simulator knows. Tests read it to assert final state and write it to seed a scenario. */

export type PermissionLevel = 'read' | 'write' | 'admin';
export type PermissionSet = Record<string, PermissionLevel>;

export interface SealedBoxKeyPair {
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface SimSecret {
  name: string;
  /** The decrypted value, so tests can assert that what was stored is what was sent. */
  value: string;
  createdAt: string;
  updatedAt: string;
  /** How many times it was written through the API. */
  writes: number;
}

export interface SimWorkflow {
  id: number;
  name: string;
  path: string;
  state: 'active' | 'deleted' | 'disabled_fork' | 'disabled_inactivity' | 'disabled_manually';
  createdAt: string;
  updatedAt: string;
}

/** What a path of the repository's default branch holds. */
export type SimFile =
  | { type: 'file'; content: Buffer }
  /** `target` as git stores it: relative to the link's directory (or absolute, which GitHub does not resolve). */
  | { type: 'symlink'; target: string }
  | { type: 'submodule'; url: string };

export interface SimJob {
  id: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  log: string;
  startedAt: string;
  completedAt: string | null;
}

export interface SimRun {
  id: number;
  workflowId: number;
  status: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion: string | null;
  event: string;
  headSha: string;
  headBranch: string;
  createdAt: string;
  updatedAt: string;
  runAttempt: number;
  /** Ignores a normal cancel (a step that does not react to SIGINT); only force-cancel stops it. */
  stuck: boolean;
  jobs: SimJob[];
  logsDeleted: boolean;
}

export interface SimHook {
  id: number;
  active: boolean;
  events: string[];
  config: { url: string; content_type: string; insecure_ssl: string; secret?: string };
  createdAt: string;
  updatedAt: string;
}

export interface SimDeployKey {
  id: number;
  title: string;
  key: string;
  readOnly: boolean;
  createdAt: string;
}

export interface SimRunner {
  id: number;
  name: string;
  os: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
}

export interface SimReviewer {
  type: 'User' | 'Team';
  id: number;
}

export interface SimEnvironment {
  id: number;
  name: string;
  createdAt: string;
  updatedAt: string;
  reviewers: SimReviewer[];
  waitTimer: number;
  preventSelfReview: boolean;
  deploymentBranchPolicy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
  secrets: Map<string, SimSecret>;
  secretsKey: SealedBoxKeyPair;
}

export interface SimSecretScanningAlert {
  number: number;
  secretType: string;
  secretTypeDisplayName: string;
  secret: string;
  state: 'open' | 'resolved';
  createdAt: string;
}

export interface SimRepository {
  id: number;
  owner: string;
  name: string;
  fullName: string;
  private: boolean;
  workflows: SimWorkflow[];
  runs: SimRun[];
  secrets: Map<string, SimSecret>;
  secretsKey: SealedBoxKeyPair;
  environments: Map<string, SimEnvironment>;
  hooks: SimHook[];
  deployKeys: SimDeployKey[];
  runners: SimRunner[];
  actionsPermissions: {
    enabled: boolean;
    allowedActions: 'all' | 'local_only' | 'selected';
    shaPinningRequired: boolean;
  };
  selectedActions: { githubOwnedAllowed: boolean; verifiedAllowed: boolean; patternsAllowed: string[] };
  secretScanningAlerts: SimSecretScanningAlert[];
  /** The default branch (`main`), by path: workflow files and anything a test adds. */
  files: Map<string, SimFile>;
}

export interface SimOrgSecret {
  name: string;
  visibility: 'all' | 'private' | 'selected';
  selectedRepositoryIds: number[];
  createdAt: string;
  updatedAt: string;
}

export interface SimOrganization {
  login: string;
  id: number;
  secrets: Map<string, SimOrgSecret>;
  /** Entries as the GHEC audit log returns them (`@timestamp` and `created_at` in milliseconds). */
  auditLog: Array<Record<string, unknown>>;
  /** The REST audit log is GitHub Enterprise Cloud only; elsewhere the route answers 404. */
  auditLogAvailable: boolean;
}

export interface SimApp {
  id: number;
  slug: string;
  /** PKCS#1 PEM, the format GitHub hands out. */
  privateKeyPem: string;
  publicKey: KeyObject;
}

export interface SimInstallation {
  id: number;
  appId: number;
  account: string;
  permissions: PermissionSet;
  repositorySelection: 'all' | 'selected';
  repositoryIds: number[];
  suspendedAt: string | null;
  createdAt: string;
}

export interface SimToken {
  kind: 'installation' | 'personal';
  installationId?: number;
  /** `all` for a classic token with every scope. */
  permissions: PermissionSet | 'all';
  /** Undefined: every repository the grantor can reach. */
  repositoryIds?: number[];
  expiresAt: number;
  /** The user a personal token authenticates as (`GET /user`). */
  user?: string;
  /**
   * When the token stops authenticating: set by `POST /credentials/revoke` (plus the simulator's revocation delay,
   * as GitHub may process submissions asynchronously) or `DELETE /installation/token`.
   */
  revokedAt?: number;
}

export interface SimBlob {
  content: Buffer;
  contentType: string;
  expiresAt: number;
}

export interface SimulatorState {
  apps: Map<number, SimApp>;
  installations: Map<number, SimInstallation>;
  tokens: Map<string, SimToken>;
  repositories: Map<string, SimRepository>;
  organizations: Map<string, SimOrganization>;
  /** Credentials submitted to POST /credentials/revoke. */
  revokedCredentials: string[];
  blobs: Map<string, SimBlob>;
}

let nextId = 1000;
export function newId(): number {
  nextId += 1 + Math.floor(Math.random() * 7);
  return nextId;
}

export function newSealedBoxKeyPair(): SealedBoxKeyPair {
  const pair = sodium.crypto_box_keypair();
  return { keyId: String(newId() * 1_000_003), publicKey: pair.publicKey, privateKey: pair.privateKey };
}

export function createState(): SimulatorState {
  return {
    apps: new Map(),
    installations: new Map(),
    tokens: new Map(),
    repositories: new Map(),
    organizations: new Map(),
    revokedCredentials: [],
    blobs: new Map(),
  };
}

export function createApp(state: SimulatorState): SimApp {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const app: SimApp = {
    id: newId(),
    slug: `tourniquet-test-${state.apps.size + 1}`,
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey,
  };
  state.apps.set(app.id, app);
  return app;
}

export function randomToken(prefix: string): string {
  return `${prefix}${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
}

export function repositoryKey(owner: string, name: string): string {
  return `${owner}/${name}`.toLowerCase();
}
