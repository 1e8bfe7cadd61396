"""popalign.run / popalign.plan: the whole pipeline from Python with callable backends that are
TEST DOUBLES answering like the scripted latent-trait server of tests/pipeline/latent_server.hpp
(post quality, persona writer carrying the author's latent traits, critique, questionnaire
items answered from the latent traits, group revisions and their judge), on a small generated
corpus. Checked: outputs, the result object, the report, scores that follow the latent traits,
a rerun that skips every stage and calls nothing, the dry-run plan, a raising callable (a
BackendError naming role and stage; a rerun resumes), a progress callback that stops the run,
Ctrl-C in a subprocess (a rerun repeats no finished call), the config as dict / JSON / TOML and
its errors naming the key."""
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import popalign
from conftest import DATA_DIR

AUTHORS = 24
HOBBIES = ["hiking", "baking", "chess", "painting", "cycling", "gardening", "poetry", "fishing",
           "knitting", "running", "photography", "jazz"]
SENTENCES = [
    "Yesterday I walked to the market and bought fresh bread for the whole family.",
    "My neighbour asked me to help with her broken fence, so we spent the afternoon fixing it.",
    "I have been reading a long novel about sailors and I cannot put it down at night.",
    "We had a loud argument at work about the new schedule and I stayed calm this time.",
    "On Sunday I cooked a huge pot of soup and froze half of it for the busy week ahead.",
    "I finally cleaned the garage and found old letters from my grandmother in a box.",
    "My friends and I drove to the coast to watch the storm roll over the grey water.",
    "I started learning a new language with an app and practise every morning on the bus.",
    "The train was late again, so I sat in the station and wrote this entry by hand.",
    "I volunteered at the shelter and walked three dogs that were far stronger than me.",
    "Our team lost the quiz night by one point and I keep thinking about that last answer.",
    "I repainted the kitchen a pale yellow colour and it feels much brighter in the mornings."]
MARKER = re.compile(r"latent:((?: [+-][0-9]+\.[0-9]+)+)")


def latent_marker(theta):
    return "latent:" + "".join(f" {t:+.2f}" for t in theta)


def find_latent(text):
    m = MARKER.search(text)
    return (m.group(0), [float(x) for x in m.group(1).split()]) if m else (None, None)


def latent_traits(n, d=5, seed=12345):
    """Biased like LLM personas: +0.8 on the 2nd trait, -0.6 on the 4th."""
    rng = np.random.default_rng(seed)
    bias = np.zeros(d)
    bias[1], bias[3] = 0.8, -0.6
    return np.clip(bias + 0.8 * rng.normal(size=(n, d)), -2.5, 2.5)


def write_posts(path, theta):
    with open(path, "w", encoding="utf-8") as f:
        for a, t in enumerate(theta):
            marker = latent_marker(t)
            for p in range(6):
                text = f"I love {HOBBIES[(a + p % 2) % 12]}. "
                text += " ".join(SENTENCES[(a * 5 + p * 3 + k * 7) % 12] for k in range(3))
                text += f" Day {a * 10 + p} of my notes, {marker} end."
                f.write(json.dumps({"author": f"a{100 + a}", "id": f"a{100 + a}:{p}",
                                    "time": f"2004-05-1{p}", "text": text}) + "\n")


def write_persona_file(path, theta):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(theta):
            f.write(json.dumps({"id": f"p{i:02d}", "persona": "A person who loves "
                                f"{HOBBIES[i % 12]}. Their profile reads {latent_marker(t)}."})
                    + "\n")


