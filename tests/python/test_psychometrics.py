"""load_instrument and score, checked against a by-hand computation on the BIG5 data."""
import numpy as np
import pytest

import popalign

pd = pytest.importorskip("pandas")


def test_load_instrument():
    inst = popalign.load_instrument("ipip50")
    assert inst.id == "ipip50_bfm" and len(inst) == 50
    assert [t.code for t in inst.traits] == ["O", "C", "E", "A", "N"]
    assert inst.scale.min == 1 and inst.scale.max == 5
    assert "ipip50" in popalign.available_instruments()
    with pytest.raises(popalign.InvalidArgument, match="ipip50"):
        popalign.load_instrument("no_such_instrument")


def test_score_dataframe_equals_hand_computation_and_file(data_dir):
    inst = popalign.load_instrument("ipip50")
    raw = pd.read_csv(data_dir / "big5" / "data.csv", sep="\t", nrows=300)
    res = popalign.score(inst, raw, missing_code=0)
    assert list(res.scores.columns) == ["O", "C", "E", "A", "N"]
    # by hand: keyed mean of the trait's items (BIG5 column aliases), 0 = missing
    for t in ["E", "N"]:
        cols, keys = [], []
        for it in inst.items:
            if it.trait == t:
                col = next(a for a in [it.id] + list(it.aliases) if a in raw.columns)
                cols.append(col); keys.append(it.key)
        x = raw[cols].to_numpy(float)
        x[x == 0] = np.nan
        x = np.where(np.array(keys) < 0, 6 - x, x)
        np.testing.assert_allclose(res.scores[t].to_numpy(), np.nanmean(x, axis=1), rtol=1e-12)
    # the file path gives the same numbers
    small = data_dir / "big5" / "data.csv"
    full = popalign.score(inst, str(small), missing_code=0)
    np.testing.assert_allclose(full.values[:300], res.values, rtol=1e-12)
    assert "alpha" in full.summary().lower()
    # an out-of-range answer is an error naming the row
    bad = raw.copy(); bad.loc[bad.index[2], "E1"] = 9
    with pytest.raises(popalign.InvalidArgument, match="E1"):
        popalign.score(inst, bad, missing_code=0)
