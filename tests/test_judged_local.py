"""Judged flows end to end on the embedded model, which here is both the answering model and the judge."""

import json
import subprocess

import pytest

from conftest import ROOT
from evalkit.scoring.verdicts import PAIRWISE_LABELS

pytestmark = pytest.mark.local_model


def run(evalkit_exe, env, *args):
    return subprocess.run([*evalkit_exe, "run", "--no-progress", *args], capture_output=True, text=True, timeout=900,
                          env=env, cwd=ROOT)  # fmt: skip


def test_rag_two_steps_and_judge_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    done = run(evalkit_exe, evalkit_env, "--tasks", "rag", "--langs", "ru", "--limit", "3", "--max-tokens", "40",
               "--judge", "local:smollm2", "--judge-max-tokens", "40", "--judge-mode", "text",
               "--task-option", "rag.documents=fold", "--output", str(tmp_path))  # fmt: skip
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


def test_rag_documents_role_is_folded_for_the_embedded_server_or_refused_when_set(tmp_path, evalkit_env,
                                                                                  evalkit_exe):  # fmt: skip
    done = run(evalkit_exe, evalkit_env, "--tasks", "rag", "--langs", "ru", "--limit", "1", "--output", str(tmp_path),
               "--task-option", "rag.documents=role")  # fmt: skip
    assert done.returncode == 2 and "--task-option rag.documents=fold" in done.stderr  # refused before it starts
    done = run(evalkit_exe, evalkit_env, "--tasks", "rag", "--langs", "ru", "--limit", "1", "--max-tokens", "16",
               "--output", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rag.documents=fold (the task's documented fallback" in done.stderr
    summary = json.loads((tmp_path / "local__smollm2/rag/ru/summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["task_options"]["documents"] == "fold"


def test_arena_hard_answers_judgments_score_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    baseline = ROOT / "judges/arena_hard/references/ru/local__smollm2.jsonl"
    args = ["--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--max-tokens", "48", "--judge", "local:smollm2",
            "--judge-max-tokens", "48", "--judge-mode", "text", "--baseline", "openai:bundled-baseline",
            "--baseline-answers", str(baseline),
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
        assert summary["metrics"] == {} and summary["extra"]["ci"] is None and "no verdict" in done.stderr
    again = run(evalkit_exe, evalkit_env, *args)  # resumes from judgments.jsonl: nothing judged twice
    assert (folder / "judgments.jsonl").read_text(encoding="utf-8").count("\n") == 4, again.stderr[-2000:]


def test_mt_bench_two_turns_graded_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    # The samples are ordered writing, roleplay, reasoning: --limit 3 takes one reference-graded question.
    args = ["--tasks", "mt_bench", "--langs", "ru", "--limit", "3", "--max-tokens", "32", "--judge", "local:smollm2",
            "--judge-max-tokens", "32", "--judge-mode", "text", "--output", str(tmp_path)]  # fmt: skip
    done = run(evalkit_exe, evalkit_env, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "local__smollm2" / "mt_bench" / "ru"
    answers = [json.loads(x) for x in (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [len(a["choices"][0]["turns"]) for a in answers] == [2, 2, 2]
    rows = [json.loads(x) for x in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((r["question_id"], r["turn"]) for r in rows) == [
        ("1001", 1), ("1001", 2), ("1002", 1), ("1002", 2), ("1003", 1), ("1003", 2)]
    names = {(r["question_id"], r["turn"]): r["judge"][1] for r in rows}
    assert names[("1003", 2)] == "single-math-v1-multi-turn-ru" and names[("1001", 1)] == "single-v1-ru"
    reference_graded = [r for r in rows if r["question_id"] == "1003"]
    assert all(r["reference_model"] == "dataset" and "Шесть" in r["user_prompt"] for r in reference_graded)
    turn2 = next(r for r in rows if r["question_id"] == "1001" and r["turn"] == 2)
    assert answers[0]["choices"][0]["turns"][0] in turn2["user_prompt"]  # the whole dialogue is shown
    assert all(r["score"] == -1 or 1 <= r["score"] <= 10 for r in rows)
    assert all(r["reasked"] for r in rows if r["score"] == -1)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    rated = [r["score"] for r in rows if r["score"] != -1]
    assert summary["extra"]["unrated"] == 6 - len(rated) and summary["extra"]["judge"] == "local:smollm2"
    if rated:
        assert summary["metrics"]["score"]["value"] == pytest.approx(sum(rated) / len(rated))
    else:
        assert summary["metrics"] == {}
    again = run(evalkit_exe, evalkit_env, *args)  # resumes: nothing graded twice
    assert again.returncode == 0 and (folder / "judgments.jsonl").read_text(encoding="utf-8").count("\n") == 6


def test_alpaca_eval_three_references_on_embedded_model(tmp_path, evalkit_env, evalkit_exe):
    # The embedded model judges a model served on loopback against three references, one column each: the
    # bundled reference answers (written by hand), a reference imported from an alpaca_eval
    # outputs file, and a second served model whose answers the runner generates itself.
    from evalkit.testing.openai_stub import OpenAIStub

    bundled = ROOT / "judges/alpaca_eval/samples/pl.jsonl"
    imported = tmp_path / "short.json"
    rows = [json.loads(x) for x in bundled.read_text(encoding="utf-8").splitlines()]
    imported.write_text(json.dumps([{"instruction": r["instruction"], "output": r["output"][:40], "generator": "short"}
                                    for r in rows], ensure_ascii=False), encoding="utf-8")  # fmt: skip
    with OpenAIStub() as candidate, OpenAIStub() as other:
        served = f"openai:stub-ref@{other.base_url}"
        args = ["--model", f"openai:stub-model@{candidate.base_url}", "--tasks", "alpaca_eval", "--langs", "pl",
                "--limit", "3", "--max-tokens", "40", "--judge", "local:smollm2", "--judge-mode", "text",
                "--reference", "dataset",
                "--reference", "openai:short", "--reference-answers", f"openai:short={imported}",
                "--reference", served, "--name", "candidate", "--output", str(tmp_path)]  # fmt: skip
        done = run(evalkit_exe, evalkit_env, *args)
        generated = other.total_arrivals
    assert done.returncode == 0, done.stderr[-3000:]
    assert generated == 3  # the runner asked the served reference for its 3 answers
    reference_folder = next(tmp_path.glob("openai__stub-ref*/alpaca_eval/pl"))
    assert len((reference_folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    folder = tmp_path / "candidate" / "alpaca_eval" / "pl"
    judgments = [json.loads(x) for x in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(judgments) == 9
    assert {j["reference"] for j in judgments} == {"handwritten", "openai:short", served}
    for j in judgments:
        if j["preference"] is not None:
            assert 1.0 <= j["preference"] <= 2.0
            expected = 3.0 - j["verdict"] if j["switched"] else j["verdict"]
            assert j["preference"] == pytest.approx(expected)
        else:
            assert j["reasked"]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["gamma"] == "none" and summary["extra"]["judge"] == "local:smollm2"
    assert summary["extra"]["soft"] == sum(j["soft"] for j in judgments)
    answers = [json.loads(x) for x in (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary["metrics"]["avg_symbols"]["value"] == pytest.approx(sum(len(a["output"]) for a in answers) / 3)
    parsed = [j for j in judgments if j["reference"] == "handwritten" and j["preference"] is not None]
    if parsed:
        assert summary["extra"]["reference"] == "handwritten"
        expected = 100 * sum(j["preference"] - 1 for j in parsed) / len(parsed)
        assert summary["metrics"]["win_rate"]["value"] == pytest.approx(expected)
        assert 0 <= summary["metrics"]["lc_win_rate"]["value"] <= 100


def test_choice_mode_scores_every_judged_benchmark_with_the_embedded_judge(tmp_path, evalkit_env, evalkit_exe):
    """`--judge-mode auto` makes the embedded judge answer each game with one constrained token: every judged
    benchmark ends scored, and each verdict is the option written or the likeliest option in its logprobs."""
    args = ["--tasks", "arena_hard,mt_bench,alpaca_eval,rag", "--langs", "pl", "--limit", "1", "--max-tokens-cap", "48",
            "--judge", "local:smollm2", "--task-option", "rag.documents=fold", "--output", str(tmp_path)]  # fmt: skip
    done = run(evalkit_exe, evalkit_env, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "smoke test" in done.stdout and "quick slice" in done.stdout
    root = tmp_path / "local__smollm2"
    for task in ("arena_hard", "mt_bench", "alpaca_eval", "rag"):
        summary = json.loads((root / task / "pl" / "summary.json").read_text(encoding="utf-8"))
        assert summary["extra"]["judge_mode"] == "choice", task
        assert summary["metrics"], f"{task}: not scored in choice mode"
        assert summary["generation_config"]["max_tokens"] <= 48 and summary["data"]["max_tokens_cap"] == 48
    arena = [json.loads(x) for x in (root / "arena_hard/pl/judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(arena) == 2 and all(r["baseline"] == "handwritten" for r in arena)
    options = dict(zip("12345", PAIRWISE_LABELS, strict=True))
    for row in arena:
        assert row["judge_mode"] == "choice" and not row["reasked"]
        written = row["raw"].strip()[:1]
        likeliest = max(row["option_logprobs"], key=row["option_logprobs"].get) if row["option_logprobs"] else None
        assert row["verdict"] == options.get(written, options.get(likeliest))
    grades = [json.loads(x) for x in (root / "mt_bench/pl/judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(grades) == 2 and all(1 <= g["score"] <= 10 and g["judge_mode"] == "choice" for g in grades)
