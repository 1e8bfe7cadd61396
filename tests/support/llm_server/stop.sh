#!/usr/bin/env bash
# Stops the server started by start.sh.   stop.sh PIDFILE
set -uo pipefail
pidfile="${1:?usage: stop.sh PIDFILE}"
[[ -f "$pidfile" ]] || exit 0
pid="$(cat "$pidfile")"
if grep -qa "server.mjs" "/proc/$pid/cmdline" 2>/dev/null; then  # still our server
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  grep -qa "server.mjs" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
fi
rm -f "$pidfile"
exit 0
