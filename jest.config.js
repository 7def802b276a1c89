/** @type {import('jest').Config} */
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

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Fault injection runs on its own: `npm run test:chaos` (CI runs both).
  testPathIgnorePatterns: ['/node_modules/', '/test/chaos/'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testTimeout: 120000,
  // The Temporal native runtime keeps handles open after the last test; the suites stop their own servers.
  forceExit: true,
};
