#!/usr/bin/env python3
"""Hostile-input suite for the popalign CLI (docs/cli.md states the policy it checks).

Generates bad inputs of every class of issue 16 (crashes, unbounded work, output paths, silent
oddities, unhelpful errors) in a fresh directory, runs the CLI on each and asserts the documented
outcome: the exit code of the class, words the message must contain (the file, line, column or
flag), that no input file changed (SHA-256 before and after every case) and that no symlink or
FIFO given as an output was replaced. Standard library only; each case is bounded by a timeout.

usage: run_hostile.py POPALIGN_BINARY [--keep]
"""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

EXIT = {"ok": 0, "usage": 2, "file": 3, "numerical": 4, "backend": 5}
TIMEOUT = 30  # seconds per case (every case finishes in well under 1 s on a quiet machine)


class Suite:
    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.failures = []
        self.cases = 0

    def path(self, name):
        return os.path.join(self.root, name)

    def write(self, name, content, mode="w"):
        p = self.path(name)
        with open(p, mode) as f:
            f.write(content)
        return p

    def inputs(self):
        """Every regular file under root (the inputs a case must not modify)."""
        out = {}
        for dirpath, _, files in os.walk(self.root):
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.islink(p) or not stat.S_ISREG(os.lstat(p).st_mode):
                    continue
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
        return out

    def run(self, name, args, rc, says=(), stdout_says=(), outputs=(), fifo_reader=None,
            max_seconds=None, stdin=None):
        """Runs `popalign args`; asserts the exit code, the words of stderr (and stdout), that no
        file that existed before changed unless listed in `outputs`."""
        self.cases += 1
        before = self.inputs()
        start = time.monotonic()
        try:
            p = subprocess.run([self.binary] + args, cwd=self.root, capture_output=True,
                               timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            code, err, out = p.returncode, p.stderr.decode(errors="replace"), \
                p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, err, out = "timeout", "", ""
        seconds = time.monotonic() - start
        problems = []
        if code != rc:
            problems.append(f"exit code {code}, expected {rc}")
        for w in says:
            if w not in err:
                problems.append(f"stderr lacks {w!r}")
        for w in stdout_says:
            if w not in out:
                problems.append(f"stdout lacks {w!r}")
        if max_seconds is not None and seconds > max_seconds:
            problems.append(f"took {seconds:.1f} s (limit {max_seconds} s)")
        after = self.inputs()
        allowed = {os.path.realpath(self.path(o)) for o in outputs}
        for f, h in before.items():
            if os.path.realpath(f) in allowed:
                continue
            if after.get(f) != h:
                problems.append(f"input {os.path.basename(f)} was modified or removed")
        if problems:
            self.failures.append(f"{name}: " + "; ".join(problems) +
                                 f"\n    args: {args}\n    stderr: {err[-600:]}")
        return out, err

    def check(self, name, condition, what):
        self.cases += 1
        if not condition:
            self.failures.append(f"{name}: {what}")


def table(rows, header="id,E,A,C"):
    return header + "\n" + "".join(r + "\n" for r in rows)


def every_command(s, rng, personas):
    """The five classes against every command and every limit of docs/cli.md."""
    big = tempfile.mkdtemp(prefix="popalign_hostile_big_")  # big files: never hashed per case
    unreachable = "http://127.0.0.1:9/v1"  # no server: the cases below fail before any call

    # --- Limits of the readers (io/limits.hpp) --------------------------------------------------
    s.write("cols_100001.csv", ",".join(f"c{j}" for j in range(100001)) + "\n" +
            ",".join("1" for _ in range(100001)) + "\n")
    s.run("CSV row of more than 100000 fields", ["compare", "cols_100001.csv", "ref.csv"],
          EXIT["file"], says=["cols_100001.csv:1", "more than 100000 fields"], max_seconds=10)
    long_field = os.path.join(big, "long_record.csv")
    with open(long_field, "w") as f:
        f.write('E,A,C\n"' + "x" * (17 << 20) + '",1,2\n')
    s.run("CSV record longer than 16 MiB", ["compare", long_field, "ref.csv"], EXIT["file"],
          says=["long_record.csv:2", "longer than 16 MiB"], max_seconds=10)
    os.remove(long_field)
    long_line = os.path.join(big, "long_line.jsonl")
    with open(long_line, "w") as f:
        f.write('{"id": "a", "persona": "' + "x" * (17 << 20) + '"}\n' + personas)
    s.run("JSONL line longer than 16 MiB", ["retrieve", "--personas", long_line, "--query", "x",
                                            "--out", "h.jsonl"], EXIT["file"],
          says=["long_line.jsonl:1", "longer than 16 MiB"], max_seconds=10)
    with open(long_line, "w") as f:  # no line break at all: bounded too, not read whole
        f.write("[" * (17 << 20))
    s.run("a file without line breaks (JSONL)", ["score", "--instrument", "mini_ipip",
                                                 "--responses", long_line, "--out", "sc.csv"],
          EXIT["file"], says=["long_line.jsonl:1", "longer than 16 MiB"], max_seconds=10)
    os.remove(long_line)
    sparse = os.path.join(big, "sparse.csv")
    with open(sparse, "w") as f:
        f.truncate(1 << 40)  # 1 TB, no blocks on disk
    s.run("a file larger than half the memory is refused before reading",
          ["compare", sparse, "ref.csv"], EXIT["file"], says=["sparse.csv", "half of this"],
          max_seconds=5)
    os.remove(sparse)

    # --- score: ids, truncated lines, nesting ---------------------------------------------------
    items = [f"MINI{k}" for k in range(1, 21)]
    answers = lambda: ",".join(str(rng.randint(1, 5)) for _ in items)  # noqa: E731
    s.write("resp.csv", "id," + ",".join(items) + "\n" +
            "".join(f"r{i},{answers()}\n" for i in range(8)))
    s.write("resp_dup.csv", "id," + ",".join(items) + "\n" +
            "".join(f"r{i % 6},{answers()}\n" for i in range(8)))
    s.run("score: duplicate ids (CSV)", ["score", "--instrument", "mini_ipip", "--responses",
                                         "resp_dup.csv", "--out", "sc.csv"], EXIT["file"],
          says=["resp_dup.csv:8", "duplicate id 'r0'", "first on line 2"])

    def jline(i, rid):
        return ('{"id": "%s", "answers": {%s}}\n' %
                (rid, ", ".join(f'"{k}": {rng.randint(1, 5)}' for k in items)))
    s.write("resp_dup.jsonl", "".join(jline(i, f"u{i % 3}") for i in range(5)))
    s.run("score: duplicate ids (JSONL)", ["score", "--instrument", "mini_ipip", "--responses",
                                           "resp_dup.jsonl", "--out", "sc.csv"], EXIT["file"],
          says=["resp_dup.jsonl:4", "duplicate id 'u0'", "first on line 1"])
    s.write("resp_cut.jsonl", "".join(jline(i, f"u{i}") for i in range(4)) + '{"id": "u9", "ans')
    s.run("score: truncated last line is a warning (also with --quiet)",
          ["score", "--instrument", "mini_ipip", "--responses", "resp_cut.jsonl", "--out",
           "sc.csv", "--quiet"], EXIT["ok"],
          says=["warning: resp_cut.jsonl: the last line is incomplete"], outputs=["sc.csv"])
    s.write("resp_deep.jsonl", jline(0, "u0") + '{"id": "u1", "answers": ' + "[" * 100000 +
            "]" * 100000 + "}\n")
    s.run("score: deep JSON", ["score", "--instrument", "mini_ipip", "--responses",
                               "resp_deep.jsonl", "--out", "sc.csv"], EXIT["file"],
          says=["resp_deep.jsonl:2", "nesting deeper than 512"])
    s.run("score: directory as responses", ["score", "--instrument", "mini_ipip", "--responses",
                                            "sub", "--out", "sc.csv"], EXIT["file"],
          says=["sub", "is a directory"])
    s.run("score: --out equal to --instrument", ["score", "--instrument", "deep_instrument.json",
                                                 "--responses", "resp.csv", "--out",
                                                 "deep_instrument.json"], EXIT["usage"],
          says=["--out", "--instrument"])

    # --- compare --------------------------------------------------------------------------------
    cmp_a = ["compare", "pool.csv", "ref.csv"]
    s.run("compare: --projections beyond its bound", cmp_a + ["--projections", "1000000000000"],
          EXIT["usage"], says=["--projections"], max_seconds=5)
    s.run("compare: --threads negative", cmp_a + ["--threads", "-1"], EXIT["usage"],
          says=["--threads"])
    s.run("compare: --threads 100000 is capped", cmp_a + ["--threads", "100000"], EXIT["ok"],
          stdout_says=["mean W1"])
    s.run("compare: --seed -1", cmp_a + ["--seed", "-1"], EXIT["usage"], says=["--seed"])
    s.write("w_huge.csv", table([f"w{i},{rng.gauss(0, 1):.3f},{rng.gauss(0, 1):.3f},"
                                 f"{rng.gauss(0, 1):.3f},1e308" for i in range(5)],
                                "id,E,A,C,w"))
    s.run("compare: weights that overflow their sum", ["compare", "w_huge.csv", "ref.csv",
                                                       "--weight-a", "w"], EXIT["file"],
          says=["w_huge.csv", "column 'w'", "sum"])
    s.run("compare: a directory as A", ["compare", "sub", "ref.csv"], EXIT["file"],
          says=["sub", "is a directory"])
    s.run("compare: --traits E,E", cmp_a + ["--traits", "E,E"], EXIT["usage"],
          says=["--traits", "twice"])
    s.write("ref_const.csv", table([f"c{i},{rng.gauss(0, 1):.3f},3,{rng.gauss(0, 1):.3f}"
                                    for i in range(20)], "id,E,A,C"))
    s.run("compare: a constant trait in B (the reference)", ["compare", "pool.csv",
                                                             "ref_const.csv"], EXIT["file"],
          says=["ref_const.csv", "column 'A'", "constant"])
    s.run("compare: a constant trait in A is measured", ["compare", "ref_const.csv", "pool.csv"],
          EXIT["ok"])

    # --- export ---------------------------------------------------------------------------------
    s.run("export: --out equal to --reference",
          ["export", "--personas", "personas.jsonl", "--reference", "ref.csv", "--format",
           "concordia", "--out", "ref.csv"], EXIT["usage"], says=["--out", "--reference"])
    # --- retrieve -------------------------------------------------------------------------------
    ret = ["retrieve", "--personas", "personas.jsonl", "--query", "cats"]
    s.run("retrieve: --k beyond the pool is capped", ret + ["--k", "1000000000000", "--out",
                                                           "h3.jsonl"], EXIT["ok"],
          outputs=["h3.jsonl"], max_seconds=20)
    s.run("retrieve: --feedback beyond the pool", ret + ["--feedback", "1000000000000", "--out",
                                                        "h4.jsonl"], EXIT["ok"],
          outputs=["h4.jsonl"], max_seconds=20)
    s.run("retrieve: --threads negative", ret + ["--threads", "-2", "--out", "h5.jsonl"],
          EXIT["usage"], says=["--threads"])
    s.run("retrieve: --save-components equal to --personas",
          ret + ["--save-components", "personas.jsonl", "--out", "h6.jsonl"], EXIT["usage"],
          says=["--save-components", "--personas"])

    # --- train-embedder -------------------------------------------------------------------------
    s.write("pairs2.jsonl", '{"query": "cats", "positive": "I like cats."}\n'
            '{"query": "dogs", "positive": "I like dogs."}\n')
    tr = ["train-embedder", "--pairs", "pairs2.jsonl", "--out", "head2.bin"]
    s.run("train-embedder: --epochs beyond its bound", tr + ["--epochs", "1000000000"],
          EXIT["usage"], says=["--epochs"], max_seconds=5)
    s.run("train-embedder: --hard-negatives that would overflow",
          tr + ["--hard-negatives", "9223372036854775807"], EXIT["usage"],
          says=["--hard-negatives"], max_seconds=5)
    s.run("train-embedder: --hidden beyond memory", tr + ["--kind", "mlp", "--hidden",
                                                          "1000000000000"], EXIT["usage"],
          says=["--hidden", "memory"], max_seconds=20)
    s.run("train-embedder: --threads negative", tr + ["--threads", "-1"], EXIT["usage"],
          says=["--threads"])
    s.run("train-embedder: --save-pairs equal to --profiles",
          ["train-embedder", "--profiles", "personas.jsonl", "--save-pairs", "personas.jsonl",
           "--out", "head3.bin"], EXIT["usage"], says=["--save-pairs", "--profiles"])
    s.run("train-embedder: --llm-timeout inf",
          ["train-embedder", "--profiles", "personas.jsonl", "--descriptions", "1", "--llm-url",
           unreachable, "--llm-model", "m", "--llm-timeout", "inf", "--out", "head4.bin"],
          EXIT["usage"], says=["--llm-timeout"])
    s.write("deep_pairs.jsonl", '{"query": "a", "positive": ' + "[" * 100000 + "]" * 100000 +
            "}\n")
    s.run("train-embedder: deep JSON pairs", ["train-embedder", "--pairs", "deep_pairs.jsonl",
                                              "--out", "head5.bin"], EXIT["file"],
          says=["deep_pairs.jsonl:1", "nesting"])

    # --- mine and administer: the endpoints file, timeouts, the Batch API files ------------------
    s.write("posts.jsonl", "".join(
        f'{{"author": "a{i % 2}", "text": "Post {i} about my garden and the cats I keep."}}\n'
        for i in range(6)))
    mine = ["mine", "--posts", "posts.jsonl", "--model", "m", "--out", "mined.jsonl"]
    adm = ["administer", "--personas", "personas.jsonl", "--instrument", "mini_ipip", "--model",
           "m", "--out", "adm.jsonl"]
    s.write("ep_deep.json", "[" * 100000 + "]" * 100000)
    s.write("ep_dup.csv", "url\nhttp://a:1/v1\nhttp://b:1/v1\nhttp://a:1/v1\n")
    s.write("ep_big.csv", "url\n" + "#" * (5 << 20) + "\n")
    for cmd, base in (("mine", mine), ("administer", adm)):
        s.run(f"{cmd}: deep JSON endpoints file", base + ["--endpoints", "ep_deep.json"],
              EXIT["file"], says=["ep_deep.json:1", "nesting deeper than 512"])
        s.run(f"{cmd}: endpoints file listing a URL twice", base + ["--endpoints", "ep_dup.csv"],
              EXIT["file"], says=["ep_dup.csv:4", "listed twice", "line 2"])
        s.run(f"{cmd}: endpoints file larger than 4 MiB", base + ["--endpoints", "ep_big.csv"],
              EXIT["file"], says=["ep_big.csv", "at most"])
        s.run(f"{cmd}: a directory as endpoints file", base + ["--endpoints", "sub"],
              EXIT["file"], says=["sub", "is a directory"])
        s.run(f"{cmd}: --timeout inf", base + ["--base-url", unreachable, "--timeout", "inf"],
              EXIT["usage"], says=["--timeout"])
        s.run(f"{cmd}: --endpoints equal to --out", base[:-1] + ["ep_dup.csv", "--endpoints",
                                                                 "ep_dup.csv"],
              EXIT["usage"], says=["--out", "--endpoints"])
    s.run("mine: --funnel equal to --posts", mine + ["--dry-run", "--funnel", "posts.jsonl"],
          EXIT["usage"], says=["--funnel", "--posts"])
    s.run("administer: --batch-state equal to --personas",
          adm + ["--batch-api", "--base-url", unreachable, "--batch-state", "personas.jsonl"],
          EXIT["usage"], says=["--batch-state", "--personas"])
    s.run("administer: --batch-state equal to --out",
          adm + ["--batch-api", "--base-url", unreachable, "--batch-state", "adm.jsonl"],
          EXIT["usage"], says=["--batch-state", "--out"])
    s.write("state_deep.json", '{"batches": ' + "[" * 100000 + "]" * 100000 + "}")
    s.run("administer: a deep Batch API state file",
          adm + ["--batch-api", "--base-url", unreachable, "--batch-state", "state_deep.json"],
          EXIT["file"], says=["state_deep.json", "not a popalign Batch API state file"],
          outputs=["adm.jsonl"])
    s.write("state_types.json", '{"batches": [{"input_file_id": 7, "custom_ids": "x"}]}')
    s.run("administer: a Batch API state file with wrong types",
          adm + ["--batch-api", "--base-url", unreachable, "--batch-state", "state_types.json"],
          EXIT["file"], says=["state_types.json", "malformed"], outputs=["adm.jsonl"])
    os.symlink("state_target.json", s.path("state_link.json"))
    s.run("administer: the Batch API state file through a symlink is written through it",
          adm + ["--batch-api", "--base-url", unreachable, "--batch-state", "state_link.json",
                 "--http-attempts", "1", "--timeout", "2"],
          EXIT["backend"], outputs=["adm.jsonl", "state_target.json"], max_seconds=25)
    s.check("state symlink kept", os.path.islink(s.path("state_link.json")),
            "state_link.json was replaced")

    # --- group (LLM steps never reached) ---------------------------------------------------------
    grp = ["group", "--personas", "personas.jsonl", "--base-url", unreachable, "--out-dir", "g"]
    s.write("groups_deep.json", "[" * 100000 + "]" * 100000)
    s.run("group: deep JSON group specs", grp + ["--groups", "groups_deep.json"], EXIT["file"],
          says=["groups_deep.json", "nesting deeper than 512"])
    s.write("groups_dup.jsonl", '{"name": "a", "query": "q"}\n{"name": "a", "query": "r"}\n')
    s.run("group: a group name used twice", grp + ["--groups", "groups_dup.jsonl"],
          EXIT["file"], says=["groups_dup.jsonl:2", "used twice"])
    s.run("group: a directory as group specs", grp + ["--groups", "sub"], EXIT["file"],
          says=["sub", "is a directory"])
    s.run("group: --groups equal to --personas", grp + ["--groups", "personas.jsonl", "--cache",
                                                         "personas.jsonl"],
          EXIT["usage"], says=["--cache", "--personas"])
    # --- run and init: the config file and the manifest -------------------------------------------
    s.run("run: a directory as config", ["run", "sub", "--dry-run"], EXIT["file"],
          says=["sub", "is a directory"])
    s.write("big.toml", "# " + "x" * (5 << 20) + "\n")
    s.run("run: a config file larger than 4 MiB", ["run", "big.toml", "--dry-run"],
          EXIT["file"], says=["big.toml", "at most"])
    s.write("bad.toml", 'run_dir = "r"\n[align]\nn = "many"\n')
    s.run("run: a bad key is a file error naming file:line: key", ["run", "bad.toml",
                                                                    "--dry-run"],
          EXIT["file"], says=["bad.toml:3", "align.n"])
    s.write("deep.toml", "a = " + "[" * 100000 + "]" * 100000 + "\n")
    s.run("run: deeply nested TOML", ["run", "deep.toml", "--dry-run"], EXIT["file"],
          says=["deep.toml"])
    s.run("init: --out /dev/stdout streams (with --force)",
          ["init", "--out", "/dev/stdout", "--force"], EXIT["ok"], stdout_says=["[models"])
    s.write("cfg_target.toml", "old\n")
    os.symlink("cfg_target.toml", s.path("cfg_link.toml"))
    s.run("init: --out through a symlink", ["init", "--out", "cfg_link.toml", "--force"],
          EXIT["ok"], outputs=["cfg_target.toml"])
    s.check("init keeps the symlink", os.path.islink(s.path("cfg_link.toml")),
            "cfg_link.toml was replaced")
    s.run("init: an existing file needs --force", ["init", "--out", "pool.csv"], EXIT["usage"],
          says=["--out", "--force"])
    # A run directory whose manifest is not one (deep, wrong types): a file error, not a crash.
    os.makedirs(s.path("rundir"), exist_ok=True)
    s.write("man.toml", 'run_dir = "rundir"\n[input]\npersonas = "personas.jsonl"\n'
            '[models.generator]\nbase_url = "%s"\nmodel = "m"\n' % unreachable)
    for name, text in (("deep", '{"format": "popalign-run-manifest/1", "stages": [{"name": '
                                '"x", "options": ' + "[" * 100000 + "]" * 100000 + "}]}"),
                       ("types", '{"format": "popalign-run-manifest/1", "stages": '
                                 '[{"name": "x", "calls": "many"}, 7]}')):
        s.write("rundir/manifest.json", text)
        s.run(f"run: a manifest with {name}", ["run", "man.toml", "--dry-run"], EXIT["file"],
              says=["manifest.json", "not a popalign run manifest"])
    os.remove(s.path("rundir/manifest.json"))
    shutil.rmtree(big, ignore_errors=True)


def main():
    binary = os.path.abspath(sys.argv[1])
    keep = "--keep" in sys.argv
    root = tempfile.mkdtemp(prefix="popalign_hostile_")
    s = Suite(binary, root)
    t0 = time.monotonic()

    # --- Shared valid inputs -----------------------------------------------------------------
    import random
    rng = random.Random(7)
    pool = [f"p{i},{rng.gauss(0, 1):.4f},{rng.gauss(0, 1):.4f},{rng.gauss(0, 1):.4f}"
            for i in range(80)]
    s.write("pool.csv", table(pool))
    s.write("ref.csv", table([f"{rng.gauss(0.3, 1):.4f},{rng.gauss(0, 1):.4f},"
                              f"{rng.gauss(0, 1):.4f}" for _ in range(120)], "E,A,C"))
    personas = "".join(
        f'{{"id": "u{i}", "persona": "I am person {i}. I like {w} and long walks."}}\n'
        for i, w in enumerate(["cats", "dogs", "chess", "music", "hiking", "cooking"]))
    s.write("personas.jsonl", personas)
    s.write("pairs.jsonl", '{"query": "cats", "positive": "I like cats."}\n')
    s.write("responses.csv", "id,q1\nr1,3\n")
    align = ["align", "--pool", "pool.csv", "--reference", "ref.csv", "--n", "10", "--quiet"]

    # --- 1. Crashes --------------------------------------------------------------------------
    deep = "[" * 100000 + "]" * 100000
    s.write("deep_personas.jsonl", '{"id": "a", "persona": ' + deep + "}\n")
    s.run("deep JSON persona line", ["retrieve", "--personas", "deep_personas.jsonl", "--query",
                                     "x", "--out", "hits.jsonl"], EXIT["file"],
          says=["deep_personas.jsonl:1", "nesting deeper than 512"])
    s.run("deep JSON persona line (export)",
          ["export", "--personas", "deep_personas.jsonl", "--reference", "ref.csv", "--format",
           "concordia", "--out", "agents.json"], EXIT["file"], says=["deep_personas.jsonl:1"])
    s.write("deep_instrument.json", deep)
    s.run("deep JSON instrument", ["score", "--instrument", "deep_instrument.json",
                                   "--responses", "responses.csv", "--out", "scores.csv"],
          EXIT["file"], says=["deep_instrument.json", "nesting"])
    s.run("--threads 100000 is capped at the cores", align + ["--out", "t.csv", "--threads",
                                                              "100000"], EXIT["ok"],
          outputs=["t.csv"])
    s.run("--threads beyond int", align + ["--out", "t.csv", "--threads", "99999999999"],
          EXIT["usage"], says=["--threads"])
    s.run("--threads negative", align + ["--out", "t.csv", "--threads", "-3"], EXIT["usage"],
          says=["--threads"])
    s.run("--n beyond long long", align[:-3] + ["--n", "99999999999999999999", "--out",
                                                "t.csv"], EXIT["usage"], says=["--n"])

    # --- 2. Unbounded work -------------------------------------------------------------------
    s.run("--n huge with replacement is refused before allocating",
          align[:-3] + ["--n", "1000000000000000", "--with-replacement", "--out", "t.csv"],
          EXIT["usage"], says=["--n", "memory"], max_seconds=5)
    for method in ("resample", "ot"):
        s.run(f"--reg 1e-300 ({method})", align + ["--method", method, "--reg", "1e-300",
                                                  "--out", "t.csv"], EXIT["usage"],
              says=["--reg", "1e-06"], max_seconds=5)
    s.run("--max-iter 0", align + ["--max-iter", "0", "--out", "t.csv"], EXIT["usage"],
          says=["--max-iter"])
    s.run("--max-iter bounds the transport and the warning names it",
          align[:-1] + ["--max-iter", "2", "--reg", "1e-4", "--out", "t.csv"], EXIT["ok"],
          stdout_says=["max_iter"], outputs=["t.csv"], max_seconds=20)
    wide = ",".join(f"c{j}" for j in range(90000))
    s.write("wide.csv", "id," + wide + ",c5\n" + "x" + ",1" * 90001 + "\n")
    s.run("duplicate column among 90k (linear check)",
          ["align", "--pool", "wide.csv", "--reference", "ref.csv", "--n", "1", "--out",
           "t.csv"], EXIT["file"], says=["wide.csv:1", "duplicate column name 'c5'"],
          max_seconds=10)

    s.run("demo --pool-size beyond memory", ["demo", "--pool-size", "1000000000000", "--out-dir",
                                             "demo_out"], EXIT["usage"],
          says=["--pool-size", "memory"], max_seconds=5)
    s.run("administer --concurrency 100000",
          ["administer", "--personas", "personas.jsonl", "--instrument", "mini_ipip", "--model",
           "m", "--dry-run", "--concurrency", "100000", "--out", "a.jsonl"], EXIT["usage"],
          says=["--concurrency"])

    # --- 3. Output paths ---------------------------------------------------------------------
    os.makedirs(s.path("sub"), exist_ok=True)
    s.write("target.csv", "old\n")
    os.symlink("target.csv", s.path("link.csv"))
    s.run("--out through a symlink", align + ["--out", "link.csv"], EXIT["ok"],
          outputs=["target.csv"])
    s.check("symlink stays a symlink", os.path.islink(s.path("link.csv")),
            "link.csv was replaced")
    with open(s.path("target.csv")) as f:
        s.check("symlink target written", f.read().startswith("id,"), "target.csv not written")
    os.symlink("dangling_target.csv", s.path("dangling.csv"))
    s.run("--out through a dangling symlink", align + ["--out", "dangling.csv"], EXIT["ok"])
    s.check("dangling link kept", os.path.islink(s.path("dangling.csv")), "link replaced")

    fifo = s.path("out.fifo")
    os.mkfifo(fifo)
    got = {}

    def reader():
        with open(fifo) as f:
            got["text"] = f.read()

    th = threading.Thread(target=reader)
    th.start()
    s.run("--out to a FIFO", align + ["--out", "out.fifo"], EXIT["ok"])
    th.join(TIMEOUT)
    s.check("FIFO reader got the rows", got.get("text", "").startswith("id,"),
            f"reader got {got.get('text', '')[:40]!r}")
    s.check("FIFO stays a FIFO", stat.S_ISFIFO(os.lstat(fifo).st_mode), "FIFO replaced")
    s.run("--out /dev/stdout streams", align + ["--out", "/dev/stdout"], EXIT["ok"],
          stdout_says=["id,E,A,C"])
    s.run("--out /dev/null", align + ["--out", "/dev/null", "--report", "/dev/null"], EXIT["ok"])
    s.run("retrieve --out /dev/stdout",
          ["retrieve", "--personas", "personas.jsonl", "--query", "cats", "--k", "2", "--out",
           "/dev/stdout"], EXIT["ok"], stdout_says=['"rank":1'])

    s.run("--out X --report X", align + ["--out", "same.out", "--report", "same.out"],
          EXIT["usage"], says=["--report", "--out"])
    s.run("--report equal to an input", align + ["--out", "t.csv", "--report", "pool.csv"],
          EXIT["usage"], says=["--report", "--pool"])
    s.run("--out equal to an input", align + ["--out", "ref.csv"], EXIT["usage"],
          says=["--out", "--reference"])
    os.link(s.path("pool.csv"), s.path("pool_hardlink.csv"))
    s.run("--out a hard link of an input", align + ["--out", "pool_hardlink.csv"],
          EXIT["usage"], says=["--out", "--pool"])
    os.symlink("ref.csv", s.path("ref_link.csv"))
    s.run("--out a symlink to an input", align + ["--out", "ref_link.csv"], EXIT["usage"],
          says=["--out", "--reference"])
    s.run("--out equal to an input by another spelling", align + ["--out", "./sub/../pool.csv"],
          EXIT["usage"], says=["--out"])
    os.makedirs(s.path("sub"), exist_ok=True)
    s.run("--out a directory", align + ["--out", "sub"], EXIT["usage"], says=["--out",
                                                                             "directory"])
    s.run("score --out equal to --responses",
          ["score", "--instrument", "mini_ipip", "--responses", "responses.csv", "--out",
           "responses.csv"], EXIT["usage"], says=["--out", "--responses"])
    s.run("retrieve --out equal to --personas",
          ["retrieve", "--personas", "personas.jsonl", "--query", "x", "--out",
           "personas.jsonl"], EXIT["usage"], says=["--out", "--personas"])
    s.run("export --out equal to --personas",
          ["export", "--personas", "personas.jsonl", "--reference", "ref.csv", "--format",
           "concordia", "--out", "personas.jsonl"], EXIT["usage"], says=["--out"])
    s.run("administer --out equal to --personas",
          ["administer", "--personas", "personas.jsonl", "--instrument", "mini_ipip", "--model",
           "m", "--dry-run", "--out", "personas.jsonl"], EXIT["usage"], says=["--out"])
    s.run("administer --cache equal to --personas",
          ["administer", "--personas", "personas.jsonl", "--instrument", "mini_ipip", "--model",
           "m", "--dry-run", "--cache", "personas.jsonl", "--out", "a.jsonl"], EXIT["usage"],
          says=["--cache"])
    s.run("mine --out equal to --posts",
          ["mine", "--posts", "personas.jsonl", "--model", "m", "--out", "personas.jsonl"],
          EXIT["usage"], says=["--out", "--posts"])
    s.run("make-pairs --out equal to --profiles",
          ["make-pairs", "--profiles", "personas.jsonl", "--out", "personas.jsonl"],
          EXIT["usage"], says=["--out", "--profiles"])
    s.run("train-embedder --out equal to --pairs",
          ["train-embedder", "--pairs", "pairs.jsonl", "--out", "pairs.jsonl"], EXIT["usage"],
          says=["--out", "--pairs"])
    os.symlink("kept.jsonl", s.path("hits_link.jsonl"))
    s.run("retrieve --out through a symlink",
          ["retrieve", "--personas", "personas.jsonl", "--query", "cats", "--out",
           "hits_link.jsonl"], EXIT["ok"])
    s.check("retrieve keeps the symlink", os.path.islink(s.path("hits_link.jsonl")) and
            os.path.exists(s.path("kept.jsonl")), "hits_link.jsonl replaced")

    # --- 4. Silent oddities ------------------------------------------------------------------
    s.write("dup_pool.csv", table(pool[:20] + ["p3,0.1,0.2,0.3"] + pool[20:]))
    s.run("duplicate ids", ["align", "--pool", "dup_pool.csv", "--reference", "ref.csv", "--n",
                            "5", "--out", "t.csv"], EXIT["file"],
          says=["dup_pool.csv:22", "duplicate id 'p3'", "first on line 5"])
    s.write("all_dup.csv", table([f"dup,{i},{i * i % 7},{i % 3}" for i in range(10)]))
    s.run("all-dup ids", ["align", "--pool", "all_dup.csv", "--reference", "ref.csv", "--n",
                          "2", "--out", "t.csv"], EXIT["file"], says=["all_dup.csv:3", "dup"])
    s.write("dup_personas.jsonl", personas + '{"id": "u1", "persona": "Again."}\n')
    s.run("duplicate persona ids", ["retrieve", "--personas", "dup_personas.jsonl", "--query",
                                    "x", "--out", "h.jsonl"], EXIT["file"],
          says=["dup_personas.jsonl:7", "duplicate id 'u1'"])
    s.write("one.jsonl", '{"id": "solo", "persona": "I like cats."}\n')
    s.run("retrieve on one persona warns", ["retrieve", "--personas", "one.jsonl", "--query",
                                            "cats", "--out", "h1.jsonl"], EXIT["ok"],
          says=["warning", "only 1 persona"])
    s.write("cut.jsonl", personas + '{"id": "u9", "persona": "I li')
    s.run("truncated last JSONL line is reported (retrieve)",
          ["retrieve", "--personas", "cut.jsonl", "--query", "cats", "--out", "h2.jsonl"],
          EXIT["ok"], says=["cut.jsonl", "incomplete"])
    s.run("truncated last JSONL line is reported (export)",
          ["export", "--personas", "cut.jsonl", "--reference", "ref.csv", "--format",
           "concordia", "--out", "agents2.json"], EXIT["file"],  # (no traits: an error after it)
          says=["warning: cut.jsonl", "incomplete"])
    s.write("cut_pairs.jsonl", '{"query": "cats", "positive": "I like cats."}\n{"query": "d')
    s.run("truncated last line of training pairs is an error",
          ["train-embedder", "--pairs", "cut_pairs.jsonl", "--out", "head.bin"], EXIT["file"],
          says=["cut_pairs.jsonl:2", "incomplete"])
    s.run("--seed -1", align + ["--seed", "-1", "--out", "t.csv"], EXIT["usage"],
          says=["--seed", "non-negative"])
    s.run("--seed -1 (administer)",
          ["administer", "--personas", "personas.jsonl", "--instrument", "mini_ipip", "--model",
           "m", "--dry-run", "--seed", "-1", "--out", "a.jsonl"], EXIT["usage"], says=["--seed"])

    # --- 5. Unhelpful errors -----------------------------------------------------------------
    s.write("pool1.csv", table(pool[:1]))
    s.run("pool of 1 row", ["align", "--pool", "pool1.csv", "--reference", "ref.csv", "--n", "1",
                            "--out", "t.csv"], EXIT["file"], says=["pool1.csv", "1 data row"])
    s.write("pool2.csv", table(pool[:2]))
    s.run("pool of 2 rows", ["align", "--pool", "pool2.csv", "--reference", "ref.csv", "--n",
                             "1", "--out", "t.csv"], EXIT["file"], says=["pool2.csv", "2 data"])
    s.write("same_rows.csv", table([f"s{i},1,2,3" for i in range(30)]))
    s.run("identical rows", ["align", "--pool", "same_rows.csv", "--reference", "ref.csv",
                             "--n", "3", "--out", "t.csv"], EXIT["file"],
          says=["same_rows.csv", "constant"])
    s.run("--traits E,E", align + ["--traits", "E,E", "--out", "t.csv"], EXIT["usage"],
          says=["--traits", "twice"])
    s.write("const_trait.csv", table([f"c{i},{rng.gauss(0, 1):.3f},5,{rng.gauss(0, 1):.3f}"
                                      for i in range(40)]))
    s.run("constant trait", ["align", "--pool", "const_trait.csv", "--reference", "ref.csv",
                             "--n", "3", "--out", "t.csv"], EXIT["file"],
          says=["const_trait.csv", "column 'A' is constant"])
    s.write("const_ref.csv", table([f"{rng.gauss(0, 1):.3f},{rng.gauss(0, 1):.3f},7"
                                    for _ in range(40)], "E,A,C"))
    s.run("constant reference trait is named", ["align", "--pool", "pool.csv", "--reference",
                                                "const_ref.csv", "--n", "3", "--out", "t.csv"],
          EXIT["file"], says=["const_ref.csv", "column 'C'"])
    s.write("collinear.csv", table([f"k{i},{x:.3f},{2 * x + 1:.3f},{rng.gauss(0, 1):.3f}"
                                    for i, x in enumerate(round(rng.gauss(0, 1), 3)
                                                          for _ in range(40))]))
    s.run("collinear traits", ["align", "--pool", "collinear.csv", "--reference", "ref.csv",
                               "--n", "3", "--out", "t.csv"], EXIT["file"],
          says=["collinear.csv", "'E' and 'A'"])
    s.write("huge_cell.csv", table(pool[:10] + ["h,1e308,0,0"] + pool[10:]))
    s.run("overflowing cell", ["align", "--pool", "huge_cell.csv", "--reference", "ref.csv",
                               "--n", "3", "--out", "t.csv"], EXIT["file"],
          says=["huge_cell.csv:12", "column 'E'", "too large"])
    s.write("nan_cell.csv", table(pool[:3] + ["n,NaN,0,0"] + pool[3:]))
    s.run("NaN cell", ["align", "--pool", "nan_cell.csv", "--reference", "ref.csv", "--n", "3",
                       "--out", "t.csv"], EXIT["file"], says=["nan_cell.csv:5", "'E'"])
    s.run("directory as input", ["align", "--pool", "sub", "--reference", "ref.csv", "--n", "3",
                                 "--out", "t.csv"], EXIT["file"], says=["sub", "is a directory"])
    s.run("directory as persona file", ["retrieve", "--personas", "sub", "--query", "x", "--out",
                                        "h.jsonl"], EXIT["file"], says=["is a directory"])
    s.write("header_only.csv", "id,E,A,C\n")
    s.run("header-only pool", ["align", "--pool", "header_only.csv", "--reference", "ref.csv",
                               "--n", "3", "--out", "t.csv"], EXIT["file"],
          says=["header_only.csv", "no data rows"])
    s.write("nul.csv", "id,E,A,C\np1,1,2,3\np2,4\x00x,5,6\n")
    s.run("NUL byte in a cell", ["align", "--pool", "nul.csv", "--reference", "ref.csv", "--n",
                                 "1", "--out", "t.csv"], EXIT["file"],
          says=["nul.csv:3", "\\0x", "is not a number"])
    s.run("missing file", ["align", "--pool", "nope.csv", "--reference", "ref.csv", "--n", "1",
                           "--out", "t.csv"], EXIT["file"], says=["nope.csv"])
    s.run("unknown flag", align + ["--out", "t.csv", "--bogus"], EXIT["usage"], says=["--bogus"])
    s.run("missing required flag", ["align", "--pool", "pool.csv"], EXIT["usage"],
          says=["--reference"])
    s.run("bad --n", align[:-3] + ["--n", "0", "--out", "t.csv"], EXIT["usage"], says=["--n"])

    every_command(s, rng, personas)

    seconds = time.monotonic() - t0
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    print(f"hostile: {s.cases} cases in {seconds:.1f} s, {len(s.failures)} failed")
    for f in s.failures:
        print("FAIL " + f)
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
