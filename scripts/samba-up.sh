#!/usr/bin/env bash
# Brings up a throwaway Samba AD DC on loopback for the integration tests, seeds it, and writes
# $SYNCSHIFT_SAMBA_DIR/env.json (default /var/tmp/syncshift-samba). Safe to run again: an already running, seeded DC is left alone.
#
#   bash scripts/samba-up.sh          (or: npm run samba:up)
#   bash scripts/samba-down.sh        stops it; --purge also deletes the DC folder
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One DC per machine, not per checkout: its ports are machine-wide, so every clone (and CI run on
# this machine) shares it. SYNCSHIFT_SAMBA_DIR moves it.
DIR="${SYNCSHIFT_SAMBA_DIR:-/var/tmp/syncshift-samba}"
# A second DC (the benchmark's, see bench/bench-dc-up.sh) listens on another loopback address. Samba
# binds every address of an interface named in `interfaces`, so that address must carry its own label
# (lo:bench): `interfaces = lo` of the test DC then does not claim it.
ADDR="${SYNCSHIFT_SAMBA_ADDR:-127.0.0.1}"
IFACES="${SYNCSHIFT_SAMBA_INTERFACES:-lo}"
# 0 skips the test seed (scripts/seed-ad.ts); a DC for another purpose brings its own data.
SEED_TEST_DATA="${SYNCSHIFT_SAMBA_SEED:-1}"
# A command run once, after provisioning and before samba starts, with the DC folder as its argument:
# offline bulk loads into sam.ldb are much faster than LDAP adds.
PRELOAD="${SYNCSHIFT_SAMBA_PRELOAD:-}"
# Extra samba-tool provision options, e.g. --backend-store=mdb for a DC with 100,000 users.
read -r -a PROVISION_ARGS <<<"${SYNCSHIFT_SAMBA_PROVISION_ARGS:-}"
REALM=CONTOSO.COM
DOMAIN=CONTOSO
BASE_DN='DC=contoso,DC=com'
BIND_DN="CN=Administrator,CN=Users,$BASE_DN"
# Test-only credential; it has to satisfy Samba's default complexity rules (3 character classes, 7+).
ADMIN_PASS='Syncshift-Test-Pa55!'
URL="ldaps://$ADDR:636"
CA="$DIR/private/tls/ca.pem"
PIDFILE="$DIR/run/samba.pid"
PASSFILE="$DIR/admin.pass"
# Kept in step with SEED_MARKER_DN in src/sandbox/forest-spec.ts.
SEED_MARKER_DN="CN=SyncShift Seed,$BASE_DN"
SEED_VERSION="$(sed -n 's/^export const SEED_VERSION = \([0-9][0-9]*\);.*/\1/p' "$REPO/src/sandbox/forest-spec.ts")"
[ -n "$SEED_VERSION" ] || { echo "[samba-up] ERROR: SEED_VERSION not found in src/sandbox/forest-spec.ts" >&2; exit 1; }
WAIT_SECONDS="${SAMBA_WAIT_SECONDS:-60}"

START=$(date +%s.%N)
say() { printf '[samba-up] %s\n' "$*"; }
die() { printf '[samba-up] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# samba-ad-provision holds the AD schema files; it is only a Recommends of samba-ad-dc, which
# --no-install-recommends skips, and provisioning then fails half-way.
PACKAGES="samba samba-ad-dc samba-ad-provision ldap-utils winbind openssl"

install_packages() {
  # /usr/sbin is not on every PATH, and that is where the samba daemon lives.
  export PATH="$PATH:/usr/sbin:/sbin"
  command -v samba-tool >/dev/null 2>&1 && command -v samba >/dev/null 2>&1 && command -v ldapsearch >/dev/null 2>&1 \
    && command -v openssl >/dev/null 2>&1 && [ -d /usr/share/samba/setup/ad-schema ] && return 0
  say "samba-tool, samba, the AD schema files (samba-ad-provision), ldapsearch or openssl is missing; installing $PACKAGES with apt-get"
  local SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "installing Samba needs root: run this script as root, or install $PACKAGES yourself"
    SUDO=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $PACKAGES with this system's package manager, then re-run"
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES >"$REPO/.cache/apt-samba.log" 2>&1; then
    # A fresh machine often has no package lists yet; one update is worth a retry.
    "${SUDO[@]}" apt-get update >>"$REPO/.cache/apt-samba.log" 2>&1 || true
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES >>"$REPO/.cache/apt-samba.log" 2>&1 \
      || die "apt-get could not install Samba (see $REPO/.cache/apt-samba.log); check network access to the Debian mirror"
  fi
  # The distro's own smbd/nmbd/samba-ad-dc units would fight ours for ports 389/636/445.
  if command -v systemctl >/dev/null 2>&1; then
    "${SUDO[@]}" systemctl disable --now samba-ad-dc smbd nmbd winbind >/dev/null 2>&1 || true
  fi
}

samba_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa samba "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ldaps_answers() {
  [ -f "$CA" ] || return 1
  LDAPTLS_CACERT="$CA" LDAPTLS_REQCERT=demand timeout 5 \
    ldapsearch -LLL -o nettimeout=3 -H "$URL" -x -D "$BIND_DN" -y "$PASSFILE" -b '' -s base defaultNamingContext \
    2>/dev/null | grep -qi "^defaultNamingContext: $BASE_DN"
}

# Someone else's LDAP server on 389/636 would make our samba fail to bind (or worse, answer for it).
check_ports_free() {
  local busy=""
  for port in 389 636; do
    if (exec 3<>"/dev/tcp/$ADDR/$port") 2>/dev/null; then busy="$busy $port"; fi
  done
  if [ -n "$busy" ]; then
    local who=""
    command -v ss >/dev/null 2>&1 && who="$(ss -ltnpH 2>/dev/null | grep -E ':(389|636)\b' || true)"
    die "port(s)$busy on $ADDR are already in use by another process${who:+: $who}. Stop that LDAP server (e.g. slapd, or a samba started elsewhere: systemctl stop samba-ad-dc) and re-run"
  fi
}

# ldb:nosync skips the fsync after every LDAP write: a throwaway test DC needs no durability, and the
# seed's ~1,300 adds are each their own transaction.
provision() {
  say "provisioning domain $REALM into $DIR"
  local attempt
  # Seen once here: provision died silently half-way under heavy machine load; a clean retry worked.
  for attempt in 1 2; do
    rm -rf "$DIR"
    mkdir -p "$DIR/run" "$DIR/log"
    if samba-tool domain provision \
      --realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=NONE \
      --adminpass="$ADMIN_PASS" --targetdir="$DIR" --host-name=dc1 \
      --option="interfaces = $IFACES" --option="bind interfaces only = yes" \
      --option="pid directory = $DIR/run" --option="log file = $DIR/log/%m" \
      --option="ldb:nosync = true" ${PROVISION_ARGS[@]+"${PROVISION_ARGS[@]}"} \
      >"$DIR/log/provision.log" 2>&1; then
      break
    fi
    if [ "$attempt" -eq 2 ]; then
      tail -n 20 "$DIR/log/provision.log" >&2
      die "samba-tool domain provision failed twice (full log: $DIR/log/provision.log)"
    fi
    cp "$DIR/log/provision.log" "$REPO/.cache/samba-provision-failed.log"
    say "provision failed (log kept in .cache/samba-provision-failed.log); retrying once"
  done

  # The cache outlives the default 42-day maximum password age; an expired Administrator password
  # would turn every test into a bind failure weeks from now.
  samba-tool domain passwordsettings set -H "$DIR/private/sam.ldb" -s "$DIR/etc/smb.conf" \
    --max-pwd-age=0 --min-pwd-age=0 >>"$DIR/log/provision.log" 2>&1 \
    || die "could not relax the password policy (see $DIR/log/provision.log)"
  samba-tool user setexpiry Administrator --noexpiry -H "$DIR/private/sam.ldb" -s "$DIR/etc/smb.conf" \
    >>"$DIR/log/provision.log" 2>&1 || die "could not make the Administrator password non-expiring (see $DIR/log/provision.log)"
  make_tls
}

# Samba's self-generated certificate names only DC1.contoso.com and has no subjectAltName, so a
# client connecting to 127.0.0.1 with hostname checks on would reject it. A certificate that names
# the loopback address lets the tests keep full verification instead of switching it off.
make_tls() {
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to create the test certificate; install it (apt-get install openssl)"
  local tls="$DIR/private/tls"
  mkdir -p "$tls"
  local ext
  ext="$(mktemp)"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s,DNS:localhost,DNS:dc1.contoso.com,DNS:dc1\n' "$ADDR" >"$ext"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=SyncShift Test/CN=SyncShift Test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$tls/ca-key.pem" -out "$tls/ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj "/O=SyncShift Test/CN=dc1.contoso.com" -keyout "$tls/key.pem" -out "$tls/cert.csr"
    openssl x509 -req -in "$tls/cert.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -days 3650 \
      -extfile "$ext" -out "$tls/cert.pem"
  } >>"$DIR/log/provision.log" 2>&1 || { rm -f "$ext"; die "openssl could not create the test certificate (see $DIR/log/provision.log)"; }
  rm -f "$ext" "$tls/cert.csr"
  # Samba refuses a private key that others can read.
  chmod 600 "$tls/key.pem" "$tls/ca-key.pem"
}

