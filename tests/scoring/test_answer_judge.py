"""The second reader (evalkit.scoring.answer_judge): its prompts and the table of judge replies it parses
(cases/answer_judge.json), and its equality verdicts."""

import json
from pathlib import Path

import pytest

from evalkit.scoring.answer_judge import (
    agreement_summary,
    equality_messages,
    extraction_messages,
    parse_equality,
    parse_extraction,
    readings_agree,
    uncertain,
)

CASES = json.loads((Path(__file__).parent / "cases" / "answer_judge.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_judge_replies_are_parsed(case):
    reading = parse_extraction(case["task"], case["judge"], case["lang"], case.get("n_options", 10))
    assert (reading.value, reading.rule) == (case["value"], case["rule"]), case["note"]


def test_extraction_prompt_shows_the_visible_reply_and_the_format():
    [message] = extraction_messages("mmlu_pro", "<think>A?</think>Ответ: (C)", "ru", question="Какой?", n_options=4)
    assert message.role == "user" and "Ответ: (C)" in message.content and "<think>" not in message.content
    assert "A, B, C, D" in message.content and "FINAL ANSWER: NONE" in message.content and "Какой?" in message.content
    with pytest.raises(ValueError):
        extraction_messages("rag", "x", "ru")


@pytest.mark.parametrize(("reply", "verdict"), [("Yes", True), ("no.", False), ("**Yes**", True), ("Да", True),
                                                ("Maybe", None), ("", None)])  # fmt: skip
def test_equality_verdicts(reply, verdict):
    assert parse_equality(reply) is verdict


def test_equality_prompt_names_both_expressions():
    [message] = equality_messages("\\frac{1}{2}", "0,5")
    assert "Expression 1: \\frac{1}{2}" in message.content and "Expression 2: 0,5" in message.content


def test_uncertain_and_agreement():
    assert not uncertain("gsm8k", {"answer": "42", "rule": "answer_phrase"})
    assert uncertain("gsm8k", {"answer": "42", "rule": "last_number"})
    assert uncertain("mmlu_pro", {"choice": "C", "rule": "final_line"})
    assert not uncertain("math", {"answer": "5", "rule": "boxed"})
    assert uncertain("math", {"answer": None, "rule": "no_answer"})
    assert readings_agree("gsm8k", "42", "42") and not readings_agree("gsm8k", "42", None)
    assert readings_agree("mmlu_pro", None, None)
    assert agreement_summary([("gsm8k", "ru", True), ("gsm8k", "ru", False)]) == {
        "gsm8k/ru": {"n": 2, "agree": 1, "rate": 0.5}}


@pytest.mark.parametrize(("task", "reply", "judged", "expected", "metric"),
                         [("gsm8k", "Итак, около 40.", "FINAL ANSWER: 42", "42", "exact_match"),
                          ("mmlu_pro", "Вариант C кажется верным", "FINAL ANSWER: D", "D", "accuracy"),
                          ("math", "Ответ: x = 0,5", "FINAL ANSWER: \\frac{1}{2}", "\\frac{1}{2}",
                           "accuracy")])  # fmt: skip
def test_the_judges_reading_can_be_the_scored_one(task, reply, judged, expected, metric):
    from evalkit.run.plugins import load_task  # noqa: PLC0415

    loaded = load_task(task)
    sample = loaded.audit_sample(expected, {})
    score = loaded.score(sample, reply, "ru")
    reading = parse_extraction(task, judged, "ru")
    rescored = loaded.score_reading(sample, score, reading.value, reading.rule, "ru")
    assert rescored.values[metric] == 1.0 and rescored.extracted["rule"] == "judge"
    assert rescored.extracted["rules_rule"] == score.extracted["rule"]
