#!/usr/bin/env node
'use strict';
// Runs the compiled build in dist/ when it is current (`npm run build`, `npm start`); otherwise the TypeScript
// sources through tsx, so a checkout works without a build step. TOURNIQUET_FROM_SOURCE=1 (the tests) always runs
// the sources.
const { COMPILED_CLI, buildState } = require('./build-state');

const fromSource = process.env.TOURNIQUET_FROM_SOURCE ?? '';
if (!['', '0', '1'].includes(fromSource)) {
  process.stderr.write(
    `TOURNIQUET_FROM_SOURCE: expected 1 or 0, got ${JSON.stringify(fromSource.slice(0, 20))}\n`,
  );
  process.exit(2);
}
const state = fromSource === '1' ? 'source' : buildState();
if (state === 'current') {
  require(COMPILED_CLI);
} else {
  if (state === 'stale') {
    process.stderr.write(
      'tourniquet: dist/ is older than the sources, running from source (npm run build refreshes it)\n',
    );
  }
  require('tsx/cjs');
  require('../cli/main.ts');
}
