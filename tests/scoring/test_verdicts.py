"""Table-driven: every judge-reply parser (evalkit/scoring/verdicts.py) on its own case table."""

import json
import math
from pathlib import Path

import pytest

from evalkit.scoring.verdicts import (
    PAIRWISE_LABELS,
    parse_correctness,
    parse_pairwise_verdict,
    parse_rating,
    read_preference,
)
from evalkit.types import Completion

CASES = Path(__file__).parent / "cases"
PAIRWISE = json.loads((CASES / "verdicts_pairwise.json").read_text(encoding="utf-8"))
RATINGS = json.loads((CASES / "verdicts_rating.json").read_text(encoding="utf-8"))
PREFERENCES = json.loads((CASES / "verdicts_preference.json").read_text(encoding="utf-8"))
CORRECTNESS = json.loads((CASES / "verdicts_correctness.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", PAIRWISE, ids=[str(i) for i in range(len(PAIRWISE))])
def test_pairwise_verdict(case):
    assert parse_pairwise_verdict(case["text"]) == case["verdict"], case["note"]


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


@pytest.mark.parametrize("case", CORRECTNESS, ids=[str(i) for i in range(len(CORRECTNESS))])
def test_correctness(case):
    assert parse_correctness(case["text"]) is case["verdict"], case["note"]


def test_tables_cover_every_outcome():
    assert len(PAIRWISE) >= 30 and {c["verdict"] for c in PAIRWISE} >= {*PAIRWISE_LABELS, None}
    assert len(RATINGS) >= 15 and {None} < {c["rating"] for c in RATINGS}
    assert {c["soft"] for c in PREFERENCES} == {True, False}
    assert len(CORRECTNESS) >= 15 and {c["verdict"] for c in CORRECTNESS} == {True, False, None}
