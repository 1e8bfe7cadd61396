"""align(): the Resample pipeline (KDE importance weights -> capacity-constrained entropic OT ->
N distinct personas) from Python. See docs/align.md for the method and docs/python.md for the
Python API."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._frames import frame, is_frame, trait_matrix

__all__ = ["align", "AlignResult", "Diagnostics", "AlignComparison"]


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=4, separator=", ", threshold=8)
    return repr(v)


class _ReadableRepr:
    """A dataclass repr that prints floats with 4 significant digits and skips long fields."""

    _repr_skip: Tuple[str, ...] = ()

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in self._repr_skip or not f.repr:
                continue
            parts.append(f"{f.name}={_short(getattr(self, f.name))}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, repr=False)
class PopulationMetrics(_ReadableRepr):
    """The five population metrics (popalign::metrics::population_metrics), in
    reference-standardised units: both samples standardised by the reference's weighted mean and
    sd. NaN marks a skipped or undefined metric."""
    mean_w1: float             #: mean per-trait Wasserstein-1
    frechet: float             #: Fréchet distance of the Gaussian fits (squared W2, as FID)
    sliced_wasserstein: float  #: sliced W2 over seeded directions
    mmd2: float                #: unbiased Gaussian MMD^2 (U-statistic; may be slightly < 0)
    correlation_mae: float     #: mean |r_a - r_b| over trait pairs
    mmd2_biased: float = field(repr=False, default=float("nan"))   #: V-statistic
    mmd_bandwidth: float = field(repr=False, default=float("nan"))  #: median-heuristic sigma


@dataclass(frozen=True, repr=False)
class AlignComparison(_ReadableRepr):
    """Distances of a sample (the pool, or the selection) to the reference."""
    w1: np.ndarray                 #: per-trait Wasserstein-1
    mean_gap: np.ndarray           #: per-trait mean(sample) - mean(reference)
    sd_gap: np.ndarray             #: per-trait sd(sample) - sd(reference)
    mean_w1: float
    sliced_w2: float               #: sliced Wasserstein-2 on the standardised traits
    correlation_distance: float    #: RMS off-diagonal correlation difference
    correlation_mae: float = float("nan")  #: mean |r_a - r_b| over trait pairs
    population: Optional[PopulationMetrics] = None  #: the five metrics, standardised

    @classmethod
    def from_dict(cls, d: dict) -> "AlignComparison":
        d = dict(d)
        if isinstance(d.get("population"), dict):
            d["population"] = PopulationMetrics(**d["population"])
        return cls(**d)


@dataclass(frozen=True, repr=False)
class Diagnostics(_ReadableRepr):
    """What align() did and how well the selection matches the reference."""
    method: str
    output: str
    seed: int
    pool_size: int
    reference_size: int
    dimension: int
    requested: int
    selected: int
    candidates: int
    ess: float
    raw_ess: float
    k_hat: float
    truncated: int
    uncovered_reference: float
    ot_status: str
    ot_iterations: int
    ot_total_iterations: int
    ot_error: float
    eps: float
    transport_cost: float
    saturated: int
    calibration_error: float
    refine_before: float
    refine_after: float
    refine_proposals: int
    refine_swaps: int
    before: AlignComparison
    after: AlignComparison
    seconds: float
    warnings: List[str]
    stages: List[Tuple[str, float]] = field(repr=False)
    has_weights: bool = field(repr=False, default=False)
    has_transport: bool = field(repr=False, default=False)
    summary_text: str = field(repr=False, default="")

    def summary(self) -> str:
        """The multi-line summary of the C++ library (traits named when known)."""
        return self.summary_text

    def __str__(self) -> str:
        return self.summary_text

    @classmethod
    def _from_core(cls, d: dict) -> "Diagnostics":
        d = dict(d)
        d["before"] = AlignComparison.from_dict(d["before"])
        d["after"] = AlignComparison.from_dict(d["after"])
        d["summary_text"] = d.pop("summary")
        d["stages"] = [tuple(s) for s in d["stages"]]
        return cls(**d)


@dataclass(frozen=True, repr=False)
class AlignResult(_ReadableRepr):
    """The selection. ``indices`` are pool rows (ascending); ``weights`` has one entry per pool
    row (sum 1); ``counts`` the copies of each selected row (multiset output)."""
    indices: np.ndarray
    weights: np.ndarray
    counts: np.ndarray
    inclusion: np.ndarray
    importance_weights: np.ndarray = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    ids: Optional[List[str]] = field(repr=False, default=None)
    traits: Optional[List[str]] = field(repr=False, default=None)
    pool: Any = field(repr=False, default=None)

    @property
    def selected_ids(self) -> Optional[List[str]]:
        """Ids of the selected personas (when the pool had ids)."""
        if self.ids is None:
            return None
        return [self.ids[i] for i in self.indices]

    @property
    def selection(self) -> Any:
        """The selected rows as a DataFrame (pool columns + ``count`` and ``weight``), indexed
        like the pool when it was a DataFrame, else by pool row. Needs pandas."""
        import pandas as pd
        if is_frame(self.pool):
            sel = self.pool.iloc[self.indices].copy()
        else:
            cols = self.traits or [f"t{k}" for k in range(np.asarray(self.pool).shape[1])]
            sel = pd.DataFrame(np.asarray(self.pool)[self.indices], columns=cols,
                               index=pd.Index(self.indices, name="row"))
        sel["count"] = self.counts if len(self.counts) == len(self.indices) else 1
        sel["weight"] = self.weights[self.indices]
        return sel

    def __repr__(self) -> str:
        d = self.diagnostics
        return (f"AlignResult(selected={d.selected} of {d.pool_size}, method={d.method!r}, "
                f"output={d.output!r}, mean_w1={d.before.mean_w1:.4g}->{d.after.mean_w1:.4g}, "
                f"ot_status={d.ot_status!r}, seconds={d.seconds:.3g})")


def align(pool: Any, reference: Any, n: int, method: str = "resample", seed: int = 0, *,
          output: str = "distinct", traits: Optional[Sequence[str]] = None,
          bandwidth_factor: float = 0.0, truncation: str = "psis", kde_max_points: int = 10000,
          candidate_factor: float = 6.0, max_candidates: int = 20000, reg: float = 0.01,
          ot_max_reference: int = 5000, ot_kernel_memory: int = 1 << 30, max_iter: int = 1000,
          ot_tolerance: float = 1e-3, max_count: int = 0, weighted_prior: bool = False,
          calibrate: bool = True, calibration_bins: int = 24, calibration_sweeps: int = 50,
          calibration: str = "pairwise", refine: str = "swap", refine_proposals: int = 50,
          refine_correlation_weight: float = 1.0, rounding: str = "ordered", ess_warn_fraction: float = 0.1,
          coverage_ratio: float = 0.05, coverage_warn_fraction: float = 0.05,
          compute_metrics: bool = True, sliced_projections: int = 64, threads: int = 0,
          copy: bool = True,
          progress: Optional[Callable[[str, float], Optional[bool]]] = None) -> AlignResult:
    """Selects ``n`` personas from ``pool`` (rows x traits) whose trait distribution matches
    ``reference`` (people x traits).

    ``pool`` and ``reference`` are NumPy arrays (float64, or both float32 for the float
    instantiation; C-contiguous ones are used in place) or DataFrames (trait columns: ``traits``,
    else the reference's numeric columns, else the pool's; ids from an ``id`` column or the
    index). ``method``: "resample" (default), "is", "ot" or "random"; ``output``: "distinct",
    "multiset" or "weights". Every other option is popalign::align::AlignOptions' field of the
    same name. The GIL is released while it runs; Ctrl-C cancels it (KeyboardInterrupt).
    ``copy=False`` refuses inputs that would need a conversion. ``progress(stage, fraction)``
    returning True stops the run (popalign.Cancelled).
    """
    if traits is None and is_frame(reference):
        traits = [c for c in reference.columns if c != "id"
                  and np.issubdtype(reference[c].dtype, np.number)]
    p, trait_names, ids = trait_matrix(pool, "pool", traits)
    r, _, _ = trait_matrix(reference, "reference", traits if traits is not None else trait_names)
    o = _core.AlignOptions()
    o.n = int(n)
    o.method = method
    o.seed = int(seed)
    o.output = output
    o.bandwidth_factor = bandwidth_factor
    o.truncation = truncation
    o.kde_max_points = kde_max_points
    o.candidate_factor = candidate_factor
    o.max_candidates = max_candidates
    o.reg = reg
    o.ot_max_reference = ot_max_reference
    o.ot_kernel_memory = ot_kernel_memory
    o.max_iter = max_iter
    o.ot_tolerance = ot_tolerance
    o.max_count = max_count
    o.weighted_prior = weighted_prior
    o.calibrate = calibrate
    o.calibration_bins = calibration_bins
    o.calibration_sweeps = calibration_sweeps
    o.calibration = calibration
    o.refine = refine
    o.refine_proposals = refine_proposals
    o.refine_correlation_weight = refine_correlation_weight
    o.rounding = rounding
    o.ess_warn_fraction = ess_warn_fraction
    o.coverage_ratio = coverage_ratio
    o.coverage_warn_fraction = coverage_warn_fraction
    o.compute_metrics = compute_metrics
    o.sliced_projections = sliced_projections
    o.threads = threads
    d = _core.align(p, r, o, copy, progress, list(trait_names or traits or []))
    return AlignResult(indices=d["indices"], weights=d["weights"], counts=d["counts"],
                       inclusion=d["inclusion"], importance_weights=d["importance_weights"],
                       diagnostics=Diagnostics._from_core(d["diagnostics"]), ids=ids,
                       traits=trait_names, pool=pool)
