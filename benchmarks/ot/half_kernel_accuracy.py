#!/usr/bin/python3
"""Accuracy of a stored kernel rounded to float32, float16 and bfloat16 (docs/ot.md, "Speed of
the stored path"): Sinkhorn in scaling form (the stored path's iteration) on the rounded
kernel, converged to 1e-13 L1 on that kernel, then the true L1 marginal errors of the result
with the float64 kernel, and the relative change of <P, C>.

    /usr/bin/python3 benchmarks/ot/half_kernel_accuracy.py      # n = 2000, d = 5, reg 0.01

Inputs as benchmarks/peers/run_peers.py (seeded Gaussians, cost = squared distance / max). The
kernel is balanced first (the stored path builds K from balanced potentials), so its entries are
O(1) where it matters; float16 flushes what is below 6e-8 to zero.
"""
import numpy as np

n, d, eps = 2000, 5, 0.01
rng = np.random.default_rng(5)
x = rng.normal(size=(n, d))
y = rng.normal(size=(n, d)) * 0.9 + 0.3
C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
C /= C.max()
a = np.full(n, 1 / n)
b = np.full(n, 1 / n)


def solve(K, iters=5000, tol=1e-13):
    v = np.ones(n)
    for it in range(iters):
        u = a / (K @ v)
        v = b / (K.T @ u)
        if it % 10 == 0 and np.abs(u * (K @ v) - a).sum() < tol:
            break
    return u, v


K = np.exp(-C / eps)
u0, v0 = solve(K)
Kb = u0[:, None] * K * v0[None, :] * n  # balanced: rows sum to 1


def bf16(A):
    i = A.astype(np.float32).view(np.uint32)
    i = ((i + 0x7FFF + ((i >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return i.view(np.float32).astype(np.float64)


rowmax = Kb.max(1, keepdims=True)
cost0 = (u0[:, None] * K * v0[None, :] * C).sum()
for name, R in [("float32", Kb.astype(np.float32).astype(np.float64)),
                ("float16", Kb.astype(np.float16).astype(np.float64)),
                ("float16, per-row scale", (Kb / rowmax).astype(np.float16).astype(np.float64) * rowmax),
                ("bfloat16", bf16(Kb))]:
    u, v = solve(R / n)
    P = u[:, None] * (Kb / n) * v[None, :]
    ea, eb = np.abs(P.sum(1) - a).sum(), np.abs(P.sum(0) - b).sum()
    print(f"{name:24s} true L1 errors {ea:.2e} / {eb:.2e}   cost rel. change {abs((P * C).sum() - cost0) / cost0:.1e}"
          f"   zero entries {(R == 0).mean():.0%}")
