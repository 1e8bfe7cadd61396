#!/usr/bin/env bash
# The offline install: a venv over Debian's site-packages (numpy, pandas, setuptools, pybind11),
# `pip install --no-build-isolation --no-index python/`, then `import popalign` from a directory
# outside the source and build trees, and a small alignment.
set -euo pipefail
src="$1"
py="${POPALIGN_PYTHON:-/usr/bin/python3}"
work="${POPALIGN_PIP_WORK:-$(mktemp -d)}"
rm -rf "$work"
mkdir -p "$work"
"$py" -m venv --system-site-packages "$work/venv"
# The extension's CMake build tree: POPALIGN_PIP_BUILD (kept between runs), else under $work.
# pip builds in the source directory it is given: a copy of python/, so the checkout stays clean.
cp -r "$src/python" "$work/python"
POPALIGN_SOURCE_DIR="$src" POPALIGN_BUILD_TEMP="${POPALIGN_PIP_BUILD:-$work/build}" \
  CMAKE_BUILD_PARALLEL_LEVEL=2 \
  "$work/venv/bin/pip" install --no-build-isolation --no-index -q "$work/python"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import numpy as np, popalign, os
assert "venv" in popalign.__file__, popalign.__file__
rng = np.random.default_rng(1)
r = popalign.align(rng.normal(0.3, 0.7, (400, 3)), rng.normal(size=(300, 3)), n=40, seed=1)
assert r.diagnostics.selected == 40
assert popalign.load_instrument("ipip50").id == "ipip50_bfm"
c = popalign.load_config({"run_dir": "r", "input": {"personas": "p.jsonl"}},
                         respondent=lambda requests: [""] * len(requests))
assert c.models["respondent"]["base_url"] == "python:callable", c.models
typed = os.path.join(os.path.dirname(popalign.__file__), "py.typed")
assert os.path.exists(typed) and os.path.exists(os.path.join(os.path.dirname(popalign.__file__), "_core.pyi"))
print("pip install ok:", popalign.__version__, popalign.__file__)
PY
