"""Table-driven: (model output, number of options, expected letter) rows in cases/choices.json."""

import json
from pathlib import Path

import pytest

from evalkit.scoring.choices import extract_choice

CASES = json.loads((Path(__file__).parent / "cases" / "choices.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_choice_extraction(case):
    assert extract_choice(case["output"], case["n"]) == case["expected"], case["note"]


def test_table_size():
    assert len(CASES) >= 40
