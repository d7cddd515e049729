"""Judged flows end to end on the embedded model, which here is both the answering model and the judge."""

import json
import subprocess

import pytest

from conftest import ROOT
from evalkit.judging import PAIRWISE_LABELS

pytestmark = pytest.mark.local_model


def run(evalkit_exe, env, *args):
    return subprocess.run([*evalkit_exe, "run", "--no-progress", *args], capture_output=True, text=True, timeout=900,
                          env=env, cwd=ROOT)  # fmt: skip


def test_rag_two_steps_and_judge_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    done = run(evalkit_exe, evalkit_env, "--tasks", "rag", "--langs", "ru", "--limit", "3", "--max-tokens", "40",
               "--judge", "local:smollm2", "--judge-max-tokens", "40", "--task-option", "rag.documents=fold",
               "--output", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "local__smollm2" / "rag" / "ru"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    records = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary["n"] == 3 and summary["n_errors"] == 0 and summary["extra"]["documents_mode"] == "fold"
    assert summary["extra"]["judge"] == "local:smollm2" and summary["extra"]["judged"] == 3
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]  # step 2: the step-1 reply is in the history
        assert record["messages"][2]["content"] == record["extracted"]["ids_reply"]
        judge = record["extracted"]["judge"]
        assert judge["raw"] and (judge["verdict"] in (True, False) or judge["reasked"])
        assert 0.0 <= record["scores"]["rouge_l"] <= 1.0
    judged = sum(r["extracted"]["judge"]["verdict"] is not None for r in records)
    assert ("accuracy" in summary["metrics"]) == (judged > 0)
    assert summary["extra"]["judge_unparsed"] == 3 - judged


def test_rag_documents_role_is_refused_by_the_embedded_server(tmp_path, evalkit_env, evalkit_exe):
    done = run(evalkit_exe, evalkit_env, "--tasks", "rag", "--langs", "ru", "--limit", "1", "--output", str(tmp_path))
    assert done.returncode == 2 and "cannot carry message role 'documents'" in done.stderr


def test_arena_hard_answers_judgments_score_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    baseline = ROOT / "judges/arena_hard/baselines/ru/local__smollm2.jsonl"
    args = ["--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--max-tokens", "48", "--judge", "local:smollm2",
            "--judge-max-tokens", "48", "--baseline", "openai:bundled-baseline", "--baseline-answers", str(baseline),
            "--output", str(tmp_path), "--bootstrap-rounds", "50"]  # fmt: skip
    done = run(evalkit_exe, evalkit_env, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "local__smollm2" / "arena_hard" / "ru"
    rows = [json.loads(x) for x in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and sorted((r["question_id"], r["game"]) for r in rows) == [
        ("ru000", 1), ("ru000", 2), ("ru001", 1), ("ru001", 2)]
    assert all(r["raw"] and (r["verdict"] in PAIRWISE_LABELS or r["verdict"] is None) for r in rows)
    assert all(r["reasked"] for r in rows if r["verdict"] is None)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["games"] == 4 and summary["extra"]["judge"] == "local:smollm2"
    assert summary["extra"]["unparsed"] == sum(r["verdict"] is None for r in rows)
    if any(r["verdict"] for r in rows):
        score, (low, high) = summary["metrics"]["score"]["value"], summary["extra"]["ci"]
        assert 0 <= low <= score <= high <= 100
    else:  # a 135M judge may never emit a label: then there is no score (never a 0), and the run says so
        assert summary["metrics"] == {} and summary["extra"]["ci"] is None and "no judgment" in done.stderr
    again = run(evalkit_exe, evalkit_env, *args)  # resumes from judgments.jsonl: nothing judged twice
    assert (folder / "judgments.jsonl").read_text(encoding="utf-8").count("\n") == 4, again.stderr[-2000:]
