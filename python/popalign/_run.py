"""run() and plan(): the whole pipeline of ``popalign run`` (popalign::pipeline, docs/pipeline.md)
from Python, with each model given as a base URL or as any Python callable.

The config is a path to the TOML file ``popalign init`` writes (or the same keys as JSON), or a
dict with the same keys. A TOML file is read by the library itself (messages name its file, line
and key); a dict, a JSON file, or a TOML file that needs changes (a base URL given here, a
callable for a role without a base_url) is written out as TOML and read by the same reader
(messages then name the file -- or "config" for a dict -- and the key, without a line).

Backends: ``generator`` (mining: post quality and persona writing; group revisions), ``judge``
(mining critique, revision judge) and ``respondent`` (the questionnaire). Each is None (the
config's endpoint), a base URL (replaces the endpoint's base_url), or any callable from a list
of request dicts to a list of answers -- the convention of administer(). As in the config, the
judge and the respondent take the generator's backend unless given or unless the config gives
them their own base_url. Every call goes through the run's response cache
(<run_dir>/llm-cache.sqlite), so a rerun or a resumed run asks nothing twice.
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _core
from ._administer import LlmCallable
from ._align import _ReadableRepr
from ._retrieve import EmbedderCallable

__all__ = ["run", "plan", "load_config", "RunResult", "StageOutcome", "RunPlan", "StagePlan",
           "RunProgress", "PipelineConfig", "ConfigLike", "BackendLike"]

RunProgress = _core.RunProgress
PipelineConfig = _core.PipelineConfig
ConfigLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]
BackendLike = Union[str, LlmCallable, Any]

_ROLES = ("generator", "judge", "respondent")
_PLACEHOLDER_URL = "python:callable"  # a callable role's base_url (never contacted)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, repr=False)
class StageOutcome(_ReadableRepr):
    """One stage of a run as it went (pipeline::StageOutcome)."""
    name: str
    action: str           #: "ran", "resumed", or "skipped" (unchanged inputs and options)
    seconds: float = 0.0
    calls: int = 0        #: LLM calls of this run (cached ones included)
    cached_calls: int = 0  #: of which answered from the run's cache
    cost: float = 0.0     #: with the endpoints' prices
    summary: str = ""     #: one line (counts)


@dataclass(frozen=True, repr=False)
class RunResult(_ReadableRepr):
    """What run() did. ``status``: "ok", or "cancelled" (a progress callback returned True; run
    again to resume). ``report``: <run_dir>/report.html; ``persona_files``: the global set first,
    then one per group (JSONL, popalign.read_personas)."""
    status: str
    stages: List[StageOutcome]
    report: pathlib.Path
    persona_files: List[pathlib.Path]
    cost: float = 0.0
    run_dir: pathlib.Path = field(default=pathlib.Path("."))

    @property
    def calls(self) -> int:
        """LLM calls of this run, over every stage (cached ones included)."""
        return sum(s.calls for s in self.stages)

    @property
    def cached_calls(self) -> int:
        return sum(s.cached_calls for s in self.stages)

    def stage(self, name: str) -> StageOutcome:
        """The stage called ``name`` ("mine", "administer", "group europe", ...)."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage '{name}' in this run (stages: "
                       f"{', '.join(s.name for s in self.stages)})")

    def __repr__(self) -> str:
        stages = ", ".join(f"{s.name}: {s.action}" for s in self.stages)
        files = ", ".join(repr(str(p)) for p in self.persona_files)
        return (f"RunResult(status={self.status!r}, stages=[{stages}], calls={self.calls}, "
                f"cached_calls={self.cached_calls}, cost={self.cost:.4g}, "
                f"report={str(self.report)!r}, persona_files=[{files}])")

    def __str__(self) -> str:
        lines = [f"{s.name:<24} {s.action:<8} {s.seconds:8.2f} s {s.calls:6d} calls "
                 f"({s.cached_calls} cached) cost {s.cost:.4f}  {s.summary}".rstrip()
                 for s in self.stages]
        lines.append(f"status {self.status}; report {self.report}")
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class StagePlan(_ReadableRepr):
    """What one stage will cost (pipeline::StagePlan)."""
    name: str
    model: str
    calls: int             #: first asks still to make
    upper_bound: bool      #: depends on earlier stages' results (calls is at most this)
    prompt_tokens: int     #: estimated, about 4 characters per token
    completion_tokens: int  #: upper bound: calls x max_tokens
    cost: float            #: with the endpoints' prices
    done: bool             #: finished in the manifest with the same inputs and options


