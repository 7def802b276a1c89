#!/usr/bin/env bash
# The certificates for mTLS to the Temporal frontend in docker-compose.yml: a private CA, the Temporal server's
# certificate and one client certificate per service that connects to it. Needs only openssl (1.1 or 3).
#
#   deploy/temporal/make-certs.sh [--renew] [OUTPUT_DIR]
#
# OUTPUT_DIR defaults to deploy/temporal/certs, where docker-compose.yml mounts it from; never commit it (.gitignore
# lists it). Idempotent: a run creates what is missing and keeps every certificate that still verifies against the
# CA, matches its key and is valid for 30 more days; it reissues the others. --renew reissues every certificate and
# key (same CA): that is rotation; restart the services afterwards (README, "Production"). To replace the CA itself,
# move OUTPUT_DIR away, run this again and restart everything.
#
#   ca/ca.pem, ca/ca.key          the CA; its key is mounted nowhere
#   temporal/{ca,cert,key}.pem    the Temporal server (frontend and internode): names temporal, localhost and
#                                 127.0.0.1 (+ TEMPORAL_TLS_EXTRA_SANS, e.g. "DNS:temporal.internal,IP:10.0.0.5");
#                                 it is a client certificate too, for the server's own internode and worker calls
#   worker/ gateway/ ui/ admin/   a client certificate each (CN tourniquet-worker, tourniquet-gateway, temporal-ui,
#                                 temporal-admin-tools), with the CA's certificate: each service mounts its own only
#
# Keys are 0600, and the containers that read them (temporalio/auto-setup, the Tourniquet image) run as uid 1000:
# run this as uid 1000, or as root (sudo), which gives each service's directory to TOURNIQUET_CERTS_OWNER
# (default 1000:1000) and keeps the CA root's.
set -euo pipefail
umask 077

renew=false
out=''
for arg in "$@"; do
  case "$arg" in
    --renew) renew=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "make-certs.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) out="$arg" ;;
  esac
done
out="${out:-$(cd "$(dirname "$0")" && pwd)/certs}"

CA_DAYS=3650
LEAF_DAYS="${TOURNIQUET_CERT_DAYS:-365}"
RENEW_WITHIN_SECONDS=$((30 * 24 * 3600))
SERVER_SANS="DNS:temporal,DNS:localhost,IP:127.0.0.1${TEMPORAL_TLS_EXTRA_SANS:+,$TEMPORAL_TLS_EXTRA_SANS}"

command -v openssl > /dev/null || {
  echo 'make-certs.sh: openssl is not installed' >&2
  exit 1
}
mkdir -p "$out/ca"
chmod 700 "$out/ca"
work="$(mktemp -d "$out/.make-certs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null
  chmod 600 "$1"
}

# A minimal openssl config, so no system openssl.cnf (or its defaults) is involved.
cat > "$work/openssl.cnf" << 'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

ca_key="$out/ca/ca.key"
ca_pem="$out/ca/ca.pem"
if [[ -f $ca_key && -f $ca_pem ]]; then
  echo "kept    CA ($ca_pem)"
  openssl x509 -in "$ca_pem" -noout -checkend "$RENEW_WITHIN_SECONDS" > /dev/null ||
    echo "warning: the CA expires within 30 days: move $out away, run this again and restart everything" >&2
elif [[ -f $ca_key || -f $ca_pem ]]; then
  echo "make-certs.sh: $out/ca holds half a CA (ca.key or ca.pem alone); move it away and run this again" >&2
  exit 1
else
  new_key "$work/ca.key"
  openssl req -x509 -new -sha256 -days "$CA_DAYS" -key "$work/ca.key" -subj '/CN=Tourniquet Temporal CA' \
    -config "$work/openssl.cnf" -extensions ca -out "$work/ca.pem"
  chmod 644 "$work/ca.pem"
  mv -f "$work/ca.key" "$ca_key"
  mv -f "$work/ca.pem" "$ca_pem"
  echo "created CA ($ca_pem)"
fi

# Whether <dir>'s certificate can stay: signed by this CA, the pair of its key, valid for 30 more days.
usable() {
  local dir="$1"
  [[ -f $dir/cert.pem && -f $dir/key.pem ]] || return 1
  openssl verify -CAfile "$ca_pem" "$dir/cert.pem" > /dev/null 2>&1 || return 1
  openssl x509 -in "$dir/cert.pem" -noout -checkend "$RENEW_WITHIN_SECONDS" > /dev/null || return 1
  [[ "$(openssl x509 -in "$dir/cert.pem" -noout -pubkey)" == "$(openssl pkey -in "$dir/key.pem" -pubout 2> /dev/null)" ]]
}

# issue <name> <common name> <extendedKeyUsage> [subjectAltName]
issue() {
  local name="$1" cn="$2" eku="$3" sans="${4:-}" dir="$out/$1"
  mkdir -p "$dir"
  chmod 755 "$dir"
  if ! cmp -s "$ca_pem" "$dir/ca.pem"; then
    cp "$ca_pem" "$work/ca.pem" && chmod 644 "$work/ca.pem" && mv -f "$work/ca.pem" "$dir/ca.pem"
  fi
  if [[ $renew == false ]] && usable "$dir"; then
    echo "kept    $name ($cn)"
    return
  fi
  {
    echo '[leaf]'
    echo 'basicConstraints = critical, CA:FALSE'
    echo 'keyUsage = critical, digitalSignature'
    echo "extendedKeyUsage = $eku"
    echo 'subjectKeyIdentifier = hash'
    echo 'authorityKeyIdentifier = keyid:always'
    if [[ -n $sans ]]; then echo "subjectAltName = $sans"; fi
  } > "$work/$name.ext"
  new_key "$work/$name.key"
  openssl req -new -sha256 -key "$work/$name.key" -subj "/CN=$cn" -config "$work/openssl.cnf" -out "$work/$name.csr"
  openssl x509 -req -sha256 -days "$LEAF_DAYS" -in "$work/$name.csr" -CA "$ca_pem" -CAkey "$ca_key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$work/$name.ext" -extensions leaf \
    -out "$work/$name.pem" 2> /dev/null
  chmod 644 "$work/$name.pem"
  # Renames: no reader sees a half-written file. The services read theirs at start: restart them after a renewal.
  mv -f "$work/$name.key" "$dir/key.pem"
  mv -f "$work/$name.pem" "$dir/cert.pem"
  echo "issued  $name ($cn, $LEAF_DAYS days)"
}

issue temporal temporal serverAuth,clientAuth "$SERVER_SANS"
issue worker tourniquet-worker clientAuth
issue gateway tourniquet-gateway clientAuth
issue ui temporal-ui clientAuth
issue admin temporal-admin-tools clientAuth

services=("$out/temporal" "$out/worker" "$out/gateway" "$out/ui" "$out/admin")
if [[ "$(id -u)" == 0 ]]; then
  chown -R "${TOURNIQUET_CERTS_OWNER:-1000:1000}" "${services[@]}"
elif [[ "$(id -u)" != 1000 ]]; then
  echo "note: the containers run as uid 1000 and the keys are 0600: run this with sudo to give them the keys" >&2
fi
