#!/usr/bin/env python3
"""The cost curve of `align` at scale (docs/performance.md, "Alignment at 10^6 x 10^6").

Runs benchmarks/align/align_scale.cpp (popalign_align_scale) once per size, each in its own
process (peak RSS is per process), over
  * pool sizes 10^3 ... 10^6 against a 10^6-person reference (N = pool / 10, at most 10^5),
  * reference sizes 10^3 ... 10^6 against a 10^6-persona pool (N = 10^5),
with Scaling::compress, and writes every run's JSON to --out. Then draws time and peak RSS
against size on log axes with the least-squares slope of log(cost) on log(size) over the sizes
>= 10^4 (the fitted exponent), as an SVG (matplotlib, no timestamp: same data = same bytes).

  /usr/bin/python3 scripts/align_cost_curve.py --runner build/release/benchmarks/popalign_align_scale \
      --out benchmarks/align/cost_curve.json --svg docs/img/align_cost_curve.svg
  /usr/bin/python3 scripts/align_cost_curve.py --plot-only --out ... --svg ...   # redraw
  ... --max-size 100000     # trimmed: 10^3 ... 10^5 on both sides (a loaded machine)

Runs are `nice`d; the load average before and after each run is in its JSON record.
"""
import argparse
import json
import math
import os
import subprocess
import sys

SIZES = [1_000, 10_000, 100_000, 1_000_000]


def run(runner, pool, ref, extra):
    cmd = ["nice", runner, "--pool", str(pool), "--reference", str(ref), "--test", "200000"] + extra
    print(" ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rec = json.loads(out.strip().splitlines()[-1])
    print(f"  {rec['seconds']:.2f} s, {rec['peak_rss_mib']:.0f} MiB, load "
          f"{rec['load_before']:.1f}/{rec['load_after']:.1f}", file=sys.stderr, flush=True)
    return rec


def slope(xs, ys):
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x >= 10_000 and y > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    num = sum((p[0] - mx) * (p[1] - my) for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return num / den


def series(records, vary, size):
    fixed = "reference" if vary == "pool" else "pool"
    rs = sorted((r for r in records if r[fixed] == size and r["scaling"] == "compress"),
                key=lambda r: r[vary])
    return [r[vary] for r in rs], [r["seconds"] for r in rs], [r["peak_rss_mib"] for r in rs]


def sup(n):
    return "10" + str(round(math.log10(n))).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def plot(records, svg, size):
    import matplotlib
    matplotlib.use("svg")
    matplotlib.rcParams["svg.hashsalt"] = "popalign"
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    fits = {}
    for vary, label, marker in (("pool", f"pool size (reference {sup(size)})", "o"),
                                ("reference", f"reference size (pool {sup(size)})", "s")):
        xs, ts, ms = series(records, vary, size)
        st, sm = slope(xs, ts), slope(xs, ms)
        fits[vary] = {"time_exponent": st, "rss_exponent": sm}
        axes[0].loglog(xs, ts, marker=marker, label=f"{label}: slope {st:.2f}")
        axes[1].loglog(xs, ms, marker=marker, label=f"{label}: slope {sm:.2f}")
    axes[0].set_ylabel("align() wall time (s)")
    axes[1].set_ylabel("peak RSS (MiB)")
    for ax in axes:
        ax.set_xlabel("rows")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    loads = [r["load_before"] for r in records] + [r["load_after"] for r in records]
    fig.suptitle(f"popalign align, Scaling::compress, 8192 atoms, N = min(10⁵, pool/10), "
                 f"{len(records)} runs; "
                 f"load {min(loads):.1f}-{max(loads):.1f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(svg, metadata={"Date": None})
    return fits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runner", help="path of popalign_align_scale")
    ap.add_argument("--out", required=True, help="JSON file of the runs")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--extra", default="", help="extra arguments for every run")
    ap.add_argument("--max-size", type=int, default=1_000_000,
                    help="largest size and the fixed size of the other side (default 10^6; "
                         "smaller to trim the curve on a loaded machine)")
    a = ap.parse_args()
    if not a.plot_only:
        if not a.runner or not os.path.exists(a.runner):
            ap.error("--runner must name popalign_align_scale")
        extra = a.extra.split() if a.extra else []
        sizes = [s for s in SIZES if s <= a.max_size]
        top = sizes[-1]
        # Both series' sizes >= 10^4 first (the fit), the shared top point once, 10^3 last; the
        # records are written after every run, so an interrupted curve keeps what it measured.
        todo = [(p, top) for p in sizes[1:-1]] + [(top, m) for m in sizes[1:-1]] + [(top, top)]
        todo += [(sizes[0], top), (top, sizes[0])]
        records = []
        for p, m in todo:
            records.append(run(a.runner, p, m, extra))
            with open(a.out, "w") as f:
                json.dump(records, f, indent=1)
                f.write("\n")
    with open(a.out) as f:
        records = json.load(f)
    fits = plot(records, a.svg, max(r["pool"] for r in records))
    print(json.dumps(fits, indent=1))


if __name__ == "__main__":
    main()
