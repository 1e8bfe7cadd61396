"""popalign.mine() with a callable LLM backend: a scripted TEST DOUBLE that answers the three
mining prompts (post quality, persona writer, critique) like a cooperative model, on the first
authors of data/posts/spc_posts.jsonl."""
import json

import numpy as np
import pytest

import popalign


class ScriptedMiningModelDouble:
    """TEST DOUBLE of an LLM: answers by prompt kind; the persona names the author's id-free
    first line so different windows differ, unless `same_persona`."""

    def __init__(self, same_persona=False):
        self.same_persona = same_persona
        self.requests = []

    def __call__(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            user = r["messages"][-1]["content"] if r["messages"] else (r["prompt"] or "")
            if "Rate the post's quality" in user:
                out.append('{"quality": "high", "harmful": false}')
            elif "narrative persona" in user:
                text = ("This blogger is friendly, likes games and baking, and asks people "
                        "about their lives.")
                if not self.same_persona:
                    text += f" Window {len(self.requests)}."
                out.append(json.dumps({"status": "ok", "persona": text}))
            elif "Score the persona" in user:
                out.append('{"hallucination": 10, "coverage": 9, "conciseness": 9, '
                           '"relevance": 9, "overall": 9, "explanation": "Faithful."}')
            else:
                out.append(None)  # a failed call
        return out


def test_mine_with_a_callable_backend(data_dir, tmp_path):
    double = ScriptedMiningModelDouble()
    seen = []
    r = popalign.mine(data_dir / "posts" / "spc_posts.jsonl", double, embedder=None,
                      max_authors=2, seed=3, work_dir=tmp_path / "work",
                      progress=lambda step, done, total: seen.append(step))
    assert r.status == "ok"
    assert len(r.personas) >= 2
    assert all(p.text.startswith("This blogger") for p in r.personas)
    steps = [s["step"] for s in r.funnel["steps"]]
    assert steps[:3] == ["read", "prefilter", "quality"]
    assert r.funnel["steps"][0]["in"] > 0
    kinds = {c["step"]: c for c in r.calls}
    assert kinds["quality"]["calls"] > 0 and kinds["critique"]["calls"] == len(r.personas)
    assert len(double.requests) == sum(c["calls"] for c in r.calls)
    assert {"quality", "personas", "critique"} <= set(seen)
    assert "quality" in str(r)
    # Resume: a second run over the same work directory asks nothing.
    again = ScriptedMiningModelDouble()
    r2 = popalign.mine(data_dir / "posts" / "spc_posts.jsonl", again, embedder=None,
                       max_authors=2, seed=3, work_dir=tmp_path / "work")
    assert again.requests == []
    assert [p.text for p in r2.personas] == [p.text for p in r.personas]


def test_mine_deduplicates_with_glove_and_reports_errors(data_dir):
    posts = data_dir / "posts" / "spc_posts.jsonl"
    same = popalign.mine(posts, ScriptedMiningModelDouble(same_persona=True), embedder="glove",
                         max_authors=2)
    kept_without = popalign.mine(posts, ScriptedMiningModelDouble(same_persona=True),
                                 embedder=None, max_authors=2)
    assert len(kept_without.personas) >= 2
    assert len(same.personas) == 1  # identical personas: the near-duplicates are removed

    class Boom(Exception):
        pass

    def raising(requests):
        raise Boom("backend down")

    with pytest.raises(Boom):
        popalign.mine(posts, raising, embedder=None, max_authors=1)
    with pytest.raises(popalign.InvalidArgument, match="embedder"):
        popalign.mine(posts, ScriptedMiningModelDouble(), embedder="bert", max_authors=1)
    with pytest.raises(popalign.InvalidArgument, match="backend"):
        popalign.mine(posts, 42, embedder=None, max_authors=1)


class LetterCountEmbedderDouble:
    """TEST DOUBLE embedder: letter counts (26 dimensions), so near-identical texts get a cosine
    near 1. Records the texts it embedded."""

    def __init__(self):
        self.seen = []

    def __call__(self, texts):
        self.seen.extend(texts)
        out = np.zeros((len(texts), 26))
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out


class OrthogonalEmbedderDouble:
    """TEST DOUBLE embedder (negative control): a new one-hot vector for every text it is given,
    so no two texts are ever similar."""

    def __init__(self, dimension=256):
        self.dimension = dimension
        self.next = 0

    def __call__(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i in range(len(texts)):
            out[i, self.next % self.dimension] = 1.0
            self.next += 1
        return out


def test_mine_deduplicates_with_a_callable_embedder(data_dir):
    posts = data_dir / "posts" / "spc_posts.jsonl"
    # Personas that differ only by "Window <n>." are near-identical: they collapse to one.
    emb = LetterCountEmbedderDouble()
    near = popalign.mine(posts, ScriptedMiningModelDouble(), embedder=emb, max_authors=2)
    kept_without = popalign.mine(posts, ScriptedMiningModelDouble(), embedder=None,
                                 max_authors=2)
    assert len(kept_without.personas) >= 2
    assert len(near.personas) == 1
    assert any(t.startswith("This blogger") for t in emb.seen)  # it embedded the personas
    dedup = next(s for s in near.funnel["steps"] if s["step"] == "dedup")
    assert dedup["in"] == len(kept_without.personas) and dedup["out"] == 1
    # Negative control: orthogonal vectors remove nothing, even for identical texts.
    far = popalign.mine(posts, ScriptedMiningModelDouble(same_persona=True),
                        embedder=OrthogonalEmbedderDouble(), max_authors=2)
    assert len(far.personas) == len(kept_without.personas)
    # A callable returning the wrong shape is refused, naming the embedder.
    with pytest.raises(popalign.InvalidArgument, match="embedder"):
        popalign.mine(posts, ScriptedMiningModelDouble(), embedder=lambda t: np.zeros(3),
                      max_authors=1)
    with pytest.raises(popalign.InvalidArgument, match="embedder"):
        popalign.mine(posts, ScriptedMiningModelDouble(), embedder=3.5, max_authors=1)