start_samba() {
  check_ports_free
  mkdir -p "$DIR/run" "$DIR/log"
  say "starting samba (ldap, cldap only)"
  # 9>&-: the daemon must not inherit the lock's descriptor, or it would hold the lock for its lifetime.
  samba -s "$DIR/etc/smb.conf" -D --option="server services = ldap, cldap" 9>&- \
    || die "samba did not start; see $DIR/log/samba"
}

wait_for_ldaps() {
  local deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until ldaps_answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$DIR/log/samba" >&2 2>/dev/null || true
      die "LDAPS on $URL did not answer within ${WAIT_SECONDS}s (log: $DIR/log/samba). Try: bash scripts/samba-down.sh --purge && bash scripts/samba-up.sh"
    fi
    if ! samba_pid >/dev/null; then
      tail -n 20 "$DIR/log/samba" >&2 2>/dev/null || true
      die "samba exited while starting (log: $DIR/log/samba)"
    fi
    sleep 0.5
  done
}

is_seeded() {
  LDAPTLS_CACERT="$CA" timeout 10 ldapsearch -LLL -o nettimeout=5 -H "$URL" -x -D "$BIND_DN" -y "$PASSFILE" \
    -b "$SEED_MARKER_DN" -s base description 2>/dev/null | grep -qx "description: complete; version $SEED_VERSION"
}

