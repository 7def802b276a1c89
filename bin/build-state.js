'use strict';
// Whether dist/ holds a build of the sources beside it. Plain JavaScript: it runs before any build exists.
const { existsSync, readdirSync, readFileSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const DIST = join(ROOT, 'dist');
/** Written last by `npm run build`: a dist/ without it is missing or half built and is never run. */
const STAMP = join(DIST, 'build-info.json');
const COMPILED_CLI = join(DIST, 'cli', 'main.js');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return path.endsWith('.ts') ? stat.mtimeMs : 0;
  let newest = stat.mtimeMs; // a deleted or renamed file shows only as its directory's change
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/**
 * `current`: dist/ was built from the sources as they are now (or there are no sources: an image holding only the
 * build); `stale`: a source changed since; `missing`: never built, or the last build did not finish.
 */
function buildState(root = ROOT) {
  const stamp = join(root, 'dist', 'build-info.json');
  const buildConfig = join(root, 'tsconfig.build.json');
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', 'cli', 'main.js'))) return 'missing';
  if (!existsSync(buildConfig)) return 'current';
  const { include } = JSON.parse(readFileSync(buildConfig, 'utf8'));
  const inputs = [...include.map((dir) => join(root, dir)), buildConfig, join(root, 'tsconfig.json')];
  const newest = Math.max(
    ...inputs
      .filter((path) => existsSync(path))
      .map((path) => (statSync(path).isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)),
  );
  return newest > statSync(stamp).mtimeMs ? 'stale' : 'current';
}

module.exports = { ROOT, DIST, STAMP, COMPILED_CLI, buildState };
