import { z } from 'zod';
import { createForEachActivities } from '../activities/for-each';
import { validateInventory } from '../lib/inventory';
import { approvalGroups, planBatches } from '../lib/runbook/for-each';
import { validateRunbook } from '../lib/runbook/validate';
import type { ActionCatalogs, ApprovalRequest, ForEachItem } from '../lib/runbook/types';
import { approvalRequest } from '../slack/messages';
import { ACTION_CATALOGS, PROVIDER_DIRECTORY } from '../providers';

describe('planBatches', () => {
  const check = (count: number, concurrency: number) => {
    const plans = planBatches(count, concurrency);
    expect(plans.reduce((sum, plan) => sum + (plan.end - plan.start), 0)).toBe(count);
    plans.forEach((plan, index) => {
      expect(plan.start).toBe(index === 0 ? 0 : plans[index - 1].end);
      expect(plan.concurrency).toBeGreaterThanOrEqual(1);
      expect(plan.concurrency).toBeLessThanOrEqual(plan.end - plan.start);
    });
    return plans;
  };

  test('500 items at 20: five batches of 100 with four lanes each, all running at once, ending together', () => {
    const plans = check(500, 20);
    expect(plans.map((plan) => [plan.end - plan.start, plan.concurrency])).toEqual(
      Array.from({ length: 5 }, () => [100, 4]),
    );
  });

  test('5,000 items at 20: equal rounds of single-lane batches, never more than 100 items each', () => {
    const plans = check(5_000, 20);
    expect(plans).toHaveLength(60);
    expect(plans.every((plan) => plan.concurrency === 1 && plan.end - plan.start <= 100)).toBe(true);
    const sizes = plans.map((plan) => plan.end - plan.start);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test('fewer items than lanes, uneven lanes, nothing at all', () => {
    expect(check(3, 20)).toEqual([{ start: 0, end: 3, concurrency: 3 }]);
    const uneven = check(250, 7);
    expect(uneven.reduce((sum, plan) => sum + plan.concurrency, 0)).toBe(7);
    expect(check(0, 5)).toEqual([]);
  });
});

test('approval groups: one per owner, in first-seen order, or one per item', () => {
  const items: ForEachItem[] = [
    { key: 'a', owner: 'iam' },
    { key: 'b', owner: 'platform' },
    { key: 'c', owner: 'iam' },
  ];
  expect(approvalGroups('rotate', items, 'per-owner-batch')).toEqual([
    { id: 'rotate--iam', owner: 'iam', items: [items[0], items[2]] },
    { id: 'rotate--platform', owner: 'platform', items: [items[1]] },
  ]);
  expect(approvalGroups('rotate', items, 'per-item').map((group) => group.id)).toEqual([
    'rotate--item-1',
    'rotate--item-2',
    'rotate--item-3',
  ]);
});

describe('runbook validation of forEach', () => {
  /** The shipped catalogs plus a discovery action that lists `credentials`. */
  const catalogs: ActionCatalogs = {
    roles: ACTION_CATALOGS.roles,
    systems: {
      ...ACTION_CATALOGS.systems,
      platform: {
        listCredentials: {
          description: 'List the credentials the platform holds',
          params: z.object({}),
          idempotent: true,
          reversible: false,
          preapprovable: true,
          lists: ['credentials'],
        },
      },
    },
  };
  const discover = {
    id: 'discover',
    title: 'List credentials',
    phase: 'preserve-evidence',
    action: 'platform.listCredentials',
    owner: 'platform',
    preapproved: 'only reads',
    reversible: false,
  };
  const rotate = (change: Record<string, unknown> = {}) => ({
    id: 'rotate-each',
    title: 'Rotate each',
    phase: 'rotate-credentials',
    action: 'issuer.rotateCredential',
    params: { ref: '{{credential.ref}}', destinations: '{{credential.destinations}}' },
    forEach: '{{steps.discover.credentials}}',
    after: ['discover'],
    owner: 'iam',
    approval: { policy: 'owner' },
    reversible: false,
    ...change,
  });
  const validate = (...steps: unknown[]) =>
    validateRunbook({ id: 'fan-out', title: 'Fan out', steps }, { catalogs });
  const messages = (...steps: unknown[]) => {
    const result = validate(...steps);
    return result.ok ? [] : result.issues.map((issue) => `${issue.path}: ${issue.message}`);
  };

  test('a discovery list, literal keys and an inventory query are accepted, with defaults', () => {
    const result = validate(discover, rotate());
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.runbook.steps[1].forEach).toEqual({
        items: '{{steps.discover.credentials}}',
        concurrency: 10,
        approval: 'per-owner-batch',
        onItemFailure: 'continue',
      });
    }
    expect(validate(rotate({ forEach: ['a', 'b'], after: [] })).ok).toBe(true);
    expect(
      validate(rotate({ forEach: { items: { inventory: { consumer: 'n8n' } }, concurrency: 20 }, after: [] }))
        .ok,
    ).toBe(true);
  });

  test.each([
    [
      'an expression that is not a list reference',
      rotate({ forEach: 'credentials' }),
      /steps\[1\]\.forEach\.items: step "rotate-each": expected a list output of an earlier step, \{\{steps\.<step id>\.<list>\}\}/,
    ],
    [
      'a list of a step it does not wait for',
      rotate({ after: [] }),
      /steps\[1\]\.forEach\.items: step "rotate-each" iterates over \{\{steps\.discover\.credentials\}\}, which it does not wait for/,
    ],
    [
      'a field the action does not list',
      rotate({ forEach: '{{steps.discover.workflows}}' }),
      /step "rotate-each" iterates over "workflows" of "discover" \(platform\.listCredentials\), which lists credentials/,
    ],
    [
      'an unknown step',
      rotate({ forEach: '{{steps.nowhere.credentials}}' }),
      /step "rotate-each" iterates over unknown step "nowhere"/,
    ],
    [
      'an unknown item field',
      rotate({ params: { ref: '{{item.secret}}' } }),
      /unknown item field \{\{item\.secret\}\} \(known: item\.key, item\.owner, item\.credentialId\)/,
    ],
    ['a duplicate literal key', rotate({ forEach: ['a', 'a'], after: [] }), /the same item is listed twice/],
    [
      'a malformed literal key',
      rotate({ forEach: ['has space'], after: [] }),
      /forEach\.items\[0\]: step "rotate-each": expected an item key/,
    ],
    [
      'an unknown owner in the query',
      rotate({ forEach: { items: { inventory: { owner: 'nobody' } } }, after: [] }),
      /forEach\.items\.inventory\.owner: unknown owner role "nobody"/,
    ],
    ['an empty query', rotate({ forEach: { items: { inventory: {} } }, after: [] }), /forEach\.items/],
    [
      'concurrency out of range',
      rotate({ forEach: { items: ['a'], concurrency: 0 }, after: [] }),
      /forEach\.concurrency/,
    ],
    [
      'a reversible forEach step',
      rotate({ action: 'connector.disableConnector', params: { ref: '{{item.key}}' }, reversible: true }),
      /steps\[1\]\.reversible: forEach step "rotate-each" cannot be compensated item by item/,
    ],
  ])('%s is refused, naming the step', (_name, step, pattern) => {
    expect(messages(discover, step).join('\n')).toMatch(pattern);
  });

  test('{{item.*}} outside a forEach step is refused', () => {
    const plain = rotate({ forEach: undefined, params: { ref: '{{item.key}}' } });
    expect(messages(discover, plain).join('\n')).toMatch(
      /\{\{item\.key\}\} is only defined in a forEach step/,
    );
  });

  test('a later forEach step may iterate over what an earlier one did', () => {
    const verify = {
      id: 'verify-each',
      title: 'Verify each',
      phase: 'rotate-credentials',
      action: 'issuer.verifyRevoked',
      params: { ref: '{{credential.ref}}' },
      forEach: '{{steps.rotate-each.succeededItems}}',
      after: ['rotate-each'],
      owner: 'iam',
      preapproved: 'only reads',
      reversible: false,
    };
    expect(validate(discover, rotate(), verify).ok).toBe(true);
    expect(
      messages(discover, rotate(), { ...verify, forEach: '{{steps.rotate-each.items}}' }).join('\n'),
    ).toMatch(/lists succeededItems, failedItems/);
  });
});

