"""popalign: population-aligned persona sets for LLM social simulation, from Python.

    import popalign
    res = popalign.align(pool, reference, n=1000, seed=1)    # arrays or DataFrames
    res.indices, res.weights, res.diagnostics, res.selection
    run = popalign.run("pipeline.toml", generator=my_llm)    # the whole pipeline, any callable

The numerics run in popalign's C++ core (popalign._core) without copying NumPy inputs that are
C-contiguous float64; the GIL is released and Ctrl-C cancels long calls. See docs/python.md.
"""
from __future__ import annotations

from . import _core
from ._core import (BackendError, Cancelled, Error, InvalidArgument, IoError, NumericalError,
                    ParseError)
from ._align import AlignComparison, AlignResult, Diagnostics, align
from ._density import Kde, kde
from ._ot import SinkhornResult, sinkhorn, sinkhorn_points
from . import metrics
from .metrics import (PopulationMetrics, compare, correlation_distance, correlation_mae,
                      energy_distance, frechet, mmd, mmd2, population_metrics,
                      sinkhorn_divergence, sliced_wasserstein, w1, wasserstein_1d)
from ._psychometrics import Instrument, ScoreResult, available_instruments, load_instrument, score
from ._personas import PersonaRecord, fields_of, personas_from, read_personas, write_personas
from ._administer import AdministerResult, LlmCallable, administer
from ._mine import MineResult, mine
from ._run import (PipelineConfig, RunPlan, RunProgress, RunResult, StageOutcome, StagePlan,
                   load_config, plan, run)
from ._retrieve import EmbedderCallable, retrieve
from ._export import (FORMATS as EXPORT_FORMATS, export, export_concordia, export_oasis_reddit,
                      export_oasis_twitter, export_tinytroupe, mbti_from_big_five, render_export)

__version__: str = _core.__version__

__all__ = [
    "__version__",
    # errors
    "Error", "InvalidArgument", "IoError", "ParseError", "NumericalError", "Cancelled",
    "BackendError",
    # numerics
    "align", "AlignResult", "Diagnostics", "AlignComparison", "sinkhorn", "sinkhorn_points",
    "SinkhornResult", "Kde", "kde", "metrics", "compare", "w1", "wasserstein_1d",
    "sliced_wasserstein", "mmd", "energy_distance", "correlation_distance", "sinkhorn_divergence",
    "frechet", "mmd2", "correlation_mae", "population_metrics", "PopulationMetrics",
    # questionnaires
    "Instrument", "load_instrument", "available_instruments", "score", "ScoreResult",
    # LLM
    "administer", "AdministerResult", "LlmCallable", "retrieve", "EmbedderCallable", "mine",
    "MineResult",
    # the whole pipeline
    "run", "plan", "load_config", "RunResult", "StageOutcome", "RunPlan", "StagePlan",
    "RunProgress", "PipelineConfig",
    # personas
    "PersonaRecord", "read_personas", "write_personas", "personas_from", "fields_of",
    # exporters
    "export", "render_export", "export_tinytroupe", "export_concordia", "export_oasis_reddit",
    "export_oasis_twitter", "mbti_from_big_five", "EXPORT_FORMATS",
]
