import type { IncidentStatus, StepStatus } from '../lib/runbook/types';
import { buildReport } from '../reports/model';
import { renderHtml, renderMarkdown } from '../reports/render';

/** The report's proof of death: what a reviewer asks first after a leak, from the verification steps. */
const OPENED = '2026-12-06T23:00:00.000Z';

function statusWith(steps: StepStatus[], extra: Partial<IncidentStatus> = {}): IncidentStatus {
  return {
    incidentId: 'incident-0123456789abcdef01234567',
    runbookId: 'leaked-cloud-key',
    state: 'completed',
    severity: 'critical',
    phase: 'closed',
    exercise: false,
    fingerprint: 'f'.repeat(64),
    connector: 'simulated:generic',
    openedAt: OPENED,
    closedAt: '2026-12-06T23:20:00.000Z',
    steps,
    timeline: [],
    approvals: [],
    flags: [],
    alerts: { count: 1, sources: { generic: 1 } },
    ...extra,
  };
}

const verify = (overrides: Partial<StepStatus>): StepStatus => ({
  id: 'prove-dead',
  title: 'Prove the leaked key dead',
  phase: 'rotate-credentials',
  action: 'issuer.verifyRevoked',
  state: 'succeeded',
  provider: 'aws-iam',
  ...overrides,
});

test('a proven key: the verdict, the probes and the evidence artifact, in both formats', () => {
  const report = buildReport({
    status: statusWith([
      verify({
        summary: {
          verdict: 'dead',
          probes: 4,
          refusalsInARow: 3,
          windowMs: 61_000,
          evidenceArtifactId: 'a1b2c3',
          replacementChecks: ['github:acme/app:AWS_SECRET_ACCESS_KEY=unreadable'],
          oldCredentialDead: true,
        },
      }),
    ]),
  });

  expect(report.proofOfDeath).toEqual([
    expect.objectContaining({ stepId: 'prove-dead', provider: 'aws-iam', verdict: 'proven dead' }),
  ]);
  const markdown = renderMarkdown(report);
  expect(markdown).toContain('## Proof of death');
  expect(markdown).toContain('**prove-dead** (aws-iam): proven dead');
  expect(markdown).toMatch(/\| refusalsInARow \| 3 \|/);
  expect(markdown).toMatch(/\| evidenceArtifactId \| a1b2c3 \|/);
  const html = renderHtml(report);
  expect(html).toContain('<h2>Proof of death</h2>');
  expect(html).toContain('<strong>prove-dead</strong> (aws-iam): proven dead');
});

test.each([
  [
    'a failed check',
    verify({ state: 'failed', error: 'leaked key not proven dead: accepted again after a refusal' }),
    'NOT proven: failed: leaked key not proven dead: accepted again after a refusal',
  ],
  [
    'a check that could not run',
    verify({ state: 'not-configured', error: '"aws-iam" is not configured in this worker' }),
    'NOT proven: not-configured: "aws-iam" is not configured in this worker',
  ],
  [
    'a blocked check',
    verify({ state: 'skipped', provider: undefined, reason: 'blocked: "delete-old-key" did not succeed' }),
    'NOT proven: skipped (blocked: "delete-old-key" did not succeed)',
  ],
  [
    'a simulated check',
    verify({ provider: 'simulated:aws-iam', summary: { simulated: true } }),
    'simulated: nothing was probed',
  ],
])('%s is never reported as proof', (_name, step, verdict) => {
  const report = buildReport({ status: statusWith([step], { state: 'failed' }) });
  expect(report.proofOfDeath[0].verdict).toBe(verdict);
  expect(renderMarkdown(report)).not.toContain('): proven dead');
});

test('an incident without a verification step has no such section', () => {
  const report = buildReport({ status: statusWith([]) });
  expect(report.proofOfDeath).toEqual([]);
  expect(renderMarkdown(report)).not.toContain('Proof of death');
});
