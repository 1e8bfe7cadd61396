"""popalign.export_*: the same bytes as the C++ exporters' golden files, every format, every
input form (paths, records, DataFrames, an AlignResult as the selection), and the errors."""
import json

import numpy as np
import pandas as pd
import pytest

import popalign
from conftest import SOURCE_DIR

DATA = SOURCE_DIR / "tests" / "exporters" / "data"
GOLDEN = DATA / "golden"


@pytest.mark.parametrize("fmt,name", [("concordia", "concordia.json"),
                                      ("oasis-reddit", "oasis_reddit.json"),
                                      ("oasis-twitter", "oasis_twitter.csv")])
def test_file_formats_match_the_golden_files(tmp_path, fmt, name):
    out = tmp_path / name
    r = popalign.export(DATA / "one_persona.jsonl", fmt, out, DATA / "reference.csv")
    assert r["personas"] == 1
    assert out.read_bytes() == (GOLDEN / name).read_bytes()


def test_tinytroupe_matches_the_golden_folder(tmp_path):
    r = popalign.export_tinytroupe(DATA / "one_persona.jsonl", tmp_path / "tt", DATA / "reference.csv")
    golden = sorted(p.name for p in (GOLDEN / "tinytroupe").iterdir())
    assert sorted(r["files"]) == golden
    for name in golden:
        assert (tmp_path / "tt" / name).read_bytes() == (GOLDEN / "tinytroupe" / name).read_bytes()


def test_render_in_memory_equals_the_written_file(tmp_path):
    files = popalign.render_export(DATA / "personas.jsonl", "oasis-reddit", DATA / "reference.csv")
    assert len(files) == 1
    popalign.export_oasis_reddit(DATA / "personas.jsonl", tmp_path / "r.json", DATA / "reference.csv")
    assert (tmp_path / "r.json").read_text() == files[0][1]
    users = json.loads(files[0][1])
    assert [u["popalign"]["id"] for u in users] == [
        p.id for p in popalign.read_personas(DATA / "personas.jsonl")]


def test_a_reference_dataframe_equals_the_reference_csv():
    ref = pd.read_csv(DATA / "reference.csv")
    a = popalign.render_export(DATA / "personas.jsonl", "concordia", DATA / "reference.csv")
    b = popalign.render_export(DATA / "personas.jsonl", "concordia", ref)
    assert a == b
    # Negative control: a shifted reference moves the tertiles, and so the levels.
    shifted = ref.copy()
    for c in shifted.columns:
        if c not in ("id", "weight", "count"):
            shifted[c] = shifted[c] + 100.0
    assert popalign.render_export(DATA / "personas.jsonl", "concordia", shifted) != a


def test_selection_csv_and_selection_frame_agree():
    sel = pd.read_csv(DATA / "selection.csv")
    a = popalign.render_export(DATA / "personas.jsonl", "oasis-reddit", DATA / "reference.csv",
                               selection=DATA / "selection.csv")
    b = popalign.render_export(DATA / "personas.jsonl", "oasis-reddit", DATA / "reference.csv",
                               selection=sel)
    assert a == b
    users = json.loads(a[0][1])
    assert [u["popalign"]["id"] for u in users] == [str(i) for i in sel["id"]]


def test_an_align_result_is_a_selection(rng):
    ref = pd.read_csv(DATA / "reference.csv")
    traits = [c for c in ref.columns if c != "id"]
    n = 40
    pool = pd.DataFrame(rng.normal(ref[traits].mean().to_numpy(), ref[traits].std().to_numpy(),
                                   (n, len(traits))), columns=traits)
    pool.index = pd.Index([f"q{i}" for i in range(n)], name="id")
    records = [{"id": f"q{i}", "persona": f"Person {i} likes walks."} for i in range(n)]
    res = popalign.align(pool, ref[traits], n=10, method="random", seed=3)
    files = popalign.render_export(records, "oasis-reddit", DATA / "reference.csv", selection=res)
    users = json.loads(files[0][1])
    assert [u["popalign"]["id"] for u in users] == [f"q{i}" for i in res.indices]


def test_mbti_rule():
    # O C E A N above/below the medians: E from extraversion, N from openness, F from
    # agreeableness, J from conscientiousness; neuroticism unused.
    assert popalign.mbti_from_big_five([5, 5, 5, 5, 1], [3, 3, 3, 3, 3]) == "ENFJ"
    assert popalign.mbti_from_big_five([1, 1, 1, 1, 5], [3, 3, 3, 3, 3]) == "ISTP"
    assert popalign.mbti_from_big_five([5, 1, 5, 1, 9], [3, 3, 3, 3, 3]) == "ENTP"


def test_errors_name_the_argument(tmp_path):
    with pytest.raises(popalign.InvalidArgument, match="format"):
        popalign.export(DATA / "personas.jsonl", "agentsociety", tmp_path / "x", DATA / "reference.csv")
    with pytest.raises(popalign.ParseError):
        popalign.render_export([{"id": "a", "persona": "No traits here."}], "concordia",
                               DATA / "reference.csv")
    with pytest.raises(TypeError):
        popalign.render_export(DATA / "personas.jsonl", "concordia", 42)
