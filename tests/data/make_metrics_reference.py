#!/usr/bin/python3
"""Reference values for popalign's metrics tests, computed once with SciPy and POT.

Run:  /usr/bin/python3 tests/data/make_metrics_reference.py
Writes tests/data/metrics/metrics_reference.txt (format: see tests/density/reference_file.hpp).

  one_d.*   1-D weighted samples: scipy.stats.wasserstein_distance and energy_distance (with
            weights), ks_2samp statistic (unweighted), and a brute-force weighted KS.
  ties.*    integer-valued (Likert-like) samples with many ties: the same quantities.
  multi.*   3-D weighted samples: POT sliced_wasserstein_distance with given projections (p=1,
            p=2), brute-force weighted energy distance, Gaussian MMD (biased and unbiased, as
            documented in include/popalign/metrics/mmd.hpp), weighted correlation distance,
            weighted means and population sds.
  sink.*    small 2-D samples: debiased Sinkhorn divergence with POT's ot.sinkhorn_log as the
            oracle, cost C = squared Euclidean distance, reg eps. Both the linear cost <P, C>
            (ot.sinkhorn2's value) and the entropic objective <P, C> + eps KL(P | a b^T) are
            stored for OT(a,b), OT(a,a), OT(b,b).
"""
import os

import numpy as np
import ot
import scipy
from scipy import stats

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


def weighted_ks(u, v, uw, vw):
    uw = uw / uw.sum()
    vw = vw / vw.sum()
    grid = np.unique(np.concatenate([u, v]))
    fu = np.array([uw[u <= g].sum() for g in grid])
    fv = np.array([vw[v <= g].sum() for g in grid])
    return np.abs(fu - fv).max()


def pair_mean(x, wx, y, wy, fn):
    d = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    return wx @ fn(d) @ wy


def wcorr(x, w):
    w = w / w.sum()
    mu = w @ x
    c = (x - mu).T @ ((x - mu) * w[:, None])
    s = np.sqrt(np.diag(c))
    return c / np.outer(s, s)


def symmetric_plan(a, C, reg):
    """OT(a, a): the symmetric Sinkhorn fixed point f = T(f), iterated with averaging
    (Feydy et al. 2019), which converges where alternating Sinkhorn oscillates."""
    from scipy.special import logsumexp
    f = np.zeros(len(a))
    for _ in range(100000):
        g = -reg * logsumexp(np.log(a)[None, :] + (f[None, :] - C) / reg, axis=1)
        new = 0.5 * (f + g)
        if np.abs(new - f).max() < 1e-15:
            f = new
            break
        f = new
    return np.exp((f[:, None] + f[None, :] - C) / reg) * np.outer(a, a)


def entropic(a, b, C, reg, symmetric=False):
    if symmetric:
        P = symmetric_plan(a, C, reg)
    else:
        P = ot.bregman.sinkhorn_log(a, b, C, reg, numItermax=100000, stopThr=1e-12)
    lin = (P * C).sum()
    mask = P > 0
    kl = (P[mask] * np.log(P[mask] / np.outer(a, b)[mask])).sum() - P.sum() + 1.0
    return lin, lin + reg * kl, P


def one_d(f, prefix, u, v, uw, vw):
    write_array(f, f"{prefix}.u", u)
    write_array(f, f"{prefix}.v", v)
    write_array(f, f"{prefix}.uw", uw)
    write_array(f, f"{prefix}.vw", vw)
    write_scalar(f, f"{prefix}.w1", stats.wasserstein_distance(u, v, uw, vw))
    write_scalar(f, f"{prefix}.w1_unweighted", stats.wasserstein_distance(u, v))
    write_scalar(f, f"{prefix}.energy", stats.energy_distance(u, v, uw, vw))
    write_scalar(f, f"{prefix}.energy_unweighted", stats.energy_distance(u, v))
    write_scalar(f, f"{prefix}.ks_unweighted", stats.ks_2samp(u, v).statistic)
    write_scalar(f, f"{prefix}.ks", weighted_ks(u, v, uw, vw))


