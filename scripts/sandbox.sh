#!/usr/bin/env bash
# The README's first command (npm run sandbox): sets up what the demo needs on a fresh machine, then
# starts directory + Graph simulator + bot + relay agent + Agents Playground in one process.
#   Node.js 24 (scripts/use-node.sh) → npm ci (when needed) → [Samba AD up and seeded, with --directory samba]
#   → src/sandbox/run-sandbox.ts
#
#   bash scripts/sandbox.sh                     demo on the simulated directory; open http://localhost:56150
#   bash scripts/sandbox.sh --directory samba   the same, reading the test Samba AD DC
#   bash scripts/sandbox.sh --no-playground     headless
#   bash scripts/sandbox.sh --check             start, send /help and /verify pilot OU=Sales through
#                                               the Playground, check the cards, exit 0/1
#   bash scripts/sandbox.sh --check --no-playground   the same check sent straight to the bot over
#                                               HTTP (no browser client needed)
#   bash scripts/sandbox.sh --reset             start from an empty sandbox database
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
START=$(date +%s.%N)
elapsed() { awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
say() { printf '[sandbox] %s\n' "$*"; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }

DIRECTORY=simulated
expect_directory=0
for arg in "$@"; do
  if [ "$expect_directory" = 1 ]; then DIRECTORY="$arg"; expect_directory=0; continue; fi
  case "$arg" in
    --check|--no-playground|--reset|--help|-h) ;;
    --directory) expect_directory=1 ;;
    --directory=*) DIRECTORY="${arg#--directory=}" ;;
    *) die "unknown option $arg; use --directory simulated|samba, --check, --no-playground, --reset or --help" ;;
  esac
done
[ "$expect_directory" = 0 ] || die "--directory needs a value: simulated or samba"
case "$DIRECTORY" in
  simulated|samba) ;;
  *) die "--directory takes simulated or samba, not $DIRECTORY" ;;
esac

# shellcheck source=scripts/use-node.sh
source "$REPO/scripts/use-node.sh"
use_node

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  command -v npm >/dev/null 2>&1 || die "npm is not installed; it ships with Node.js, so reinstall Node.js 24 and re-run"
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund >/dev/null || die "npm ci failed (see the output above); check access to the npm registry and re-run"
fi
[ -f node_modules/@microsoft/m365agentsplayground/cli.js ] || die "the Agents Playground package is missing from node_modules; run npm ci and re-run"

if [ "$DIRECTORY" = samba ]; then
  say "bringing up Samba AD (scripts/samba-up.sh)"
  bash scripts/samba-up.sh || die "Samba AD could not be started (see above); with --directory samba the sandbox's agent reads its users from it"
fi

NODE_FLAGS=(--require ts-node/register/transpile-only)

say "set-up done in $(elapsed)s; starting the sandbox"
exec node "${NODE_FLAGS[@]}" src/sandbox/run-sandbox.ts "$@"