@dataclass(frozen=True, repr=False)
class RunPlan(_ReadableRepr):
    """The dry run: per stage, the calls, tokens and cost still to come; sends nothing."""
    stages: List[StagePlan]
    calls: int             #: over the stages not done
    cost: float
    table: str = field(repr=False, default="")

    def __str__(self) -> str:
        return self.table


# ---- the config --------------------------------------------------------------------------------

def _toml_value(v: Any, key: str) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (str, os.PathLike)):
        return json.dumps(os.fspath(v), ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x, f"{key}[{i}]") for i, x in enumerate(v)) + "]"
    raise _invalid(key, f"a {type(v).__name__} has no TOML form (use str, int, float, bool, "
                        "a list, or a dict for a table)")


def _toml_key(k: Any, where: str) -> str:
    if not isinstance(k, str):
        raise _invalid(where, f"keys must be strings, got {k!r}")
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(x, Mapping) for x in v)


def _dump_table(d: Mapping[str, Any], path: List[str], out: List[str]) -> None:
    """Scalars first, then sub-tables ([a.b]), then arrays of tables ([[a]]); None and an empty
    list (e.g. "groups": []) = not set."""
    for k, v in d.items():
        name = ".".join(path + [str(k)])
        if (v is None or isinstance(v, Mapping) or _is_table_list(v)
                or (isinstance(v, (list, tuple)) and len(v) == 0)):
            continue
        out.append(f"{_toml_key(k, name)} = {_toml_value(v, name)}")
    for k, v in d.items():
        if isinstance(v, Mapping):
            sub = path + [_toml_key(k, ".".join(path + [str(k)]))]
            out.append(f"[{'.'.join(sub)}]")
            _dump_table(v, sub, out)
    for k, v in d.items():
        if _is_table_list(v):
            sub = path + [_toml_key(k, ".".join(path + [str(k)]))]
            for item in v:
                out.append(f"[[{'.'.join(sub)}]]")
                _dump_table(item, sub, out)


def _to_toml(d: Mapping[str, Any]) -> str:
    out: List[str] = []
    _dump_table(d, [], out)
    return "\n".join(out) + "\n"


def _invalid(argument: str, message: str) -> Exception:
    e = _core.InvalidArgument(f"invalid argument '{argument}': {message}")
    e.argument = argument  # type: ignore[attr-defined]
    return e


def _is_callable_backend(b: Any) -> bool:
    return callable(b) or callable(getattr(b, "complete", None))


