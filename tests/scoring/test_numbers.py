"""Table-driven: (model output, expected strict / flexible reading) rows in cases/numbers.json."""

import json
from pathlib import Path

import pytest

from evalkit.scoring.numbers import canonical_target, extract_anchored, extract_last, given_numbers, read_final

CASES = json.loads((Path(__file__).parent / "cases" / "numbers.json").read_text(encoding="utf-8"))


def test_table_is_large_and_covers_every_language():
    assert len(CASES) >= 40
    assert {"ru", "pl", "uk", "cs"} <= {case["lang"] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['lang']}" for i, c in enumerate(CASES)])
def test_extraction(case):
    assert extract_anchored(case["output"], case["lang"]) == case["strict"], case["note"]
    assert extract_last(case["output"], case["lang"]) == case["flexible"], case["note"]


@pytest.mark.parametrize(
    ("gold", "expected"),
    [("72", "72"), ("1,000", "1000"), ("-3", "-3"), ("7.5", "7.5"), ("18.00", "18"), ("0", "0")],
)
def test_gold_answers_are_canonical(gold, expected):
    assert canonical_target(gold) == expected


def test_huge_output_is_read_quickly():
    text = "Думаю. " * 15000 + "Ответ: 1 234 руб."
    assert len(text) > 100_000
    assert extract_anchored(text, "ru") == "1234"
    assert extract_last("7 " * 50_000, "ru") == "7"


@pytest.mark.parametrize(
    ("reply", "expected", "rule"),
    [
        ("Ответ: за 2 часа он проедет 120 км.", "120", "answer_phrase_new_number"),
        ("Ответ: 2 часа.", "2", "answer_phrase"),  # an answer may repeat a given number when it is the only one
        ("Значит, у Пети осталось 14 марок из 20.", "14", "conclusion"),
        ("Петя отдал 6 марок и оставил себе 14 из 20", "14", "last_sentence_new_number"),
        ("Петя отдал 6 марок, у него было 20", "20", "last_number"),  # every number given: the last one
    ],
)
def test_numbers_of_the_problem_are_not_taken_for_the_answer(reply, expected, rule):
    given = given_numbers("Машина едет 2 часа со скоростью 60 км/ч. У Пети было 20 марок, он отдал 6.")
    reading = read_final(reply, "ru", given)
    assert (reading.value, reading.rule) == (expected, rule)