describe('resolveForEachItems: owners and issuers come from the worker inventory, never from the list', () => {
  const inventory = validateInventory(
    {
      credentials: [
        {
          id: 'crm-api-key',
          kind: 'generic',
          issuer: 'simulated:crm',
          consumers: [{ provider: 'github', target: 'acme/app:CRM' }],
          owners: ['app-owner', 'platform'],
          identifiers: { n8nCredentialId: '17' },
        },
      ],
    },
    { providers: PROVIDER_DIRECTORY },
  );
  if (!inventory.ok) throw new Error(JSON.stringify(inventory.issues));
  const { resolveForEachItems } = createForEachActivities({ inventory: () => inventory.inventory });
  const request = (keys: string[]) =>
    resolveForEachItems({ incidentId: 'i', stepId: 's', stepOwner: 'iam', source: { keys } });

  test('by inventory id or n8n credential id; unknown keys fall to the step owner; bad keys are not echoed', async () => {
    const items = await request(['17', 'crm-api-key', 'unknown-1', 'ghp_leaked value\n', '17']);
    expect(items).toEqual([
      {
        key: '17',
        owner: 'app-owner',
        credentialId: 'crm-api-key',
        credential: {
          issuer: 'simulated',
          ref: 'crm',
          destinations: [{ provider: 'github', target: 'acme/app:CRM' }],
        },
      },
      // The same credential by its inventory id: acted on once, as the first key.
      {
        key: 'crm-api-key',
        owner: 'app-owner',
        problem: 'crm-api-key names credential crm-api-key, already item 17: it is acted on once',
      },
      { key: 'unknown-1', owner: 'iam' },
      {
        key: 'invalid-item-4',
        owner: 'iam',
        problem: expect.stringMatching(/item 4 of the list is not a valid key/),
      },
    ]);
    expect(JSON.stringify(items)).not.toContain('ghp_leaked');
  });

  test('an inventory query selects by consumer, issuer, kind and owner', async () => {
    const query = (inventoryQuery: Record<string, string>) =>
      resolveForEachItems({
        incidentId: 'i',
        stepId: 's',
        stepOwner: 'iam',
        source: { inventory: inventoryQuery },
      });
    expect((await query({ consumer: 'github' })).map((item) => item.key)).toEqual(['crm-api-key']);
    expect(await query({ consumer: 'n8n' })).toEqual([]);
    expect(await query({ issuer: 'simulated', owner: 'platform', kind: 'generic' })).toHaveLength(1);
    expect(await query({ owner: 'iam' })).toEqual([]);
  });
});

