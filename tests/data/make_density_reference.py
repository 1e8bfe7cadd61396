#!/usr/bin/python3
"""Reference values for popalign's density tests, computed once with SciPy.

Run:  /usr/bin/python3 tests/data/make_density_reference.py
Writes tests/data/density/kde_scipy.txt (format: see tests/density/reference_file.hpp):
  per case: the data, weights, query points, SciPy's factor, neff, covariance (= popalign's
  kernel covariance H) and gaussian_kde.logpdf at the queries.

SciPy's convention: gaussian_kde(dataset, bw_method=f, weights=w) uses kernel covariance
H = f^2 * cov(dataset, aweights=w) with f = neff^(-1/(d+4)) (Scott) or
(neff (d+2)/4)^(-1/(d+4)) (Silverman), neff = 1 / sum(w^2) for sum-one w. popalign's
BandwidthRule::{scott, silverman, factor} are exactly this; a scalar bandwidth h in data units
is H = h^2 I.
"""
import os

import numpy as np
import scipy
from scipy.stats import gaussian_kde

HERE = os.path.dirname(os.path.abspath(__file__))


def write_array(f, name, a):
    a = np.atleast_2d(np.asarray(a, dtype=float))
    if a.shape[0] == 1 and a.ndim == 2 and name.endswith(("weights", "logpdf")):
        a = a.reshape(-1, 1)
    f.write(f"array {name} {a.shape[0]} {a.shape[1]}\n")
    for row in a:
        f.write(" ".join(repr(float(v)) for v in row) + "\n")


def write_scalar(f, name, v):
    f.write(f"scalar {name} {float(v)!r}\n")


def main():
    rng = np.random.default_rng(20261127)
    out = os.path.join(HERE, "density", "kde_scipy.txt")
    with open(out, "w") as f:
        f.write(f"# made by tests/data/make_density_reference.py with scipy {scipy.__version__}\n")
        cases = [
            ("w2", 2, 200, True, None),          # weighted, Scott
            ("w2s", 2, 200, True, "silverman"),  # weighted, Silverman
            ("u5", 5, 500, False, None),         # uniform, Scott, d = 5
            ("f3", 3, 150, True, 0.4),           # explicit factor
            ("u1", 1, 100, False, None),         # 1-D
        ]
        for name, d, n, weighted, bw in cases:
            A = rng.normal(size=(d, d)) * 0.5 + np.eye(d)
            data = rng.normal(size=(n, d)) @ A.T + rng.normal(size=d)
            w = rng.uniform(0.2, 2.0, size=n) if weighted else np.ones(n)
            w = w / w.sum()
            q = data[rng.integers(0, n, size=30)] + rng.normal(scale=0.7, size=(30, d))
            kde = gaussian_kde(data.T, bw_method=bw, weights=w if weighted else None)
            write_array(f, f"{name}.data", data)
            write_array(f, f"{name}.weights", w.reshape(-1, 1))
            write_array(f, f"{name}.queries", q)
            write_scalar(f, f"{name}.factor", kde.factor)
            write_scalar(f, f"{name}.neff", kde.neff)
            write_array(f, f"{name}.covariance", kde.covariance)
            write_array(f, f"{name}.logpdf", kde.logpdf(q.T).reshape(-1, 1))
    print("wrote", out)


if __name__ == "__main__":
    main()
