"""The answer readers end to end: `evalkit run` against a loopback server that returns our tables of realistic
replies (tests/scoring/cases/audit_replies.jsonl and the two held-out sets of issue 25, heldout9 / heldout10),
scored and recorded exactly as a real run is — with the finish reason each row was written with ("stop" or
"length": the server then reports the reply as cut by the token limit)."""

import json
import re
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub

CASES = Path(__file__).parent / "scoring" / "cases"
TABLES = [CASES / f"audit_replies{suffix}.jsonl" for suffix in ("", "_heldout9", "_heldout10")]
ROWS = [json.loads(line) for table in TABLES for line in table.read_text(encoding="utf-8").splitlines() if line.strip()]
MARKER = re.compile(r"\[\[item-([a-j]+)\]\]")


def marker_code(index: int) -> str:
    """The item's index in letters: a digit in the question would count as one of the problem's numbers."""
    return "".join("abcdefghij"[int(d)] for d in str(index))


def dataset_row(task: str, index: int, row: dict) -> dict:
    """One item in the task's own dataset schema whose question carries a marker the server answers by."""
    marker = f"[[item-{marker_code(index)}]]"
    expected = row["expected"]
    if task == "gsm8k":
        return {"id": f"i{index}", "question": f"{marker} Сколько?", "answer": f"Решение.\n#### {expected or 0}"}
    if task == "mmlu_pro":
        n = int(row.get("n_options", 10))
        return {"question_id": f"i{index}", "question": f"{marker} Какой?", "options": [f"opt {i}" for i in range(n)],
                "answer": expected or "A", "category": "math"}
    return {"unique_id": f"i{index}", "problem": f"{marker} Найдите x.", "answer": expected or "0",
            "solution": "", "subject": "Algebra", "level": 1}


def row_of(messages) -> dict:
    found = MARKER.findall(messages[-1]["content"])
    return ROWS[int("".join(str("abcdefghij".index(c)) for c in found[-1]))]


@pytest.fixture(scope="module")
def server():
    holder = {}

    def cut(key, first_index, attempt):  # the server says "length" for the rows written as cut by the limit
        body = holder["stub"].bodies.get(key) or {}
        return "length" if row_of(body.get("messages", [{}])).get("finish_reason") == "length" else "ok"

    with OpenAIStub(reply_fn=lambda messages: row_of(messages)["output"], fault_fn=cut) as stub:
        holder["stub"] = stub
        yield stub


@pytest.mark.parametrize("task", ["gsm8k", "mmlu_pro", "math"])
def test_evalkit_run_reads_the_replies_as_a_grader_would(task, server, tmp_path):
    right = total = 0
    for lang in ("ru", "pl", "uk", "cs"):
        chosen = [(i, row) for i, row in enumerate(ROWS) if row["task"] == task and row["lang"] == lang]
        data = tmp_path / f"{task}-{lang}.jsonl"
        data.write_text("".join(json.dumps(dataset_row(task, i, row), ensure_ascii=False) + "\n" for i, row in chosen),
                        encoding="utf-8")  # fmt: skip
        code = main(["run", "--model", f"openai:stub-model@{server.base_url}", "--tasks", task, "--langs", lang,
                     "--data", str(data), "--output", str(tmp_path / "results"), "--name", "stub", "--no-cache",
                     "--no-progress", "--concurrency", "4"])  # fmt: skip
        assert code == 0
        folder = tmp_path / "results" / "stub" / task / lang
        records = {r["id"]: r for r in map(json.loads, (folder / "samples.jsonl").read_text("utf-8").splitlines())}
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        primary = {"gsm8k": "exact_match", "mmlu_pro": "accuracy", "math": "accuracy"}[task]
        for index, row in chosen:
            record = records[f"i{index}"]
            assert record["completion"] == row["output"].strip() or record["completion"] == row["output"]
            assert record["finish_reason"] == row.get("finish_reason", "stop")
            assert record["extracted"]["rule"], record  # every reading names the rule that decided it
            if row["expected"] is None:
                right += record["scores"]["no_answer"] == 1.0
            else:
                right += record["scores"][primary] == 1.0
            total += 1
        rules = summary["extra"]["reading_rules"]
        assert sum(rules.values()) == len(chosen)
        cut = sum(row.get("finish_reason") == "length" for _, row in chosen)
        assert summary["extra"]["truncated"] + summary["extra"]["committed_before_cut"] >= cut
        assert summary["metrics"]["no_answer"]["value"] == pytest.approx(
            sum(r["scores"]["no_answer"] for r in records.values()) / len(records))
    assert right / total >= 0.98, (task, right, total)


def test_reasoning_is_kept_raw_and_measured(server, tmp_path):
    rows = [(i, r) for i, r in enumerate(ROWS) if "<think>" in r["output"] and r["task"] == "gsm8k"][:3]
    assert rows, "the table has reasoning-model replies"
    data = tmp_path / "think.jsonl"
    data.write_text("".join(json.dumps(dataset_row("gsm8k", i, r), ensure_ascii=False) + "\n" for i, r in rows),
                    encoding="utf-8")  # fmt: skip
    lang = rows[0][1]["lang"]
    assert main(["run", "--model", f"openai:stub-model@{server.base_url}", "--tasks", "gsm8k", "--langs", lang,
                 "--data", str(data), "--output", str(tmp_path), "--name", "stub", "--no-cache", "--no-progress"]) == 0
    folder = tmp_path / "stub" / "gsm8k" / lang
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text("utf-8").splitlines()]
    assert all("<think>" in r["completion"] for r in records)  # the raw reply is what samples.jsonl keeps
    assert all(r["extracted"]["reasoning_chars"] > 0 for r in records)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["n_with_reasoning"] == len(records) and summary["extra"]["mean_reasoning_chars"] > 0