test('a batch approval message lists the exact items one click approves, capped', () => {
  const request: ApprovalRequest = {
    stepId: 'rotate-each--iam',
    nonce: 'n',
    paramsHash: 'a'.repeat(64),
    action: 'simulated.rotateCredential',
    target: '70 items of iam',
    reversible: false,
    policy: 'owner',
    required: 1,
    roles: ['iam'],
    requestedAt: '2026-12-07T00:00:00.000Z',
    expiresAt: '2026-12-07T01:00:00.000Z',
    escalated: false,
    approvals: [],
    breakGlassEligible: false,
    batch: {
      stepId: 'rotate-each',
      items: ['cred_first', ...Array.from({ length: 69 }, (_, i) => `cred-${i}`)],
      credentials: ['crm-api-key', ...Array.from({ length: 69 }, () => '')],
    },
  };
  const message = approvalRequest(
    {
      incidentId: 'incident-1',
      exercise: false,
      severity: 'high',
      event: { at: '', type: 'approval-requested', actor: 'workflow' },
    },
    request,
    { mentions: [], open: true },
  );
  const text = JSON.stringify(message.blocks);
  expect(text).toContain('Approve covers all 70 items');
  expect(text).toContain('cred-58');
  expect(text).not.toContain('cred-59`');
  expect(text).toContain('and 10 more');
  // An owner reads the inventory's name of what they approve; the platform's key beside it.
  expect(text).toContain('`crm-api-key` (cred_first)');
});
