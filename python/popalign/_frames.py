"""Turning the inputs users have (NumPy arrays, pandas DataFrames, lists) into what the compiled
core takes, without copying when the layout allows.

A DataFrame of traits: its numeric columns are the traits; row ids come from an ``id`` column
when there is one, else from the index. Converting a DataFrame to a C-contiguous float64 matrix
costs one copy (pandas stores columns, not rows); a NumPy array that already is C-contiguous
float64 (or float32, for the float instantiation of ``align``) is passed as is.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

try:  # pandas is optional: everything works on NumPy arrays without it
    import pandas as pd
except ImportError:  # pragma: no cover - pandas is a test dependency
    pd = None  # type: ignore[assignment]


def is_frame(obj: Any) -> bool:
    return pd is not None and isinstance(obj, pd.DataFrame)


def trait_matrix(obj: Any, name: str, columns: Optional[Sequence[str]] = None,
                 id_column: Optional[str] = "id") -> Tuple[Any, Optional[List[str]], Optional[List[str]]]:
    """(matrix, trait names or None, row ids or None) from an array or a DataFrame.

    For a DataFrame, ``columns`` picks the trait columns (else every numeric column except the id
    column). A NumPy array is returned untouched (the core converts it, or refuses with copy=False).
    """
    if not is_frame(obj):
        return obj, None, None
    df = obj
    ids: Optional[List[str]]
    if id_column is not None and id_column in df.columns:
        ids = [str(v) for v in df[id_column].tolist()]
    else:
        ids = [str(v) for v in df.index.tolist()]
    if columns is None:
        columns = [c for c in df.columns
                   if c != id_column and np.issubdtype(df[c].dtype, np.number)
                   and not np.issubdtype(df[c].dtype, np.bool_)]
        if not columns:
            raise ValueError(f"{name}: the DataFrame has no numeric (trait) columns")
    else:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{name}: the DataFrame has no column(s) {missing}; "
                             f"it has {list(df.columns)}")
    values = np.ascontiguousarray(df[list(columns)].to_numpy(dtype=np.float64))
    return values, [str(c) for c in columns], ids


def frame(values: np.ndarray, columns: Sequence[str], index: Optional[Sequence[str]] = None,
          index_name: str = "id") -> Any:
    """A DataFrame when pandas is installed, else the array itself."""
    if pd is None:
        return values
    idx = None
    if index is not None:
        idx = pd.Index(list(index), name=index_name)
    return pd.DataFrame(values, columns=list(columns), index=idx, copy=False)
