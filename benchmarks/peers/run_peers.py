#!/usr/bin/python3
"""Peer comparison: popalign against POT (and, through kde_cases.py, SciPy / scikit-learn) on
the same inputs, in the same run. Writes benchmarks/peers/peers.json, a list of
{"case", "popalign_s", "peer", "peer_s", "ratio", "target", ...} with ratio = peer_s / popalign_s
(median of >= 3 repeats each, all times kept; thread counts in "threads").

    /usr/bin/python3 benchmarks/peers/run_peers.py --runner build/<dir>/benchmarks/popalign_peer_runner
    /usr/bin/python3 benchmarks/peers/run_peers.py --runner ... --quick      # small smoke version

POT runs in a subprocess with OpenBLAS (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread,
OPENBLAS_NUM_THREADS = --threads) unless --reference-blas is given. Inputs: d = 5 Gaussian
samples, cost = squared Euclidean divided by its maximum, uniform weights.

Fair peer: the peer runs at its best. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which this
machine's environment sets, forcing OpenBLAS's Haswell kernels) are removed from the peer's
environment so that OpenBLAS picks its kernels for the actual CPU (--keep-blas-env keeps them);
the 10k case runs POT once more with the machine's environment and checks that the two give the
same result (iterations, cost, marginal errors), and every POT run records the BLAS library and
kernel threadpoolctl reports ("threadpool_info"). Timed runs alternate peer and popalign (one
solve per process, --repeats pairs) so that both see the same machine load; entries report the
medians, the ratio of the medians, the per-pair ratios and the load average.

Adding cases: every case is a function `case(ctx) -> list[dict]` in CASES. If
benchmarks/peers/kde_cases.py exists it is imported and `kde_cases.cases(ctx.kde_runner)` must
return a list of such functions (ctx has .quick, .threads, .repeats, .tmp, .python, .pot_env()).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
# Settings that pin OpenBLAS to other kernels / cache sizes than the CPU's own.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class Context:
    def __init__(self, args, tmp):
        self.quick = args.quick
        self.threads = args.threads
        self.repeats = 1 if args.quick else max(3, args.repeats)
        self.runner = args.runner
        self.kde_runner = args.kde_runner
        self.tmp = tmp
        self.python = "/usr/bin/python3"
        self.reference_blas = args.reference_blas
        self.keep_blas_env = args.keep_blas_env

    def pot_env(self, machine_env=False):
        """The peer's environment: OpenBLAS (unless --reference-blas), --threads threads, and,
        unless machine_env or --keep-blas-env, without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE."""
        env = dict(os.environ)
        if not (machine_env or self.keep_blas_env):
            for k in BLAS_OVERRIDES:
                env.pop(k, None)
        if not self.reference_blas:
            env["LD_LIBRARY_PATH"] = OPENBLAS + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(self.threads)
        return env

    def write_points(self, name, n, m, d, seed):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, d))
        y = rng.normal(size=(m, d)) * 0.9 + 0.3
        px, py = os.path.join(self.tmp, name + "_x.f64"), os.path.join(self.tmp, name + "_y.f64")
        x.astype("<f8").tofile(px)
        y.astype("<f8").tofile(py)
        return x, y, px, py


def max_sq_dist(x, y, block=200):
    """max_ij ||x_i - y_j||^2 without an n x m matrix."""
    yy = (y * y).sum(1)
    best = 0.0
    for s in range(0, len(x), block):
        xb = x[s:s + block]
        d2 = (xb * xb).sum(1)[:, None] + yy[None, :] - 2 * xb @ y.T
        best = max(best, float(d2.max()))
    return best


def true_errors(x, y, scale, reg, pot_path, block=500):
    """L1 marginal errors and <P, C> of popalign's final potentials evaluated independently in
    float64 (P_ij = a_i b_j exp((f_i + g_j - C_ij) / reg), uniform a, b, exact differences):
    the accuracy popalign reached, measured the way POT's own errors are."""
    n, m = len(x), len(y)
    fg = np.fromfile(pot_path, dtype="<f8")
    f, g = fg[:n], fg[n:]
    rows, cols, cost = np.zeros(n), np.zeros(m), 0.0
    for s in range(0, n, block):
        C = scale * ((x[s:s + block, None, :] - y[None, :, :]) ** 2).sum(-1)
        P = np.exp((f[s:s + block, None] + g[None, :] - C) / reg) / (n * m)
        rows[s:s + block] = P.sum(1)
        cols += P.sum(0)
        cost += float((P * C).sum())
    return dict(true_error_a=float(np.abs(rows - 1.0 / n).sum()), true_error_b=float(np.abs(cols - 1.0 / m).sum()),
                true_cost=cost)


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    line = out.stdout.strip().splitlines()[-1]
    # C++ prints non-finite numbers as nan / inf; Python's json reads NaN / Infinity.
    line = line.replace(": nan", ": NaN").replace(": -inf", ": -Infinity").replace(": inf", ": Infinity")
    return json.loads(line)


