#!/usr/bin/env bash
# Requests/s and RSS over time of one `popalign administer` process driving a fleet of loopback
# servers that answer at once (popalign_fault_server, mode "likert": one digit per call).
#
#   benchmarks/llm/fleet_throughput.sh BUILD_DIR PERSONAS [SERVERS] [FIRST_PORT] [WORKDIR]
#
# PERSONAS personas x 50 IPIP-50 items = calls (20000 personas = 10^6 calls). Starts SERVERS
# servers (default 2) on FIRST_PORT.. (default 18650), runs administer with --cache (SQLite,
# WAL; COMMIT_ROWS=512 in the environment for batched commits) and --concurrency 16 per server, samples the client's RSS every 5 s
# into WORKDIR/rss.csv (seconds, KB), and prints wall time, requests/s, CPU time and peak RSS.
# The servers and files are removed at the end (the output JSONL is kept in WORKDIR).
set -euo pipefail
build=${1:?build dir}
n=${2:?number of personas}
servers=${3:-2}
port0=${4:-18650}
work=${5:-$(mktemp -d)}
mkdir -p "$work"
cli="$build/bin/popalign"
srv="$build/tests/support/fault_server/popalign_fault_server"
/usr/bin/python3 - "$n" "$work/personas.jsonl" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"p{i}", "persona": f"I am persona number {i}. I like hiking, "
                            f"reading and long walks; I work as an engineer in city {i % 17}."}) + "\n")
PY
pids=()
urls=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for ((s = 0; s < servers; ++s)); do
  "$srv" $((port0 + s)) 64 > "$work/server$s.log" 2>&1 &
  pids+=($!)
  urls+=(--base-url "http://127.0.0.1:$((port0 + s))/likert/v1")
done
sleep 0.5
rm -f "$work/out.jsonl" "$work/cache.sqlite"*
start=$(date +%s.%N)
/usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" \
  "$cli" administer --personas "$work/personas.jsonl" --instrument ipip50 "${urls[@]}" \
  --model bench --out "$work/out.jsonl" --cache "$work/cache.sqlite" --concurrency 16 ${COMMIT_ROWS:+--cache-commit-rows $COMMIT_ROWS} \
  --progress-every 30 2> "$work/administer.log" &
admin=$!
echo "seconds,rss_kb" > "$work/rss.csv"
while kill -0 "$admin" 2>/dev/null; do
  child=$(pgrep -P "$admin" -x popalign || true)
  if [[ -n "$child" && -r /proc/$child/status ]]; then
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$child/status")
    now=$(date +%s.%N)
    echo "$(echo "$now - $start" | bc),$rss" >> "$work/rss.csv"
  fi
  sleep 5
done
wait "$admin"
read -r wall user sys maxrss < "$work/time.txt"
calls=$((n * 50))
echo "calls $calls, wall $wall s, $(echo "$calls / $wall" | bc) requests/s, CPU user $user s + sys $sys s, peak RSS $((maxrss / 1024)) MB"
echo "RSS samples (KB): first $(sed -n 2p "$work/rss.csv" | cut -d, -f2), median $(tail -n +2 "$work/rss.csv" | cut -d, -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'), last $(tail -1 "$work/rss.csv" | cut -d, -f2)"
tail -6 "$work/administer.log"
uptime