class LatentModelDouble:
    """TEST DOUBLE of every model of a run, answering like tests/pipeline/latent_server.hpp:
    quality high ("[ad]": low), a persona carrying the posts' latent marker, critique 10/9/9/9/9,
    questionnaire items answered from the persona's latent traits (a deterministic graded
    answer: 3 + 1.4 * key * theta, rounded, with a small fixed jitter per persona and item),
    revisions that move the traits toward the middle, a judge that passes them. Counts calls by
    kind and keeps a digest of every request it answered. Optional `fail_after` (raise after that
    many answers), `delay` (seconds per answer) and `on_answer` (called with the count)."""

    def __init__(self, instrument, fail_after=None, delay=0.0, on_answer=None):
        self.inst = instrument
        self.codes = [t.code for t in instrument.traits]
        self.items = sorted(instrument.items, key=lambda it: -len(it.text))
        self.kinds = {}
        self.digests = []
        self.fail_after = fail_after
        self.delay = delay
        self.on_answer = on_answer
        self.lock = threading.Lock()

    @property
    def calls(self):
        return sum(self.kinds.values())

    def kind(self, system, user):
        both = system + "\n" + user
        if "Rate the post's quality" in both:
            return "quality"
        if "narrative persona" in both:
            return "writer"
        if "Score the persona" in both:
            return "critique"
        if "strict reviewer of persona edits" in both:
            return "revision-judge"
        if "Rewrite the persona lightly" in both:
            return "revise"
        if any(it.text in user for it in self.items):
            return "item"
        return "other"

    def answer(self, kind, system, user):
        if kind == "quality":
            return ('{"quality": "low", "harmful": false}' if "[ad]" in user
                    else '{"quality": "high", "harmful": false}')
        if kind == "writer":
            marker, _ = find_latent(user)
            hobbies = re.findall(r"I love ([a-z]+)", user)[:3]
            if marker is None:
                return '{"status": "cannot", "persona": ""}'
            return json.dumps({"status": "ok", "persona": "This blogger loves " +
                               ", ".join(hobbies) + " and writes about daily life. Their "
                               f"profile reads {marker}."})
        if kind == "critique":
            return ('{"hallucination": 10, "coverage": 9, "conciseness": 9, "relevance": 9, '
                    '"overall": 9, "explanation": "Faithful."}')
        if kind == "revision-judge":
            return '{"verdict": "pass", "reasons": []}'
        if kind == "revise":
            marker, theta = find_latent(user)
            if marker is None:
                marker, theta = find_latent(system)
            if marker is None:
                return '{"persona": "", "changes": []}'
            moved = [min(3.0, max(-3.0, 0.7 * t + 0.1)) for t in theta]
            return json.dumps({"revised": "This person, revised for the group, keeps their "
                               f"interests. Their profile reads {latent_marker(moved)}.",
                               "changes": ["moved toward the group"]})
        if kind == "item":
            marker, theta = find_latent(system)
            item = next(it for it in self.items if it.text in user)
            jitter = int(hashlib.sha256((marker + item.id).encode()).hexdigest()[:4], 16)
            jitter = (jitter / 65535.0 - 0.5) * 0.8
            t = theta[self.codes.index(item.trait)]
            v = min(5, max(1, round(3 + 1.4 * item.key * t + jitter)))
            return str(v)
        return None  # a failed call

    def __call__(self, requests):
        out = []
        for r in requests:
            system = next((m["content"] for m in r["messages"] if m["role"] == "system"), "")
            user = r["messages"][-1]["content"] if r["messages"] else (r["prompt"] or "")
            kind = self.kind(system, user)
            with self.lock:
                if self.fail_after is not None and self.calls >= self.fail_after:
                    raise ConnectionError("the model went away")
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                self.digests.append(hashlib.sha256(json.dumps(r, sort_keys=True).encode())
                                    .hexdigest())
                n = self.calls
            if self.delay:
                import time
                time.sleep(self.delay)
            out.append(self.answer(kind, system, user))
            if self.on_answer:
                self.on_answer(n)
        return out


class LetterEmbedderDouble:
    """TEST DOUBLE embedder: letter counts (26 dimensions); counts its texts."""

    def __init__(self):
        self.texts = 0

    def __call__(self, texts):
        self.texts += len(texts)
        out = np.zeros((len(texts), 26))
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out


EUROPE = {"GB", "DE", "IT", "SE", "NL", "FR"}
EAST_ASIA = {"CN", "HK", "TW", "JP", "KR", "MN", "MO"}


