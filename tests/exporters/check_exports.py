#!/usr/bin/env python3
"""End-to-end check of `popalign export`: each export is loaded by a small reader written to
the framework's documented schema (the frameworks are not installable here), mirroring how the
framework itself reads the file:

- TinyTroupe: TinyPerson.load_specifications_from_folder lists `*.agent.json`, json.load()s each
  and JsonSerializableRegistry.from_json reads only TinyPerson.serializable_attributes (under
  their JSON names: persona, mental_state, mental_faculties, ...); agent names must be unique
  (TinyPerson.add_agent raises otherwise).
- Concordia: a list of {name, characteristics{name, description, axis_position}, memories,
  shared_memories}; the docs/export.md loader builds FormativeMemoriesInitializer arguments.
- OASIS Reddit: generate_reddit_agent_graph json.load()s a list and reads agent_info[i][key]
  for persona, mbti, gender, age, country, username, bio (realname at sign-up).
- OASIS Twitter: generate_twitter_agent_graph pd.read_csv()s and reads user_char, username,
  description by row position; generate_agents ast.literal_eval()s following_agentid_list and
  previous_tweets.
Every reader is also fed a broken export and must reject it (negative controls).

usage: check_exports.py POPALIGN_CLI DATA_DIR WORK_DIR
"""
import ast
import copy
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

CLI, DATA, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


class SchemaError(Exception):
    pass


def need(cond, what):
    if not cond:
        raise SchemaError(what)


