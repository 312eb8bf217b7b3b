#!/usr/bin/env bash
# Stops the test Samba DC started by scripts/samba-up.sh. --purge also deletes .cache/samba, so the
# next samba-up provisions and seeds from scratch.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$REPO/.cache/samba"
PIDFILE="$DIR/run/samba.pid"
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done

say() { printf '[samba-down] %s\n' "$*"; }

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
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "samba did not stop within 10s; sending SIGKILL to its process group"
    kill -KILL -- "-$(ps -o pgid= -p "$pid" | tr -d ' ')" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
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
