#!/usr/bin/env bash
# Starts the test LLM server in the background and waits until GET /v1/models answers.
#   start.sh PORT PIDFILE [LOGFILE]
# Used by the ctest fixture `llm_server` (tests/llm/CMakeLists.txt). Installs the npm
# dependencies first if node_modules is missing (scripts/deps.sh normally does that).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:?usage: start.sh PORT PIDFILE [LOGFILE]}"
pidfile="${2:?usage: start.sh PORT PIDFILE [LOGFILE]}"
logfile="${3:-${pidfile%.pid}.log}"

# A server left by an interrupted run of this build (only if that PID is still our server).
if [[ -f "$pidfile" ]]; then
  old="$(cat "$pidfile")"
  if grep -qa "server.mjs" "/proc/$old/cmdline" 2>/dev/null; then
    kill "$old" 2>/dev/null || true
    sleep 0.5
  fi
fi
if [[ ! -d "$here/node_modules/node-llama-cpp" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >"$logfile.npm" 2>&1) || {
    echo "npm ci failed in $here (see $logfile.npm)" >&2; exit 1; }
fi
# GET /v1/models with node's fetch (no curl needed).
probe() {
  node -e "fetch('http://127.0.0.1:$port/v1/models').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
    >/dev/null 2>&1
}
nohup node "$here/server.mjs" "$port" >"$logfile" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 300); do
  # Our own server must be the one listening (not another run's on the same port).
  if grep -q "popalign test LLM server:" "$logfile" 2>/dev/null && kill -0 "$(cat "$pidfile")" 2>/dev/null && probe; then
    echo "test LLM server up on http://127.0.0.1:$port (pid $(cat "$pidfile"))"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "test LLM server exited (port $port in use? set POPALIGN_TEST_LLM_PORT); its log:" >&2
    cat "$logfile" >&2; exit 1
  fi
  sleep 0.2
done
echo "test LLM server did not answer on port $port within 60 s; log:" >&2
cat "$logfile" >&2
kill "$(cat "$pidfile")" 2>/dev/null || true
exit 1
