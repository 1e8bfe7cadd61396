"""retrieve(): the personas that best fit free-text group queries ("someone who works in
healthcare"), with the shipped GloVe-SIF embedder or any callable embedder."""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np

from . import _core
from ._personas import personas_from

__all__ = ["retrieve", "EmbedderCallable"]

EmbedderCallable = Callable[[List[str]], Any]


def retrieve(personas: Any, queries: Union[str, Sequence[str]], k: int = 10, *,
             embedder: Union[str, EmbedderCallable] = "glove", scoring: Optional[str] = None,
             dimension: Optional[int] = None, normalized: bool = False,
             threads: int = 0) -> Any:
    """The ``k`` best personas per query, best first, as a DataFrame with columns query, rank,
    id, score (and index: position in ``personas``) -- or a dict of arrays without pandas.

    ``embedder``: "glove" (shipped word vectors, SIF weights; default scoring "fused") or a
    callable ``texts -> array (len(texts) x dimension)`` such as an OpenAI or
    sentence-transformers client (default scoring "max-fact": the best cosine between the
    query and one fact of the persona; "whole" embeds the persona as one text). ``dimension``
    is probed with one call when not given. Scorings: docs/retrieval.md.
    """
    records = personas_from(personas)
    qs = [queries] if isinstance(queries, str) else list(queries)
    if isinstance(embedder, str):
        dim, scoring = 0, scoring or "fused"
    else:
        scoring = scoring or "max-fact"
        dim = dimension or int(np.asarray(embedder(["dimension probe"])).shape[1])
    d = _core.retrieve(records, qs, int(k), embedder, int(dim), normalized, scoring, threads)
    ids = [records[i].id for i in d["index"]]
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        d["id"] = ids
        return d
    return pd.DataFrame({"query": [qs[q] for q in d["query"]], "rank": d["rank"], "id": ids,
                         "score": d["score"], "index": d["index"]})
