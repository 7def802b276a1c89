#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the tests (test/harness/postgres.ts runs a private instance of it),
# only when no server binary is present. Idempotent and quiet.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The package's own cluster is not used; the policy-rc.d answer keeps its service from starting during install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends postgresql >/dev/null

compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || {
  echo 'install-postgres: postgresql installed but no server binary under /usr/lib/postgresql' >&2
  exit 1
}
