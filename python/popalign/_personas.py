"""Persona records: the one type every stage passes personas along in (io::PersonaRecord), and
the JSONL reader and writer. Exporters to simulation frameworks take these records."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence

from . import _core
from ._frames import is_frame

__all__ = ["PersonaRecord", "read_personas", "write_personas", "personas_from", "fields_of"]

PersonaRecord = _core.PersonaRecord


def fields_of(record: "_core.PersonaRecord") -> Dict[str, Any]:
    """The record's other fields (traits, demographics, provenance, ...) as a dict."""
    s = record.fields_json
    return {} if s in ("", "null") else json.loads(s)


def make_record(id: Any, text: str, facts: Sequence[str] = (),
                fields: Optional[Dict[str, Any]] = None) -> "_core.PersonaRecord":
    return _core.PersonaRecord(str(id), text, list(facts),
                               json.dumps(fields) if fields else "")


def read_personas(path: "os.PathLike[str] | str", *, id_field: str = "id",
                  text_field: str = "persona", facts_field: str = "facts",
                  skip_bad_lines: bool = False,
                  unique_ids: bool = True) -> List["_core.PersonaRecord"]:
    """Reads a persona JSONL file (docs/io.md): id, text (``persona`` string or array, else
    ``facts``), every other member kept in ``fields``."""
    return _core.read_personas(os.fspath(path), id_field, text_field, facts_field, skip_bad_lines,
                               unique_ids)


def write_personas(path: "os.PathLike[str] | str", personas: Iterable[Any], *,
                   with_facts: bool = False) -> None:
    """Writes records (or anything personas_from accepts) as JSONL, atomically."""
    _core.write_personas(os.fspath(path), personas_from(personas), with_facts)


def personas_from(obj: Any, *, id_field: str = "id",
                  text_field: str = "persona") -> List["_core.PersonaRecord"]:
    """PersonaRecords from: a path to a JSONL file; a list of records; a list of dicts
    ({"id", "persona" | "text", "facts"?, ...other fields}); a DataFrame with id and text
    columns (other columns become fields); a dict {id: text}."""
    if isinstance(obj, (str, os.PathLike)):
        return read_personas(obj, id_field=id_field, text_field=text_field)
    if is_frame(obj):
        df = obj
        if id_field not in df.columns:
            df = df.reset_index().rename(columns={df.index.name or "index": id_field})
        obj = df.to_dict(orient="records")
    if isinstance(obj, dict):
        return [make_record(k, v) for k, v in obj.items()]
    out: List[_core.PersonaRecord] = []
    for i, p in enumerate(obj):
        if isinstance(p, _core.PersonaRecord):
            out.append(p)
            continue
        if not isinstance(p, dict):
            raise TypeError(f"personas[{i}]: expected a PersonaRecord or a dict, got "
                            f"{type(p).__name__}")
        p = dict(p)
        if id_field not in p:
            raise ValueError(f"personas[{i}]: no {id_field!r}")
        pid = p.pop(id_field)
        text = p.pop(text_field, None)
        if text is None:
            text = p.pop("text", None)
        facts = p.pop("facts", None) or []
        if text is None:
            if not facts:
                raise ValueError(f"personas[{i}] (id {pid!r}): no {text_field!r} and no 'facts'")
            text = " ".join(facts)
        if isinstance(text, list):
            text = " ".join(str(t) for t in text)
        if not facts:
            facts = _core.split_sentences(text)
        out.append(make_record(pid, str(text), facts, p))
    return out
