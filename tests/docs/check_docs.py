#!/usr/bin/env python3
"""Checks the claims in README.md, CHANGELOG.md and docs/*.md that a program can check.

1. Links: every relative Markdown link points to a file (or folder) that exists, and a
   `#fragment` names a heading of the target page (GitHub's anchor rule).
2. Paths: every repository path written in backticks (`include/popalign/...`, `src/...`,
   `tests/...`, `benchmarks/...`, `examples/...`, `scripts/...`, `data/...`, `docs/...`,
   `python/...`, `cmake/...`, `.ci/...`) exists; a trailing `:line` or `:a-b` must lie
   inside the file. Placeholders (`<layer>`, `*`, `{a,b}`, `...`) are skipped.
3. Headers: every `<popalign/...>` include written in the docs exists.
4. Commands: in fenced code blocks, every `popalign <command> ...` line names a command that
   `popalign --help` lists, and every `--flag` on it is one that `popalign <command> --help`
   lists (continuation lines ending in `\\` are joined first).
5. Layers: the README's layer table lists exactly the folders of include/popalign/ that are
   layers, and each namespace it names is declared somewhere under include/popalign/.

Usage: check_docs.py SOURCE_DIR [POPALIGN_BINARY]. Without the binary, check 4 is skipped.
Exit 0 when everything holds; otherwise each problem is printed as FILE:LINE: message, exit 1.
"""
import os
import re
import subprocess
import sys

PATH_ROOTS = ("include/", "src/", "tests/", "benchmarks/", "examples/", "scripts/", "data/",
              "docs/", "python/", "cmake/", ".ci/")
# Folders of include/popalign/ that are not layers of their own (none today).
NOT_LAYERS = set()


