#!/usr/bin/python3
"""Independent reference values for tests/psychometrics/scoring_test.cpp, computed with numpy
from data/big5/data.csv and the keys in data/instruments/ipip50_bfm.json.

Complete rows only (no 0 = missed answer). Keyed items: 6 - x for keyed == -1. Trait score =
mean of its 10 keyed items. alpha = k/(k-1) * (1 - sum var_j / var(total)), ddof = 1.
Writes big5_reference.csv: trait,n,mean,sd,alpha.
Run from the repository root: /usr/bin/python3 tests/psychometrics/data/make_big5_reference.py
"""
import csv
import json
import os

import numpy as np

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.normpath(os.path.join(root, "..", "..", ".."))
rows = list(csv.reader(open(os.path.join(repo, "data/big5/data.csv")), delimiter="\t"))
header, rows = rows[0], rows[1:]
inst = json.load(open(os.path.join(repo, "data/instruments/ipip50_bfm.json")))
X = np.array([[float(r[header.index(it["id"])]) for it in inst["items"]] for r in rows])
X = X[(X != 0).all(axis=1)]
keys = np.array([it["keyed"] for it in inst["items"]])
K = np.where(keys < 0, 6 - X, X)
out = [("trait", "n", "mean", "sd", "alpha")]
for t in "OCEAN":
    cols = [j for j, it in enumerate(inst["items"]) if it["trait"] == t]
    S = K[:, cols]
    score = S.mean(axis=1)
    k = len(cols)
    alpha = k / (k - 1) * (1 - S.var(axis=0, ddof=1).sum() / S.sum(axis=1).var(ddof=1))
    out.append((t, len(S), repr(score.mean()), repr(score.std(ddof=1)), repr(alpha)))
with open(os.path.join(root, "big5_reference.csv"), "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(out)
