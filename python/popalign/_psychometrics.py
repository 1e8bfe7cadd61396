"""Questionnaires and scoring: load_instrument() and score()."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from . import _core
from ._frames import frame, is_frame

__all__ = ["load_instrument", "available_instruments", "score", "ScoreResult", "Instrument"]

Instrument = _core.Instrument


def load_instrument(spec: str) -> "_core.Instrument":
    """An instrument by name ("ipip50", "mini_ipip", "neo120", "neo300", or a file stem of
    data/instruments) or from a JSON file path."""
    return _core.resolve_instrument(os.fspath(spec))


def available_instruments() -> List[str]:
    """Names load_instrument accepts for the shipped instruments."""
    return _core.available_instruments()


@dataclass(frozen=True)
class ScoreResult:
    """Trait (and facet) scores: ``scores`` is a DataFrame (index: id, one column per trait)
    when pandas is installed; ``values`` the same numbers as an array (NaN: not enough answers)."""
    scores: Any = field(repr=False)
    values: np.ndarray = field(repr=False)
    ids: List[str] = field(repr=False)
    traits: List[str]
    dimensions: List[Dict[str, Any]] = field(repr=False)
    rows_with_missing: int
    missing_answers: int
    rows_with_nan_score: int
    absent_items: List[str] = field(repr=False)
    summary_text: str = field(repr=False, default="")

    def summary(self) -> str:
        """One line per trait: items, mean, sd, Cronbach's alpha, rows without a score."""
        return self.summary_text

    def __str__(self) -> str:
        return self.summary_text


def _result(d: Dict[str, Any]) -> ScoreResult:
    d = dict(d)
    d["summary_text"] = d.pop("summary")
    d["scores"] = frame(d["values"], d["traits"], d["ids"])
    return ScoreResult(**d)


def score(instrument: Any, responses: Any, *, ids: Optional[List[str]] = None,
          id_column: Optional[str] = None, missing_code: Optional[float] = None,
          min_answered: float = 0.5, traits: bool = True, facets: bool = False,
          use_names: bool = False) -> ScoreResult:
    """Scores item responses into trait means (reverse-keyed items reversed).

    ``instrument``: an Instrument or a name/path for load_instrument. ``responses``:
    - a DataFrame with one column per item (item id or alias, e.g. BIG5's "E1"); row ids from
      ``id_column`` or the index; NaN = not answered; other columns are ignored;
    - a path to a CSV/TSV file or to the JSONL that ``administer`` writes;
    - an AdministerResult (its ``answers``);
    - a 2-D array whose columns are the instrument's items in order (``ids`` optional).
    ``missing_code`` (e.g. 0 for BIG5) marks unanswered cells.
    """
    inst = instrument if isinstance(instrument, _core.Instrument) else load_instrument(instrument)
    opts = dict(min_answered=min_answered, traits=traits, facets=facets, use_names=use_names)
    if hasattr(responses, "answers") and not is_frame(responses):
        responses = responses.answers
    if isinstance(responses, (str, os.PathLike)):
        return _result(_core.score_file(inst, os.fspath(responses), id_column or "", missing_code,
                                        **opts))
    if is_frame(responses):
        df = responses
        if id_column is not None:
            row_ids = [str(v) for v in df[id_column].tolist()]
            df = df.drop(columns=[id_column])
        else:
            row_ids = [str(v) for v in df.index.tolist()]
        cols = [str(c) for c in df.columns]
        values = df.apply(lambda c: c if np.issubdtype(c.dtype, np.number) else
                          c.map(lambda v: np.nan), axis=0).to_numpy(dtype=np.float64)
    else:
        values = np.asarray(responses, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(inst.items):
            raise ValueError(f"responses: a {values.shape} array; expected rows x "
                             f"{len(inst.items)} items of {inst.id!r} in instrument order")
        cols = [it.id for it in inst.items]
        row_ids = list(ids) if ids is not None else [str(i + 1) for i in range(values.shape[0])]
    if missing_code is not None:
        values = np.where(values == missing_code, np.nan, values)
    return _result(_core.score_matrix(inst, np.ascontiguousarray(values), row_ids, cols, **opts))
