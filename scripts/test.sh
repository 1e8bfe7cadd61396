#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, configure, build, and run
# the whole test suite (unit tests, integration tests against real loopback servers, examples,
# the install/consumer test). Extra arguments go to ctest (e.g. -R ot, -L llm).
#   PRESET=asan scripts/test.sh    the same under address+undefined sanitizers
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
preset="${PRESET:-release}"
bash scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" "$@"
