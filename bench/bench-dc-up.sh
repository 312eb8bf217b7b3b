#!/usr/bin/env bash
# The benchmark's own Samba AD DC: 110,000 users (OU=Bench10k, OU=Bench100k) on ldaps://127.0.0.2:636,
# in /var/tmp/syncshift-samba-bench. It is separate from the shared test DC on 127.0.0.1 because other
# people's tests count objects there and build tenants from the whole domain; 110,000 more users would
# make them slower. Seeding is one-time (~10 minutes); later runs find the DC and only start it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SYNCSHIFT_SAMBA_DIR="${SYNCSHIFT_BENCH_SAMBA_DIR:-/var/tmp/syncshift-samba-bench}"
ADDR=127.0.0.2
export PATH="$PATH:/usr/sbin:/sbin"

# Its own label: Samba binds every address of an interface named in `interfaces`, and the test DC
# names `lo`; a labelled address (lo:bench) is not part of `lo` for it.
if ! ip -4 addr show dev lo | grep -q "inet $ADDR/"; then
  ip addr add "$ADDR/8" dev lo label lo:bench || { echo "[bench-dc] ERROR: could not add $ADDR to lo (needs root)" >&2; exit 1; }
fi

# A folder without the bulk load's marker is a load that died half-way: start again from scratch.
if [ -d "$SYNCSHIFT_SAMBA_DIR" ] && [ ! -f "$SYNCSHIFT_SAMBA_DIR/bench-seed.done" ]; then
  echo "[bench-dc] $SYNCSHIFT_SAMBA_DIR has no completed bulk load; purging it"
  bash "$REPO/scripts/samba-down.sh" --purge
fi

# samba-tool's python bindings live in the system python, whatever python3 is first on PATH.
SYNCSHIFT_SAMBA_ADDR="$ADDR" SYNCSHIFT_SAMBA_INTERFACES="$ADDR" SYNCSHIFT_SAMBA_SEED=0 \
  SYNCSHIFT_SAMBA_PROVISION_ARGS="--backend-store=mdb --backend-store-size=4Gb" \
  SYNCSHIFT_SAMBA_PRELOAD="/usr/bin/python3 $REPO/bench/bulk-load-users.py" \
  SAMBA_WAIT_SECONDS="${SAMBA_WAIT_SECONDS:-300}" \
  bash "$REPO/scripts/samba-up.sh"
