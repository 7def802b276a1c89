#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npm start` and `npx tourniquet` need no build step.
require('tsx/cjs');
require('../cli/main.ts');
