#!/usr/bin/env bash
# Installs moto (an AWS emulator, server mode) for the aws-iam provider tests: test/harness/moto.ts starts
# `python -m moto.server` from this virtualenv, and runs this script itself when the copy is missing.
# Idempotent and quiet. The copy lives in the user cache, outside the repo, like the Temporal CLI build:
#   ${XDG_CACHE_HOME:-~/.cache}/tourniquet/moto-<version>
# It is built in a staging directory and renamed into place in one step, so a concurrent run (two jest workers,
# CI and a developer) never sees half an install: whoever renames first wins, the other discards its copy.
set -euo pipefail

MOTO_VERSION=5.2.6
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tourniquet/moto-$MOTO_VERSION"
marker="$cache/installed"

[ -f "$marker" ] && exit 0

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || {
  echo "install-moto: $python not found (moto needs Python 3.9+ with the venv module)" >&2
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
"$python" -m venv "$staging"
"$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  "moto[server]==$MOTO_VERSION" >/dev/null
"$staging/bin/python" -c 'import moto.server' >/dev/null
echo "moto[server]==$MOTO_VERSION" >"$staging/installed"

# rename(2) refuses a non-empty target: if another installer got there first, its copy stays and ours goes.
mv -T "$staging" "$cache" 2>/dev/null || true
[ -f "$marker" ] || {
  echo "install-moto: $cache is incomplete after installing" >&2
  exit 1
}
