#!/usr/bin/env bash
# Installs n8n (the workflow automation platform) for the n8n provider tests: test/harness/n8n.ts starts
# `node node_modules/n8n/bin/n8n start` from this copy, and runs this script itself when the copy is missing.
# Idempotent and quiet. The copy lives in the user cache, outside the repo, like the Temporal CLI build:
#   ${XDG_CACHE_HOME:-~/.cache}/tourniquet/n8n-<version>
# It is built in a staging directory and renamed into place in one step, so a concurrent run (two jest workers,
# CI and a developer) never sees half an install: whoever renames first wins, the other discards its copy.
#
# The manifest and lock are test/fixtures/n8n/package{,-lock}.json. n8n 1.123 is the last line that runs on
# Node 20 (2.x needs Node 24), and it needs three adjustments here:
#   - its `xlsx` dependency is a tarball URL on a CDN this machine cannot reach: the manifest overrides it with
#     the registry's xlsx@0.18.5 (the lock records the same);
#   - `isolated-vm` does not build against Node 20's V8, so install scripts are skipped (--ignore-scripts) and the
#     one native module n8n cannot start without, sqlite3, is built from source here with node-gyp;
#   - the harness runs n8n with N8N_EXPRESSION_ENGINE=legacy, which does not load isolated-vm.
# About 1.8 GB and two minutes, plus about a minute for sqlite3.
set -euo pipefail

N8N_VERSION=1.123.81
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tourniquet/n8n-$N8N_VERSION"
marker="$cache/installed"

[ -f "$marker" ] && exit 0

here="$(cd "$(dirname "$0")/.." && pwd)"
fixture="$here/test/fixtures/n8n"
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "install-n8n: $tool not found (n8n $N8N_VERSION needs Node 20.19+ with npm)" >&2
    exit 1
  }
done
grep -q "\"n8n\": \"$N8N_VERSION\"" "$fixture/package.json" || {
  echo "install-n8n: $fixture/package.json does not pin n8n $N8N_VERSION" >&2
  exit 1
}

mkdir -p "$(dirname "$cache")"
# Only a rename creates $cache, and it carries the marker: a directory without it is not ours to trust.
if [ -e "$cache" ] && [ ! -f "$marker" ]; then
  rm -rf "$cache"
fi

staging="$(mktemp -d "$cache.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"
cp "$fixture/package.json" "$fixture/package-lock.json" "$staging/"
(
  cd "$staging"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$staging/npm-ci.log" 2>&1
) || {
  echo "install-n8n: npm ci failed:" >&2
  tail -n 30 "$staging/npm-ci.log" >&2
  exit 1
}

# npm bundles node-gyp; `npm exec node-gyp` would look in the registry when the bundled copy is not on PATH.
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
node_gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || {
  echo "install-n8n: npm's bundled node-gyp not found at $node_gyp" >&2
  exit 1
}
# The headers of the running Node, so that node-gyp does not try to download them (no network needed).
nodedir="$(npm config get nodedir 2>/dev/null || true)"
if [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ ! -f "$nodedir/include/node/node.h" ]; then
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
fi
gyp_args=(rebuild --jobs="${TOURNIQUET_BUILD_JOBS:-2}")
[ -f "$nodedir/include/node/node.h" ] && gyp_args+=(--nodedir="$nodedir")
(
  cd "$staging/node_modules/sqlite3"
  nice node "$node_gyp" "${gyp_args[@]}" >"$staging/sqlite3-build.log" 2>&1
) || {
  echo "install-n8n: building sqlite3 failed:" >&2
  tail -n 30 "$staging/sqlite3-build.log" >&2
  exit 1
}
# Only the addon is loaded; the object files are a few dozen MB of nothing.
rm -rf "$staging/node_modules/sqlite3/build/Release/obj" "$staging/node_modules/sqlite3/build/Release/obj.target"
(cd "$staging" && node -e 'require("sqlite3")') || {
  echo "install-n8n: the sqlite3 addon does not load" >&2
  exit 1
}
[ -f "$staging/node_modules/n8n/bin/n8n" ] || {
  echo "install-n8n: node_modules/n8n/bin/n8n missing after npm ci" >&2
  exit 1
}
echo "n8n@$N8N_VERSION" >"$staging/installed"

# rename(2) refuses a non-empty target: if another installer got there first, its copy stays and ours goes.
mv -T "$staging" "$cache" 2>/dev/null || true
[ -f "$marker" ] || {
  echo "install-n8n: $cache is incomplete after installing" >&2
  exit 1
}
