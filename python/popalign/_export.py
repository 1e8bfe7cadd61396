"""Exporters to the simulation frameworks: TinyTroupe (a folder of ``<id>.agent.json``),
Concordia (a persona list), OASIS (Reddit JSON, Twitter CSV). See docs/export.md.

The trait levels (low/medium/high) are the tertiles of a human ``reference`` (a traits CSV path,
or a DataFrame / array of trait columns), and OASIS's MBTI is the Big Five split at the
reference medians. ``selection`` picks and orders the personas and sets their traits: an
``align`` selection CSV path, an :class:`AlignResult` of a pool DataFrame indexed by persona id,
or a DataFrame indexed by id with trait columns (and optional ``weight`` / ``count``)."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._frames import is_frame
from ._personas import personas_from

__all__ = ["FORMATS", "export", "render_export", "export_tinytroupe", "export_concordia",
           "export_oasis_reddit", "export_oasis_twitter", "mbti_from_big_five"]

FORMATS = ("tinytroupe", "concordia", "oasis-reddit", "oasis-twitter")


def _reference(reference: Any) -> Tuple[Any, Optional[List[str]]]:
    if isinstance(reference, (str, os.PathLike)):
        return os.fspath(reference), None
    if is_frame(reference):
        cols = [c for c in reference.columns if c not in ("id", "weight", "count")]
        return np.ascontiguousarray(reference[cols].to_numpy(dtype=np.float64)), [str(c) for c in cols]
    raise TypeError("reference must be a traits CSV path or a DataFrame of trait columns")


def _selection(selection: Any) -> Any:
    if selection is None or isinstance(selection, (str, os.PathLike)):
        return None if selection is None else os.fspath(selection)
    from ._align import AlignResult
    if isinstance(selection, AlignResult):
        selection = selection.selection
    if not is_frame(selection):
        raise TypeError("selection must be a path, an AlignResult or a DataFrame indexed by id")
    df = selection
    ids = [str(i) for i in (df["id"] if "id" in df.columns else df.index)]
    traits = [str(c) for c in df.columns if c not in ("id", "weight", "count")
              and np.issubdtype(df[c].dtype, np.number)]
    values = np.ascontiguousarray(df[traits].to_numpy(dtype=np.float64))
    weights = df["weight"].astype(float).tolist() if "weight" in df.columns else None
    counts = df["count"].astype(float).tolist() if "count" in df.columns else None
    return (ids, traits, values, weights, counts)


def render_export(personas: Any, format: str, reference: Any,
                  selection: Any = None) -> List[Tuple[str, str]]:
    """The export in memory: a list of (file name, text). Nothing is written."""
    ref, cols = _reference(reference)
    return _core.render_export(personas_from(personas), format, ref, cols, _selection(selection))


def export(personas: Any, format: str, out: "os.PathLike[str] | str", reference: Any,
           selection: Any = None) -> Dict[str, Any]:
    """Writes the export (a folder for tinytroupe, one file otherwise) and returns
    {"personas", "files", "generated_names", "renamed_duplicates"}."""
    ref, cols = _reference(reference)
    return _core.export_personas(personas_from(personas), format, os.fspath(out), ref, cols,
                                 _selection(selection))


def export_tinytroupe(personas: Any, out: Any, reference: Any, selection: Any = None):
    """One ``<id>.agent.json`` per persona in folder ``out``
    (``TinyPerson.load_specifications_from_folder(out)`` loads them)."""
    return export(personas, "tinytroupe", out, reference, selection)


def export_concordia(personas: Any, out: Any, reference: Any, selection: Any = None):
    """A JSON list in the shape of Concordia's persona generator."""
    return export(personas, "concordia", out, reference, selection)


def export_oasis_reddit(personas: Any, out: Any, reference: Any, selection: Any = None):
    """OASIS's Reddit user JSON (agents numbered by position, in selection / id order)."""
    return export(personas, "oasis-reddit", out, reference, selection)


def export_oasis_twitter(personas: Any, out: Any, reference: Any, selection: Any = None):
    """OASIS's Twitter user CSV."""
    return export(personas, "oasis-twitter", out, reference, selection)


def mbti_from_big_five(scores: Sequence[float], medians: Sequence[float]) -> str:
    """MBTI letters from Big Five scores (O, C, E, A, N order) split at the reference medians."""
    return _core.mbti_from_big_five(list(map(float, scores)), list(map(float, medians)))
