#!/usr/bin/env bash
# The README's test command: sets up everything the suite needs, then runs all of it.
#   Node.js 24 (scripts/use-node.sh) → npm ci (when needed) → PostgreSQL reachable → Samba AD up and seeded → Chromium installed
#   → typecheck → lint → jest
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
say() { printf '[test-all] %s\n' "$*"; }
die() { printf '[test-all] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/use-node.sh
source "$REPO/scripts/use-node.sh"
use_node

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund >/dev/null || die "npm ci failed; check access to the npm registry"
fi

# The store suite runs against PostgreSQL as well as PGlite.
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! node -e "const {Client}=require('pg');const c=new Client({connectionString:process.env.TEST_DATABASE_URL,connectionTimeoutMillis:3000});c.connect().then(()=>c.end()).catch(e=>{console.error(e.message);process.exit(1)})"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    say "PostgreSQL is not answering; trying to start it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    sleep 2
  fi
  node -e "const {Client}=require('pg');const c=new Client({connectionString:process.env.TEST_DATABASE_URL,connectionTimeoutMillis:3000});c.connect().then(()=>c.end()).catch(e=>{console.error(e.message);process.exit(1)})" \
    || die "PostgreSQL at $TEST_DATABASE_URL is not reachable; start it or set TEST_DATABASE_URL"
fi

say "bringing up Samba AD"
bash scripts/samba-up.sh

# The browser test drives Debian's Chromium (never a browser downloaded by a test tool).
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  say "$CHROMIUM is missing; installing Debian's chromium with apt-get for the browser test"
  mkdir -p .cache
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "installing Chromium needs root: run as root, or apt-get install chromium yourself"
    SUDO=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Chromium with this system's package manager and set CHROMIUM_PATH"
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >.cache/apt-chromium.log 2>&1; then
    "${SUDO[@]}" apt-get update >>.cache/apt-chromium.log 2>&1 || true
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >>.cache/apt-chromium.log 2>&1 \
      || die "apt-get could not install chromium (see .cache/apt-chromium.log); check access to the Debian mirror"
  fi
fi

say "typecheck"
npx tsc --noEmit -p tsconfig.json
say "lint (ESLint, then the layer rules of .dependency-cruiser.js)"
npm run --silent lint
say "jest"
# --forceExit: a handle a failing test leaves open must not keep CI waiting for hours after the
# results are in (it did once); --detectOpenHandles would name it but slows every suite.
CI="${CI:-true}" npx jest --forceExit "$@"
