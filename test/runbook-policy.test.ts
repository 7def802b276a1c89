/**
 * The approval policy of the runbook validator: an irreversible or destructive action never runs without a human,
 * unless its catalog says it is safe to run before anyone looks (`preapprovable`) and the step says why
 * (`preapproved: <reason>`). Server-free: the validator is pure, the CLI only reads files.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateRunbook } from '../lib/runbook/validate';
import { ACTION_CATALOGS } from '../providers';
import { loadRunbookFile, NOT_RUNBOOKS } from '../runbooks';
import { runCli } from './harness/cli';

const ROOT = join(__dirname, '..');

/**
 * What a runbook passed on the CLI did: revoked a credential, removed the deploy keys of an unrelated repository
 * and purged the logs right after copying them, without asking anyone.
 */
const ATTACK = `id: attack
title: Looks like containment
steps:
  - id: revoke
    title: Revoke the credential
    phase: rotate-credentials
    action: issuer.revokeCredential
    params: { ref: '{{credential.ref}}', fingerprint: '{{incident.fingerprint}}' }
    owner: iam
    approval: { policy: none }
    reversible: false
  - id: remove-keys
    title: Remove deploy keys
    phase: segment-downstream
    action: github.removeDeployKeys
    params: { repository: victim/unrelated }
    owner: platform
    approval: { policy: none }
    reversible: false
  - id: capture
    title: Capture logs
    phase: preserve-evidence
    action: connector.captureLogs
    params: { ref: '{{connector.ref}}' }
    owner: secops
    approval: { policy: none }
    reversible: false
  - id: purge
    title: Purge logs
    phase: preserve-evidence
    action: connector.purgeLogs
    params: { ref: '{{connector.ref}}' }
    after: [capture]
    owner: secops
    approval: { policy: none }
    reversible: false
`;

type RawStep = Record<string, unknown>;

const validate = (raw: unknown) => validateRunbook(raw, { catalogs: ACTION_CATALOGS });
const lines = (raw: unknown): string[] => {
  const result = validate(raw);
  return result.ok ? [] : result.issues.map((issue) => `${issue.path}: ${issue.message}`);
};
/** A one-step runbook (plus a capture step, which a log purge needs before it). */
const single = (step: RawStep): unknown => ({
  id: 'single',
  title: 'One step',
  steps: [
    {
      id: 'capture',
      title: 'Capture',
      phase: 'preserve-evidence',
      action: 'connector.captureLogs',
      params: { ref: '{{connector.ref}}' },
      owner: 'secops',
      reversible: false,
      preapproved: 'copies the logs into the vault',
    },
    {
      id: 'step',
      title: 'The step under test',
      phase: 'segment-downstream',
      owner: 'platform',
      reversible: false,
      after: ['capture'],
      ...step,
    },
  ],
});

describe('irreversible or destructive steps need an approval', () => {
  test('the attack runbook is refused with one issue per step, each naming the place', () => {
    expect(lines(parse(ATTACK))).toEqual([
      'steps[0].approval: "issuer.revokeCredential" cannot be undone: it needs policy owner or two-person (or preapproved: <reason> where the action allows it)',
      'steps[1].approval: "github.removeDeployKeys" cannot be undone: it needs policy owner or two-person (or preapproved: <reason> where the action allows it)',
      'steps[2].approval: "connector.captureLogs" cannot be undone: it needs policy owner or two-person (or preapproved: <reason>, which the action allows)',
      'steps[3].approval: "connector.purgeLogs" cannot be undone: it needs policy owner or two-person (or preapproved: <reason> where the action allows it)',
    ]);
  });

  test('`tourniquet runbook validate <attack.yaml>` exits 1 and names the steps', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tourniquet-attack-')), 'attack.yaml');
    writeFileSync(file, ATTACK);
    const run = await runCli(['runbook', 'validate', file]);
    expect(run.code).toBe(1);
    const reported = run.stderr.trim().split('\n');
    expect(reported).toHaveLength(4);
    for (const [index, action] of [
      'issuer.revokeCredential',
      'github.removeDeployKeys',
      'connector.captureLogs',
      'connector.purgeLogs',
    ].entries()) {
      expect(reported[index]).toMatch(
        new RegExp(
          `^${file}: steps\\[${index}\\]\\.approval: "${action.replace('.', '\\.')}" cannot be undone`,
        ),
      );
    }
  });

  test('the same steps pass with their owners approving', () => {
    const approved = parse(ATTACK) as { steps: RawStep[] };
    for (const step of approved.steps) step.approval = { policy: 'owner' };
    approved.steps[0].approval = { policy: 'two-person' };
    expect(lines(approved)).toEqual([]);
  });

  test('a role action is judged by the role catalog, a system action by the system catalog', () => {
    expect(lines(single({ action: 'issuer.rotateCredential', params: { ref: 'x' } }))).toEqual([
      'steps[1].approval: "issuer.rotateCredential" cannot be undone: it needs policy owner or two-person (or preapproved: <reason> where the action allows it)',
    ]);
    expect(lines(single({ action: 'postgres.terminateSessions', params: { ref: 'x' } }))).toEqual([
      'steps[1].approval: "postgres.terminateSessions" cannot be undone: it needs policy owner or two-person (or preapproved: <reason>, which the action allows)',
    ]);
    expect(
      lines(
        single({ action: 'http-connector.cancelRuns', params: { ref: 'n8n/1' }, preapproved: 'stops runs' }),
      ),
    ).toEqual([]);
  });

  test('reversible containment stays automatic with policy none', () => {
    for (const [action, params] of [
      ['connector.disableConnector', { ref: '{{connector.ref}}' }],
      ['issuer.revokeGrants', { ref: '{{credential.ref}}' }],
      ['github.deactivateWebhooks', { repository: '{{connector.repository}}' }],
      ['github.suspendInstallation', {}],
    ] as const) {
      expect([
        action,
        lines(single({ action, params, reversible: true, approval: { policy: 'none' } })),
      ]).toEqual([action, []]);
    }
  });
});

