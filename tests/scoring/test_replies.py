"""What the readers look at: reasoning blocks cut off, broken replies read as no answer, phrase tables."""

import json

import pytest

from evalkit.errors import UserError
from evalkit.scoring import phrases
from evalkit.scoring.choices import read_choice
from evalkit.scoring.math_answers import read_math_answer
from evalkit.scoring.numbers import read_anchored, read_final, read_last
from evalkit.scoring.replies import reading_summary, visible_reply

READERS = {
    "choice": lambda text: read_choice(text, 10),
    "final": lambda text: read_final(text, "ru"),
    "strict": lambda text: read_anchored(text, "pl"),
    "flexible": lambda text: read_last(text, "cs"),
    "math": read_math_answer,
}


def test_reasoning_block_is_cut_off_and_measured():
    reply = "<think>Может, ответ 41? Или (C)? Ответ: 40</think>\n\n**Ответ:** 42 (вариант D)"
    visible = visible_reply(reply)
    assert visible.unread is None and "<think>" not in visible.text
    assert visible.reasoning_chars == reply.index("</think>")
    assert read_final(reply, "ru").value == "42" and read_final(reply, "ru").reasoning_chars > 0
    assert read_last(reply, "ru").value == "42"
    assert read_choice(reply).value == "D"


def test_a_closing_tag_alone_ends_the_reasoning():
    reply = "Считаем: 3 + 4 = 7, потом... (A)?\n</think>\nОтвет: (B)"
    assert read_choice(reply).value == "B"
    assert read_last(reply, "ru").value is None  # the visible reply holds no number


@pytest.mark.parametrize("name", list(READERS))
def test_unterminated_reasoning_is_no_answer(name):
    reading = READERS[name]("<think>Ответ: 12, вариант (C), \\boxed{12}. Хм, надо проверить ещё раз")
    assert reading.value is None and reading.rule == "unterminated_reasoning"


@pytest.mark.parametrize("name", list(READERS))
@pytest.mark.parametrize(
    "reply",
    ["", "   \n\t  ", None, "\x00\x01\x02\ufffd\ufffd\x07" * 200 + "Ответ: 5", "\udcff\ud800" * 50],
    ids=["empty", "whitespace", "null", "binary", "surrogates"],
)
def test_broken_replies_are_no_answer_never_an_exception(name, reply):
    reading = READERS[name](reply)
    assert reading.value is None
    assert reading.rule in ("empty", "unreadable")


@pytest.mark.parametrize("name", list(READERS))
def test_a_2mb_reply_is_read_from_its_end(name):
    reply = "Рассуждаем: 1 + 1 = 2, вариант (A) неверен. " * 50_000 + "\nОтвет: (B) \\boxed{7}"
    assert len(reply) > 2_000_000
    reading = READERS[name](reply)
    assert reading.value in ("B", "7")


def test_reading_summary_counts_rules_and_reasoning():
    extracted = [read_choice(r).fields("choice") for r in ("<think>x</think>Ответ: A", "Ответ: B", "", "<think>y")]
    summary = reading_summary(extracted)
    assert summary["reading_rules"] == {"answer_phrase": 2, "empty": 1, "unterminated_reasoning": 1}
    assert summary["n_with_reasoning"] == 2 and summary["n_unterminated_reasoning"] == 1 and summary["n_empty"] == 1


def test_phrase_tables_are_complete_and_compile():
    for lang in phrases.LANGUAGES:
        table = phrases.table(lang)
        assert set(table) == set(phrases.CLASSES)
        for name in ("answer", "conclusion", "check", "currency"):
            assert table[name], (lang, name)
    for name in phrases.CLASSES:
        assert phrases.pattern(name).search("") is None


def test_an_unknown_phrase_class_is_named(tmp_path, monkeypatch):
    (tmp_path / "xx.json").write_text(json.dumps({"answer": ["odp"], "answr": ["typo"]}), encoding="utf-8")
    monkeypatch.setattr(phrases, "PHRASE_DIR", tmp_path)
    phrases.table.cache_clear()
    try:
        with pytest.raises(UserError, match=r"xx.json: unknown phrase class\(es\) \[.answr.\]"):
            phrases.table("xx")
    finally:
        phrases.table.cache_clear()


@pytest.mark.parametrize(
    ("phrase", "text", "hit"),
    [("odpowied*", "Odpowiedzi udzielam", True), ("ответ", "ответственный", False), ("то есть", "то\u00a0есть", True),
     ("р.", "5 р. 20 к.", True), ("—", "Ответ — 5", True)],
)
def test_phrase_syntax(phrase, text, hit):
    import re

    assert bool(re.search(phrases.phrase_pattern(phrase), text, re.IGNORECASE)) is hit


@pytest.mark.parametrize(
    ("text", "expected"),
    [("czterdzieści dwa jabłka", 42), ("п'ятнадцять учнів", 15), ("п’ятнадцять", 15), ("две тысячи триста", 2300),
     ("dvě stě padesát", 250), ("forty-two", 42), ("tysiąc dwieście", 1200), ("нет чисел", None)],
)
def test_numbers_in_words(text, expected):
    found = phrases.number_in_words(text)
    assert (found[0] if found else None) == expected
