import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { rawEd25519PublicKey } from './config';
import { BUILTIN_RUNBOOKS_DIR } from './paths';
import { formatPath, type RunbookIssue } from './runbook/validate';
import type { OwnerSnapshot } from './runbook/types';
import { readYamlFile } from './yaml-file';

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user id such as U0123ABCD');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'expected a Slack user group id such as S0123ABCD');

const outOfBandApprover = z
  .object({
    name: z.string().regex(/^[a-z][\w.-]*$/, 'expected a lower-case name'),
    publicKey: rawEd25519PublicKey.optional(),
    /** Relative paths are resolved against the data dir, so a fresh machine can generate its operator keys. */
    publicKeyFile: z.string().min(1).optional(),
    slackUser: slackUserId.optional(),
  })
  .strict()
  .refine((entry) => Boolean(entry.publicKey) !== Boolean(entry.publicKeyFile), {
    message: 'set exactly one of publicKey and publicKeyFile',
    path: ['publicKey'],
  });

const personName = z.string().regex(/^[a-z][\w.-]*$/, 'expected a lower-case name');

/**
 * One person and every way they act: Slack accounts, the OS user names they run the CLI as, and their own
 * out-of-band key (`tourniquet approve --key`, approver name = the person's name). Separation of duties and
 * two-person rules compare people, so the same person acting through two channels counts once.
 */
const personSchema = z
  .object({
    slack: z.array(slackUserId).default([]),
    cli: z.array(z.string().regex(/^[a-z_][\w.-]*$/, 'expected an OS user name')).default([]),
    publicKey: rawEd25519PublicKey.optional(),
    /** Relative paths are resolved against the data dir. */
    publicKeyFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((person) => !(person.publicKey && person.publicKeyFile), {
    message: 'set at most one of publicKey and publicKeyFile',
    path: ['publicKey'],
  });

const roleSchema = z
  .object({
    description: z.string().optional(),
    /** People of `people:` who hold this role. */
    people: z.array(personName).default([]),
    slack: z
      .object({ users: z.array(slackUserId).default([]), usergroups: z.array(slackGroupId).default([]) })
      .strict()
      .default({ users: [], usergroups: [] }),
    backup: z.string().min(1).optional(),
    outOfBand: z.array(outOfBandApprover).default([]),
  })
  .strict();

const slackChannelId = z
  .string()
  .regex(/^[CG][A-Z0-9]{2,}$/, 'expected a Slack channel id such as C0123ABCD');

/**
 * Who may start containment from Slack at once. Without it, the people of this file may (every Slack user and
 * user group of a role, and the Slack users of out-of-band approvers); anyone else's report waits for one of
 * them to confirm it.
 */
const kickoffSchema = z
  .object({
    usergroups: z.array(slackGroupId).default([]),
    /** A report made in one of these channels starts at once, whoever made it. */
    channels: z.array(slackChannelId).default([]),
  })
  .strict();

export const ownersFileSchema = z
  .object({
    people: z.record(personName, personSchema).default({}),
    roles: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case role name'), roleSchema),
    slack: z.object({ kickoff: kickoffSchema.optional() }).strict().optional(),
  })
  .strict()
  .superRefine((file, ctx) => {
    for (const [name, role] of Object.entries(file.roles)) {
      role.people.forEach((person, index) => {
        if (!file.people[person]) {
          ctx.addIssue({
            code: 'custom',
            path: ['roles', name, 'people', index],
            message: `unknown person "${person}"`,
          });
        }
      });
      role.outOfBand.forEach((approver, index) => {
        // One key name, one identity: `key:<name>` must not mean a person and a separate approver at once.
        if (file.people[approver.name]) {
          ctx.addIssue({
            code: 'custom',
            path: ['roles', name, 'outOfBand', index, 'name'],
            message: `"${approver.name}" is a person: list them under people instead`,
          });
        }
      });
      if (role.backup && !file.roles[role.backup]) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles', name, 'backup'],
          message: `unknown role "${role.backup}"`,
        });
      }
    }
  });

export type OwnersFile = z.infer<typeof ownersFileSchema>;
export const BUILTIN_OWNERS_FILE = join(BUILTIN_RUNBOOKS_DIR, 'owners.yaml');

export function ownersFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TOURNIQUET_OWNERS_FILE ? resolve(env.TOURNIQUET_OWNERS_FILE) : BUILTIN_OWNERS_FILE;
}

export type OwnersResult =
  { ok: true; owners: OwnersFile; file: string } | { ok: false; file: string; issues: RunbookIssue[] };

export function loadOwnersFile(file: string): OwnersResult {
  const read = readYamlFile(file);
  if (!read.ok) return { ok: false, file, issues: read.issues };
  const raw = read.raw;
  const parsed = ownersFileSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      file,
      issues: parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
    };
  }
  return { ok: true, owners: parsed.data, file };
}

function keyPath(dataDir: string, path: string): string {
  return isAbsolute(path) ? path : join(dataDir, path);
}

/** The raw 32-byte ed25519 public key (base64) of a PEM / DER SPKI key object. */
export function rawPublicKey(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}

/**
 * Creates the key pairs of out-of-band approvers whose `publicKeyFile` does not exist yet (the embedded
 * defaults' local operators), private keys 0600 next to them. Returns the private key paths it created.
 */
