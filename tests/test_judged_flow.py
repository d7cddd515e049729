"""The one judged flow against a loopback server: MT-Bench and AlpacaEval through it, judgments appended game by
game (a kill -9 loses at most the games in flight, with or without the cache), references looked up alike."""

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub


def run(tmp_path, model, *extra):
    return main(["run", "--model", model, "--judge", model, "--output", str(tmp_path / "out"), "--name", "m",
                 "--no-progress", "--cache-path", str(tmp_path / "cache.sqlite"), *extra])  # fmt: skip


def read_rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_mt_bench_through_the_judged_flow_grades_each_turn_and_resumes(tmp_path):
    def answer_or_grade(messages):
        if messages[0]["role"] == "system" and "[[" in messages[0]["content"] + messages[-1]["content"]:
            return "Оценка: [[8]]"
        return "Ответ."

    with OpenAIStub(reply_fn=answer_or_grade) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "mt_bench", "--langs", "ru", "--limit", "3") == 0
        arrivals = stub.total_arrivals
        log = tmp_path / "out/m/mt_bench/ru/judgments.jsonl"
        first = log.read_text(encoding="utf-8")
        assert run(tmp_path, model, "--tasks", "mt_bench", "--langs", "ru", "--limit", "3", "--no-cache") == 0
        resent = stub.total_arrivals - arrivals
    rows = read_rows(log)
    assert log.read_text(encoding="utf-8") == first and resent == 6  # only the 3 x 2 answers, no grade again
    assert len(rows) == 6 and {r["turn"] for r in rows} == {1, 2} and all(r["score"] == 8 for r in rows)
    assert all(r["judge"][1].startswith("single-") and r["user_prompt"] for r in rows)
    summary = json.loads((tmp_path / "out/m/mt_bench/ru/summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["score"]["value"] == 8.0 and summary["extra"]["graded"] == 6
    assert summary["extra"]["references"] and summary["extra"]["reference_model"] == "dataset"


def test_alpaca_eval_compares_with_every_reference_the_same_way(tmp_path):
    samples = [json.loads(x) for x in (ROOT / "judges/alpaca_eval/samples/ru.jsonl").read_text("utf-8").splitlines()]
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"instruction": s["instruction"], "output": "x", "generator": "other"}
                                 for s in samples[:3]], ensure_ascii=False), encoding="utf-8")  # fmt: skip

    def answer_or_prefer(messages):
        prompt = messages[-1]["content"]
        if "Модель M:" in prompt:  # the judge: prefers the model's own (longer) output wherever it is shown
            return "M" if "Ответ модели" in prompt.split("Модель M:")[1] else "m"
        return "Ответ модели, довольно длинный."

    with OpenAIStub(reply_fn=answer_or_prefer) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "alpaca_eval", "--langs", "ru", "--limit", "3", "--reference",
                   "dataset", "--reference", "other", "--reference-answers", f"other={other}")  # fmt: skip
    assert code == 0
    rows = read_rows(tmp_path / "out/m/alpaca_eval/ru/judgments.jsonl")
    assert len(rows) == 6 and {r["reference"] for r in rows} == {samples[0].get("generator") or "dataset", "other"}
    # the model wins, either order; the stub returns top logprobs (only the label written among m / M), so the
    # soft preference is the hard one
    assert all(r["preference"] == 2.0 and r["soft"] is True for r in rows)
    summary = json.loads((tmp_path / "out/m/alpaca_eval/ru/summary.json").read_text(encoding="utf-8"))
    assert set(summary["extra"]["per_reference"]) == {r["reference"] for r in rows}
    assert summary["extra"]["references"]["other"] == str(other)


