#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, configure, build, check
# format and lint, and run the whole test suite (unit tests, integration tests against real
# loopback servers, examples, compile-fail tests, the install and add_subdirectory consumer
# tests). Extra arguments go to ctest (e.g. -R ot, -L llm).
#   PRESET=asan scripts/test.sh    the same under address+undefined sanitizers
#   LINT=0 scripts/test.sh         skip scripts/lint.sh (format + clang-tidy; fails on new findings)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
preset="${PRESET:-release}"
bash scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
if [[ "${LINT:-1}" != 0 ]]; then
  BUILD="build/$preset" bash scripts/lint.sh
fi
ctest --preset "$preset" "$@"
