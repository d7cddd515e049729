from dataclasses import replace

from evalkit.run.cache import ResponseCache, cache_key
from evalkit.types import Completion, GenerationConfig, Message, Request, Usage

BASE = Request((Message("user", "Сколько будет 2+2?"),), GenerationConfig(temperature=0.0, max_tokens=32))


def test_key_depends_on_everything_that_changes_the_answer():
    key = cache_key("openai@http://a/v1", "m", BASE)
    variants = [
        cache_key("openai@http://b/v1", "m", BASE),
        cache_key("openai@http://a/v1", "m2", BASE),
        cache_key("openai@http://a/v1", "m", replace(BASE, messages=(Message("user", "Сколько будет 2+3?"),))),
        cache_key("openai@http://a/v1", "m", replace(BASE, messages=(Message("system", "Сколько будет 2+2?"),))),
        cache_key("openai@http://a/v1", "m", replace(BASE, config=replace(BASE.config, temperature=0.7))),
        cache_key("openai@http://a/v1", "m", replace(BASE, config=replace(BASE.config, top_k=40))),
        cache_key("openai@http://a/v1", "m", replace(BASE, config=replace(BASE.config, stop=("\n",)))),
        cache_key("openai@http://a/v1", "m", replace(BASE, config=replace(BASE.config, seed=1))),
        cache_key("openai@http://a/v1", "m", replace(BASE, replica=1)),
    ]
    assert len({key, *variants}) == len(variants) + 1
    assert cache_key("openai@http://a/v1", "m", BASE) == key  # stable


def test_round_trip_persists_and_skips_errors(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    good = Completion("Ответ: 4", "stop", Usage(10, 3), 0.5)
    cache.put("k1", good)
    cache.put("k2", Completion.failed("HTTP 500"))
    cache.close()
    reopened = ResponseCache(path)
    found = reopened.get_many(["k1", "k2", "k3"])
    assert set(found) == {"k1"}
    assert found["k1"].text == "Ответ: 4" and found["k1"].usage == Usage(10, 3) and found["k1"].cached
    assert len(reopened) == 1


def test_corrupt_cache_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    try:
        ResponseCache(path)
    except RuntimeError as exc:
        assert str(path) in str(exc) and "--no-cache" in str(exc)
    else:
        raise AssertionError("a corrupt cache must be refused")


def test_a_damaged_entry_is_dropped_and_asked_again(tmp_path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("good", Completion("Ответ: 4"))
    cache.put("bad", Completion("Ответ: 5"))
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE completions SET completion = ? WHERE key = 'bad'", ('{"text": "Отв',))
    reopened = ResponseCache(path)
    assert set(reopened.get_many(["good", "bad"])) == {"good"}  # not fatal: a miss, so it is asked again
    assert len(reopened) == 1


def test_a_lone_surrogate_is_stored_losslessly():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        cache = ResponseCache(Path(folder) / "c.sqlite")
        cache.put("k", Completion("Ответ: 42 \ud800"))
        assert cache.get_many(["k"])["k"].text == "Ответ: 42 \ud800"
        cache.close()


def test_a_cached_answer_reads_back_equal_to_the_one_stored():
    """Completion.from_dict fills the frozen dataclass directly (the warm path): the result must be the same
    object as the constructor makes — equal, same hash, same fields — with and without logprobs."""
    from evalkit.types import Completion, Usage

    for original in (Completion("Ответ: 7", "stop", Usage(12, 3), 0.25),
                     Completion("m", "length", Usage(1, 1), 0.0, top_logprobs=({"m": -0.1, "M": -2.5},))):
        read = Completion.from_dict(original.to_dict())
        assert read == original and hash(read.usage) == hash(original.usage)
        assert vars(read) == vars(original)
        assert Completion.from_dict(original.to_dict(), cached=True).cached is True