POT_SCRIPT = textwrap.dedent("""
    import json, os, sys, time, warnings
    import numpy as np, ot
    px, py, n, m, d, method, reg, tol, max_iter, repeats = sys.argv[1:11]
    n, m, d, repeats, max_iter = int(n), int(m), int(d), int(repeats), int(max_iter)
    reg, tol = float(reg), float(tol)
    x = np.fromfile(px, dtype="<f8").reshape(n, d)
    y = np.fromfile(py, dtype="<f8").reshape(m, d)
    M = ot.dist(x, y)
    M /= M.max()
    a = np.full(n, 1.0 / n); b = np.full(m, 1.0 / m)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            P, log = ot.sinkhorn(a, b, M, reg, method=method, numItermax=max_iter, stopThr=tol, log=True)
        times.append(time.perf_counter() - t0)
    try:
        from threadpoolctl import threadpool_info
        pools = [{k: v for k, v in p.items() if k in ("internal_api", "version", "num_threads",
                  "threading_layer", "architecture", "filepath")} for p in threadpool_info()]
    except ImportError:
        pools = "threadpoolctl not installed (Debian python3-threadpoolctl)"
    print(json.dumps(dict(times=times, min_s=min(times), median_s=float(np.median(times)), niter=int(log["niter"]),
                          err_a=float(np.abs(P.sum(1) - a).sum()), err_b=float(np.abs(P.sum(0) - b).sum()),
                          err_b_l2=float(np.linalg.norm(P.sum(0) - b)), cost=float((P * M).sum()),
                          blas_loaded=sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l}),
                          threadpool_info=pools,
                          openblas_env={k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")})))
""")


def pot_sinkhorn(ctx, px, py, n, m, d, method, reg, tol, max_iter, repeats, machine_env=False):
    return run_json([ctx.python, "-c", POT_SCRIPT, px, py, str(n), str(m), str(d), method, str(reg),
                     str(tol), str(max_iter), str(repeats)], env=ctx.pot_env(machine_env))


def alternate(ctx, peer, ours, pairs=None):
    """Runs peer() and ours() (each one timed solve, one "times" entry) alternately, pairs
    times, peer first. Returns (peer results, our results, summary) with the medians, the
    ratio of the medians, the per-pair ratios peer / ours and the load averages."""
    pairs = pairs or ctx.repeats
    load_before = os.getloadavg()
    peers, mine = [], []
    for _ in range(pairs):
        peers.append(peer())
        mine.append(ours())
    pt = [p["times"][0] for p in peers]
    ot_ = [q["times"][0] for q in mine]
    summary = dict(pairs=pairs, peer_times=pt, popalign_times=ot_,
                   pair_ratios=[p / q for p, q in zip(pt, ot_)],
                   median_pair_ratio=median(p / q for p, q in zip(pt, ot_)),
                   peer_median_s=median(pt), popalign_median_s=median(ot_),
                   ratio_of_medians=median(pt) / median(ot_),
                   loadavg_before=list(load_before), loadavg_after=list(os.getloadavg()),
                   order="alternating, peer first; one timed solve per process")
    print(json.dumps(dict(alternation=summary)), flush=True)
    return peers, mine, summary


