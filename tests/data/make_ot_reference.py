#!/usr/bin/python3
"""Reference values for tests/ot (run once with Debian's python3-pot 0.8.2):

    /usr/bin/python3 tests/data/make_ot_reference.py

Writes tests/data/ot/*.json. Each case stores its inputs (points, weights, scale) and POT's
answer. Conventions: cost C = scale * ||x_i - y_j||^2 with scale = 1 / max; popalign's entropic
term is eps * KL(P | a b^T), which equals POT's eps * sum P log P after replacing M by
M - eps * (log a_i + log b_j); for balanced problems both give the same plan.

Oracles: ot.sinkhorn with method='sinkhorn_log' (POT 0.8.2's sinkhorn_stabilized returns wrong
plans), ot.unbalanced.sinkhorn_unbalanced (method 'sinkhorn') for the unbalanced problem, and
for the semi-relaxed problem (not in POT 0.8.2) the same scaling iteration with one exponent
fixed to 1 (u = (1 / K (b v))^(rho / (rho + eps)), v = 1 / K^T (a u), plan\ndiag(a u) K diag(b v)), in float64.
"""
import json
import os

import numpy as np
import ot

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ot")


def save(name, obj):
    def conv(v):
        if isinstance(v, np.ndarray):
            return v.tolist()
        return v
    with open(os.path.join(OUT, name + ".json"), "w") as fh:
        json.dump({k: conv(v) for k, v in obj.items()}, fh, indent=None)


def problem(seed, n, m, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(m, d)) * 0.8 + 0.5
    a = rng.uniform(0.5, 1.5, size=n)
    a /= a.sum()
    b = rng.uniform(0.5, 1.5, size=m)
    b /= b.sum()
    M = ot.dist(x, y)  # squared Euclidean
    scale = 1.0 / M.max()
    return x, y, a, b, M * scale, scale


def main():
    os.makedirs(OUT, exist_ok=True)
    # Balanced, two regularisations.
    for name, reg in (("balanced_reg05", 0.05), ("balanced_reg01", 0.01)):
        x, y, a, b, M, scale = problem(1, 30, 40, 3)
        P, log = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", numItermax=100000,
                             stopThr=1e-14, log=True)
        save(name, dict(x=x, y=y, a=a, b=b, scale=scale, reg=reg, plan=P,
                        cost=float((P * M).sum()), niter=int(log["niter"]),
                        err_b=float(np.abs(P.sum(0) - b).sum())))
    # Unbalanced (both marginals KL-soft).
    x, y, a, b, M, scale = problem(2, 25, 35, 2)
    reg, reg_m = 0.05, 0.5
    Mk = M - reg * (np.log(a)[:, None] + np.log(b)[None, :])
    P = ot.unbalanced.sinkhorn_unbalanced(a, b, Mk, reg, reg_m, method="sinkhorn",
                                          numItermax=200000, stopThr=1e-15)
    save("unbalanced", dict(x=x, y=y, a=a, b=b, scale=scale, reg=reg, reg_m=reg_m, plan=P,
                            cost=float((P * M).sum())))
    # Semi-relaxed: source side KL-soft (rho), target side hard.
    x, y, a, b, M, scale = problem(3, 25, 35, 2)
    reg, rho = 0.05, 0.3
    # P = diag(a u) K diag(b v), K = exp(-M / reg): row i carries a_i u_i (K b v)_i.
    K = np.exp(-M / reg)
    u = np.ones(len(a))
    v = np.ones(len(b))
    lam = rho / (rho + reg)
    for _ in range(200000):
        u_new = (1.0 / (K @ (b * v))) ** lam
        v_new = 1.0 / (K.T @ (a * u_new))
        done = np.max(np.abs(u_new / u - 1)) < 1e-15 and np.max(np.abs(v_new / v - 1)) < 1e-15
        u, v = u_new, v_new
        if done:
            break
    P = (a * u)[:, None] * K * (b * v)[None, :]
    save("semi_relaxed", dict(x=x, y=y, a=a, b=b, scale=scale, reg=reg, reg_m=rho, plan=P,
                              cost=float((P * M).sum())))
    # Capacity-constrained LP (the eps -> 0 limit): select N of n sources against m targets,
    # b_j = N / m, P 1 <= 1. Solved exactly by ot.emd with a zero-cost dummy target that
    # absorbs the unused capacity.
    x, y, _, _, M, scale = problem(4, 12, 7, 2)
    N = 4
    b = np.full(7, N / 7.0)
    cap = np.ones(12)
    Mx = np.hstack([M, np.zeros((12, 1))])
    bx = np.append(b, cap.sum() - N)
    G = ot.emd(cap, bx, Mx)
    save("capacity_lp", dict(x=x, y=y, b=b, cap=cap, scale=scale, N=N,
                             lp_cost=float((G[:, :7] * M).sum()), lp_s=G[:, :7].sum(1)))


if __name__ == "__main__":
    main()