export function ensureOperatorKeys(owners: OwnersFile, dataDir: string): string[] {
  const created: string[] = [];
  const holders = [
    ...Object.values(owners.roles).flatMap((role) => role.outOfBand),
    ...Object.values(owners.people),
  ];
  for (const approver of holders) {
    if (!approver.publicKeyFile) continue;
    const publicPath = keyPath(dataDir, approver.publicKeyFile);
    if (existsSync(publicPath)) continue;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(publicPath), { recursive: true, mode: 0o700 });
    const privatePath = publicPath.replace(/\.pub$/, '') + '.key';
    writeFileSync(privatePath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(publicPath, `${rawPublicKey(publicKey)}\n`);
    created.push(privatePath);
  }
  return created;
}

function readPublicKey(dataDir: string, file: string): string {
  const text = readFileSync(keyPath(dataDir, file), 'utf8').trim();
  if (text.startsWith('-----BEGIN')) return rawPublicKey(createPublicKey(text));
  return text;
}

/** Expands a Slack user group to its members; the Slack integration supplies it when configured. */
export type UsergroupResolver = (usergroupId: string) => Promise<string[]>;

/**
 * Whether a Slack user may start containment at once (see `slack.kickoff`): a member of a kickoff user group,
 * or reporting from a kickoff channel; without `slack.kickoff`, anyone the owners file names.
 */
export async function mayStartFromSlack(
  owners: OwnersFile,
  report: { user: string; channel?: string },
  expandUsergroup: UsergroupResolver,
): Promise<boolean> {
  const kickoff = owners.slack?.kickoff;
  if (kickoff) {
    if (report.channel && kickoff.channels.includes(report.channel)) return true;
    const members = await Promise.all(kickoff.usergroups.map((group) => expandUsergroup(group)));
    return members.some((users) => users.includes(report.user));
  }
  const roles = Object.values(owners.roles);
  const named = roles.some(
    (role) =>
      role.slack.users.includes(report.user) ||
      role.people.some((person) => owners.people[person]?.slack.includes(report.user)) ||
      role.outOfBand.some((approver) => approver.slackUser === report.user),
  );
  if (named) return true;
  const groups = [...new Set(roles.flatMap((role) => role.slack.usergroups))];
  const members = await Promise.all(groups.map((group) => expandUsergroup(group)));
  return members.some((users) => users.includes(report.user));
}

/** Role membership with a short cache, so a burst of approvals does not hammer Slack. */
export class OwnerDirectory {
  private readonly cache = new Map<string, { at: number; snapshot: OwnerSnapshot }>();

  private readonly expandUsergroup?: UsergroupResolver;
  private readonly gatewayKeys: string[];
  private readonly ttlMs: number;

  constructor(
    private readonly owners: OwnersFile,
    private readonly dataDir: string,
    options: {
      /** The gateway keys whose signed Slack claims the workflow believes (`trustedGatewayKeys`). */
      gatewayKeys: string[];
      expandUsergroup?: UsergroupResolver;
      ttlMs?: number;
    },
  ) {
    this.gatewayKeys = options.gatewayKeys;
    this.expandUsergroup = options.expandUsergroup;
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  /** The gateway keys whose signed starts and Slack claims this worker believes. */
  trustedGatewayKeys(): string[] {
    return [...this.gatewayKeys];
  }

  /** Every key of the owners file by its name (out-of-band approvers and people): who may sign a start. */
  ownerKeys(): Record<string, string> {
    const keys: Record<string, string> = Object.create(null) as Record<string, string>;
    const add = (name: string, entry: { publicKey?: string; publicKeyFile?: string }): void => {
      if (entry.publicKey) keys[name] = entry.publicKey;
      else if (entry.publicKeyFile && existsSync(keyPath(this.dataDir, entry.publicKeyFile))) {
        keys[name] = readPublicKey(this.dataDir, entry.publicKeyFile);
      }
    };
    for (const role of Object.values(this.owners.roles)) {
      for (const approver of role.outOfBand) add(approver.name, approver);
    }
    for (const [name, person] of Object.entries(this.owners.people)) add(name, person);
    return keys;
  }

  async snapshot(role: string): Promise<OwnerSnapshot> {
    const cached = this.cache.get(role);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.snapshot;
    const definition = this.owners.roles[role];
    if (!definition) throw new Error(`unknown owner role "${role}"`);
    const groupMembers = this.expandUsergroup
      ? (await Promise.all(definition.slack.usergroups.map((group) => this.expandUsergroup!(group)))).flat()
      : [];
    const members = definition.people.map((name) => ({ name, ...this.owners.people[name] }));
    const snapshot: OwnerSnapshot = {
      role,
      slackUsers: [
        ...new Set([
          ...definition.slack.users,
          ...groupMembers,
          ...members.flatMap((person) => person.slack),
        ]),
      ],
      outOfBand: [
        ...definition.outOfBand.map((entry) => ({
          name: entry.name,
          publicKey: entry.publicKey ?? readPublicKey(this.dataDir, entry.publicKeyFile!),
          ...(entry.slackUser ? { slackUser: entry.slackUser } : {}),
        })),
        ...members
          .filter((person) => person.publicKey || person.publicKeyFile)
          .map((person) => ({
            name: person.name,
            publicKey: person.publicKey ?? readPublicKey(this.dataDir, person.publicKeyFile!),
          })),
      ],
      people: Object.entries(this.owners.people).map(([name, person]) => ({
        name,
        identities: [
          ...person.slack.map((id) => `slack:${id}`),
          ...person.cli.map((user) => `cli:${user}`),
          ...(person.publicKey || person.publicKeyFile ? [`key:${name}`] : []),
        ],
      })),
      ...(definition.backup ? { backup: definition.backup } : {}),
      gatewayKeys: [...this.gatewayKeys],
    };
    this.cache.set(role, { at: Date.now(), snapshot });
    return snapshot;
  }
}
