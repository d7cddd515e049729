"""Replies that stop before they answer (cases/truncated.json): recognised from their text with any finish reason,
and re-read by the task's score_truncated when the token limit cut them (finish_reason "length"), as the runner
and `evalkit audit-extraction` do; plus the notations of the same answer a grader accepts."""

import json
from pathlib import Path

import pytest

from evalkit.run.plugins import load_task
from evalkit.scoring.replies import stops_midway

CASES = json.loads((Path(__file__).parent / "cases" / "truncated.json").read_text(encoding="utf-8"))
KEY = {"gsm8k": "answer", "mmlu_pro": "choice", "math": "answer"}
PRIMARY = {"gsm8k": "exact_match", "mmlu_pro": "accuracy", "math": "accuracy"}


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['task']}-{c['lang']}" for i, c in enumerate(CASES)])
def test_a_reply_cut_before_its_answer_is_no_answer(case):
    task = load_task(case["task"])
    sample = task.audit_sample(case["expected"], case)
    score = task.score(sample, case["output"], case["lang"])
    if case["finish_reason"] == "length":
        score = task.score_truncated(sample, score, case["lang"])
    assert score.extracted["rule"] == case["rule"], (case["note"], score.extracted)
    if case["expected"] is None:
        assert score.values["no_answer"] == 1.0 and score.values[PRIMARY[case["task"]]] == 0.0, case["note"]
        assert score.extracted[KEY[case["task"]]] is None
    else:
        assert score.values[PRIMARY[case["task"]]] == 1.0, (case["note"], score.extracted)


def test_a_cut_reading_says_so_and_keeps_what_it_had_read():
    task = load_task("gsm8k")
    sample = task.audit_sample("17", {})
    score = task.score_truncated(sample, task.score(sample, "Итак, всего 17 рублей.", "ru"), "ru")
    assert score.extracted["truncated"] is True and score.extracted["read_before_cut"] == "17"
    assert task.summary_extra([score.extracted])["truncated"] == 1


@pytest.mark.parametrize(
    ("text", "stops"),
    [("Odpověď: A", False), ("Ответ: $42", False), ("Итого: 1 500 руб", False), ("Ответ: 42\n\n---", False),
     ("Всего 5. Итого", True), ("Výsledek je", True), ("Mamy $x = \\frac{3", True), ("x =", True),
     ("**C) 42 kg**", False), ("Ответ: 15k", False)],
)  # fmt: skip
def test_stops_midway(text, stops):
    assert stops_midway(text) is stops
