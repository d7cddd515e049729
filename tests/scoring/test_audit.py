"""The answer readers on our own table of realistic replies (audit_replies*.jsonl), through the same scorers
`evalkit run` uses, and the `evalkit audit-extraction` command."""

import json
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.run.plugins import load_task
from evalkit.scoring.audit import audit, read_rows

CASES = Path(__file__).parent / "cases"
TABLES = sorted(CASES.glob("audit_replies*.jsonl"))
TASKS = ("mmlu_pro", "gsm8k", "math")
LANGS = ("ru", "pl", "uk", "cs")


def test_table_is_large_and_covers_every_task_and_language():
    rows = [row for path in TABLES for row in read_rows(path)]
    assert len(rows) >= 200
    cells = {(row.task, row.lang) for row in rows}
    assert cells == {(t, lang) for t in TASKS for lang in LANGS}
    for task in TASKS:
        for lang in LANGS:
            assert sum(row.task == task and row.lang == lang for row in rows) >= 15, (task, lang)
    assert sum(row.expected is None for row in rows) >= 10  # no-answer rows are in the table too


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_readers_read_at_least_98_percent(path, capsys):
    code = main(["audit-extraction", str(path), "--min-accuracy", "98"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| all |" in printed


def test_every_cell_reaches_90_percent():
    report = audit([row for path in TABLES for row in read_rows(path)], load_task)
    for (task, lang), (right, n) in report.cells().items():
        assert right / n >= 0.9, (task, lang, [m.row.where for m in report.misses()])


def test_a_miss_is_listed_with_its_rule_and_fails_the_threshold(tmp_path, capsys):
    rows = [
        {"lang": "ru", "task": "gsm8k", "output": "Ответ: 42", "expected": "42"},
        {"lang": "ru", "task": "gsm8k", "output": "Ответ: 41", "expected": "42", "note": "wrong on purpose"},
        {"lang": "cs", "task": "mmlu_pro", "output": "Odpověď: (E)", "expected": "E"},
        {"lang": "uk", "task": "math", "output": "Відповідь: $[-1; 3]$", "expected": "[-1, 3]"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(["audit-extraction", str(path), "--min-accuracy", "80"]) == 1
    printed = capsys.readouterr().out
    assert "| all | | 3 | 4 | 75.0% |" in printed
    assert f"{path}:2 [gsm8k/ru] expected '42'" in printed and '"rule": "answer_phrase"' in printed
    assert main(["audit-extraction", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 4 and report["misses"][0]["extracted"]["answer"] == "41"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"lang": "ru", "task": "gsm8k", "expected": "1"}', "rows.jsonl:1: field 'output' must be a string"),
        ('{"lang": "ru", "task": "gsm8k", "output": "x", "expected": [1]}', "rows.jsonl:1: field 'expected'"),
        ('{"lang": "ru", "task": "nope", "output": "x", "expected": "1"}', "unknown task 'nope'"),
        ('{"lang": "ru", "task": "rag", "output": "x", "expected": "1"}', "task 'rag' has no answer reader"),
        ("not json", "rows.jsonl:1: invalid JSON"),
    ],
)
def test_bad_rows_are_named(tmp_path, capsys, row, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(row + "\n", encoding="utf-8")
    assert main(["audit-extraction", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["audit_replies_heldout9.jsonl", "audit_replies_heldout10.jsonl", "audit_replies_heldout11.jsonl"]
)
def test_fresh_sets_read_at_least_98_percent_per_metric_and_finish_reason(name):
    """Issue 25's held-out sets (9, 10) and the blind set C (11): each headline metric (GSM8K exact_match,
    MMLU-Pro letter, MATH answer) at ≥ 98%, for the replies served as finished ("stop") and as cut by the token
    limit ("length") alike."""
    report = audit(read_rows(CASES / name), load_task)
    groups: dict[tuple[str, str], list[bool]] = {}
    for result in report.results:
        reason = str(result.row.raw.get("finish_reason", "stop"))
        groups.setdefault((result.row.task, "all"), []).append(result.correct)
        groups.setdefault((result.row.task, reason), []).append(result.correct)
    assert {task for task, _ in groups} == set(TASKS)
    for key, correct in groups.items():
        assert sum(correct) >= 0.98 * len(correct), (key, [m.row.where for m in report.misses()])


def test_a_length_row_is_re_read_as_the_runner_re_reads_it(tmp_path, capsys):
    rows = [
        {"lang": "ru", "task": "gsm8k", "output": "Итак, всего 17 рублей.", "expected": None,
         "finish_reason": "length"},
        {"lang": "ru", "task": "gsm8k", "output": "Итак, всего 17 рублей.", "expected": "17", "finish_reason": "stop"},
        {"lang": "pl", "task": "mmlu_pro", "output": "Odpowiedź: (B)\n\nOpcja A jest", "expected": "B",
         "finish_reason": "length"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(["audit-extraction", str(path), "--min-accuracy", "100"]) == 0, capsys.readouterr().out