def slug(heading):
    """GitHub's heading anchor: lower case, drop punctuation but '-' and '_', spaces -> '-'."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path):
    out = set()
    counts = {}
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                n = counts.get(s, 0)
                out.add(s if n == 0 else f"{s}-{n}")
                counts[s] = n + 1
    return out


def doc_files(root):
    files = [os.path.join(root, "README.md"), os.path.join(root, "CHANGELOG.md")]
    docs = os.path.join(root, "docs")
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            files.append(os.path.join(docs, name))
    for sub in ("data", "python", "benchmarks", "examples"):
        d = os.path.join(root, sub)
        if os.path.isdir(d):
            for dirpath, _, names in os.walk(d):
                if "node_modules" in dirpath:
                    continue
                for name in sorted(names):
                    if name == "README.md":
                        files.append(os.path.join(dirpath, name))
    return [f for f in files if os.path.exists(f)]


def line_count(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n") + 1


def check_path(root, token, where, problems):
    token = token.strip().rstrip(".,;")
    if not token.startswith(PATH_ROOTS):
        return
    if any(c in token for c in "<>*{}$ ") or "..." in token or "…" in token:
        return
    m = re.match(r"^(.*?):(\d+)(?:[-–](\d+))?$", token)
    lines = None
    if m:
        token, lines = m.group(1), (int(m.group(2)), int(m.group(3) or m.group(2)))
    path = os.path.join(root, token)
    if not os.path.exists(path):
        problems.append(f"{where}: `{token}` does not exist")
        return
    if lines and os.path.isfile(path) and lines[1] > line_count(path):
        problems.append(f"{where}: `{token}` has no line {lines[1]}")


def check_links_and_paths(root, problems):
    heading_cache = {}
    for doc in doc_files(root):
        rel = os.path.relpath(doc, root)
        in_code = False
        with open(doc, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = f"{rel}:{n}"
                if line.startswith("```"):
                    in_code = not in_code
                    continue
                if not in_code:
                    for target in re.findall(r"\]\(([^)\s]+)\)", line):
                        if re.match(r"^[a-z]+:", target):
                            continue
                        file_part, _, frag = target.partition("#")
                        dest = doc if not file_part else os.path.normpath(
                            os.path.join(os.path.dirname(doc), file_part))
                        if not os.path.exists(dest):
                            problems.append(f"{where}: link to {target}: no such file")
                            continue
                        if frag and dest.endswith(".md"):
                            hs = heading_cache.setdefault(dest, headings(dest))
                            if frag not in hs:
                                problems.append(f"{where}: link to {target}: no such heading")
                    if not rel.startswith("data/"):  # data READMEs cite upstream paths
                        for token in re.findall(r"`([^`]+)`", line):
                            check_path(root, token, where, problems)
                for header in re.findall(r"<(popalign/[A-Za-z0-9_/]+\.hpp)>", line):
                    if not os.path.exists(os.path.join(root, "include", header)):
                        problems.append(f"{where}: <{header}> does not exist")


def help_text(binary, args):
    r = subprocess.run([binary] + args + ["--help"], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def check_commands(root, binary, problems):
    top = help_text(binary, [])
    commands = set(re.findall(r"^\s{2}([a-z][a-z0-9-]*)\s", top, re.M))
    flag_cache = {}
    for doc in doc_files(root):
        rel = os.path.relpath(doc, root)
        in_code = False
        pending, start = "", 0
        with open(doc, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.startswith("```"):
                    in_code = not in_code
                    pending = ""
                    continue
                if not in_code:
                    continue
                text = line.rstrip("\n")
                if not pending:
                    start = n
                if text.rstrip().endswith("\\"):
                    pending += text.rstrip()[:-1] + " "
                    continue
                full, pending = pending + text, ""
                full = full.split("#", 1)[0] if " #" in full else full
                m = re.match(r"^\s*(?:\$\s*)?(?:\S*/)?popalign\s+([a-z][a-z0-9-]*)(.*)$", full)
                if not m:
                    continue
                cmd, rest = m.group(1), m.group(2)
                where = f"{rel}:{start}"
                if cmd not in commands:
                    problems.append(f"{where}: `popalign {cmd}` is not a command "
                                    f"(commands: {', '.join(sorted(commands))})")
                    continue
                if cmd not in flag_cache:
                    flag_cache[cmd] = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", help_text(binary, [cmd])))
                for flag in re.findall(r"(?:^|\s)(--[a-z0-9][a-z0-9-]*)", rest):
                    if flag not in flag_cache[cmd] and flag != "--help":
                        problems.append(f"{where}: `popalign {cmd}` has no option {flag}")


def check_layers(root, problems):
    readme = os.path.join(root, "README.md")
    listed = {}
    with open(readme, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^\|\s*([a-z_]+)\s*\|\s*`(popalign(?:::[a-z_]+)?)`\s*\|", line)
            if m:
                listed[m.group(1)] = (m.group(2), n)
    if not listed:
        problems.append("README.md: no layer table found")
        return
    inc = os.path.join(root, "include", "popalign")
    folders = {d for d in os.listdir(inc) if os.path.isdir(os.path.join(inc, d))} - NOT_LAYERS
    for folder in sorted(folders - set(listed)):
        problems.append(f"README.md: the layer table does not list include/popalign/{folder}/")
    sources = []
    for dirpath, _, names in os.walk(inc):
        for name in names:
            if name.endswith(".hpp"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    sources.append(f.read())
    blob = "\n".join(sources)
    for layer, (ns, n) in sorted(listed.items()):
        if layer not in folders:
            problems.append(f"README.md:{n}: layer '{layer}' has no folder include/popalign/{layer}/")
        if ns != "popalign" and not re.search(r"namespace\s+" + re.escape(ns) + r"\b", blob):
            problems.append(f"README.md:{n}: namespace {ns} is declared nowhere in include/popalign")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    root = os.path.abspath(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) > 2 else None
    problems = []
    check_links_and_paths(root, problems)
    check_layers(root, problems)
    if binary:
        check_commands(root, binary, problems)
    for p in problems:
        print(p)
    checked = "links, paths, headers, layers" + (", commands" if binary else "")
    print(f"check_docs: {len(problems)} problem(s) ({checked})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