def median(values):
    t = sorted(values)
    k = len(t)
    return t[k // 2] if k % 2 else 0.5 * (t[k // 2 - 1] + t[k // 2])


def popalign_sinkhorn(ctx, px, py, n, m, d, scale, reg, tol, precision="f32", storage="auto",
                      repeats=None, extra=()):
    cmd = [ctx.runner, "sinkhorn", "--x", px, "--y", py, "--n", str(n), "--m", str(m), "--d", str(d),
           "--scale", repr(scale), "--reg", repr(reg), "--tol", repr(tol), "--precision", precision,
           "--storage", storage, "--threads", str(ctx.threads),
           "--repeats", str(repeats or ctx.repeats)] + list(extra)
    return run_json(cmd)


def med(result):
    """Median of a run's "times" (popalign runner or POT subprocess)."""
    t = sorted(result["times"])
    k = len(t)
    return t[k // 2] if k % 2 else 0.5 * (t[k // 2 - 1] + t[k // 2])


def entry(case, pa, peer, peer_s, target, **extra):
    e = dict(case=case, popalign_s=pa, peer=peer, peer_s=peer_s,
             ratio=(peer_s / pa) if (pa and peer_s) else None, target=target)
    e.update(extra)
    print(json.dumps(e), flush=True)
    return e


def blas_env_check(machine, fair):
    """POT's results with the machine's OpenBLAS settings and without them must agree: same
    iteration count, cost and marginal errors to rounding."""
    rel = abs(machine["cost"] - fair["cost"]) / abs(machine["cost"])
    ok = (machine["niter"] == fair["niter"] and rel <= 1e-9 and
          abs(machine["err_b"] - fair["err_b"]) <= 1e-3 * machine["err_b"] + 1e-15)
    return dict(ok=ok, niter=[machine["niter"], fair["niter"]], cost_rel_diff=rel,
                err_b=[machine["err_b"], fair["err_b"]], machine_env=machine["openblas_env"],
                machine_env_time_s=machine["times"][0], fair_env=fair["openblas_env"])


# popalign's configuration for the 10k case: the points in double (the same problem as POT's),
# the stored kernel in float, the online eps-scaling reductions in float arithmetic.
POPALIGN_10K = ("f64", ["--kernel-f32", "1", "--float-reductions", "1", "--stored-cost", "1"])


def case_sinkhorn_10k(ctx, extra=None, label="f64 points, f32 kernel"):
    n = 2000 if ctx.quick else 10000
    d, reg, tol = 5, 0.01, 1e-9
    x, y, px, py = ctx.write_points("s10k", n, n, d, 1)
    scale = 1.0 / max_sq_dist(x, y)
    # POT once with the machine's OpenBLAS settings and once without: the results must agree
    # (the peer then runs without them, at its best).
    pot_machine = pot_sinkhorn(ctx, px, py, n, n, d, "sinkhorn", reg, tol, 100000, 1, machine_env=True)
    pot0 = pot_sinkhorn(ctx, px, py, n, n, d, "sinkhorn", reg, tol, 100000, 1)
    check = blas_env_check(pot_machine, pot0)
    if not check["ok"] and not ctx.keep_blas_env:
        raise SystemExit(f"POT's result changes without {BLAS_OVERRIDES}: {check}")
    # Same accuracy: popalign stops when both L1 marginal errors are <= the L1 column error POT
    # reached with its own rule (L2 norm of the column error <= 1e-9, checked every 10
    # iterations); POT's row error is ~1e-16 by construction of its last half-step.
    pa_tol = max(pot0["err_b"], 1e-12)
    precision, flags = POPALIGN_10K
    extra = list(flags if extra is None else extra)
    pots, pas, alt = alternate(
        ctx, lambda: pot_sinkhorn(ctx, px, py, n, n, d, "sinkhorn", reg, tol, 100000, 1),
        lambda: popalign_sinkhorn(ctx, px, py, n, n, d, scale, reg, pa_tol, precision, repeats=1, extra=extra))
    pa, pot = pas[-1], pots[-1]
    # popalign's accuracy measured independently in float64 from its final potentials.
    pot_path = os.path.join(ctx.tmp, "s10k_potentials.f64")
    popalign_sinkhorn(ctx, px, py, n, n, d, scale, reg, pa_tol, precision, repeats=1,
                      extra=extra + ["--dump-potentials", pot_path])
    pa = dict(pa, times=alt["popalign_times"], **true_errors(x, y, scale, reg, pot_path))
    pot = dict(pot, times=alt["peer_times"])
    stopping = (f"popalign: both L1 marginal errors <= {pa_tol:.3g} (= POT's final L1 column error in this run); "
                f"POT: stopThr {tol} on the L2 norm of the column error, checked every 10 iterations")
    common = dict(threads=ctx.threads, n=n, d=d, reg=reg, popalign=pa, pot=pot, alternation=alt,
                  blas_env_check=check, stopping=stopping,
                  notes=f"POT {pot['niter']} iterations, L1 column error {pot['err_b']:.3g}; popalign "
                        f"{pa['status']} after {pa['iterations']} iterations (+{pa['total_iterations'] - pa['iterations']} "
                        f"eps-scaling), L1 errors {pa['error_a']:.3g} / {pa['error_b']:.3g} (its own), "
                        f"{pa['true_error_a']:.3g} / {pa['true_error_b']:.3g} (float64 from its potentials), cost "
                        f"{pa['true_cost']:.10g} vs POT {pot['cost']:.10g}; "
                        f"load {alt['loadavg_before'][0]:.1f} -> {alt['loadavg_after'][0]:.1f}")
    peer = "ot.sinkhorn (OpenBLAS)" if not ctx.reference_blas else "ot.sinkhorn (reference BLAS)"
    kind = "stored" if pa["stored_kernel"] else "online"
    return [entry(f"sinkhorn n=m={n} reg {reg} ({label}, {kind})", alt["popalign_median_s"], peer,
                  alt["peer_median_s"], ">= 3x", **common)]


def case_sinkhorn_log_10k(ctx):
    n = 2000 if ctx.quick else 10000
    d, reg, tol = 5, 0.01, 1e-9
    x, y, px, py = ctx.write_points("s10k", n, n, d, 1)
    scale = 1.0 / max_sq_dist(x, y)
    pot_log = pot_sinkhorn(ctx, px, py, n, n, d, "sinkhorn_log", reg, tol, 100000, ctx.repeats)
    pa_tol = max(pot_log["err_b"], 1e-12)
    pa = popalign_sinkhorn(ctx, px, py, n, n, d, scale, reg, pa_tol, "f32")
    return [entry(f"sinkhorn n=m={n} reg {reg} (f32) vs log-domain", med(pa), "ot.sinkhorn_log",
                  med(pot_log), ">= 25x", threads=ctx.threads, n=n, d=d, reg=reg, popalign=pa, pot=pot_log,
                  stopping=f"popalign L1 marginal errors <= {pa_tol:.3g} (POT's final L1 column error)")]


def case_sinkhorn_small_reg(ctx):
    n = 300 if ctx.quick else 1000
    d, reg = 5, 1e-3
    x, y, px, py = ctx.write_points("s1e3", n, n, d, 2)
    scale = 1.0 / max_sq_dist(x, y)
    pot = pot_sinkhorn(ctx, px, py, n, n, d, "sinkhorn_log", reg, 1e-9, 3000, ctx.repeats)
    # popalign gets the same iteration budget as POT (3000 Sinkhorn iterations, plus its
    # Newton phase) and a 1e-8 L1 tolerance.
    pa = popalign_sinkhorn(ctx, px, py, n, n, d, scale, reg, 1e-8, "f64", extra=["--max-iter", "3000"])
    return [entry(f"sinkhorn n=m={n} reg {reg} (f64), tol L1 1e-8, 3000 iterations max", med(pa),
                  "ot.sinkhorn_log (3000 iterations)", med(pot), "converged to 1e-8 and >= 20x",
                  threads=ctx.threads, popalign=pa, pot=pot,
                  notes=f"POT stops at {pot['niter']} iterations with L1 column error {pot['err_b']:.3g}; "
                        f"popalign: {pa['status']} after {pa['iterations']} iterations + {pa['newton_steps']} Newton steps, "
                        f"L1 errors {pa['error_a']:.3g} / {pa['error_b']:.3g}")]


def case_sinkhorn_100k(ctx):
    n = 10000 if ctx.quick else 100000
    d, reg = 5, 0.01
    x, y, px, py = ctx.write_points("s100k", n, n, d, 3)
    scale = 1.0 / max_sq_dist(x, y)
    lse = run_json([ctx.runner, "lse", "--x", px, "--y", py, "--n", str(n), "--m", str(n), "--d", str(d),
                    "--c", repr(scale / reg), "--threads", str(ctx.threads), "--repeats", "3",
                    "--precision", "f32"])
    # Each iteration costs 2 n^2 pair evaluations (4 s at 5 G/s), so this case runs a fixed
    # number of iterations at the target reg (no eps-scaling, tol 0) rather than a full solve:
    # it measures the time per iteration and the peak memory, which do not depend on how many
    # iterations a solve takes. Median of the repeats.
    iters = 4
    pa = popalign_sinkhorn(ctx, px, py, n, n, d, scale, reg, 0.0, "f32", storage="online",
                           extra=["--cost", "0", "--eps-scaling", "0", "--max-iter", str(iters)])
    # A solve ends with one more row and column reduction (the final marginals), i.e. one
    # iteration's worth of kernel calls.
    per_iter = med(pa) / (pa["total_iterations"] + 1)
    kernel_iter = 2 * med(lse)
    rss_mib = pa["peak_rss_bytes"] / 2**20
    return [entry(f"sinkhorn n=m={n} reg {reg} (f32 online): time per iteration vs two kernel calls",
                  per_iter, "popalign gaussian_lse x2 (the kernel's own throughput)", kernel_iter,
                  "ratio >= 1/1.5 (iteration within 1.5x of the kernel)", threads=ctx.threads,
                  popalign=pa, kernel=lse, kernel_pairs_per_s=lse["pairs_per_s"],
                  peak_rss_mib=rss_mib, memory_target="< 1024 MiB",
                  notes=f"{pa['total_iterations']} iterations at reg {reg} (fixed count, no eps-scaling) in "
                        f"{med(pa):.1f} s (median of {len(pa['times'])}); peak RSS {rss_mib:.0f} MiB")]


CASES = [case_sinkhorn_small_reg, case_sinkhorn_10k, case_sinkhorn_log_10k, case_sinkhorn_100k]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runner", required=True, help="path to popalign_peer_runner")
    ap.add_argument("--kde-runner", default=None, help="path to the KDE runner (kde_cases.py)")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (smoke test)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference-blas", action="store_true", help="run POT with Debian's reference BLAS")
    ap.add_argument("--keep-blas-env", action="store_true",
                    help=f"keep {', '.join(BLAS_OVERRIDES)} in the peer's environment (default: removed)")
    ap.add_argument("--only", default=None, help="comma-separated substrings of case function names")
    ap.add_argument("--merge", action="store_true",
                    help="replace the entries of the cases run (by case name) in an existing --output, keep the others")
    ap.add_argument("--output", default=os.path.join(HERE, "peers.json"))
    args = ap.parse_args()
    cases = list(CASES)
    sys.path.insert(0, HERE)
    try:
        import kde_cases  # noqa: provided by the density benchmarks
        cases += list(kde_cases.cases(args.kde_runner))
    except ImportError:
        pass
    if args.only:
        keys = args.only.split(",")
        cases = [c for c in cases if any(k in c.__name__ for k in keys)]
    results = []
    with tempfile.TemporaryDirectory(prefix="popalign_peers_") as tmp:
        ctx = Context(args, tmp)
        for case in cases:
            results += case(ctx)
    if args.merge and os.path.exists(args.output):
        with open(args.output) as fh:
            old = json.load(fh)
        new_names = {r["case"] for r in results}
        kept = [r for r in old if r["case"] not in new_names]
        # Keep the file's order: a new entry takes the place of the old one of the same name.
        merged, by_name = [], {r["case"]: r for r in results}
        for r in old:
            merged.append(by_name.pop(r["case"]) if r["case"] in by_name else r)
        merged += list(by_name.values())
        print(f"merged: {len(results)} new entries, {len(kept)} kept")
        results = merged
    with open(args.output, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"wrote {args.output} ({len(results)} entries)")


if __name__ == "__main__":
    main()
