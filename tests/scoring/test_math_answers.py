"""Table-driven MATH answer checking (cases/math_answers*.json) and the off-main-thread time limit."""

import json
import threading
import time
from pathlib import Path

import pytest

from evalkit.scoring.math_answers import _VERIFIER, extract_final_answer, is_equivalent, last_boxed

CASES = [
    case
    for path in sorted((Path(__file__).parent / "cases").glob("math_answers*.json"))
    for case in json.loads(path.read_text(encoding="utf-8"))
]


def test_table_size():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['lang']}" for i, c in enumerate(CASES)])
def test_equivalence(case):
    answer = extract_final_answer(case["output"])
    assert is_equivalent(answer, case["gold"], case["lang"])[0] is case["equivalent"], (case["note"], answer)


def test_nested_braces():
    assert last_boxed(r"x \boxed{\frac{1}{\sqrt{2}}} y") == r"\frac{1}{\sqrt{2}}"
    assert last_boxed("no box") is None


def test_works_off_the_main_thread_and_times_out():
    results = []
    worker = threading.Thread(target=lambda: results.append(is_equivalent(r"2\sqrt{3}", r"\sqrt{12}")))
    worker.start()
    worker.join(60)
    assert results == [(True, "symbolic")]
    started = time.monotonic()
    verdict = is_equivalent("9^{9^{9^{9^{9}}}}", "9^{9^{9^{9^{8}}}}+1", timeout_s=2.0)
    assert verdict[0] is False and verdict[1] in ("timeout", "symbolic")
    assert time.monotonic() - started < 15
    assert is_equivalent("0.5", r"\frac{1}{3}")[1] == "symbolic"  # the verifier still works afterwards
    _VERIFIER.close()
