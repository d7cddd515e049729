"""kill -9 in the middle of a run, start again: nothing that had completed is re-sent; results match."""

import json
import signal
import sqlite3
import subprocess
import time

from conftest import ROOT
from evalkit.testing.openai_stub import OpenAIStub

TOTAL = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "tasks/gsm8k/samples").glob("*.jsonl"))


def results(root):
    rows = {}
    for path in sorted(root.glob("*/gsm8k/*/samples.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows[(row["lang"], row["id"])] = (row["completion"], row["scores"], row["extracted"])
    return rows


def command(evalkit_exe, stub, output, cache):
    return [*evalkit_exe, "run", "--model", f"openai:stub-model@{stub.base_url}", "--tasks", "gsm8k",
            "--output", str(output), "--name", "stub", "--cache-path", str(cache), "--concurrency", "2",
            "--no-progress"]  # fmt: skip


def test_kill_9_then_resume(tmp_path, evalkit_env, evalkit_exe):
    cache = tmp_path / "cache.sqlite"
    with OpenAIStub(delay_s=0.15) as stub:
        process = subprocess.Popen(command(evalkit_exe, stub, tmp_path / "run", cache), env=evalkit_env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while sum(stub.completed.values()) < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        with sqlite3.connect(cache) as db:
            persisted = db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]
        arrivals_before = stub.total_arrivals
        assert persisted >= 10
        assert not (tmp_path / "run").exists() or len(results(tmp_path / "run")) < TOTAL

        resumed = subprocess.run(command(evalkit_exe, stub, tmp_path / "run", cache), env=evalkit_env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        resent = stub.total_arrivals - arrivals_before
        total_items = len(results(tmp_path / "run"))
        assert total_items == TOTAL
        # Exactly the items that were not yet in the cache were sent again; none that had completed.
        assert resent == total_items - persisted

    with OpenAIStub() as clean_stub:
        clean = subprocess.run(command(evalkit_exe, clean_stub, tmp_path / "clean", tmp_path / "clean.sqlite"),
                               env=evalkit_env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert clean.returncode == 0, clean.stderr[-2000:]
    assert results(tmp_path / "run") == results(tmp_path / "clean")