def main():
    rng = np.random.default_rng(7)
    out = os.path.join(HERE, "metrics", "metrics_reference.txt")
    with open(out, "w") as f:
        f.write(f"# made by tests/data/make_metrics_reference.py with scipy {scipy.__version__}, "
                f"POT {ot.__version__}\n")
        u = rng.normal(size=60)
        v = rng.normal(0.4, 1.3, size=80)
        one_d(f, "one_d", u, v, rng.uniform(0.1, 2, 60), rng.uniform(0.1, 2, 80))
        u = rng.integers(1, 6, size=50).astype(float)
        v = rng.integers(2, 6, size=70).astype(float)
        one_d(f, "ties", u, v, rng.uniform(0.1, 2, 50), rng.uniform(0.1, 2, 70))

        n, m, d = 70, 90, 3
        A = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])
        x = rng.normal(size=(n, d)) @ A
        y = rng.normal(size=(m, d)) * np.array([1.2, 0.8, 1.0]) + np.array([0.3, -0.2, 0.1])
        wx = rng.uniform(0.1, 2, n)
        wy = rng.uniform(0.1, 2, m)
        wxn, wyn = wx / wx.sum(), wy / wy.sum()
        P = rng.normal(size=(d, 20))
        P /= np.linalg.norm(P, axis=0, keepdims=True)
        write_array(f, "multi.x", x)
        write_array(f, "multi.y", y)
        write_array(f, "multi.wx", wx)
        write_array(f, "multi.wy", wy)
        write_array(f, "multi.directions", P.T)  # popalign: L x d rows
        for p in (1, 2):
            # n_projections must equal the number of given projections: POT 0.8.2 divides the
            # sum over the given projections by n_projections (default 50) regardless.
            write_scalar(f, f"multi.sliced_p{p}",
                         ot.sliced_wasserstein_distance(x, y, wxn, wyn, n_projections=P.shape[1],
                                                        projections=P, p=p))
        e2 = (2 * pair_mean(x, wxn, y, wyn, lambda t: t) - pair_mean(x, wxn, x, wxn, lambda t: t)
              - pair_mean(y, wyn, y, wyn, lambda t: t))
        write_scalar(f, "multi.energy", np.sqrt(e2))
        sigma = 1.3
        k = lambda t: np.exp(-t ** 2 / (2 * sigma ** 2))
        kxx, kyy, kxy = pair_mean(x, wxn, x, wxn, k), pair_mean(y, wyn, y, wyn, k), pair_mean(x, wxn, y, wyn, k)
        write_scalar(f, "multi.mmd_sigma", sigma)
        write_scalar(f, "multi.mmd2_biased", kxx + kyy - 2 * kxy)
        sa, sb = (wxn ** 2).sum(), (wyn ** 2).sum()
        write_scalar(f, "multi.mmd2_unbiased", (kxx - sa) / (1 - sa) + (kyy - sb) / (1 - sb) - 2 * kxy)
        # uniform-weight unbiased MMD by the textbook U-statistic formula
        kx = k(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1)))
        ky = k(np.sqrt(((y[:, None] - y[None]) ** 2).sum(-1)))
        kc = k(np.sqrt(((x[:, None] - y[None]) ** 2).sum(-1)))
        write_scalar(f, "multi.mmd2_unbiased_uniform",
                     (kx.sum() - n) / (n * (n - 1)) + (ky.sum() - m) / (m * (m - 1)) - 2 * kc.mean())
        diff = wcorr(x, wx) - wcorr(y, wy)
        write_scalar(f, "multi.corr_frobenius", np.linalg.norm(diff))
        write_array(f, "multi.mean_x", wxn @ x)
        write_array(f, "multi.sd_x", np.sqrt(wxn @ (x - wxn @ x) ** 2))
        write_array(f, "multi.w1_cols", [stats.wasserstein_distance(x[:, j], y[:, j], wx, wy) for j in range(d)])
        write_array(f, "multi.ks_cols", [weighted_ks(x[:, j], y[:, j], wx, wy) for j in range(d)])

        # Debiased Sinkhorn divergence.
        n, m = 40, 50
        xs = rng.normal(size=(n, 2))
        ys = rng.normal(size=(m, 2)) * 0.8 + np.array([0.5, 0.2])
        a = rng.uniform(0.2, 2, n); a /= a.sum()
        b = rng.uniform(0.2, 2, m); b /= b.sum()
        write_array(f, "sink.x", xs)
        write_array(f, "sink.y", ys)
        write_array(f, "sink.a", a)
        write_array(f, "sink.b", b)
        for reg in (0.1, 1.0):
            tag = f"sink.reg{reg:g}"
            write_scalar(f, f"{tag}.reg", reg)
            vals = {}
            for name, (p, q, X, Y) in {"ab": (a, b, xs, ys), "aa": (a, a, xs, xs), "bb": (b, b, ys, ys)}.items():
                C = ot.dist(X, Y)  # squared Euclidean
                lin, full, P = entropic(p, q, C, reg, symmetric=name != "ab")
                assert np.abs(P.sum(1) - p).sum() < 1e-9 and np.abs(P.sum(0) - q).sum() < 1e-9
                vals[name] = (lin, full)
                write_scalar(f, f"{tag}.lin_{name}", lin)
                write_scalar(f, f"{tag}.full_{name}", full)
            write_scalar(f, f"{tag}.divergence_full", vals["ab"][1] - 0.5 * (vals["aa"][1] + vals["bb"][1]))
            write_scalar(f, f"{tag}.divergence_lin", vals["ab"][0] - 0.5 * (vals["aa"][0] + vals["bb"][0]))
    print("wrote", out)


if __name__ == "__main__":
    main()