def test_a_missing_baseline_is_generated_like_any_reference(tmp_path):
    def answer_or_judge(messages):
        if messages[0]["role"] == "system" and "[[A>>B]]" in messages[0]["content"]:
            return "[[A=B]]"
        return "Ответ."

    with OpenAIStub(reply_fn=answer_or_judge) as stub:
        model = f"openai:m@{stub.base_url}"
        baseline = f"openai:base@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--baseline", baseline,
                   "--bootstrap-rounds", "20")  # fmt: skip
    assert code == 0
    [generated] = (tmp_path / "out").glob("openai__base*/arena_hard/ru/answers.jsonl")  # made by the runner
    summary = json.loads((tmp_path / "out/m/arena_hard/ru/summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["baseline"] == baseline and summary["metrics"]["score"]["value"] == pytest.approx(50.0)
    assert summary["extra"]["references"][baseline] == str(generated)


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_kill_9_while_judging_loses_at_most_the_games_in_flight(tmp_path, evalkit_env, evalkit_exe, cache):
    questions = tmp_path / "q.jsonl"
    rows = [{"question_id": f"q{i}", "turns": [{"content": f"Вопрос {i}?"}]} for i in range(8)]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    baseline = tmp_path / "base.jsonl"
    baseline.write_text("".join(json.dumps({"question_id": f"q{i}", "answer": "база"}) + "\n" for i in range(8)),
                        encoding="utf-8")  # fmt: skip

    def answer_or_judge(messages):
        if messages[0]["role"] == "system" and "[[A>>B]]" in messages[0]["content"]:
            return "[[A>B]]"
        return "Ответ."

    with OpenAIStub(reply_fn=answer_or_judge, delay_s=0.2) as stub:
        model = f"openai:m@{stub.base_url}"
        command = [*evalkit_exe, "run", "--model", model, "--judge", model, "--tasks", "arena_hard", "--langs", "ru",
                   "--data", str(questions), "--baseline", "openai:base", "--baseline-answers", str(baseline),
                   "--output", str(tmp_path / "out"), "--name", "m", "--no-progress", "--concurrency", "1",
                   "--bootstrap-rounds", "20", *(["--cache-path", str(tmp_path / "c.sqlite")] if cache else
                                                 ["--no-cache"])]  # fmt: skip
        log = tmp_path / "out/m/arena_hard/ru/judgments.jsonl"
        process = subprocess.Popen(command, env=evalkit_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        recorded = lambda: len(log.read_text(encoding="utf-8").splitlines()) if log.is_file() else 0  # noqa: E731
        while recorded() < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        judge_calls = lambda: sum("[[A>>B]]" in stub.bodies[entry["key"]]["messages"][0]["content"]  # noqa: E731
                                  for entry in stub.log)
        kept = read_rows(log)
        asked_before = judge_calls()
        assert 4 <= len(kept) < 16 and asked_before - len(kept) <= 1  # at most the one game in flight is lost
        resumed = subprocess.run(command, env=evalkit_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        asked_again = judge_calls() - asked_before
    rows = read_rows(log)
    assert rows[: len(kept)] == kept and len(rows) == 16
    assert len({(r["question_id"], r["game"]) for r in rows}) == 16  # no game judged twice
    assert asked_again <= 16 - len(kept) + 1


def test_arena_v2_judges_each_category_against_its_own_baseline(tmp_path):
    questions = tmp_path / "q.jsonl"
    rows = [{"question_id": f"h{i}", "category": "hard_prompt", "turns": [{"content": f"Задача {i}?"}]}
            for i in range(3)]
    rows += [{"question_id": f"c{i}", "category": "creative_writing", "turns": [{"content": f"Стих {i}?"}]}
             for i in range(3)]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    hard, creative = tmp_path / "hard.jsonl", tmp_path / "creative.jsonl"
    hard.write_text("".join(json.dumps({"question_id": f"h{i}", "answer": "короткий"}) + "\n" for i in range(3)))
    creative.write_text("".join(json.dumps({"question_id": f"c{i}", "answer": "очень длинный и красивый ответ"})
                                + "\n" for i in range(3)))  # fmt: skip

    def answer_or_judge(messages):  # the judge prefers the longer answer
        if messages[0]["role"] == "system" and "[[A>>B]]" in messages[0]["content"]:
            prompt = messages[1]["content"]
            a = prompt.split("<|The Start of Assistant A's Answer|>\n")[1].split("\n<|The End")[0]
            b = prompt.split("<|The Start of Assistant B's Answer|>\n")[1].split("\n<|The End")[0]
            return "[[A>B]]" if len(a) > len(b) else "[[B>A]]"
        return "средний ответ"

    with OpenAIStub(reply_fn=answer_or_judge) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--data", str(questions),
                   "--arena-method", "v2", "--bootstrap-rounds", "20", "--reference-answers", f"o3-mini={hard}",
                   "--reference-answers", f"gemini-flash={creative}", "--baseline", "o3-mini", "--task-option",
                   "arena_hard.category_baselines=hard_prompt=o3-mini,creative_writing=gemini-flash")  # fmt: skip
    assert code == 0
    records = read_rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")
    assert {(r["category"], r["baseline"]) for r in records} == {("hard_prompt", "o3-mini"),
                                                                  ("creative_writing", "gemini-flash")}
    summary = json.loads((tmp_path / "out/m/arena_hard/ru/summary.json").read_text(encoding="utf-8"))
    categories = summary["breakdown"]["category"]
    assert categories["hard_prompt"]["score"]["value"] == pytest.approx(100.0)  # beats the short baseline
    assert categories["creative_writing"]["score"]["value"] == pytest.approx(0.0)  # loses to the long one
    assert categories["hard_prompt"]["baseline"] == "o3-mini" and summary["metrics"]["score"]["value"] == 50.0


def test_the_judge_engine_imports_without_the_openai_client():
    code = "import sys, evalkit.run.judging, evalkit.run.judged; assert 'openai' not in sys.modules, 'openai imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr


def test_arena_run_reports_the_style_controlled_score_against_the_handwritten_baseline(tmp_path):
    """On the samples the default baseline is the hand-written answers; a judge that always prefers the longer
    answer gives a raw score driven by length, and --style-control reports the score with length and markdown
    accounted for, and how much the judge rewarded length."""

    def long_or_judge(messages):
        prompt = messages[-1]["content"]
        if messages[0]["role"] == "system" and "[[A>>B]]" in messages[0]["content"]:
            def answer(side):
                return prompt.split(f"<|The Start of Assistant {side}'s Answer|>")[-1].split("<|The End")[0]

            a, b = answer("A"), answer("B")
            return "[[A>B]]" if len(a) > len(b) else "[[B>A]]"
        return "Короткий ответ." if sum(map(ord, prompt)) % 2 else "Развёрнутый ответ. " * 80

    with OpenAIStub(reply_fn=long_or_judge) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--style-control",
                   "--bootstrap-rounds", "30")  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "out/m/arena_hard/ru/summary.json").read_text(encoding="utf-8"))
    controlled = summary["extra"]["style_control"]
    assert summary["extra"]["baseline"] == "handwritten" and controlled["length_unit"] == "characters"
    assert summary["metrics"]["score_style_controlled"]["value"] == pytest.approx(controlled["score"])
    assert controlled["coefficients"]["length"] > 1.0  # the judge rewards length, and the fit says so
    assert controlled["ci"][0] <= controlled["bootstrap_median"] <= controlled["ci"][1]