def run(*args, ok=True):
    p = subprocess.run([CLI, "export", *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit("popalign export failed: %s\n%s" % (args, p.stderr))
    return p


def export(fmt, out, personas="personas.jsonl", extra=()):
    return run("--quiet", "--personas", os.path.join(DATA, personas), "--reference",
               os.path.join(DATA, "reference.csv"), "--format", fmt, "--out", out, *extra)


# ---- readers -------------------------------------------------------------------------------
TT_SERIALIZABLE = {"persona", "mental_state", "mental_faculties", "current_episode_event_count",
                   "episodic_memory", "semantic_memory", "image_registry", "image_id_counter"}
LEVEL_TEXT = re.compile(r"^(Low|Medium|High)\. \S.*$")


def read_tinytroupe(folder):
    agents = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".agent.json"):
            continue
        with open(os.path.join(folder, name)) as f:
            spec = json.load(f)
        need(isinstance(spec, dict) and spec.get("type") == "TinyPerson", name + ": type")
        loaded = {k: copy.deepcopy(v) for k, v in spec.items() if k in TT_SERIALIZABLE}
        persona = loaded.get("persona")
        need(isinstance(persona, dict), name + ": persona object")
        need(isinstance(persona.get("name"), str) and persona["name"], name + ": name")
        if "age" in persona:
            need(isinstance(persona["age"], int), name + ": age")
        for key in ("gender", "nationality", "residence"):
            if key in persona:
                need(isinstance(persona[key], str), name + ": " + key)
        if "occupation" in persona:
            need(isinstance(persona["occupation"], (str, dict)), name + ": occupation")
        big5 = persona.get("personality", {}).get("big_five", {})
        need(set(big5) <= {"openness", "conscientiousness", "extraversion", "agreeableness",
                           "neuroticism"}, name + ": big_five keys")
        for v in big5.values():
            need(isinstance(v, str) and LEVEL_TEXT.match(v), name + ": big_five text " + repr(v))
        facts = persona.get("other_facts")
        need(isinstance(facts, list) and facts and all(isinstance(s, str) for s in facts),
             name + ": other_facts")
        need("popalign" not in json.dumps(persona), name + ": popalign numbers in the persona")
        agents.append((persona["name"], spec.get("popalign")))
    names = [a[0] for a in agents]
    need(len(set(names)) == len(names), "agent names not unique")
    return agents


def read_concordia(path):
    with open(path) as f:
        data = json.load(f)
    need(isinstance(data, list), "concordia: not a list")
    for e in data:
        need(isinstance(e.get("name"), str) and e["name"], "concordia: name")
        ch = e.get("characteristics")
        need(isinstance(ch, dict), "concordia: characteristics")
        need(ch.get("name") == e["name"], "concordia: characteristics.name")
        need(isinstance(ch.get("description"), str), "concordia: description")
        ax = ch.get("axis_position")
        need(isinstance(ax, dict) and ax and all(
            isinstance(k, str) and v in ("low", "medium", "high") for k, v in ax.items()),
            "concordia: axis_position")
        need(isinstance(e.get("memories"), list) and all(
            isinstance(m, str) for m in e["memories"]), "concordia: memories")
        need(isinstance(e.get("shared_memories"), list), "concordia: shared_memories")
    # The docs/export.md loader's arguments.
    names = [e["name"] for e in data]
    need(len(set(names)) == len(names), "concordia: names not unique")
    player_specific_memories = {e["name"]: e["memories"] for e in data}
    player_specific_context = {e["name"]: e["characteristics"]["description"] for e in data}
    return data, player_specific_memories, player_specific_context


REDDIT_KEYS = ["realname", "username", "bio", "persona", "age", "gender", "mbti", "country",
               "profession", "interested_topics"]


def read_oasis_reddit(path):
    with open(path) as f:
        agent_info = json.load(f)
    need(isinstance(agent_info, list), "reddit: not a list")
    for i in range(len(agent_info)):
        for key in REDDIT_KEYS:  # every key present (agent_info[i][key] raises otherwise)
            need(key in agent_info[i], "reddit row %d: missing %s" % (i, key))
        a = agent_info[i]
        for key in ("realname", "username", "bio", "persona"):
            need(isinstance(a[key], str) and a[key], "reddit row %d: %s" % (i, key))
        need(a["age"] is None or isinstance(a["age"], int), "reddit: age")
        for key in ("gender", "country", "profession"):
            need(a[key] is None or isinstance(a[key], str), "reddit: " + key)
        need(isinstance(a["mbti"], str) and re.fullmatch(r"[EI][NS][FT][JP]", a["mbti"]),
             "reddit: mbti")
        need(isinstance(a["interested_topics"], list), "reddit: interested_topics")
    names = [a["username"] for a in agent_info]
    need(len(set(names)) == len(names), "reddit: usernames not unique")
    return agent_info


TWITTER_COLUMNS = ["user_id", "name", "username", "following_agentid_list", "previous_tweets",
                   "user_char", "description"]


def read_oasis_twitter(path):
    try:
        import pandas as pd
        table = pd.read_csv(path)
        columns = list(table.columns)
        rows = [{c: table[c][i] for c in columns} for i in range(len(table))]
    except ImportError:  # same checks through the csv module
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames)
            rows = list(reader)
    need(columns[:len(TWITTER_COLUMNS)] == TWITTER_COLUMNS, "twitter: columns %s" % columns)
    for i, r in enumerate(rows):
        for c in ("user_char", "username", "description", "name"):
            need(isinstance(r[c], str) and r[c], "twitter row %d: %s" % (i, c))
        following = ast.literal_eval(r["following_agentid_list"])
        need(isinstance(following, (list, int)), "twitter: following_agentid_list")
        need(isinstance(ast.literal_eval(r["previous_tweets"]), list), "twitter: previous_tweets")
        json.loads(r["popalign"])
    return rows


# ---- end to end ----------------------------------------------------------------------------
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
j = lambda *p: os.path.join(WORK, *p)

export("tinytroupe", j("tt"))
agents = read_tinytroupe(j("tt"))
check([a[0] for a in agents] == ["Ann Smith", "Persona p2", "Ann Smith (p3)"], "tinytroupe names")
check(all(a[1]["popalign_schema"] == 1 for a in agents), "tinytroupe schema version")

export("concordia", j("c.json"))
data, psm, psc = read_concordia(j("c.json"))
check(data[0]["characteristics"]["axis_position"]["openness"] == "high", "concordia level")
check(psm["Persona p2"] == ["I fix old radios.", "I live alone."], "concordia memories")

