"""MMLU-Pro task: item validation, prompt, scoring and the per-category breakdown."""

import json

import pytest

from evalkit.cli import main
from evalkit.run.plugins import load_task
from evalkit.run.task import TaskDataError
from evalkit.testing.openai_stub import OpenAIStub


def item(qid, category="physics", answer="C", **extra):
    row = {"question_id": qid, "question": f"Вопрос {qid}?", "answer": answer, "category": category,
           "cot_content": "", "src": "test"}  # fmt: skip
    row.update({f"option_{i}": f"вариант {i}" for i in range(10)})
    row.update(extra)
    return row


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({**item(7), **{f"option_{i}": "" for i in range(10)}}, "(item 7): options are missing"),
        (item(8, answer="K"), "(item 8): answer 'K' is not one of the options A-J"),
        ({**item(9, answer="E"), **{f"option_{i}": None for i in range(4, 10)}}, "(item 9): answer 'E' is not one of"),
    ],
)
def test_malformed_items_are_reported_with_their_id(tmp_path, row, fragment):
    path = write(tmp_path / "bad.jsonl", [item(1), row])
    with pytest.raises(TaskDataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_task("mmlu_pro").load("ru", str(path))


def test_options_list_schema_and_answer_index(tmp_path):
    row = {"question_id": 3, "question": "Q?", "options": ["a", "b", "c", "d"], "answer_index": 3, "category": "law"}
    sample = load_task("mmlu_pro").load("ru", str(write(tmp_path / "x.jsonl", [row])))[0]
    assert sample.target == "D" and sample.fields["options"] == ["a", "b", "c", "d"]


def test_prompt_uses_same_category_shots_first(tmp_path):
    task = load_task("mmlu_pro")
    shots = task.load("ru", str(write(tmp_path / "s.jsonl", [
        item(100 + i, category="law" if i < 2 else "physics", cot_content=f"A: рассуждение {i}. Ответ: (C)")
        for i in range(7)
    ])))  # fmt: skip
    target = task.load("ru", str(write(tmp_path / "t.jsonl", [item(1, category="law")])))[0]
    prompt = task.build_messages(target, "ru", shots)[0].content
    assert "по теме «право»" in prompt
    assert prompt.count("Вопрос:") == 6  # 5 shots + the question
    assert prompt.index("Вопрос 100?") < prompt.index("Вопрос 101?") < prompt.index("Вопрос 102?")
    assert "Вопрос 105?" not in prompt and "Ответ: рассуждение 0." in prompt
    assert prompt.endswith("Ответ: Давайте рассуждать шаг за шагом.") and "J. вариант 9" in prompt


def test_run_reports_accuracy_no_answer_and_categories(tmp_path):
    rows = [item(1, "law", "A"), item(2, "law", "B"), item(3, "physics", "C"), item(4, "physics", "D")]
    data = write(tmp_path / "d.jsonl", rows)
    replies = {"Вопрос 1?": "Ответ: (А)", "Вопрос 2?": "Не знаю", "Вопрос 3?": "Ответ: C", "Вопрос 4?": "Ответ: (E)"}

    def reply(messages):
        content = messages[-1]["content"]
        return next(v for k, v in replies.items() if content.rstrip().split("Вопрос: ")[-1].startswith(k))

    with OpenAIStub(reply_fn=reply) as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "mmlu_pro", "--langs", "ru",
                     "--data", str(data), "--output", str(tmp_path / "out"), "--name", "m", "--no-cache",
                     "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "out/m/mmlu_pro/ru/summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["accuracy"]["value"] == 0.5
    assert summary["metrics"]["no_answer"]["value"] == 0.25
    law, physics = summary["breakdown"]["category"]["law"], summary["breakdown"]["category"]["physics"]
    assert (law["n"], law["accuracy"]["value"], law["no_answer"]["value"]) == (2, 0.5, 0.5)
    assert (physics["n"], physics["accuracy"]["value"], physics["no_answer"]["value"]) == (2, 0.5, 0.0)
