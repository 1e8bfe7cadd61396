#!/usr/bin/env bash
# Fuzzes every parser (docs/reliability.md). Configures and builds the `fuzz` preset (clang-14,
# libFuzzer + address + undefined sanitizers) and then, for each target in fuzz/:
#   1. replays every input kept in fuzz/regressions/<target>/ (each must now pass);
#   2. fuzzes for SECONDS (default 60) from the seed corpus fuzz/corpus/<target>/ (the working
#      corpus grows in build/fuzz/corpus/<target>/, the repository's seeds are not touched);
#   3. keeps any crashing, leaking, timing-out or out-of-memory input in
#      fuzz/regressions/<target>/ (commit it with the fix).
# Expected errors (popalign::Error) are not findings; crashes, sanitizer reports, uncaught
# non-popalign exceptions, timeouts (>10 s per input) and >2 GB of memory are.
# Prints one line per target (executions, libFuzzer's cov: and ft:) and exits 1 on any finding.
#   scripts/fuzz.sh [SECONDS]      FUZZ_TARGETS="fuzz_json fuzz_csv" to run only some targets
#   FUZZ_SEED=N                    libFuzzer's -seed (default 1; 0 = a new random seed each run)
#   FUZZ_RUNS=N                    also stop each target after N inputs (libFuzzer's -runs). The
#                                  fuzzers run with a fixed seed, -reload=0 and, where the kernel
#                                  allows it, without address-space randomisation (setarch -R):
#                                  two runs of one build then try the same inputs in the same
#                                  order (with ASLR on they differ). A build in another checkout
#                                  still diverges (other addresses); docs/reliability.md
#   FUZZ_NEW_FINDINGS_FATAL=0      report new findings (and keep their inputs) but exit 0;
#                                  a failing regression input always exits 1
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
seconds="${1:-60}"
if [[ -n "${FUZZ_RUNS:-}" ]] && { ! [[ "$FUZZ_RUNS" =~ ^[0-9]+$ ]] || ((FUZZ_RUNS < 1)); }; then
  echo "fuzz.sh: FUZZ_RUNS must be a positive integer, got '$FUZZ_RUNS'" >&2
  exit 2
fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi
for tool in clang++-14 cmake ninja; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fuzz.sh: $tool not found (Debian: scripts/deps.sh installs clang-14 libclang-rt-14-dev)" >&2
    exit 2
  fi
done

build="$here/build/fuzz"
start=$(date +%s)
if [[ ! -f "$build/CMakeCache.txt" ]]; then cmake --preset fuzz >/dev/null; fi
cmake --build "$build" --target popalign_fuzzers -j2 >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log" >&2
  echo "fuzz.sh: the fuzz build failed (log: $build/build.log)" >&2
  exit 1
}
echo "fuzz: built the targets in $(($(date +%s) - start)) s"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
targets="${FUZZ_TARGETS:-$(cd fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//' | tr '\n' ' ')}"
mkdir -p "$build/logs"
findings=0
regressions=0
# Without ASLR, pointer comparisons (which libFuzzer's comparison tracing feeds back into the
# mutations) are the same from run to run. Kernels or containers that refuse it run as they are.
no_aslr=()
if setarch -R true >/dev/null 2>&1; then no_aslr=(setarch -R); fi
printf '%-18s %10s %8s %8s %8s %s\n' target executions cov ft corpus result
for t in $targets; do
  bin="$build/fuzz/$t"
  log="$build/logs/$t.log"
  result=ok
  # 1. Regressions: every kept input runs once and must not fail.
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" -timeout=10 -rss_limit_mb=2048 fuzz/regressions/"$t"/* >"$build/logs/$t.regressions.log" 2>&1; then
      result="REGRESSION (log: build/fuzz/logs/$t.regressions.log)"
      findings=$((findings + 1))
      regressions=$((regressions + 1))
    fi
  fi
  # 2. Fuzzing from the seeds.
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  rc=0
  "${no_aslr[@]}" "$bin" -seed="${FUZZ_SEED:-1}" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -reload=0 \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2 || true)
  if ((rc != 0)); then
    # 3. Keep what crashed as a regression input.
    mkdir -p "fuzz/regressions/$t"
    kept=0
    for a in "$artifacts"/*; do
      [[ -f "$a" ]] || continue
      cp "$a" "fuzz/regressions/$t/" && kept=$((kept + 1))
    done
    result="FINDING rc=$rc, $kept input(s) kept in fuzz/regressions/$t (log: build/fuzz/logs/$t.log)"
    findings=$((findings + 1))
  fi
  printf '%-18s %10s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
echo "fuzz: ${seconds} s per target, $findings finding(s) ($regressions failing regression input(s)), $(($(date +%s) - start)) s in all"
if ((regressions > 0)); then exit 1; fi
if ((findings > 0)) && [[ "${FUZZ_NEW_FINDINGS_FATAL:-1}" != 0 ]]; then exit 1; fi
if ((findings > 0)); then
  echo "fuzz: NEW FINDINGS above (inputs kept in fuzz/regressions/); not fatal here (FUZZ_NEW_FINDINGS_FATAL=0)"
fi
exit 0
