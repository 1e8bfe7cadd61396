#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build the `popalign`
# program, and run the demo on the data that ships in data/ (no network, no LLM needed).
# Output goes to ./demo-out (override with OUT=dir). Extra arguments go to `popalign demo`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/deps.sh --build
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOPALIGN_BUILD_TESTS=OFF \
  -DPOPALIGN_BUILD_BENCHMARKS=OFF -DPOPALIGN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/demo --target popalign_cli -j 2
out="${OUT:-$here/demo-out}"
mkdir -p "$out"
exec build/demo/bin/popalign demo --data-dir "$here/data" --out-dir "$out" "$@"