def write_small_reference(path, data_dir):
    """The first 300 BIG5 people plus 60 European and 60 East Asian ones: the reference, align
    and report stages take a fraction of a second instead of seconds on all 19,719."""
    lines = (data_dir / "big5" / "data.csv").read_text(encoding="utf-8").splitlines()
    country = lines[0].split("\t").index("country")
    out, eu, ea = [lines[0]], 0, 0
    for i, line in enumerate(lines[1:]):
        c = line.split("\t")[country]
        if i < 300 or (c in EUROPE and eu < 60) or (c in EAST_ASIA and ea < 60):
            out.append(line)
            eu += c in EUROPE and i >= 300
            ea += c in EAST_ASIA and i >= 300
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def mining_config(tmp, posts, **extra):
    cfg = {
        "run_dir": str(tmp / "run"), "seed": 3,
        "models": {"generator": {"model": "latent-double", "concurrency": 2,
                                 "prompt_price": 1.0, "completion_price": 2.0}},
        "input": {"posts": str(posts)},
        "mining": {"dedup": False},
        "instrument": {"name": "mini_ipip", "max_retries": 1},
        "reference": {"path": str(tmp / "reference.csv"), "missing_code": 0},
        "align": {"n": 8},
        "groups": [{"name": "hikers_europe", "query": "people who love hiking",
                    "reference": "region:Europe", "n": 3, "depth": 6},
                   {"name": "east_asia", "query": "adults living in East Asia",
                    "reference": "East Asia", "n": 3, "depth": 6}],
    }
    cfg.update(extra)
    return cfg


def persona_config(tmp, personas, **extra):
    cfg = {"run_dir": str(tmp / "run"), "seed": 5,
           "models": {"respondent": {"model": "latent-double", "concurrency": 2}},
           "input": {"personas": str(personas)},
           "instrument": {"name": "mini_ipip", "max_retries": 1},
           "reference": {"path": str(tmp / "reference.csv"), "missing_code": 0},
           "align": {"n": 6}}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def mined_run(tmp_path_factory):
    """One whole run over the generated corpus (generator and judge as two doubles, the
    respondent inheriting the generator's, a callable embedder for group retrieval)."""
    tmp = tmp_path_factory.mktemp("run")
    theta = latent_traits(AUTHORS)
    write_posts(tmp / "posts.jsonl", theta)
    write_small_reference(tmp / "reference.csv", DATA_DIR)
    inst = popalign.load_instrument("mini_ipip")
    cfg = mining_config(tmp, tmp / "posts.jsonl")
    before = popalign.plan(cfg, generator=LatentModelDouble(inst), judge=LatentModelDouble(inst))
    gen, judge, emb = LatentModelDouble(inst), LatentModelDouble(inst), LetterEmbedderDouble()
    seen, logs = [], []
    res = popalign.run(cfg, generator=gen, judge=judge, embedder=emb,
                       progress=lambda p: seen.append((p.stage, p.overall)), log=logs.append)
    return dict(tmp=tmp, theta=theta, inst=inst, cfg=cfg, before=before, gen=gen, judge=judge,
                emb=emb, seen=seen, logs=logs, res=res)


