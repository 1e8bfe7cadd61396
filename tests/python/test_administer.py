"""administer() with Python callables as the LLM backend: a TEST DOUBLE respondent whose
answers follow known trait levels, so administer -> score must recover them exactly."""
import json
import math
import re

import numpy as np
import pytest

import popalign

pd = pytest.importorskip("pandas")


class RespondentDouble:
    """TEST DOUBLE of an LLM: reads the persona (system message) and the statement(s) (user
    message) and answers on a 1..5 scale with level (+ keyed) or 6 - level (- keyed), where the
    persona's level per trait is known. Counts its calls."""

    def __init__(self, instrument, levels):
        self.inst = instrument
        self.levels = levels  # persona text -> {trait: level}
        self.by_text = {it.text: it for it in instrument.items}
        self.by_id = {it.id: it for it in instrument.items}
        self.calls = 0
        self.seen = []

    def answer(self, level, item):
        return level[item.trait] if item.key > 0 else 6 - level[item.trait]

    def __call__(self, requests):
        out = []
        for r in requests:
            self.calls += 1
            self.seen.append(r)
            system = next(m["content"] for m in r["messages"] if m["role"] == "system")
            user = r["messages"][-1]["content"]
            level = next(v for k, v in self.levels.items() if k in system)
            if r["json_schema"]:
                ids = re.findall(r"^(\S+): ", user, flags=re.M)
                out.append(json.dumps({i: self.answer(level, self.by_id[i]) for i in ids
                                       if i in self.by_id}))
                continue
            item = self.by_text[re.search(r'Statement: "(.*)"', user).group(1)]
            v = self.answer(level, item)
            if r["logprobs"]:
                top = [{"token": str(v), "logprob": math.log(0.75)},
                       {"token": "x", "logprob": math.log(0.25)}]
                out.append({"text": str(v), "logprobs": [{"token": str(v), "logprob": top[0]["logprob"],
                                                          "top": top}]})
            else:
                out.append(f"I would say {v}.")
        return out


def personas():
    texts = {"p1": "A calm, tidy accountant who likes quiet evenings.",
             "p2": "An outgoing street musician who hates schedules.",
             "p3": "A nurse who worries a lot and reads poetry."}
    levels = {texts["p1"]: dict(O=2, C=5, E=1, A=4, N=1),
              texts["p2"]: dict(O=5, C=1, E=5, A=3, N=2),
              texts["p3"]: dict(O=4, C=3, E=2, A=5, N=5)}
    return texts, levels


@pytest.mark.parametrize("mode", ["generate", "batch", "logprobs"])
def test_callable_backend_answers_like_a_respondent(mode):
    inst = popalign.load_instrument("mini_ipip")
    texts, levels = personas()
    double = RespondentDouble(inst, levels)
    res = popalign.administer(texts, inst, double, mode=mode, seed=4)
    assert res.personas == 3 and res.missing == 0 and res.failed == 0
    if mode == "batch":
        assert double.calls == 3
    else:
        assert double.calls == 3 * len(inst)
    scores = popalign.score(inst, res).scores
    for pid, text in texts.items():
        for t, level in levels[text].items():
            assert scores.loc[pid, t] == pytest.approx(level)
    line = json.loads(res.lines[0])
    assert line["id"] == "p1" and line["mode"] == mode and len(line["answers"]) == len(inst)
    r0 = double.seen[0]
    assert set(r0) >= {"messages", "prompt", "model", "temperature", "seed", "json_schema",
                       "logprobs", "top_logprobs", "max_tokens"}


def test_same_seed_same_requests_and_cache(tmp_path):
    inst = popalign.load_instrument("mini_ipip")
    texts, levels = personas()
    d1, d2, d3 = (RespondentDouble(inst, levels) for _ in range(3))
    popalign.administer(texts, inst, d1, seed=9)
    popalign.administer(texts, inst, d2, seed=9)
    assert d1.seen == d2.seen
    cache = tmp_path / "calls.sqlite"
    first = popalign.administer(texts, inst, d3, seed=9, cache=cache)
    again = popalign.administer(texts, inst, d3, seed=9, cache=cache)
    assert again.cached_calls == again.calls == first.calls and d3.calls == first.calls
    assert again.lines == first.lines


def test_failures_and_exceptions_of_the_callable():
    inst = popalign.load_instrument("mini_ipip")
    texts, _ = personas()
    res = popalign.administer(texts, inst, lambda reqs: [None] * len(reqs), max_retries=0)
    assert res.failed == 3 and res.missing == 3 * len(inst)
    assert res.responses[0]["items"][0]["error"]

    class Boom(RuntimeError):
        pass

    def broken(reqs):
        raise Boom("my client failed")

    with pytest.raises(Boom, match="my client failed"):
        popalign.administer(texts, inst, broken)
    with pytest.raises(popalign.InvalidArgument, match="backend"):
        popalign.administer(texts, inst, 42)


def test_unreachable_base_url_records_failures():
    inst = popalign.load_instrument("mini_ipip")
    res = popalign.administer({"p": "Someone."}, inst, "http://127.0.0.1:9/v1", attempts=1,
                              timeout=5, max_retries=0)
    assert res.failed == 1
    assert "transport" in res.responses[0]["items"][0]["error"]
