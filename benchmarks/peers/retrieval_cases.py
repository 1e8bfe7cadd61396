#!/usr/bin/python3
"""Exact top-k retrieval: popalign's ExactIndex against scikit-learn and numpy, same run.

    /usr/bin/python3 benchmarks/peers/retrieval_cases.py \
        --runner build/<dir>/benchmarks/popalign_embedding_search_runner [--threads 2] [--quick]

Case: N = 100,000 base rows, D = 384, 1,000 queries, k = 10, cosine similarity, float32,
standard-normal data (numpy seed 7 for the peers; popalign's runner draws its own with
popalign::Rng seed 7: same distribution and sizes, and exact search time does not depend on the
values). Timed: the search only (index construction / fit() excluded on both sides).

Peers (subprocess /usr/bin/python3, OpenBLAS pthreads with OPENBLAS_NUM_THREADS = OMP_NUM_THREADS
= --threads, the fastest BLAS on this machine, so the comparison is not against reference BLAS):
  * sklearn.neighbors.NearestNeighbors(algorithm="brute", metric="cosine", n_jobs=threads)
    .kneighbors(Q, 10)
  * numpy: S = Qn @ Xn.T; argpartition(-S, k)[:, :k], then the k sorted (Xn, Qn normalised
    beforehand, outside the timing, like popalign's index rows)
Targets (docs/retrieval.md): ratio = peer_s / popalign_s >= 3 against scikit-learn and > 1
against numpy. Every side reports the median of `repeats` runs (default 3).

`cases(runner_path, threads=2, quick=False, repeats=3)` returns the list of result dicts
{"case", "popalign_s", "peer", "peer_s", "ratio", "target", "threads", "notes"} for
benchmarks/peers/run_peers.py; run alone, this file prints them as JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import textwrap

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"

PEER_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    n, d, q, k, threads, repeats, which = map(int, sys.argv[1:8])
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, d), dtype=np.float32)
    Q = rng.standard_normal((q, d), dtype=np.float32)
    out = {}
    if which in (0, 2):
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            S = Qn @ Xn.T
            part = np.argpartition(-S, k, axis=1)[:, :k]
            ps = np.take_along_axis(S, part, axis=1)
            order = np.argsort(-ps, axis=1)
            ids = np.take_along_axis(part, order, axis=1)
            times.append(time.perf_counter() - t0)
            del S
        out["numpy"] = float(np.median(times))
    if which in (1, 2):
        from sklearn.neighbors import NearestNeighbors
        nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine", n_jobs=threads)
        nn.fit(X)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            dist, ids = nn.kneighbors(Q, k)
            times.append(time.perf_counter() - t0)
        out["sklearn"] = float(np.median(times))
    print(json.dumps(out))
""")


def _peer_env(threads):
    env = dict(os.environ)
    if os.path.isdir(OPENBLAS):
        env["LD_LIBRARY_PATH"] = OPENBLAS + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)
    return env


def _run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cases(runner_path, threads=2, quick=False, repeats=3):
    n, d, q, k = (20000, 384, 200, 10) if quick else (100000, 384, 1000, 10)
    reps = 1 if quick else max(1, repeats)
    name = f"exact_topk_cosine_n{n}_d{d}_q{q}_k{k}"
    pop = _run_json([runner_path, str(n), str(d), str(q), str(k), str(threads), str(reps)])
    peers = _run_json(["/usr/bin/python3", "-c", PEER_SCRIPT, str(n), str(d), str(q), str(k),
                       str(threads), str(reps), "2"], env=_peer_env(threads))
    out = []
    for peer, label, target, note in (
            ("sklearn", "scikit-learn NearestNeighbors(brute, cosine)", 3.0,
             "median of %d runs each" % reps),
            ("numpy", "numpy matmul + argpartition (OpenBLAS)", 1.0,
             "median of %d runs each" % reps)):
        ps = peers[peer]
        out.append({"case": name, "popalign_s": pop["seconds"], "peer": label, "peer_s": ps,
                    "ratio": ps / pop["seconds"], "target": target, "threads": threads,
                    "notes": note})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runner", required=True, help="popalign_embedding_search_runner")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    res = cases(args.runner, threads=args.threads, quick=args.quick, repeats=args.repeats)
    print(json.dumps(res, indent=2))
    ok = all(r["ratio"] >= r["target"] for r in res)
    print("targets met" if ok else "TARGET MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
