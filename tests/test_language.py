"""Language fidelity: the detector on our own short replies, what counts as prose, the per-run share and its
top wrong language, `language_mismatch=zero|keep`, the leaderboard column and the gate's in_language row."""

import json
from collections import Counter

import pytest

from conftest import ROOT
from evalkit.cli import main
from evalkit.publish.gate import run_gate
from evalkit.scoring.language import UNDETERMINED, detect_language, fidelity, prose_of
from evalkit.testing.openai_stub import OpenAIStub

SENTENCES = [json.loads(x) for x in (ROOT / "tests/fixtures/langid/sentences.jsonl").read_text("utf-8").splitlines()]


def test_the_nine_languages_are_told_apart_on_short_replies():
    """55 short replies per language written for evalkit (never seen by the library's authors): ≥ 98% overall,
    ≥ 94% in every language, the close pairs included (ru/uk/be, bg/sr, pl/cs/sk)."""
    assert Counter(r["lang"] for r in SENTENCES) == {lang: 55 for lang in
                                                      ("ru", "uk", "be", "bg", "sr", "pl", "cs", "sk", "en")}
    hits = Counter(r["lang"] for r in SENTENCES if detect_language(r["text"]).lang == r["lang"])
    assert sum(hits.values()) / len(SENTENCES) >= 0.98
    assert all(hits[lang] / 55 >= 0.94 for lang in hits), hits


def test_full_replies_in_other_styles_are_read_in_their_language():
    """225 replies written by someone who had not seen the detector (markdown answers, LaTeX solutions, code
    with English identifiers, an English <think> block before the answer, names and units, short lines):
    100% when first measured; the suite holds it at ≥ 98% overall and ≥ 92% per language."""
    rows = [json.loads(x) for x in
            (ROOT / "tests/fixtures/langid/heldout_replies.jsonl").read_text("utf-8").splitlines()]  # fmt: skip
    assert len(rows) == 225
    hits = Counter(r["lang"] for r in rows if detect_language(r["text"]).lang == r["lang"])
    assert sum(hits.values()) / len(rows) >= 0.98
    assert all(hits[lang] / 25 >= 0.92 for lang in {r["lang"] for r in rows}), hits


def test_prose_leaves_out_code_formulas_links_digits_and_reasoning():
    reply = ("<think>Let me think in English about this.</think>Рішення: `x = 5`, $x^2 = 25$.\n```python\n"
             "print('hello world')\n```\nДив. https://example.com/a Відповідь: 25")
    assert prose_of(reply) == "Рішення: , . Див. Відповідь:"


@pytest.mark.parametrize("reply", ["42", "Ответ: B", "```python\ndef f(x):\n    return x * 2\n```", "", "$$x=1$$"])
def test_too_little_prose_is_undetermined(reply):
    assert detect_language(reply).lang == UNDETERMINED


def test_fidelity_counts_the_share_and_the_top_wrong_language():
    found = fidelity("uk", ["uk", "ru", "uk", "ru", "und", "en", "uk"])
    assert found["in_language"] == pytest.approx(3 / 6) and found["determined"] == 6 and found["undetermined"] == 1
    assert found["top_wrong"] == "ru" and found["top_wrong_share"] == pytest.approx(2 / 6)
    assert fidelity("pl", ["und"])["in_language"] is None


def ukrainian_run(tmp_path, mismatch=None, name="m"):
    """GSM8K uk on a loopback server that answers the first two problems in Russian (right numbers) and the
    others in Ukrainian."""
    rows = [json.loads(x) for x in (ROOT / "tasks/gsm8k/samples/uk.jsonl").read_text("utf-8").splitlines()][:4]
    answers = {r["question"]: r["answer"].split("####")[-1].strip() for r in rows}

    def reply(messages):
        question = next(q for q in answers if q in messages[-1]["content"])
        number = answers[question]
        if list(answers).index(question) < 2:
            return f"Сначала посчитаем всё по порядку, затем вычтем лишнее. Ответ: {number}"
        return f"Спочатку порахуємо все по черзі, потім віднімемо зайве. Відповідь: {number}"

    extra = ["--task-option", f"gsm8k.language_mismatch={mismatch}"] if mismatch else []
    with OpenAIStub(reply_fn=reply) as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "uk", "--limit", "4",
                     "--output", str(tmp_path), "--name", name, "--no-progress", "--no-cache", *extra])  # fmt: skip
    assert code == 0
    folder = tmp_path / name / "gsm8k" / "uk"
    return json.loads((folder / "summary.json").read_text("utf-8")), [
        json.loads(x) for x in (folder / "samples.jsonl").read_text("utf-8").splitlines()]


def test_a_reply_in_the_wrong_language_is_counted_and_kept_by_default(tmp_path):
    summary, records = ukrainian_run(tmp_path)
    language = summary["extra"]["language"]
    assert language["expected"] == "uk" and language["in_language"] == 0.5 and language["top_wrong"] == "ru"
    assert language["mismatch"] == "keep" and summary["metrics"]["in_language"]["value"] == 0.5
    assert [r["extracted"]["language"] for r in records] == ["ru", "ru", "uk", "uk"]
    assert summary["metrics"]["exact_match"]["value"] == 1.0  # every number right: kept, only counted


def test_language_mismatch_zero_scores_the_wrong_language_replies_zero(tmp_path):
    summary, records = ukrainian_run(tmp_path, "zero")
    assert summary["metrics"]["exact_match"]["value"] == 0.5
    assert [r["scores"]["exact_match"] for r in records] == [0.0, 0.0, 1.0, 1.0]
    assert records[0]["extracted"]["language_mismatch"] == "ru"
    assert summary["extra"]["task_options"]["language_mismatch"] == "zero"


def test_leaderboard_column_and_gate_row(tmp_path):
    ukrainian_run(tmp_path, name="m")
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    board = (tmp_path / "leaderboard.md").read_text("utf-8")
    assert "Language fidelity (uk): in-language %" in board and "| m | 50 (ru 50%) |" in board
    comparisons = run_gate(tmp_path / "m", tmp_path / "m", None, 1.0, 0.05, 1000, 0)
    rows = {c.metric: c for c in comparisons}
    assert set(rows) == {"exact_match", "in_language"}
    assert rows["in_language"].baseline == 50.0 and rows["in_language"].n == 4 and not rows["in_language"].regression


def test_the_run_recap_shows_the_in_language_share_and_what_a_gate_could_see(tmp_path, capsys):
    ukrainian_run(tmp_path)
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("task/lang"))
    row = next(line for line in out.splitlines() if line.startswith("gsm8k/uk "))
    assert "in-lang" in header and "gate sees" in header
    assert " 50% " in row and " — " in row  # every number right: stderr 0, so no detectable drop to show
    assert "note: a quick slice (the first 4 items" in out