export("oasis-reddit", j("r.json"))
reddit = read_oasis_reddit(j("r.json"))
check([a["popalign"]["id"] for a in reddit] == ["p1", "p2", "p3"], "reddit rows in id order")
check([a["mbti"] for a in reddit] == ["ENTP", "ISFJ", "ISTJ"], "reddit mbti by hand")

export("oasis-twitter", j("t.csv"))
rows = read_oasis_twitter(j("t.csv"))
check([str(r["user_id"]) for r in rows] == ["p1", "p2", "p3"], "twitter rows in id order")

# With an align selection: its order and traits.
export("oasis-reddit", j("sel.json"), extra=("--selection", os.path.join(DATA, "selection.csv")))
sel = read_oasis_reddit(j("sel.json"))
check([a["popalign"]["id"] for a in sel] == ["p3", "p1"], "selection order")
check(sel[0]["popalign"]["traits"]["O"] == 9 and sel[0]["popalign"]["weight"] == 0.25,
      "selection traits and weight")

# Golden files (one persona per format) and determinism.
export("tinytroupe", j("g_tt"), personas="one_persona.jsonl")
export("concordia", j("g_c.json"), personas="one_persona.jsonl")
export("oasis-reddit", j("g_r.json"), personas="one_persona.jsonl")
export("oasis-twitter", j("g_t.csv"), personas="one_persona.jsonl")
golden = os.path.join(DATA, "golden")
for mine, theirs in [("g_tt/p1.agent.json", "tinytroupe/p1.agent.json"),
                     ("g_c.json", "concordia.json"), ("g_r.json", "oasis_reddit.json"),
                     ("g_t.csv", "oasis_twitter.csv")]:
    with open(j(mine), "rb") as a, open(os.path.join(golden, theirs), "rb") as b:
        check(a.read() == b.read(), "golden " + theirs)
export("concordia", j("c2.json"))
with open(j("c.json"), "rb") as a, open(j("c2.json"), "rb") as b:
    check(a.read() == b.read(), "same inputs, same bytes")

# CLI errors name the flag, file or line.
p = run("--personas", os.path.join(DATA, "personas.jsonl"), "--reference",
        os.path.join(DATA, "reference.csv"), "--format", "oasis", "--out", j("x"), ok=False)
check(p.returncode != 0 and "--format" in p.stderr and "oasis-reddit" in p.stderr,
      "unknown format error: " + p.stderr)
with open(j("notraits.jsonl"), "w") as f:
    f.write('{"id": "a", "persona": "x", "traits": {"E": 1}}\n{"id": "b", "persona": "y"}\n')
p = run("--personas", j("notraits.jsonl"), "--reference", os.path.join(DATA, "reference.csv"),
        "--format", "concordia", "--out", j("y.json"), ok=False)
check(p.returncode != 0 and "notraits.jsonl:2" in p.stderr, "missing traits error: " + p.stderr)
with open(j("afile"), "w") as f:
    f.write("x")
p = run("--personas", os.path.join(DATA, "personas.jsonl"), "--reference",
        os.path.join(DATA, "reference.csv"), "--format", "tinytroupe", "--out", j("afile"),
        ok=False)
check(p.returncode != 0 and "not a folder" in p.stderr, "out is a file error: " + p.stderr)
p = run("--personas", os.path.join(DATA, "personas.jsonl"), "--reference",
        os.path.join(DATA, "personas.jsonl"), "--format", "concordia", "--out", j("z.json"),
        ok=False)
check(p.returncode != 0 and "personas.jsonl" in p.stderr, "bad reference error: " + p.stderr)