describe('preapproved: <reason>', () => {
  const cannotWait = (action: string) =>
    `steps[1].preapproved: "${action}" cannot be pre-approved: it needs policy owner or two-person`;
  const connector = { ref: '{{connector.ref}}' };
  const cases: [string, RawStep, string[]][] = [
    [
      'passes on a preapprovable action with policy none',
      {
        action: 'connector.cancelRuns',
        params: connector,
        preapproved: 'stops the runs; changes nothing else',
      },
      [],
    ],
    [
      'is refused on a log purge',
      { action: 'github.purgeLogs', params: { ref: 'acme/app/ci.yml' }, preapproved: 'the logs are public' },
      [cannotWait('github.purgeLogs')],
    ],
    [
      'is refused on a revocation',
      {
        action: 'issuer.revokeCredential',
        params: { ref: 'x', fingerprint: 'a'.repeat(64) },
        preapproved: 'hurry',
      },
      [cannotWait('issuer.revokeCredential')],
    ],
    [
      'is refused beside an approval policy (it would mean nothing)',
      {
        action: 'connector.cancelRuns',
        params: connector,
        approval: { policy: 'owner' },
        preapproved: 'stops runs',
      },
      ['steps[1].preapproved: only a step with policy none can be pre-approved (this one waits for owner)'],
    ],
    [
      'is refused on a reversible action (it would mean nothing)',
      {
        action: 'connector.disableConnector',
        params: connector,
        reversible: true,
        preapproved: 'reversible anyway',
      },
      [
        'steps[1].preapproved: "connector.disableConnector" cannot be pre-approved: it is reversible and runs without approval',
      ],
    ],
  ];

  test.each(cases)('%s', (_name, step, expected) => {
    expect(lines(single(step))).toEqual(expected);
  });

  test('is kept on the validated step (the workflow ignores it)', () => {
    const result = validate(
      single({ action: 'issuer.verifyRevoked', params: { ref: 'x' }, preapproved: 'only reads' }),
    );
    expect(result.ok && result.runbook.steps[1].preapproved).toBe('only reads');
  });

  test('needs a short, non-empty reason', () => {
    const refused = (preapproved: unknown) =>
      lines(single({ action: 'connector.cancelRuns', params: { ref: '{{connector.ref}}' }, preapproved }));
    expect(refused('')).toEqual([expect.stringMatching(/^steps\[1\]\.preapproved: /)]);
    expect(refused('   ')).toEqual([expect.stringMatching(/^steps\[1\]\.preapproved: /)]);
    expect(refused(true)).toEqual([expect.stringMatching(/^steps\[1\]\.preapproved: /)]);
    expect(refused('x'.repeat(201))).toEqual([expect.stringMatching(/^steps\[1\]\.preapproved: /)]);
    expect(refused('x'.repeat(200))).toEqual([]);
  });
});

test('a compensation runs without approval, so it must be reversible and destroy nothing', () => {
  expect(
    lines(
      single({
        action: 'connector.disableConnector',
        params: { ref: '{{connector.ref}}' },
        reversible: true,
        compensate: { action: 'github.removeDeployKeys', params: { repository: 'victim/unrelated' } },
      }),
    ),
  ).toEqual([
    'steps[1].compensate.action: "github.removeDeployKeys" cannot be undone: a compensation runs without approval, so it must be reversible',
  ]);
});

test('every preapprovable action is irreversible and destroys nothing; the list is deliberate', () => {
  const preapprovable: string[] = [];
  const { roles, systems } = ACTION_CATALOGS;
  for (const [name, catalog] of Object.entries({ ...roles, ...systems })) {
    for (const [action, spec] of Object.entries(catalog)) {
      if (!spec.preapprovable) continue;
      expect([action, spec.reversible, spec.destructive]).toEqual([action, false, undefined]);
      if (name in roles || name === 'github') preapprovable.push(`${name}.${action}`);
    }
  }
  expect(preapprovable.sort()).toEqual([
    'connector.cancelRuns',
    'connector.captureLogs',
    'github.cancelRuns',
    'github.captureAuditLog',
    'github.captureLogs',
    'github.listSecrets',
    'issuer.terminateSessions',
    'issuer.verifyRevoked',
  ]);
});

describe('every shipped runbook validates', () => {
  const files = [
    ...readdirSync(join(ROOT, 'runbooks'))
      .filter((name) => name.endsWith('.yaml') && !NOT_RUNBOOKS.has(name))
      .map((name) => join(ROOT, 'runbooks', name)),
    ...readdirSync(join(ROOT, 'test', 'fixtures', 'runbooks')).map((name) =>
      join(ROOT, 'test', 'fixtures', 'runbooks', name),
    ),
  ];

  test.each(files)('%s', (file) => {
    const loaded = loadRunbookFile(file);
    expect(loaded.ok ? [] : loaded.issues).toEqual([]);
  });
});