def test_run_end_to_end(mined_run):
    res, gen, judge = mined_run["res"], mined_run["gen"], mined_run["judge"]
    assert res.status == "ok"
    assert [s.name for s in res.stages] == ["mine", "administer", "score", "reference", "align",
                                            "group hikers_europe", "group east_asia", "report"]
    assert all(s.action == "ran" for s in res.stages)
    assert res.report.is_file() and "<html" in res.report.read_text()[:2000].lower()
    assert [p.name for p in res.persona_files] == ["global.jsonl", "hikers_europe.jsonl",
                                                   "east_asia.jsonl"]
    glob = popalign.read_personas(res.persona_files[0])
    assert len(glob) == 8
    assert all("latent:" in p.text for p in glob)
    assert len(popalign.read_personas(res.persona_files[1])) == 3
    # Routing: the judge double got exactly the judging prompts, the generator the rest.
    assert set(judge.kinds) == {"critique", "revision-judge"}
    assert judge.kinds["critique"] == AUTHORS
    assert set(gen.kinds) == {"quality", "writer", "item", "revise"}
    assert gen.kinds["quality"] == AUTHORS * 6 and gen.kinds["writer"] == AUTHORS
    # Every call the doubles answered is counted by the run (cache hits are not asked).
    assert gen.calls + judge.calls == res.calls - res.cached_calls
    assert res.stage("administer").calls == AUTHORS * 20
    assert res.stage("score").calls == 0
    assert mined_run["emb"].texts > 1  # group retrieval used the callable embedder
    # Scores follow the latent traits the personas carry.
    scores = popalign.score("mini_ipip", mined_run["tmp"] / "run" / "administer" /
                            "answers.jsonl").scores
    mined = popalign.read_personas(mined_run["tmp"] / "run" / "mine" / "personas.jsonl")
    theta = {p.id: find_latent(p.text)[1] for p in mined}
    codes = [t.code for t in mined_run["inst"].traits]
    for k, code in enumerate(codes):
        r = np.corrcoef(scores[code].to_numpy(), [theta[i][k] for i in scores.index])[0, 1]
        assert r > 0.8, (code, r)
    # The result object reads well.
    assert repr(res).startswith("RunResult(status='ok', stages=[mine: ran, administer: ran, ")
    assert "persona_files=['" in repr(res)
    assert repr(res.stages[0]).startswith("StageOutcome(name='mine', action='ran', seconds=")
    assert "group east_asia" in str(res)
    # Progress reached the end, through every stage.
    stages = {s for s, _ in mined_run["seen"]}
    assert {"mine", "administer", "align", "report"} <= stages
    assert max(o for _, o in mined_run["seen"]) == pytest.approx(1.0)


def test_plan_before_and_after(mined_run):
    before = mined_run["before"]
    assert isinstance(before, popalign.RunPlan)
    by = {s.name: s for s in before.stages}
    assert by["mine.quality"].calls == AUTHORS * 6 and not by["mine.quality"].upper_bound
    assert by["administer"].upper_bound and by["administer"].calls > 0
    assert by["mine.quality"].cost > 0 and before.cost > 0
    assert not any(s.done for s in before.stages)
    assert "mine.quality" in str(before) and "total" in str(before)
    assert repr(before).startswith("RunPlan(stages=[StagePlan(name='mine.quality'")
    after = popalign.plan(mined_run["cfg"], generator=LatentModelDouble(mined_run["inst"]),
                          judge=LatentModelDouble(mined_run["inst"]))
    assert all(s.done for s in after.stages if s.name != "report")
    assert after.calls == 0


def test_rerun_skips_every_stage_and_calls_nothing(mined_run):
    inst = mined_run["inst"]
    gen, judge, logs = LatentModelDouble(inst), LatentModelDouble(inst), []
    res = popalign.run(mined_run["cfg"], generator=gen, judge=judge,
                       embedder=LetterEmbedderDouble(), log=logs.append)
    assert res.status == "ok"
    assert [s.action for s in res.stages] == ["skipped"] * 8
    assert gen.calls == 0 and judge.calls == 0 and res.calls == 0
    assert any("skipped" in m for m in logs)
    assert [p.name for p in res.persona_files] == [p.name for p in mined_run["res"].persona_files]


def test_raising_callable_names_the_stage_and_a_rerun_resumes(tmp_path):
    inst = popalign.load_instrument("mini_ipip")
    write_persona_file(tmp_path / "personas.jsonl", latent_traits(10))
    write_small_reference(tmp_path / "reference.csv", DATA_DIR)
    cfg = persona_config(tmp_path, tmp_path / "personas.jsonl")
    broken = LatentModelDouble(inst, fail_after=90)
    with pytest.raises(popalign.BackendError,
                       match=r"respondent callable backend raised ConnectionError: the model went "
                             r"away \(stage 'administer'") as err:
        popalign.run(cfg, respondent=broken)
    assert isinstance(err.value.__cause__, ConnectionError)
    # The rerun asks only what was not answered: together exactly the 200 items, none twice.
    good = LatentModelDouble(inst)
    res = popalign.run(cfg, respondent=good, embedder="glove")
    assert res.status == "ok" and res.stage("administer").action == "resumed"
    assert good.calls == 10 * 20 - broken.calls
    assert not set(good.digests) & set(broken.digests)
    assert len(res.persona_files) == 1 and len(popalign.read_personas(res.persona_files[0])) == 6
    # A callback that raises stops the run the same way, named.
    with pytest.raises(popalign.BackendError, match="log callable raised"):
        popalign.run(cfg, respondent=good, log=lambda m: 1 / 0)
    # So does a callable embedder (group retrieval), named with its stage.
    calls = []

    def embedder(texts):
        calls.append(len(texts))
        if len(calls) > 1:  # the first call is the dimension probe
            raise RuntimeError("embedding service down")
        return np.ones((len(texts), 4))

    grouped = dict(cfg, groups=[{"name": "eu", "query": "people who love hiking",
                                 "reference": "region:Europe", "n": 2, "depth": 4}])
    with pytest.raises(popalign.BackendError, match=r"embedder callable raised RuntimeError: "
                                                    r"embedding service down \(stage 'group eu"):
        popalign.run(grouped, generator=good, embedder=embedder)


