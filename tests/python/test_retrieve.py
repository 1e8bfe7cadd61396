"""retrieve() with the shipped GloVe-SIF embedder and with a callable embedder."""
import numpy as np
import pytest

import popalign

pd = pytest.importorskip("pandas")

PERSONAS = [
    {"id": "nurse", "persona": "I work night shifts at the hospital. I love my two cats."},
    {"id": "chef", "persona": "I cook in a small restaurant. I grow tomatoes."},
    {"id": "coder", "persona": "I write software for a bank. I play chess online."},
]


def test_glove_embedder_finds_the_nurse():
    hits = popalign.retrieve(PERSONAS, ["someone who works in a hospital"], k=2)
    assert list(hits.columns) == ["query", "rank", "id", "score", "index"]
    assert hits.iloc[0]["id"] == "nurse" and list(hits["rank"]) == [1, 2]


class BagOfWordsDouble:
    """TEST DOUBLE embedder: a count vector over a fixed vocabulary. Counts calls."""
    vocab = ["hospital", "night", "cats", "cook", "restaurant", "software", "bank", "chess"]

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for i, t in enumerate(texts):
            for j, w in enumerate(self.vocab):
                out[i, j] = t.lower().count(w)
        return out


def test_callable_embedder():
    emb = BagOfWordsDouble()
    hits = popalign.retrieve(PERSONAS, ["plays chess", "a restaurant cook"], k=1, embedder=emb)
    assert list(hits["id"]) == ["coder", "chef"]
    assert emb.calls >= 2
    whole = popalign.retrieve(PERSONAS, "cats", k=3, embedder=emb, scoring="whole")
    assert whole.iloc[0]["id"] == "nurse"
    with pytest.raises(popalign.BackendError, match="shape"):
        popalign.retrieve(PERSONAS, "x", embedder=lambda t: np.zeros((1, 3)), dimension=3)
    with pytest.raises(popalign.InvalidArgument, match="scoring"):
        popalign.retrieve(PERSONAS, "x", embedder=emb, scoring="best")
