"""Persona mining from Python: posts -> grounded narrative personas (popalign::persona), with the
LLM given as a base URL or as any Python callable (the same backends as administer())."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from . import _core
from ._administer import LlmCallable
from ._align import _ReadableRepr
from ._retrieve import EmbedderCallable
from ._run import _invalid

__all__ = ["mine", "MineResult"]


@dataclass(frozen=True, repr=False)
class MineResult(_ReadableRepr):
    """What mine() kept and why the rest was dropped."""
    status: str                    #: "ok", or "cancelled" (no personas; rerun to resume)
    personas: List[Any]            #: PersonaRecord per kept persona (id, text, facts, fields)
    funnel: Dict[str, Any]         #: counts in/out and drops per step (the funnel record)
    calls: List[Dict[str, Any]]    #: per LLM step: units, resumed, calls, cached, failed, reasks
    messages: List[str] = field(repr=False, default_factory=list)
    funnel_table: str = field(repr=False, default="")

    def __str__(self) -> str:
        return self.funnel_table


def mine(posts: "os.PathLike[str] | str", backend: Union[str, LlmCallable, Any], *,
         embedder: Union[None, str, EmbedderCallable] = "glove", model: str = "", seed: int = 0,
         max_authors: int = 0, format: str = "automatic",
         work_dir: Optional["os.PathLike[str] | str"] = None, round_size: int = 64,
         cache: Optional["os.PathLike[str] | str"] = None,
         api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4, timeout: float = 120.0,
         attempts: int = 5,
         progress: Optional[Callable[[str, int, int], Optional[bool]]] = None) -> MineResult:
    """Mines narrative personas from a post file or folder (JSONL, blog CSV or XML; see
    docs/persona.md): prefilter -> LLM quality -> author windows -> LLM persona writer -> LLM
    critique -> PII redaction -> near-duplicate removal.

    ``backend``: a base URL (OpenAI-compatible; ``concurrency`` calls in flight, ``attempts``
    tries each) or any callable taking a list of request dicts and returning one answer per
    request (str, dict with "text", or None / an Exception for a failed call), as for
    administer(). ``embedder`` deduplicates the personas (a persona whose cosine with a kept one
    is at least 0.95 is dropped): "glove" (shipped GloVe vectors, SIF weighting) or any callable
    ``texts -> array (len(texts) x dimension)`` (its dimension is probed with one call); None
    skips deduplication. ``work_dir``: step files to resume from; ``cache``: an SQLite response
    cache. ``progress(step, done, total)`` returning True cancels. The GIL is
    released while the pipeline runs (a callable backend takes it back for its calls); Ctrl-C
    cancels; an exception raised by the callable stops the run and is raised here.
    """
    dim = 0
    if embedder is not None and not isinstance(embedder, str):
        if not callable(embedder):
            raise _invalid("embedder", "must be 'glove', None or a callable texts -> array "
                                       f"(got {type(embedder).__name__})")
        probe = np.asarray(embedder(["dimension probe"]))
        if probe.ndim != 2 or probe.shape[0] != 1:
            raise _invalid("embedder", "a callable embedder must return an array of shape "
                                       "(len(texts), dimension); got shape "
                                       f"{probe.shape} for 1 text")
        dim = int(probe.shape[1])
    d = _core.mine(os.fspath(posts), backend, embedder, dim, model, int(seed), int(max_authors),
                   format, os.fspath(work_dir) if work_dir else "", int(round_size),
                   os.fspath(cache) if cache else "", api_key_env, int(concurrency),
                   float(timeout), int(attempts), progress)
    return MineResult(status=d["status"], personas=list(d["personas"]),
                      funnel=json.loads(d["funnel_json"]), calls=list(d["calls"]),
                      messages=list(d["messages"]), funnel_table=d["funnel_table"])
