#!/usr/bin/env python3
"""What calling align() from Python costs against the C++ call, on the same arrays.

The case of benchmarks/align/align_speed.cpp: a 100,000-persona pool against 20,000 reference
people, d = 5, N = 10,000 distinct personas, method resample. The arrays are made here (NumPy,
seeded, the same shape of data as the C++ benchmark), saved as .npy, and aligned alternately by
  (a) popalign.align() from this Python process (zero-copy views of the arrays), and
  (b) popalign_python_align_call, a C++ program calling align<T>() on the same .npy files,
with the same options and seed (the selections are checked to be identical). Reported: the
median wall time of each side and their ratio, plus the in-process overhead of the binding
(Python wall time minus the time align() itself measured, Diagnostics.seconds).

    PYTHONPATH=build/release/python /usr/bin/python3 benchmarks/python/align_speed.py \
        --runner build/release/benchmarks/popalign_python_align_call [--reps 5] [--float32]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import popalign


def make_data(n, m, d, dtype):
    rng = np.random.default_rng(2026)
    common = rng.normal(size=(m, 1))
    ref = 3.0 + 0.6 * (0.3 * common + rng.normal(size=(m, d)))
    common = rng.normal(size=(n, 1))
    shift = np.where(np.arange(d) % 2 == 0, 0.2, -0.2)
    pool = 3.0 + shift + 0.45 * (0.3 * common + rng.normal(size=(n, d)))
    return np.ascontiguousarray(pool, dtype=dtype), np.ascontiguousarray(ref, dtype=dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--pool", type=int, default=100_000)
    ap.add_argument("--reference", type=int, default=20_000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--float32", action="store_true", help="float storage (the C++ default)")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args()
    dtype = np.float32 if a.float32 else np.float64
    pool, ref = make_data(a.pool, a.reference, a.d, dtype)
    tmp = tempfile.mkdtemp(prefix="popalign_bench_")
    pp, rp = os.path.join(tmp, "pool.npy"), os.path.join(tmp, "ref.npy")
    np.save(pp, pool)
    np.save(rp, ref)
    kind = "float" if a.float32 else "double"
    py_wall, py_inner, cpp_wall, cpp_inner = [], [], [], []
    first_py = first_cpp = None
    for r in range(a.reps):
        # alternate the order each repetition so neither side always runs on a warmer machine
        for side in (("py", "cpp") if r % 2 == 0 else ("cpp", "py")):
            if side == "py":
                t0 = time.perf_counter()
                res = popalign.align(pool, ref, n=a.n, seed=a.seed, threads=a.threads, copy=False)
                py_wall.append(time.perf_counter() - t0)
                py_inner.append(res.diagnostics.seconds)
                first_py = (len(res.indices), int(res.indices[0]))
            else:
                out = subprocess.run([a.runner, pp, rp, str(a.n), str(a.seed), "1", kind,
                                      str(a.threads)], check=True, capture_output=True, text=True)
                rec = json.loads(out.stdout.strip().splitlines()[-1])
                cpp_wall.append(rec["seconds"])
                cpp_inner.append(rec["inner"])
                first_cpp = (rec["selected"], rec["first"])
            print(f"rep {r + 1} {side}: {(py_wall if side == 'py' else cpp_wall)[-1]:.3f} s",
                  flush=True)
    assert first_py == first_cpp, (first_py, first_cpp)
    mp, mc = statistics.median(py_wall), statistics.median(cpp_wall)
    overhead = statistics.median([w - i for w, i in zip(py_wall, py_inner)])
    summary = {
        "case": f"align pool {a.pool} -> N {a.n}, reference {a.reference}, d {a.d}, {kind}",
        "reps": a.reps, "python_median_s": mp, "cpp_median_s": mc, "ratio_python_over_cpp": mp / mc,
        "binding_overhead_median_s": overhead, "python_s": py_wall, "cpp_s": cpp_wall,
        "same_selection": True,
    }
    print(json.dumps(summary, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
