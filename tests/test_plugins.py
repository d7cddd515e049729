"""Task plugins from an extra folder (--plugins): listed, loaded lazily by name, run end to end."""

import json
import re
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.run.plugins import available_tasks, load_task
from evalkit.run.task import TaskDataError
from evalkit.testing.openai_stub import OpenAIStub

PLUGINS = Path(__file__).parent / "plugins"


def test_listing_and_loading():
    builtin = ["gsm8k", "mmlu_pro", "math", "mbpp", "humaneval", "rag", "arena_hard", "mt_bench", "alpaca_eval"]
    assert available_tasks([PLUGINS]) == [*builtin, "arith"]
    task = load_task("arith", [PLUGINS])
    assert task.name == "arith" and task.folder == PLUGINS / "arith"
    with pytest.raises(TaskDataError, match="unknown task 'nope'"):
        load_task("nope", [PLUGINS])


def test_cli_list_shows_plugins(capsys):
    assert main(["list", "--plugins", str(PLUGINS)]) == 0
    out = capsys.readouterr().out
    assert "gsm8k  v1.1  langs: ru,pl,uk,cs" in out and "arith  v0.1  langs: ru" in out


def test_plugin_task_runs_against_a_server(tmp_path):
    answer = lambda messages: str(sum(int(x) for x in re.findall(r"\d+", messages[-1]["content"])))
    with OpenAIStub(reply_fn=answer) as stub:
        code = main(["run", "--plugins", str(PLUGINS), "--tasks", "arith", "--model",
                     f"openai:stub-model@{stub.base_url}", "--output", str(tmp_path), "--no-cache",
                     "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / next(p.name for p in tmp_path.iterdir()) / "arith/ru/summary.json").read_text())
    assert summary["n"] == 20 and summary["metrics"]["exact_match"]["value"] == 1.0
    assert summary["metrics"]["exact_match"]["stderr"] == 0.0