# Levels and MBTI against NumPy (an independent implementation of the type-7 quantile) on a
# seeded random reference of 53 people and 40 personas spread over and beyond its range.
try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    rng = np.random.default_rng(7)
    codes = ["O", "C", "E", "A", "N"]
    ref = rng.normal(3.0, 0.8, size=(53, 5)).round(3)
    with open(j("np_ref.csv"), "w") as f:
        f.write("id," + ",".join(codes) + "\n")
        for i, row in enumerate(ref):
            f.write("r%d," % i + ",".join(repr(float(v)) for v in row) + "\n")
    pts = rng.normal(3.0, 1.0, size=(40, 5)).round(2)
    pts[0] = np.quantile(ref, 1 / 3, axis=0)  # exactly on the lower cut: medium
    with open(j("np_personas.jsonl"), "w") as f:
        for i, row in enumerate(pts):
            f.write(json.dumps({"id": "q%d" % i, "persona": "x.",
                                "traits": {c: float(v) for c, v in zip(codes, row)}}) + "\n")
    run("--quiet", "--personas", j("np_personas.jsonl"), "--reference", j("np_ref.csv"),
        "--format", "oasis-reddit", "--out", j("np.json"))
    out = json.load(open(j("np.json")))
    lo, hi, med = (np.quantile(ref, q, axis=0) for q in (1 / 3, 2 / 3, 0.5))
    names = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]
    bad_levels = bad_mbti = 0
    for row, a in zip(pts, out):
        for k in range(5):
            want = "low" if row[k] < lo[k] else "high" if row[k] > hi[k] else "medium"
            bad_levels += a["popalign"]["levels"][names[k]] != want
        o, c, e, ag = row[0], row[1], row[2], row[3]
        want = (("E" if e > med[2] else "I") + ("N" if o > med[0] else "S") +
                ("F" if ag > med[3] else "T") + ("J" if c > med[1] else "P"))
        bad_mbti += a["mbti"] != want
    check(bad_levels == 0, "levels differ from NumPy tertiles in %d cells" % bad_levels)
    check(bad_mbti == 0, "MBTI differs from the NumPy median rule for %d personas" % bad_mbti)
    check(all(out[0]["popalign"]["levels"][n] == "medium" for n in names), "tie with a cut")
    # Negative control: fixed cut points (the 1-5 scale split at 2.33 / 3.67) disagree.
    fixed = sum(("low" if r[k] < 7 / 3 else "high" if r[k] > 11 / 3 else "medium") !=
                a["popalign"]["levels"][names[k]] for r, a in zip(pts, out) for k in range(5))
    check(fixed > 0, "fixed cut points should not reproduce the reference tertiles")

# Negative controls: each reader rejects a broken export.
def rejects(reader, path):
    try:
        reader(path)
    except (SchemaError, KeyError, ValueError, SyntaxError):
        return True
    return False

os.makedirs(j("bad_tt"))
with open(j("tt", "p1.agent.json")) as f:
    spec = json.load(f)
spec["persona"]["personality"]["big_five"]["openness"] = 0.9  # a number, not "High. ..."
with open(j("bad_tt", "p1.agent.json"), "w") as f:
    json.dump(spec, f)
check(rejects(read_tinytroupe, j("bad_tt")), "tinytroupe reader rejects a numeric big_five")
spec2 = json.load(open(j("tt", "p1.agent.json")))
spec2["persona"]["popalign"] = spec2["popalign"]  # numbers inside the persona
json.dump(spec2, open(j("bad_tt", "p1.agent.json"), "w"))
check(rejects(read_tinytroupe, j("bad_tt")), "tinytroupe reader rejects numbers in persona")
bad = json.load(open(j("c.json")))
del bad[1]["characteristics"]["axis_position"]
json.dump(bad, open(j("bad_c.json"), "w"))
check(rejects(read_concordia, j("bad_c.json")), "concordia reader rejects a missing axis")
bad = json.load(open(j("r.json")))
del bad[2]["mbti"]
json.dump(bad, open(j("bad_r.json"), "w"))
check(rejects(read_oasis_reddit, j("bad_r.json")), "reddit reader rejects a missing mbti")
with open(j("t.csv")) as f:
    text = f.read()
with open(j("bad_t.csv"), "w") as f:
    f.write(text.replace("user_char", "persona", 1))
check(rejects(read_oasis_twitter, j("bad_t.csv")), "twitter reader rejects a renamed column")

if FAILURES:
    print("%d check(s) failed" % len(FAILURES))
    sys.exit(1)
print("all export checks passed")