def test_progress_returning_true_cancels_and_a_rerun_resumes(tmp_path):
    inst = popalign.load_instrument("mini_ipip")
    write_persona_file(tmp_path / "personas.jsonl", latent_traits(10))
    write_small_reference(tmp_path / "reference.csv", DATA_DIR)
    cfg = persona_config(tmp_path, tmp_path / "personas.jsonl")
    cfg["instrument"]["personas_per_round"] = 2  # progress after every 2 personas (40 calls)
    first = LatentModelDouble(inst)
    res = popalign.run(cfg, respondent=first,
                       progress=lambda p: p.stage == "administer" and first.calls >= 60)
    assert res.status == "cancelled"
    assert 60 <= first.calls < 200
    assert [s.name for s in res.stages] == []  # nothing finished
    second = LatentModelDouble(inst)
    res = popalign.run(cfg, respondent=second)
    assert res.status == "ok"
    assert second.calls > 0 and res.stage("administer").action == "resumed"
    assert second.calls + first.calls <= 200 + 2  # at most the calls in flight again
    assert res.report.is_file()


CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, os.environ["TEST_DIR"])
    import popalign
    from test_run import LatentModelDouble, persona_config
    import pathlib
    tmp = pathlib.Path(sys.argv[1])
    inst = popalign.load_instrument("mini_ipip")
    def ready(n):
        if n == 60:
            print("ready", flush=True)
    double = LatentModelDouble(inst, delay=0.01, on_answer=ready)
    try:
        popalign.run(persona_config(tmp, tmp / "personas.jsonl"), respondent=double)
    except KeyboardInterrupt:
        json.dump(double.digests, open(tmp / "first.json", "w"))
        print("interrupted", flush=True)
        sys.exit(0)
    print("finished", flush=True)
    sys.exit(3)
