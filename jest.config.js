/** @type {import('jest').Config} */
// The tests run the TypeScript sources, also in the CLI processes they spawn (bin/tourniquet.js would otherwise run
// a current dist/ build); CI smoke-tests the build on its own (.ci/smoke-dist.sh).
process.env.TOURNIQUET_FROM_SOURCE ??= '1';
const esmOnly = [
  '@octokit',
  'universal-user-agent',
  'before-after-hook',
  '@noble',
  'bottleneck',
  'toad-cache',
  'fast-content-type-parse',
  'json-with-bigint',
  'content-type',
  'universal-github-app-jwt',
];

/**
 * The `unit` project (`npm run test:unit`): suites that need no server. They start no Temporal (dev server, worker
 * or replayer), no PostgreSQL, no simulator from test/simulators and no gateway or Slack stack; they may use the
 * filesystem, child processes that only touch it (the evidence CLI, a killed writer) and a loopback HTTP stand-in
 * defined in the suite itself (siem-auth, http-connector-config). A suite not listed here is an `integration` suite,
 * so a new one that needs a server never lands in `unit` by accident.
 */
const UNIT_SUITES = [
  'build-state',
  'canonical-signatures',
  'cli-runbook-catalog',
  'cli-secret-refs',
  'credential-resolution',
  'docker-compose',
  'evidence-canary',
  'evidence-cli',
  'evidence-concurrency',
  'evidence-crash',
  'evidence-sealed-stream',
  'evidence-tamper',
  'evidence-vault',
  'execute-step',
  'for-each-plan',
  'file-destination-confinement',
  'gateway-batcher',
  'github-cancellation',
  'http-connector-config',
  'inventory',
  'inventory-cli',
  'logger-format',
  'people-identity',
  'provider-plugins',
  'report-proof-of-death',
  'runbook-catalog',
  'runbook-policy',
  'siem-auth',
  'siem-normalize',
  'siem-scrub',
  'siem-url-token',
  'siem-vendor-azure-monitor',
  'siem-vendor-datadog',
  'siem-vendor-elastic',
  'siem-vendor-gitguardian',
  'siem-vendor-github',
  'siem-vendor-splunk',
  'simulation-journal',
];
const unitSuites = UNIT_SUITES.map((name) => `<rootDir>/test/${name}.test.ts`);

const project = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // Fault injection runs on its own: `npm run test:chaos` (CI runs both).
  testPathIgnorePatterns: ['/node_modules/', '/test/chaos/'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

module.exports = {
  projects: [
    { ...project, displayName: 'unit', testMatch: unitSuites },
    // Everything else. Excluded by negated globs (Jest expands no <rootDir> after `!`) rather than by ignore
    // patterns, which `test:chaos` overrides on the command line.
    {
      ...project,
      displayName: 'integration',
      testMatch: ['**/*.test.ts', ...UNIT_SUITES.map((name) => `!**/test/${name}.test.ts`)],
    },
  ],
  // Global options (Jest reads these from the top level only, not per project).
  testTimeout: 120000,
  // The Temporal native runtime keeps handles open after the last test; the suites stop their own servers.
  forceExit: true,
};