def _resolve(d: Dict[str, Any], backends: Mapping[str, Any]) -> Tuple[Dict[str, Any], bool]:
    """The backend of each role (inheritance as in the config) and the config dict with the base
    URLs given here and placeholders for callable roles; True when the dict changed."""
    models = d.get("models")
    models = models if isinstance(models, Mapping) else {}
    chosen: Dict[str, Any] = dict(backends)
    for r in ("judge", "respondent"):
        own = models.get(r)
        own = own if isinstance(own, Mapping) else {}
        if chosen.get(r) is None and "base_url" not in own:
            chosen[r] = chosen.get("generator")  # inherits the generator, as the config does
    changed = False
    callables: Dict[str, Any] = {}

    def table(role: str) -> Dict[str, Any]:
        nonlocal changed
        m = d.setdefault("models", {})
        if not isinstance(m, dict):
            raise _invalid("models", "must be a table (a dict)")
        t = m.setdefault(role, {})
        if not isinstance(t, dict):
            raise _invalid(f"models.{role}", "must be a table (a dict)")
        changed = True
        return t

    def sub(t: Any, k: str) -> Mapping[str, Any]:
        v = t.get(k) if isinstance(t, Mapping) else None
        return v if isinstance(v, Mapping) else {}

    def effective(role: str, key: str) -> Any:
        m = sub(d, "models")
        own = sub(m, role)
        return own[key] if key in own else sub(m, "generator").get(key)

    for r in _ROLES:
        b = backends.get(r)
        if b is None:
            continue
        if isinstance(b, (str, os.PathLike)):
            table(r)["base_url"] = os.fspath(b)
        elif not _is_callable_backend(b):
            raise _invalid(r, "must be None, a base URL (str) or a callable taking a list of "
                              f"request dicts (got {type(b).__name__})")
    for r in _ROLES:
        b = chosen.get(r)
        if b is None or isinstance(b, (str, os.PathLike)):
            continue
        callables[r] = b
        if not effective(r, "base_url"):
            table(r)["base_url"] = _PLACEHOLDER_URL
        own = sub(sub(d, "models"), r)
        if r != "generator" and "model" not in own and b is not chosen.get("generator"):
            table(r)["model"] = f"python-{r}"  # another backend than the generator's
        elif not effective(r, "model"):
            table(r)["model"] = f"python-{r}"
    # Mining sends each request to the backend of its model name: a judge with another backend
    # than the generator's needs another model name.
    g, j = chosen.get("generator"), chosen.get("judge")
    inp = d.get("input")
    mining = isinstance(inp, Mapping) and inp.get("posts") is not None
    if (mining and ("generator" in callables or "judge" in callables) and g is not j
            and effective("generator", "model") == effective("judge", "model")):
        raise _invalid("models.judge.model",
                       "the judge has another backend than the generator but the same model "
                       f"name ('{effective('judge', 'model')}'): mining routes requests by model "
                       "name, so give the judge its own model name")
    return callables, changed


