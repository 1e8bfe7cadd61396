"""Shared fixtures of the Python tests (run by ctest with the build tree's python/ on
PYTHONPATH; see tests/python/CMakeLists.txt)."""
import os
import pathlib

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("POPALIGN_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
DATA_DIR = SOURCE_DIR / "data"


@pytest.fixture
def rng():
    return np.random.default_rng(12)


@pytest.fixture
def data_dir():
    return DATA_DIR


def persona_like(rng, n, m, d=3):
    """A squeezed, shifted pool and a wider reference, like LLM personas vs people."""
    ref = rng.normal(0.0, 1.0, (m, d))
    pool = rng.normal(0.3, 0.7, (n, d))
    return np.ascontiguousarray(pool), np.ascontiguousarray(ref)
