"""Table-driven: judge replies and the pairwise verdict arena-hard-auto's parsing rule gives them."""

import json
from pathlib import Path

import pytest

from evalkit.judging import PAIRWISE_LABELS, parse_pairwise_verdict

CASES = json.loads((Path(__file__).parent / "verdict_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_pairwise_verdict(case):
    assert parse_pairwise_verdict(case["text"]) == case["verdict"], case["note"]


def test_table_covers_every_label_and_no_verdict():
    assert len(CASES) >= 30
    assert {c["verdict"] for c in CASES} >= {*PAIRWISE_LABELS, None}
