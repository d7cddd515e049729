"""Table-driven: (reply, code, rule) rows in cases/code_replies.json."""

import json
from pathlib import Path

import pytest

from evalkit.scoring.code import extract_code, read_code

CASES = json.loads((Path(__file__).parent / "cases" / "code_replies.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_read_code(case):
    assert read_code(case["reply"]) == (case["code"], case["rule"]), case["note"]
    assert extract_code(case["reply"]) == case["code"]


def test_a_line_of_unary_operators_does_not_break_the_reader():
    reply = "def f(x):\n    return x\n" + "~" * 3000 + "1 is the answer\nmore prose"
    code, rule = read_code(reply)
    assert rule == "unfenced code" and code.startswith("def f(x):")
