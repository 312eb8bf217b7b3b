#!/usr/bin/env bash
# npm run bench: bench DC up (one-time seeding), product compiled as `npm run build` would, then the
# benchmark itself. Needs root (for the 127.0.0.2 address and Samba) and PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
say() { printf '[bench] %s\n' "$*"; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/use-node.sh
source "$REPO/scripts/use-node.sh"
use_node
[ -d node_modules ] || { say "installing npm packages (npm ci)"; npm ci --no-audit --no-fund >/dev/null; }
say "bench DC (127.0.0.2): starting it, seeding 110,000 users the first time only"
bash bench/bench-dc-up.sh
say "compiling the product and the benchmark into .cache/bench-build"
rm -rf .cache/bench-build
node_modules/.bin/tsc -p bench/tsconfig.json
cp -r src/store/migrations .cache/bench-build/src/store/migrations
BENCH_REPO="$REPO" node .cache/bench-build/bench/run-bench.js "$@"
