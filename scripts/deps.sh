#!/usr/bin/env bash
# Installs what popalign needs on Debian 12 (run as root, or with sudo available).
# Idempotent and fast when everything is already there: it only calls apt-get / npm for what
# is missing.
#   scripts/deps.sh            build + test + benchmark dependencies
#   scripts/deps.sh --build    only what building the library and the CLI needs
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_pkgs=(g++ cmake ninja-build ccache pkg-config libeigen3-dev libfmt-dev nlohmann-json3-dev
  libcurl4-openssl-dev libsqlite3-dev libcli11-dev libnanoflann-dev libhnswlib-dev
  libtomlplusplus-dev)
test_pkgs=(libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev nodejs npm chromium
  python3-numpy python3-scipy python3-sklearn python3-pot python3-threadpoolctl libopenblas0-pthread
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-pandas python3-setuptools python3-venv
  clang-format-14 clang-tidy-14 clang-14 libclang-rt-14-dev libomp-14-dev)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build" ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  # nodejs/npm may come from elsewhere than Debian (e.g. a preinstalled Node): accept a working one.
  if [[ "$p" == nodejs ]] && command -v node >/dev/null 2>&1; then continue; fi
  if [[ "$p" == npm ]] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm packages (pinned by package-lock.json): the local model server used by the tests.
if [[ "${1:-}" != "--build" ]]; then
  for dir in "$here"/tests/support/*/; do
    if [[ -f "$dir/package-lock.json" ]]; then
      if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        echo "deps: npm ci in ${dir#$here/}" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
      fi
    fi
  done
fi