write_env() {
  local file="$1"
  cat >"$file.tmp" <<EOF
{
  "url": "$URL",
  "bindDn": "$BIND_DN",
  "password": "$ADMIN_PASS",
  "caPath": "$CA",
  "baseDn": "$BASE_DN"
}
EOF
  mv "$file.tmp" "$file"
}

run_seed() {
  local tsnode="$REPO/node_modules/.bin/ts-node"
  [ -x "$tsnode" ] || die "ts-node not found in node_modules; run npm ci in $REPO first"
  say "seeding (scripts/seed-ad.ts)"
  # The seed reads its connection from this file; env.json itself only appears once seeding worked,
  # so tests never run against a half-seeded directory.
  write_env "$DIR/env.seed.json"
  (cd "$REPO" && SEED_ENV_FILE="$DIR/env.seed.json" "$tsnode" --transpile-only scripts/seed-ad.ts) \
    || die "seeding failed (see output above); re-run bash scripts/samba-up.sh once the cause is fixed (the seed is idempotent)"
  rm -f "$DIR/env.seed.json"
}

mkdir -p "$REPO/.cache"
# test-all, the sandbox and people run this concurrently; two provisions into one directory wreck
# each other, so runs take turns (a waiting run then finds the DC up and returns at once).
exec 9>"$DIR.lock"
if ! flock -n 9; then
  say "another samba-up/samba-down is running; waiting for it (up to 300s)"
  flock -w 300 9 || die "timed out waiting for the lock $DIR.lock held by another samba-up/samba-down; check for a stuck run (fuser $DIR.lock)"
fi
install_packages

if [ -f "$DIR/private/sam.ldb" ] && [ -f "$DIR/etc/smb.conf" ] && [ -f "$CA" ]; then
  if pid="$(samba_pid)"; then
    say "samba already running (pid $pid)"
  else
    start_samba
  fi
else
  if pid="$(samba_pid)"; then die "a samba (pid $pid) is running from an incomplete $DIR; run bash scripts/samba-down.sh --purge first"; fi
  check_ports_free
  provision
  if [ -n "$PRELOAD" ]; then
    say "preloading with: $PRELOAD $DIR"
    $PRELOAD "$DIR" || die "the preload ($PRELOAD) failed; fix it, then bash scripts/samba-down.sh --purge and re-run (with the same SYNCSHIFT_SAMBA_DIR)"
  fi
  start_samba
fi
printf '%s' "$ADMIN_PASS" >"$PASSFILE"
chmod 600 "$PASSFILE"

wait_for_ldaps
say "LDAPS answers on $URL after $(elapsed)s"

if [ "$SEED_TEST_DATA" = 0 ]; then
  say "test seed skipped (SYNCSHIFT_SAMBA_SEED=0)"
elif is_seeded; then
  say "directory already seeded"
else
  run_seed
  is_seeded || die "the seed finished but its marker ($SEED_MARKER_DN) is missing; re-run bash scripts/samba-up.sh"
fi

write_env "$DIR/env.json"
say "ready in $(elapsed)s: $DIR/env.json"