""")


def test_ctrl_c_cancels_and_a_rerun_resumes(tmp_path):
    inst = popalign.load_instrument("mini_ipip")
    write_persona_file(tmp_path / "personas.jsonl", latent_traits(10))
    write_small_reference(tmp_path / "reference.csv", DATA_DIR)
    env = dict(os.environ, TEST_DIR=os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0, out
    assert out.strip() == "interrupted"
    first = json.load(open(tmp_path / "first.json"))
    assert 60 <= len(first) < 200
    second = LatentModelDouble(inst)
    res = popalign.run(persona_config(tmp_path, tmp_path / "personas.jsonl"), respondent=second)
    assert res.status == "ok" and res.stage("administer").action == "resumed"
    assert len(set(second.digests) & set(first)) <= 2  # only what was in flight (concurrency 2)
    assert len(set(second.digests) | set(first)) == 200


def test_config_forms_and_errors(tmp_path):
    inst = popalign.load_instrument("mini_ipip")
    write_persona_file(tmp_path / "personas.jsonl", latent_traits(4))
    write_small_reference(tmp_path / "reference.csv", DATA_DIR)
    cfg = persona_config(tmp_path, tmp_path / "personas.jsonl")
    double = LatentModelDouble(inst)
    # A dict: a callable role needs no base_url; relative paths are relative to the cwd.
    c = popalign.load_config(cfg, respondent=double)
    assert c.models["respondent"]["base_url"] == "python:callable"
    assert c.run_dir == str(tmp_path / "run") and c.n == 6 and c.groups == []
    assert "PipelineConfig(" in repr(c)
    # Base URLs given here replace the config's; judge and respondent inherit the generator's
    # unless the config gives them their own.
    both = {"run_dir": "r", "input": {"personas": "p.jsonl"},
            "models": {"generator": {"model": "m", "base_url": "http://a/v1"},
                       "judge": {"base_url": "http://j/v1"}}}
    c = popalign.load_config(both, generator="http://b/v1")
    assert [c.models[r]["base_url"] for r in ("generator", "judge", "respondent")] == [
        "http://b/v1", "http://j/v1", "http://b/v1"]
    assert c.run_dir == os.path.join(os.getcwd(), "r")
    c = popalign.load_config(both, judge="http://k/v1", respondent="http://c/v1")
    assert [c.models[r]["base_url"] for r in ("generator", "judge", "respondent")] == [
        "http://a/v1", "http://k/v1", "http://c/v1"]
    # A base URL replaces the endpoint for real: nothing listens there, so the run fails.
    bad = dict(cfg, models={"respondent": {"model": "m", "http_attempts": 1, "timeout": 2}})
    with pytest.raises(popalign.BackendError):
        popalign.run(bad, respondent="http://127.0.0.1:9/v1")
    # The library's errors name the key (a dict has no lines).
    with pytest.raises(popalign.InvalidArgument, match="align.nn") as err:
        popalign.run(dict(cfg, align={"nn": 3}), respondent=double)
    assert err.value.argument == "config: align.nn" and "unknown key" in str(err.value)
    with pytest.raises(popalign.InvalidArgument, match="models.respondent.concurrency"):
        popalign.plan(dict(cfg, models={"respondent": {"model": "m", "concurrency": 0}}),
                      respondent=double)
    with pytest.raises(popalign.InvalidArgument, match="colour"):
        popalign.run(dict(cfg, colour="red"), respondent=double)
    with pytest.raises(popalign.InvalidArgument, match="models.respondent.base_url"):
        popalign.load_config(cfg)  # no backend and no URL
    with pytest.raises(popalign.InvalidArgument, match="respondent"):
        popalign.run(cfg, respondent=42)
    with pytest.raises(popalign.InvalidArgument, match="embedder"):
        popalign.run(cfg, respondent=double, embedder="bert")
    with pytest.raises(popalign.InvalidArgument, match="config"):
        popalign.run(42)
    with pytest.raises(popalign.InvalidArgument, match="models.judge.model"):
        popalign.load_config({"run_dir": "r", "input": {"posts": "x.jsonl"},
                              "models": {"generator": {"model": "m"}, "judge": {"model": "m"}}},
                             generator=double, judge=LatentModelDouble(inst))
    # A JSON file: relative paths are relative to it.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.json").write_text(json.dumps(
        dict(cfg, run_dir="run2", input={"personas": "../personas.jsonl"})))
    c = popalign.load_config(tmp_path / "sub" / "run.json", respondent=double)
    assert c.run_dir == str(tmp_path / "sub" / "run2")
    assert c.personas == str(tmp_path / "sub" / ".." / "personas.jsonl")
    # A complete TOML file is read as it is: messages name its line.
    toml = tmp_path / "run.toml"
    toml.write_text('run_dir = "run3"\n[models.respondent]\nbase_url = "http://a/v1"\n'
                    'model = "m"\n[input]\npersonas = "personas.jsonl"\n[align]\nnn = 3\n'
                    '[instrument]\nname = "mini_ipip"\n')
    with pytest.raises(popalign.InvalidArgument, match=r"run\.toml:8: align\.nn"):
        popalign.plan(toml, respondent=double)
    toml.write_text(toml.read_text().replace("nn = 3", "n = 3"))
    p = popalign.plan(toml, respondent=double)
    assert p.stages[0].name == "administer" and p.stages[0].calls == 4 * 20
    assert popalign.load_config(toml, respondent=double).run_dir == str(tmp_path / "run3")
    with pytest.raises(popalign.IoError):
        popalign.plan(tmp_path / "missing.toml")
