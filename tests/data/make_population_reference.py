#!/usr/bin/python3
"""Reference values for the five population metrics (tests/metrics/population_test.cpp,
frechet_test.cpp), computed independently with NumPy and SciPy.

Run:  /usr/bin/python3 tests/data/make_population_reference.py
Writes tests/data/metrics/population_reference.txt (format: tests/density/reference_file.hpp).

  fd.*   two weighted 3-D samples with correlated traits: Fréchet distance of the weighted Gaussian
         fits (np.cov(aweights=w, bias=True)) with the textbook trace term
         tr(sqrtm(S_a @ S_b)) from scipy.linalg.sqrtm (a non-symmetric route, so it checks
         popalign's symmetric form independently).
  pop.*  a weighted 4-D sample a (58 rows) and a weighted reference b (40 rows), b shifted and
         rescaled per trait: both standardised by b's weighted mean and population sd, then
         mean per-trait W1 (scipy.stats.wasserstein_distance with weights), Fréchet (sqrtm),
         correlation MAE (mean |r_a - r_b| over pairs i < j, weighted Pearson), and the Gaussian
         MMD^2 by brute force O(n^2): the unbiased (diagonal removed, weighted as documented in
         include/popalign/metrics/mmd.hpp) and the biased estimator, with the median-heuristic
         bandwidth (np.median of the 4753 pairwise distances of the pooled standardised sample:
         an odd count, so the median is one distance, as popalign's nth_element picks).
         The same with uniform weights (pop.u_*).
"""
import os

import numpy as np
import scipy
from scipy import linalg, stats

HERE = os.path.dirname(os.path.abspath(__file__))


def write_array(f, name, a):
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    f.write(f"array {name} {a.shape[0]} {a.shape[1]}\n")
    for row in a:
        f.write(" ".join(repr(float(v)) for v in row) + "\n")


def write_scalar(f, name, v):
    f.write(f"scalar {name} {float(v)!r}\n")


def fit(x, w):
    w = w / w.sum()
    return w @ x, np.cov(x, rowvar=False, aweights=w, bias=True)


def frechet(x, wx, y, wy):
    ma, sa = fit(x, wx)
    mb, sb = fit(y, wy)
    cs = linalg.sqrtm(sa @ sb)
    return float(((ma - mb) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.trace(cs).real)


def wcorr(x, w):
    w = w / w.sum()
    mu = w @ x
    c = (x - mu).T @ ((x - mu) * w[:, None])
    s = np.sqrt(np.diag(c))
    return c / np.outer(s, s)


def corr_mae(x, wx, y, wy):
    d = x.shape[1]
    diff = np.abs(wcorr(x, wx) - wcorr(y, wy))
    iu = np.triu_indices(d, 1)
    return diff[iu].mean()


def mmd_brute(x, wx, y, wy, sigma):
    wx = wx / wx.sum()
    wy = wy / wy.sum()

    def k(p, q):
        d2 = ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma ** 2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    biased = wx @ kxx @ wx + wy @ kyy @ wy - 2 * wx @ kxy @ wy
    # Unbiased: off-diagonal pairs only, weights w_i w_j renormalised over i != j.
    oxx = np.outer(wx, wx)
    np.fill_diagonal(oxx, 0)
    oyy = np.outer(wy, wy)
    np.fill_diagonal(oyy, 0)
    unbiased = (oxx * kxx).sum() / oxx.sum() + (oyy * kyy).sum() / oyy.sum() - 2 * wx @ kxy @ wy
    return max(0.0, biased), unbiased


def median_heuristic(x, y):
    p = np.vstack([x, y])
    d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
    iu = np.triu_indices(len(p), 1)
    assert len(iu[0]) % 2 == 1
    return float(np.median(d[iu]))


def population(f, prefix, a, wa, b, wb):
    wa_n, wb_n = wa / wa.sum(), wb / wb.sum()
    mu = wb_n @ b
    sd = np.sqrt(wb_n @ (b - mu) ** 2)
    za, zb = (a - mu) / sd, (b - mu) / sd
    w1 = np.mean([stats.wasserstein_distance(za[:, k], zb[:, k], wa_n, wb_n)
                  for k in range(a.shape[1])])
    sigma = median_heuristic(za, zb)
    biased, unbiased = mmd_brute(za, wa_n, zb, wb_n, sigma)
    write_scalar(f, prefix + "mean_w1", w1)
    write_scalar(f, prefix + "frechet", frechet(za, wa_n, zb, wb_n))
    write_scalar(f, prefix + "correlation_mae", corr_mae(za, wa_n, zb, wb_n))
    write_scalar(f, prefix + "mmd_sigma", sigma)
    write_scalar(f, prefix + "mmd2_unbiased", unbiased)
    write_scalar(f, prefix + "mmd2_biased", biased)


def main():
    rng = np.random.default_rng(13)
    out = os.path.join(HERE, "metrics", "population_reference.txt")
    with open(out, "w") as f:
        f.write(f"# made by tests/data/make_population_reference.py with numpy {np.__version__}, "
                f"scipy {scipy.__version__}\n")
        ca = np.array([[1.0, 0.6, 0.2], [0.6, 1.5, -0.3], [0.2, -0.3, 0.8]])
        cb = np.array([[2.0, -0.4, 0.0], [-0.4, 0.7, 0.5], [0.0, 0.5, 1.2]])
        x = rng.multivariate_normal([0.0, 0.5, -0.2], ca, size=70)
        y = rng.multivariate_normal([0.3, 0.0, 0.1], cb, size=50)
        wx, wy = rng.uniform(0.2, 2.0, 70), rng.uniform(0.2, 2.0, 50)
        write_array(f, "fd.x", x)
        write_array(f, "fd.y", y)
        write_array(f, "fd.wx", wx)
        write_array(f, "fd.wy", wy)
        write_scalar(f, "fd.frechet", frechet(x, wx, y, wy))
        write_scalar(f, "fd.frechet_uniform", frechet(x, np.ones(70), y, np.ones(50)))

        cr = np.array([[1.0, 0.5, 0.3, 0.0], [0.5, 1.0, 0.2, -0.2],
                       [0.3, 0.2, 1.0, 0.4], [0.0, -0.2, 0.4, 1.0]])
        a = rng.multivariate_normal(np.zeros(4), np.eye(4) * 0.8 + 0.2, size=58)
        b = rng.multivariate_normal([0.4, -0.3, 0.0, 0.2], cr, size=40)
        b = b * np.array([3.0, 0.5, 1.0, 10.0]) + np.array([50.0, 0.0, -2.0, 100.0])
        a = a * np.array([3.0, 0.5, 1.0, 10.0]) + np.array([50.0, 0.0, -2.0, 100.0])
        wa, wb = rng.uniform(0.1, 3.0, 58), rng.uniform(0.1, 3.0, 40)
        write_array(f, "pop.a", a)
        write_array(f, "pop.b", b)
        write_array(f, "pop.wa", wa)
        write_array(f, "pop.wb", wb)
        population(f, "pop.", a, wa, b, wb)
        population(f, "pop.u_", a, np.ones(58), b, np.ones(40))
    print("wrote", out)


if __name__ == "__main__":
    main()
