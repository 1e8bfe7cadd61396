#!/usr/bin/env python3
"""Align a persona pool to a human population, from Python (notebook-style: run it whole, or
cell by cell in Jupyter / VS Code; each `# %%` is a cell).

Data (shipped in data/): the OSPP BIG5 respondents are scored with the IPIP-50 keys; half of
them are the human reference. The persona pool is drawn from the other half with the bias of
LLM-written personas (more agreeable, open, calm and conscientious, less varied), and each pool
member gets a persona text from Synthetic-Persona-Chat. align() then selects 500 personas whose
traits match the reference, and the selection is written as persona JSONL with its traits --
the file the exporters read -- and exported to TinyTroupe, Concordia and OASIS, with trait
levels set by the reference's tertiles.

    PYTHONPATH=build/release/python /usr/bin/python3 examples/python/align_and_export.py
"""
# %% Setup
import argparse
import os
import pathlib
import shutil

import numpy as np
import pandas as pd

import popalign

ap = argparse.ArgumentParser()
ap.add_argument("--out", default="align_and_export_out")
ap.add_argument("--data", default=os.environ.get(
    "POPALIGN_DATA_DIR", pathlib.Path(__file__).resolve().parents[2] / "data"))
args, _ = ap.parse_known_args()
data = pathlib.Path(args.data)
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %% Score the human respondents (BIG5 answers, 0 = not answered)
ipip50 = popalign.load_instrument("ipip50")
raw = pd.read_csv(data / "big5" / "data.csv", sep="\t")
scored = popalign.score(ipip50, raw, missing_code=0)
people = scored.scores.dropna()
print(f"{len(people)} people scored on {list(people.columns)}")

# %% Split: a reference population and a biased "persona" pool
rng = np.random.default_rng(7)
order = rng.permutation(len(people))
reference = people.iloc[order[: len(people) // 2]]
source = people.iloc[order[len(people) // 2:]]
z = ((source - reference.mean()) / reference.std(ddof=0)).to_numpy()
mu = np.array([0.5, 0.3, 0.2, 0.6, -0.6])     # O C E A N: the LLM persona tilt, in sd units
s2 = 0.7 ** 2                                 # and a compressed variance
logw = z @ (mu / s2) - 0.5 * (1 / s2 - 1) * (z ** 2).sum(axis=1)
p = np.exp(logw - logw.max())
pick = rng.choice(len(source), size=4000, replace=False, p=p / p.sum())
pool = source.iloc[pick].reset_index(drop=True)
pool.insert(0, "id", [f"p{i:05d}" for i in range(len(pool))])

texts = popalign.read_personas(data / "personas" / "synthetic_persona_chat_valid_test.jsonl")
pool["persona"] = [texts[i % len(texts)].text for i in range(len(pool))]
print(pool.head(3))

# %% Align: 500 distinct personas whose traits match the reference
result = popalign.align(pool, reference, n=500, seed=1)
print(repr(result))
print(result.diagnostics.summary())

# %% Check with the metrics (selection vs reference, pool vs reference)
traits = list(reference.columns)
before = popalign.compare(pool[traits], reference)
after = popalign.compare(result.selection[traits], reference)
print(f"mean W1 {before.mean_w1:.3f} -> {after.mean_w1:.3f}; "
      f"sliced W2 {before.sliced_wasserstein:.3f} -> {after.sliced_wasserstein:.3f}")
assert after.mean_w1 < 0.5 * before.mean_w1

# %% Save the aligned personas (persona JSONL with traits: what the exporters read)
selection = result.selection
records = popalign.personas_from(
    [{"id": row.id, "persona": row.persona, "traits": {t: float(getattr(row, t)) for t in traits},
      "weight": float(row.weight)} for row in selection.itertuples()])
popalign.write_personas(out / "aligned_personas.jsonl", records)
selection.drop(columns=["persona"]).to_csv(out / "selection.csv", index=False)
print(f"wrote {len(records)} personas to {out / 'aligned_personas.jsonl'}")

# %% Export to the simulation frameworks (TinyTroupe, Concordia, OASIS)
# Trait levels (low/medium/high) are the tertiles of the human reference; OASIS's MBTI is the
# Big Five split at the reference medians (docs/export.md).
targets = {"tinytroupe": out / "tinytroupe", "concordia": out / "concordia.json",
           "oasis-reddit": out / "oasis_reddit.json", "oasis-twitter": out / "oasis_twitter.csv"}
# A folder export refuses files it did not write (TinyPerson.load_specifications_from_folder
# would load them too): clear the agents of an earlier run of this script first.
shutil.rmtree(out / "tinytroupe", ignore_errors=True)
for fmt, target in targets.items():
    written = popalign.export(records, fmt, target, reference)
    print(f"{fmt}: {written['personas']} personas -> {target}")

import json  # noqa: E402  (a notebook cell)
agents = sorted((out / "tinytroupe").glob("*.agent.json"))
assert len(agents) == len(records)
first = json.loads(agents[0].read_text())
assert first["type"] == "TinyPerson" and "big_five" in first["persona"]["personality"]
reddit = json.loads((out / "oasis_reddit.json").read_text())
assert len(reddit) == len(records) and all(len(u["mbti"]) == 4 for u in reddit)
print("TinyTroupe big five of", first["persona"]["name"], first["persona"]["personality"]["big_five"])

