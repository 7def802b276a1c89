#!/usr/bin/env node
'use strict';
// `npm run build`: compiles the sources to dist/ and writes the workflow bundle beside them, so `tourniquet` runs
// JavaScript with no compiler loaded and a worker starts without webpack. `--if-stale` (what `npm start` runs)
// builds only when dist/ is missing or older than the sources.
const { spawnSync } = require('node:child_process');
const { rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT, DIST, STAMP, buildState } = require('./build-state');

async function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--if-stale');
  if (unknown.length > 0) {
    process.stderr.write(`build: unknown argument ${unknown[0]} (expected nothing or --if-stale)\n`);
    return 2;
  }
  if (args.includes('--if-stale') && buildState() === 'current') return 0;

  const started = Date.now();
  // From scratch: files of deleted sources must not linger, and a failed build must leave nothing runnable.
  rmSync(DIST, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) {
    process.stderr.write('build: tsc failed\n');
    return 1;
  }
  const { bundleWorkflows } = require(join(DIST, 'worker', 'create-worker.js'));
  const bundle = await bundleWorkflows();
  writeFileSync(join(DIST, 'workflow-bundle.js'), bundle.code);
  writeFileSync(STAMP, `${JSON.stringify({ builtAt: new Date().toISOString(), node: process.version })}\n`);
  process.stderr.write(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`build: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
