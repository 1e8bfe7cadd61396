"""administer() with a base URL, against the real tiny model server (ctest fixture llm_server,
tests/support/llm_server: node-llama-cpp with data/models/stories260K.gguf). Skipped unless
POPALIGN_TEST_LLM_URL is set (ctest's python.llm_server sets it)."""
import json
import os

import pytest

import popalign

URL = os.environ.get("POPALIGN_TEST_LLM_URL")
pytestmark = pytest.mark.skipif(not URL, reason="needs the llm_server fixture (run through ctest)")


@pytest.mark.parametrize("mode", ["generate", "logprobs"])
def test_real_server_answers_and_the_cache_replays(tmp_path, mode):
    from conftest import SOURCE_DIR
    data = SOURCE_DIR / "tests" / "data" / "administer"
    inst = popalign.load_instrument(str(data / "three_items.json"))
    personas = popalign.read_personas(data / "two_personas.jsonl")
    cache = tmp_path / "cache.sqlite"
    kw = dict(mode=mode, model="stories260K", seed=1, max_retries=1, concurrency=2, timeout=60,
              cache=cache)
    first = popalign.administer(personas, inst, URL, **kw)
    assert first.personas == 2 and first.failed == 0
    for line in first.lines:
        rec = json.loads(line)
        assert rec["mode"] == mode and len(rec["answers"]) == 3
        for item, value in rec["answers"].items():
            if value is None:
                assert item in rec["missing"]
            else:
                assert 1.0 <= value <= 5.0
    again = popalign.administer(personas, inst, URL, **kw)
    assert again.lines == first.lines
    assert again.cached_calls == again.calls >= 6
