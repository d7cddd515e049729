"""Table-driven: MT-Bench judge replies -> grade, AlpacaEval judge replies (+ top logprobs) -> preference."""

import json
import math
from pathlib import Path

import pytest

from evalkit.alpaca_eval import is_switched, read_preference
from evalkit.mt_bench import parse_rating
from evalkit.types import Completion

HERE = Path(__file__).parent
RATINGS = json.loads((HERE / "rating_cases.json").read_text(encoding="utf-8"))
PREFERENCES = json.loads((HERE / "preference_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", RATINGS, ids=[str(i) for i in range(len(RATINGS))])
def test_rating(case):
    assert parse_rating(case["text"]) == case["rating"], case["note"]


@pytest.mark.parametrize("case", PREFERENCES, ids=[str(i) for i in range(len(PREFERENCES))])
def test_preference(case):
    logprobs = tuple(case["logprobs"]) if case["logprobs"] is not None else None
    found = read_preference(Completion(text=case["text"], top_logprobs=logprobs))
    if case["preference"] is None:
        assert found is None, case["note"]
    else:
        assert found is not None, case["note"]
        assert math.isclose(found[0], case["preference"], abs_tol=5e-5), case["note"]
        assert found[1] is case["soft"], case["note"]


def test_tables_cover_both_outcomes():
    assert len(RATINGS) >= 15 and {None} < {c["rating"] for c in RATINGS}
    assert {c["soft"] for c in PREFERENCES} == {True, False}


def test_switch_coin_is_seeded_by_the_instruction_and_balanced():
    # alpaca_eval seeds Python's random with "is_switched_outputs" + instruction + "123": the same instruction
    # always gets the same order, and over many instructions about half are switched.
    assert is_switched("Как штаты США получили свои названия?") == is_switched("Как штаты США получили свои названия?")
    share = sum(is_switched(f"instruction {i}") for i in range(2000)) / 2000
    assert 0.45 < share < 0.55
