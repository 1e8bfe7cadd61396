"""Ctrl-C during a long computation: the run is cancelled and KeyboardInterrupt is raised
promptly (the GIL is released while it runs, so the signal is seen)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import sys, time, numpy as np, popalign
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40000, 5)); y = rng.normal(size=(40000, 5)) + 0.1
    print("ready", flush=True)
    t0 = time.monotonic()
    try:
        popalign.sinkhorn_points(x, y, 1e-3, tol=0.0, max_iter=100000, storage="online")
    except KeyboardInterrupt:
        print("interrupted %.3f" % (time.monotonic() - t0), flush=True)
        sys.exit(0)
    print("finished", flush=True)
    sys.exit(3)
""")


def test_sigint_cancels_and_raises_keyboard_interrupt():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # well inside the computation
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    elapsed = time.monotonic() - sent
    assert p.returncode == 0, out
    assert out.startswith("interrupted"), out
    assert elapsed < 5.0, f"KeyboardInterrupt came {elapsed:.2f} s after SIGINT"
