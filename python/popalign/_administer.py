"""administer(): asks personas a questionnaire through an LLM backend.

The backend is a base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1, OpenAI),
or ANY Python callable ``fn(requests: list[dict]) -> list[str | dict | None]`` -- so the OpenAI
SDK, a local transformers model or a test double plugs in without a server. Each request dict has
"messages" ([{"role", "content"}]), "prompt" (None for chat), "model", "temperature", "top_p",
"max_tokens", "seed", "stop", "json_schema" (None or JSON Schema text), "logprobs",
"top_logprobs". An answer is the text, or {"text", "finish_reason"?, "logprobs"?: [{"token",
"logprob", "top": [{"token", "logprob"}]}], "usage"?: {"prompt_tokens", "completion_tokens"}},
or None / an Exception instance for a failed call.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _core
from ._frames import frame
from ._personas import personas_from
from ._psychometrics import load_instrument

__all__ = ["administer", "AdministerResult", "LlmCallable"]

LlmCallable = Callable[[List[Dict[str, Any]]], Sequence[Union[str, Dict[str, Any], None]]]


@dataclass(frozen=True)
class AdministerResult:
    """Answers per persona. ``answers``: DataFrame (index: persona id, one column per item in
    instrument order, NaN = missing), ready for ``popalign.score(instrument, result)``;
    ``responses``: per persona, every item's value, parse status, raw text, attempts;
    ``lines``: the JSONL lines ``popalign administer`` writes (``write_jsonl``)."""
    instrument: Any = field(repr=False)
    answers: Any = field(repr=False)
    responses: List[Dict[str, Any]] = field(repr=False)
    lines: List[str] = field(repr=False)
    personas: int = 0
    missing: int = 0
    calls: int = 0
    cached_calls: int = 0
    failed: int = 0

    def write_jsonl(self, path: "os.PathLike[str] | str") -> None:
        with open(path, "w", encoding="utf-8") as f:
            for line in self.lines:
                f.write(line + "\n")


def administer(personas: Any, instrument: Any, backend: Union[str, LlmCallable, Any], *,
               mode: str = "generate", model: str = "", seed: int = 0,
               shuffle_items: bool = True, reverse_scale: bool = False, max_retries: int = 2,
               temperature: Optional[float] = None, max_tokens: int = 0, top_logprobs: int = 20,
               logprob_positions: int = 3, personas_per_round: int = 16, chunk_size: int = 64,
               parallel_chunks: int = 1, prompt: Optional[str] = None,
               cache: Optional["os.PathLike[str] | str"] = None,
               api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
               timeout: float = 120.0, attempts: int = 5, threads: int = 0,
               progress: Optional[Callable[[str, float], Optional[bool]]] = None
               ) -> AdministerResult:
    """Administers ``instrument`` (an Instrument, or a name/path) to ``personas`` (records, dicts,
    a DataFrame with id and persona columns, {id: text}, or a JSONL path) through ``backend``.

    ``mode``: "generate" (one item per call, the text parsed), "logprobs" (expected score from
    the option tokens' probabilities) or "batch" (all items in one JSON answer). ``cache``: an
    SQLite file; every successful call is stored and a rerun pays nothing for it. With a URL,
    ``concurrency`` calls are in flight, each retried up to ``attempts`` times. Ctrl-C cancels
    (KeyboardInterrupt); an exception raised by a callable backend stops the run and is raised.
    """
    inst = instrument if isinstance(instrument, _core.Instrument) else load_instrument(instrument)
    records = personas_from(personas)
    d = _core.administer(inst, records, backend, mode, model, int(seed), shuffle_items,
                         reverse_scale, max_retries, temperature, max_tokens, top_logprobs,
                         logprob_positions, personas_per_round, chunk_size, parallel_chunks,
                         prompt or "", os.fspath(cache) if cache else "", api_key_env,
                         concurrency, timeout, attempts, threads, progress)
    responses = d["responses"]
    items = [it.id for it in inst.items]
    values = np.full((len(responses), len(items)), np.nan)
    for i, r in enumerate(responses):
        for j, it in enumerate(r["items"]):
            if it["value"] is not None:
                values[i, j] = it["value"]
    ids = [r["persona_id"] for r in responses]
    return AdministerResult(
        instrument=inst, answers=frame(values, items, ids), responses=responses,
        lines=d["lines"], personas=len(responses), missing=int(np.isnan(values).sum()),
        calls=sum(r["calls"] for r in responses),
        cached_calls=sum(r["cached_calls"] for r in responses),
        failed=sum(1 for r in responses if r["failed"]))
