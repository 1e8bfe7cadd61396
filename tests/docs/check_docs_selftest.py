#!/usr/bin/env python3
"""Negative control for check_docs.py: a small fake repository whose docs hold one error of each
kind the checker looks for; the checker must exit 1 and name each of them, and must pass once
they are fixed."""
import os
import subprocess
import sys
import tempfile

checker, binary = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as root:
    os.makedirs(os.path.join(root, "docs"))
    os.makedirs(os.path.join(root, "include", "popalign", "core"))
    os.makedirs(os.path.join(root, "src"))
    with open(os.path.join(root, "include", "popalign", "core", "a.hpp"), "w") as f:
        f.write("namespace popalign {}\n")
    with open(os.path.join(root, "src", "x.cpp"), "w") as f:
        f.write("int x;\n")
    bad = {
        "README.md": "| layer | namespace | what |\n|---|---|---|\n"
                     "| core | `popalign` | types |\n| ghost | `popalign::ghost` | none |\n"
                     "See [the page](docs/page.md#no-such-heading) and [gone](docs/gone.md).\n",
        "CHANGELOG.md": "# Changelog\n",
        "docs/page.md": "# Page\n\nThe file `src/missing.cpp`, `src/x.cpp:99` and "
                        "<popalign/core/b.hpp>.\n\n```sh\npopalign align --no-such-flag 3 \\\n"
                        "    --out x.csv\npopalign frobnicate --x\n```\n",
    }
    for name, text in bad.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    r = subprocess.run([sys.executable, checker, root, binary], capture_output=True, text=True)
    out = r.stdout
    expected = ["no such heading", "docs/gone.md: no such file", "`src/missing.cpp` does not exist",
                "`src/x.cpp` has no line 99", "<popalign/core/b.hpp> does not exist",
                "has no option --no-such-flag", "`popalign frobnicate` is not a command",
                "layer 'ghost' has no folder", "namespace popalign::ghost is declared nowhere"]
    missing = [e for e in expected if e not in out]
    if r.returncode != 1 or missing:
        print(out)
        print("check_docs missed:", missing, "rc", r.returncode)
        sys.exit(1)
    # Fixed, the same tree passes.
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("| layer | namespace | what |\n|---|---|---|\n| core | `popalign` | types |\n"
                "See [the page](docs/page.md#page).\n")
    with open(os.path.join(root, "docs/page.md"), "w") as f:
        f.write("# Page\n\n`src/x.cpp:1`\n\n```sh\npopalign align --out x.csv \\\n    --n 3\n```\n")
    r = subprocess.run([sys.executable, checker, root, binary], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout)
        print("check_docs failed a clean tree")
        sys.exit(1)
print("check_docs catches all", len(expected), "kinds of error and passes the fixed tree")
