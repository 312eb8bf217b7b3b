#!/usr/bin/env bash
# Stops the test Samba DC started by scripts/samba-up.sh. --purge also deletes the DC folder ($SYNCSHIFT_SAMBA_DIR), so the
# next samba-up provisions and seeds from scratch.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SYNCSHIFT_SAMBA_DIR:-/var/tmp/syncshift-samba}"
PIDFILE="$DIR/run/samba.pid"
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done

say() { printf '[samba-down] %s\n' "$*"; }

# Same lock as samba-up.sh, so a stop never lands in the middle of someone's provision or seed.
mkdir -p "$REPO/.cache"
exec 9>"$DIR.lock"
flock -w 300 9 || { echo "[samba-down] ERROR: timed out waiting for $DIR.lock held by a running samba-up" >&2; exit 1; }

pid=""
if [ -f "$PIDFILE" ]; then
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  # Only signal the process if it still is our samba; a stale pid file may name something else now.
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! grep -qa samba "/proc/$pid/cmdline" 2>/dev/null; then
    pid=""
  fi
fi

if [ -n "$pid" ]; then
  say "stopping samba (pid $pid)"
  kill -TERM "$pid"
  # samba -D leads its own process group; its prefork workers outlive the root process briefly, and
  # a re-provision into the same directory must not race them.
  for _ in $(seq 1 40); do
    pgrep -g "$pid" >/dev/null 2>&1 || break
    sleep 0.25
  done
  if pgrep -g "$pid" >/dev/null 2>&1; then
    say "samba did not stop within 10s; sending SIGKILL to its process group $pid"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PIDFILE"
else
  say "samba is not running"
fi

# env.json says "the DC is up"; leaving it would let tests think so.
rm -f "$DIR/env.json"

if [ "$PURGE" -eq 1 ]; then
  rm -rf "$DIR"
  say "removed $DIR"
fi
