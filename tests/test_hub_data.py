"""The `--data full` path through `datasets.load_dataset`, offline: the packaged `json` builder reads local
files in the hub dataset's layout (split -> file), exactly as a pinned hub source with data_files is read."""

import json

import pytest

from evalkit.run.plugins import load_task
from evalkit.run.runner import RunSettings, prepare_run
from evalkit.run.task import DataSource, TaskDataError

pytest.importorskip("datasets")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_full_data_reads_test_split_and_fewshot_from_train(tmp_path, offline, monkeypatch):
    test_rows = [
        {"question": f"Сколько будет {i} + {i}?", "answer": f"{i}+{i}=<<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i}"}
        for i in range(1, 6)
    ]
    train_rows = [{"question": f"Задача {i}", "answer": f"Решение {i}\n#### {i},000"} for i in range(1, 11)]
    write_jsonl(tmp_path / "test.jsonl", test_rows)
    write_jsonl(tmp_path / "train.jsonl", train_rows)
    source = DataSource("local-json", "json", revision="main", split="test", fewshot_split="train",
                        data_files={"test": str(tmp_path / "test.jsonl"), "train": str(tmp_path / "train.jsonl")})
    task = load_task("gsm8k")
    monkeypatch.setattr(type(task), "sources", {"ru": (source,)})
    run = prepare_run(task, "ru", RunSettings(data="full", limit=3))
    assert [s.target for s in run.samples] == ["2", "4", "6"]
    assert [s.id for s in run.samples] == ["00000", "00001", "00002"]
    assert len(run.fewshot) == 8 and run.fewshot[0].target == "1000"  # gold "1,000" read English-style
    assert "<<" not in run.requests[0].messages[0].content  # calculator annotations removed from exemplars
    assert run.data_info["source"] == "hf" and run.data_info["revision"] == "main"


def test_hub_rows_in_the_wrong_schema_name_the_field(tmp_path, offline, monkeypatch):
    write_jsonl(tmp_path / "test.jsonl", [{"problem": "x", "solution": "y"}])
    source = DataSource("bad", "json", revision="main", split="test", data_files={"test": str(tmp_path / "test.jsonl")})
    task = load_task("gsm8k")
    monkeypatch.setattr(type(task), "sources", {"ru": (source,)})
    with pytest.raises(TaskDataError, match="field 'question' is missing"):
        task.load("ru", "full")
