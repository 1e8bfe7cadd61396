"""Exact squared 2-Wasserstein distance between two weighted point clouds with POT (ot.emd2).

Used by tests/align/compress_test.cpp as the independent reference for the compression's W2:
  emd2.py IN OUT   IN: a text file "n m d" then n lines "w x_1..x_d" then m lines "w y_1..y_d";
                   OUT: one line with W2^2 (squared Euclidean cost, weights normalised).
Exit code 77 when numpy or POT is missing (the test then skips).
"""
import sys

try:
    import numpy as np
    import ot
except ImportError:  # pragma: no cover
    sys.exit(77)


def main() -> None:
    with open(sys.argv[1]) as f:
        n, m, d = (int(v) for v in f.readline().split())
        rows = np.loadtxt(f, ndmin=2)
    a, x = rows[:n, 0], rows[:n, 1:]
    b, y = rows[n:, 0], rows[n:, 1:]
    a = a / a.sum()
    b = b / b.sum()
    cost = ot.dist(x, y, metric="sqeuclidean")
    w2 = ot.emd2(a, b, cost, numItermax=10_000_000)
    with open(sys.argv[2], "w") as f:
        f.write(f"{float(w2):.17g}\n")


if __name__ == "__main__":
    main()