def _read_config_dict(config: Any) -> Tuple[Optional[Dict[str, Any]], str, Optional[str]]:
    """(dict or None, anchor path, TOML text when the config is a TOML file)."""
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config)), "config", None
    if not isinstance(config, (str, os.PathLike)):
        raise _invalid("config", "must be a path to a TOML or JSON file, or a dict "
                                 f"(got {type(config).__name__})")
    path = os.fspath(config)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise _core.IoError(f"{path}: cannot read the pipeline config ({e.strerror})") from None
    if path.lower().endswith(".json"):
        try:
            d = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _core.ParseError(f"{path}: not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise _invalid(path, "a JSON config must be an object")
        return d, path, None
    return None, path, raw.decode("utf-8", errors="replace")


def _prepare(config: ConfigLike, backends: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
    d, anchor, text = _read_config_dict(config)
    if d is None:
        # A TOML file: the library reads the text as it is (exact lines) unless it needs changes.
        try:
            import tomllib
        except ImportError:  # pragma: no cover (Python < 3.11)
            tomllib = None  # type: ignore[assignment]
        parsed: Optional[Dict[str, Any]] = None
        if tomllib is not None:
            try:
                parsed = tomllib.loads(text or "")
            except Exception:
                parsed = None  # the library's reader reports the syntax error with its line
        if parsed is None:
            return _core.parse_pipeline_config(text or "", anchor, True), {}
        callables, changed = _resolve(parsed, backends)
        if not changed:
            return _core.parse_pipeline_config(text or "", anchor, True), callables
        return _core.parse_pipeline_config(_to_toml(parsed), anchor, False), callables
    callables, _ = _resolve(d, backends)
    return _core.parse_pipeline_config(_to_toml(d), anchor, False), callables


def load_config(config: ConfigLike, *, generator: Optional[BackendLike] = None,
                judge: Optional[BackendLike] = None,
                respondent: Optional[BackendLike] = None) -> PipelineConfig:
    """The validated config (the library's reader): a TOML or JSON path, or a dict with the
    keys of the file. The backends matter as in run() (a base URL given here replaces the
    config's; a callable role needs no base_url). InvalidArgument names the key."""
    cfg, _ = _prepare(config, {"generator": generator, "judge": judge, "respondent": respondent})
    return cfg


# ---- plan and run ------------------------------------------------------------------------------

def plan(config: ConfigLike, *, generator: Optional[BackendLike] = None,
         judge: Optional[BackendLike] = None,
         respondent: Optional[BackendLike] = None) -> RunPlan:
    """The dry run of run(config): per stage the model, the calls still to make, the estimated
    tokens and the cost with the endpoints' prices; finished stages (in the run directory's
    manifest, same inputs and options) are marked done. Reads the inputs; sends nothing (the
    backends are only used to complete the config, as in run())."""
    cfg, _ = _prepare(config, {"generator": generator, "judge": judge, "respondent": respondent})
    d = _core.plan_pipeline(cfg)
    return RunPlan(stages=[StagePlan(**s) for s in d["stages"]], calls=int(d["calls"]),
                   cost=float(d["cost"]), table=d["table"])


def run(config: ConfigLike, *, generator: Optional[BackendLike] = None,
        judge: Optional[BackendLike] = None, respondent: Optional[BackendLike] = None,
        embedder: Union[None, str, EmbedderCallable] = None,
        progress: Optional[Callable[[Any], Optional[bool]]] = None,
        log: Optional[Callable[[str], Any]] = None) -> RunResult:
    """Runs (or resumes) the whole pipeline of ``popalign run``: mine -> administer -> score ->
    reference -> align -> one stage per group -> report, in the config's run directory.

    ``config``: a TOML/JSON path or a dict with the keys of ``popalign init``'s file
    (docs/pipeline.md). ``generator``, ``judge``, ``respondent``: None (the config's endpoint), a
    base URL, or any callable ``fn(requests: list[dict]) -> list[str | dict | None]`` as for
    administer() (judge and respondent default to the generator's backend unless the config
    gives them their own base_url). ``embedder``: None or "glove" (the shipped GloVe vectors,
    SIF weighting) or a callable ``texts -> array (len(texts) x dimension)``, for mining's
    deduplication and group retrieval (its dimension is probed with one call).
    ``progress(p: RunProgress)`` (stage, done, total, overall, cost_so_far, cost_rest) is called
    often; returning True stops the run (status "cancelled"). ``log(message)`` gets the run's
    messages (stage skipped, resumed, warnings).

    The GIL is released while the pipeline runs (callables take it back for their calls).
    Ctrl-C cancels: what is finished is kept, KeyboardInterrupt is raised, and a rerun resumes
    without repeating finished calls. A rerun with unchanged inputs and options skips every
    stage. An exception raised by a callable stops the run and is raised as BackendError naming
    the role and the stage (the original exception is its ``__cause__``). Bad config:
    InvalidArgument naming the key; a server that cannot be used: BackendError.
    """
    cfg, callables = _prepare(config, {"generator": generator, "judge": judge,
                                       "respondent": respondent})
    dim = 0
    emb: Any = None
    if isinstance(embedder, str):
        if embedder != "glove":
            raise _invalid("embedder", "must be None or 'glove' (the shipped GloVe vectors with "
                                       "SIF weighting) or a callable texts -> array; got "
                                       f"'{embedder}'")
    elif embedder is not None:
        if not callable(embedder):
            raise _invalid("embedder", "must be None, 'glove' or a callable texts -> array (got "
                                       f"{type(embedder).__name__})")
        dim = _probe_dimension(embedder)
        emb = embedder
    d = _core.run_pipeline(cfg, callables.get("generator"), callables.get("judge"),
                           callables.get("respondent"), emb, dim, progress, log)
    if d["error"] is not None:
        err = d["error"]
        stage = d["error_stage"] or "(before the first stage)"
        what = ("callable backend" if d["error_role"] in _ROLES else "callable")
        raise _core.BackendError(
            f"run: the {d['error_role']} {what} raised {type(err).__name__}: {err} (stage "
            f"'{stage}'; the run stopped; what finished is kept and a rerun resumes)") from err
    return RunResult(
        status=d["status"], stages=[StageOutcome(**s) for s in d["stages"]],
        report=pathlib.Path(d["report"]), persona_files=[pathlib.Path(p) for p in
                                                         d["persona_files"]],
        cost=float(d["cost"]), run_dir=pathlib.Path(cfg.run_dir))


def _probe_dimension(embedder: Any) -> int:
    probe = np.asarray(embedder(["dimension probe"]))
    if probe.ndim != 2 or probe.shape[0] != 1 or probe.shape[1] < 1:
        raise _invalid("embedder", "a callable embedder must return an array of shape "
                                   f"(len(texts), dimension); got shape {probe.shape} for 1 text")
    return int(probe.shape[1])
