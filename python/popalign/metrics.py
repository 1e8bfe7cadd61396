"""Distances between two weighted samples (rows x traits), as in popalign::metrics.

Every function takes ``a``, ``b`` and optional ``a_weights`` / ``b_weights`` (None = uniform).
The five population metrics (mean per-trait W1, Fréchet distance of Gaussian fits, sliced W2,
unbiased MMD^2, correlation MAE) are in ``population_metrics`` / ``compare(...).population``, in
reference-standardised units (both samples standardised by b's weighted mean and sd).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._align import PopulationMetrics, _ReadableRepr
from ._frames import trait_matrix

__all__ = ["wasserstein_1d", "ks_1d", "w1", "ks", "mean_gap", "sd_gap", "correlation_distance",
           "correlation_mae", "frechet", "mmd2", "population_metrics", "PopulationMetrics",
           "sliced_wasserstein", "random_directions", "mmd", "MmdResult", "energy_distance",
           "sinkhorn_divergence", "SinkhornDivergence", "compare", "Comparison"]


def _pair(a: Any, b: Any) -> Tuple[Any, Any, Optional[List[str]]]:
    x, names, _ = trait_matrix(a, "a")
    y, _, _ = trait_matrix(b, "b", names)
    return x, y, names


def wasserstein_1d(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                   p: float = 1.0, copy: bool = True) -> float:
    """W_p between two 1-D weighted samples (p = 1: scipy.stats.wasserstein_distance)."""
    return _core.wasserstein_1d(a, b, a_weights, b_weights, p, copy)


def ks_1d(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
          copy: bool = True) -> float:
    """sup |F_a - G_b| of the weighted ECDFs (scipy.stats.ks_2samp's statistic)."""
    return _core.ks_1d(a, b, a_weights, b_weights, copy)


def w1(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
       copy: bool = True) -> np.ndarray:
    """Per-trait (column) Wasserstein-1."""
    x, y, _ = _pair(a, b)
    return _core.column_wasserstein1(x, y, a_weights, b_weights, copy)


def ks(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
       copy: bool = True) -> np.ndarray:
    """Per-trait Kolmogorov-Smirnov statistic."""
    x, y, _ = _pair(a, b)
    return _core.column_ks(x, y, a_weights, b_weights, copy)


def mean_gap(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
             copy: bool = True) -> np.ndarray:
    """Per-trait weighted mean(a) - mean(b)."""
    x, y, _ = _pair(a, b)
    return _core.mean_gap(x, y, a_weights, b_weights, copy)


def sd_gap(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
           copy: bool = True) -> np.ndarray:
    """Per-trait weighted (population) sd(a) - sd(b)."""
    x, y, _ = _pair(a, b)
    return _core.sd_gap(x, y, a_weights, b_weights, copy)


def correlation_distance(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                         normalized: bool = True, copy: bool = True) -> float:
    """||R_a - R_b||_F of the weighted correlation matrices; normalized=True divides by
    sqrt(d (d - 1)) (the RMS off-diagonal difference, in [0, 2])."""
    x, y, _ = _pair(a, b)
    frob, norm, _ = _core.correlation_distance(x, y, a_weights, b_weights, copy)
    return norm if normalized else frob


def correlation_mae(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                    copy: bool = True) -> float:
    """Mean |r_a,ij - r_b,ij| over the trait pairs i < j of the weighted correlation matrices
    (0 for one trait)."""
    x, y, _ = _pair(a, b)
    return _core.correlation_distance(x, y, a_weights, b_weights, copy)[2]


def frechet(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
            copy: bool = True) -> float:
    """Fréchet distance of the weighted Gaussian fits, ||mu_a - mu_b||^2 + tr(S_a + S_b -
    2 (S_a^1/2 S_b S_a^1/2)^1/2) (squared, as FID), in the samples' own units; symmetric square
    root by an eigensolver, stable for singular covariances. For reference-standardised units use
    population_metrics(a, b).frechet."""
    x, y, _ = _pair(a, b)
    return _core.frechet_distance(x, y, a_weights, b_weights, copy)


def mmd2(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
         unbiased: bool = True, bandwidth: float = 0.0, median_sample: int = 1000, seed: int = 0,
         threads: int = 0, copy: bool = True) -> float:
    """Gaussian-kernel MMD^2 in the samples' own units; ``unbiased=True`` (default) is the
    U-statistic (diagonal removed; can be slightly negative), False the biased V-statistic.
    bandwidth 0 = median heuristic. Weighted: see docs/metrics.md."""
    r = mmd(a, b, a_weights, b_weights, bandwidth=bandwidth, median_sample=median_sample,
            seed=seed, threads=threads, copy=copy)
    return r.mmd2_unbiased if unbiased else r.mmd2_biased


def population_metrics(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                       sliced: bool = True, mmd: bool = True, n_projections: int = 128,
                       seed: int = 0, mmd_max_points: int = 4000, bandwidth: float = 0.0,
                       threads: int = 0, copy: bool = True) -> PopulationMetrics:
    """The five population metrics of ``a`` against the reference ``b`` after standardising both
    by b's weighted mean and sd: mean W1, Fréchet, sliced W2, unbiased MMD^2 (median heuristic
    unless ``bandwidth``; seeded subsample above ``mmd_max_points`` rows), correlation MAE."""
    x, y, _ = _pair(a, b)
    return PopulationMetrics(**_core.population_metrics(
        x, y, a_weights, b_weights, sliced, mmd, n_projections, seed, mmd_max_points, bandwidth,
        threads, copy))


def sliced_wasserstein(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                       n_projections: int = 128, p: float = 2.0, seed: int = 0,
                       directions: Any = None, threads: int = 0, copy: bool = True) -> float:
    """Sliced W_p over ``n_projections`` seeded random directions, or over ``directions``
    (L x d rows; POT's ``projections`` is their transpose)."""
    x, y, _ = _pair(a, b)
    return _core.sliced_wasserstein(x, y, a_weights, b_weights, n_projections, p, seed,
                                    directions, threads, copy)


def random_directions(n_projections: int, d: int, seed: int = 0) -> np.ndarray:
    """The L x d unit directions sliced_wasserstein draws from ``seed``."""
    return _core.random_directions(n_projections, d, seed)


@dataclass(frozen=True, repr=False)
class MmdResult(_ReadableRepr):
    mmd2_biased: float
    mmd2_unbiased: float
    bandwidth: float   #: sigma used (median heuristic unless given)
    mmd: float         #: sqrt(max(0, mmd2_biased))


def mmd(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
        bandwidth: float = 0.0, median_sample: int = 1000, seed: int = 0, threads: int = 0,
        copy: bool = True) -> MmdResult:
    """Gaussian-kernel MMD^2 (biased and unbiased); bandwidth 0 = median heuristic."""
    x, y, _ = _pair(a, b)
    return MmdResult(**_core.mmd(x, y, a_weights, b_weights, bandwidth, median_sample, seed,
                                 threads, copy))


def energy_distance(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                    threads: int = 0, copy: bool = True) -> float:
    """Energy distance (scipy.stats.energy_distance in 1-D)."""
    x, y, _ = _pair(a, b)
    return _core.energy_distance(x, y, a_weights, b_weights, threads, copy)


@dataclass(frozen=True, repr=False)
class SinkhornDivergence(_ReadableRepr):
    divergence: float
    ot_ab: float
    ot_aa: float
    ot_bb: float
    converged: bool
    iterations: int


def sinkhorn_divergence(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
                        reg: float = 0.05, scale: float = 1.0, max_iter: int = 10000,
                        tol: float = 1e-9, threads: int = 0,
                        copy: bool = True) -> SinkhornDivergence:
    """Debiased Sinkhorn divergence S_eps with cost scale * ||x - y||^2."""
    x, y, _ = _pair(a, b)
    return SinkhornDivergence(**_core.sinkhorn_divergence(x, y, a_weights, b_weights, reg, scale,
                                                          max_iter, tol, threads, copy))


@dataclass(frozen=True, repr=False)
class Comparison(_ReadableRepr):
    """Every cheap metric at once (popalign::metrics::compare)."""
    traits: List[str]
    w1: np.ndarray
    ks: np.ndarray
    mean_gap: np.ndarray
    sd_gap: np.ndarray
    correlation_distance: float
    sliced_wasserstein: float
    mmd2: float
    population: Optional[PopulationMetrics] = None  #: the five metrics, reference-standardised
    correlation_mae: float = float("nan")
    correlation_frobenius: float = field(repr=False, default=float("nan"))
    mmd_bandwidth: float = field(repr=False, default=float("nan"))
    table: str = field(repr=False, default="")

    @property
    def mean_w1(self) -> float:
        return float(np.mean(self.w1)) if len(self.w1) else 0.0

    def __str__(self) -> str:
        return self.table

    def to_frame(self) -> Any:
        """Per-trait metrics as a DataFrame (index: trait)."""
        import pandas as pd
        return pd.DataFrame({"w1": self.w1, "ks": self.ks, "mean_gap": self.mean_gap,
                             "sd_gap": self.sd_gap}, index=pd.Index(self.traits, name="trait"))


def compare(a: Any, b: Any, a_weights: Any = None, b_weights: Any = None, *,
            traits: Optional[Sequence[str]] = None, sliced: bool = True, mmd: bool = True,
            n_projections: int = 128, seed: int = 0, threads: int = 0,
            copy: bool = True) -> Comparison:
    """W1, KS, mean and sd gaps per trait; correlation distance, sliced W2 and biased MMD^2
    jointly (traits' own units); ``.population`` holds the five population metrics in
    reference-standardised units (unbiased MMD^2, Fréchet, correlation MAE, ...)."""
    x, y, names = _pair(a, b)
    names = list(traits) if traits is not None else (names or [])
    d = _core.compare(x, y, a_weights, b_weights, names, sliced, mmd, n_projections, seed,
                      threads, copy)
    d["population"] = PopulationMetrics(**d["population"])
    return Comparison(**d)
