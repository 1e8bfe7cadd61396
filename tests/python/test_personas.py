"""Persona records: read, write, build from dicts and DataFrames."""
import pytest

import popalign


def test_read_write_roundtrip(tmp_path, data_dir):
    recs = popalign.read_personas(data_dir / "personas" / "synthetic_persona_chat_valid_test.jsonl")
    assert len(recs) > 100 and recs[0].facts and recs[0].line == 1
    out = tmp_path / "p.jsonl"
    popalign.write_personas(out, recs[:10], with_facts=True)
    back = popalign.read_personas(out)
    assert [r.id for r in back] == [r.id for r in recs[:10]]
    assert [r.facts for r in back] == [r.facts for r in recs[:10]]


def test_records_from_dicts_and_frames(tmp_path):
    pd = pytest.importorskip("pandas")
    recs = popalign.personas_from([{"id": 7, "persona": "A nurse. Likes dogs.", "traits": {"E": 3.5}}])
    assert recs[0].id == "7" and recs[0].facts == ["A nurse.", "Likes dogs."]
    assert popalign.fields_of(recs[0]) == {"traits": {"E": 3.5}}
    df = pd.DataFrame({"id": ["a", "b"], "persona": ["One.", "Two."], "age": [30, 41]})
    recs = popalign.personas_from(df)
    assert [popalign.fields_of(r)["age"] for r in recs] == [30, 41]
    out = tmp_path / "x.jsonl"
    popalign.write_personas(out, df)
    assert out.read_text().splitlines()[0] == '{"id":"a","persona":"One.","age":30}'
    with pytest.raises(ValueError, match="no 'persona'"):
        popalign.personas_from([{"id": 1}])
    with pytest.raises(popalign.ParseError, match=":2"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"id": 1, "persona": "x"}\nnot json\n')
        popalign.read_personas(bad)
