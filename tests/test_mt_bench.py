"""MT-Bench: aggregates as FastChat's show_result prints them, FastChat file interop, samples and prompts."""

import json
import math
import subprocess
import sys

import pytest

from evalkit.cli import main
from evalkit.run.plugins import load_task
from evalkit.run.task import TaskDataError
from evalkit.stats import Rating, mt_bench_scores
from evalkit.stats.mt_bench import CATEGORIES, NEEDS_REFERENCE, prompt_name, table_from_files


def test_pooled_mean_is_not_the_mean_of_turn_means():
    # Turn 1: 8, 6, 10 (mean 8); turn 2: 4 and one -1 (excluded) -> mean 4. Pooled: (8+6+10+4)/4 = 7,
    # while the mean of the two turn means would be 6.
    ratings = [Rating("1", 1, "math", 8), Rating("2", 1, "math", 6), Rating("3", 1, "writing", 10),
               Rating("1", 2, "math", 4), Rating("2", 2, "math", -1)]
    scores = mt_bench_scores(ratings)
    assert scores.turn1[:1] == (8.0,) and scores.turn1[2] == 3
    assert scores.turn2[0] == 4.0 and scores.turn2[2] == 1
    assert scores.score[0] == 7.0 and scores.score[2] == 4
    assert scores.excluded == 1
    assert scores.categories["math"][0] == 6.0 and scores.categories["math"][2] == 3  # (8 + 6 + 4) / 3
    assert scores.categories["writing"][0] == 10.0
    # standard error: sd(8, 6, 10, 4; ddof=1) / 2
    assert math.isclose(scores.score[1], math.sqrt((1 + 1 + 9 + 9) / 3) / 2)


def test_equal_counts_make_pooled_equal_to_the_turn_mean_average():
    ratings = [Rating(str(i), t, "stem", float(v)) for i, (t, v) in enumerate([(1, 9), (1, 7), (2, 5), (2, 3)])]
    scores = mt_bench_scores(ratings)
    assert scores.score[0] == (scores.turn1[0] + scores.turn2[0]) / 2 == 6.0


def fastchat_rows():
    """A FastChat model_judgment/gpt-4_single.jsonl in its own schema (judge = [model, prompt name])."""
    rows = []
    grades = {"model-a": [(81, 1, 9), (81, 2, 7), (82, 1, 8), (82, 2, -1), (83, 1, 3), (83, 2, 5)],
              "model-b": [(81, 1, 5), (81, 2, 5), (82, 1, 6), (82, 2, 4), (83, 1, 2), (83, 2, 2)]}
    for model, entries in grades.items():
        for qid, turn, score in entries:
            prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
            rows.append({"question_id": qid, "model": model, "judge": ["gpt-4", prompt], "user_prompt": "…",
                         "judgment": f"Rating: [[{score}]]", "score": score, "turn": turn, "tstamp": 1.0})
    return rows


def test_scores_fastchat_judgment_files(tmp_path):
    path = tmp_path / "gpt-4_single.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in fastchat_rows()), encoding="utf-8")
    questions = tmp_path / "question.jsonl"
    questions.write_text("".join(json.dumps({"question_id": q, "category": c, "turns": ["a", "b"]}) + "\n"
                                 for q, c in ((81, "writing"), (82, "math"), (83, "math"))), encoding="utf-8")
    table = {e["model"]: e for e in table_from_files([path], questions)}
    a = table["model-a"]
    # FastChat show_result: turn 1 = mean(9, 8, 3), turn 2 = mean(7, 5) (the -1 dropped), average = all five pooled.
    assert a["turn1"] == pytest.approx(20 / 3) and a["turn2"] == 6.0 and a["score"] == pytest.approx(32 / 5)
    assert a["excluded"] == 1 and a["n"] == 5 and a["judge"] == "gpt-4"
    assert a["categories"] == {"math": pytest.approx(16 / 3), "writing": 8.0}
    assert table["model-b"]["score"] == pytest.approx(24 / 6)
    assert [e["model"] for e in table_from_files([path], questions)] == ["model-a", "model-b"]  # by score

    cli = subprocess.run([sys.executable, "-m", "evalkit", "mt-bench", "score", "--judgments", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)[0]["score"] == pytest.approx(32 / 5)


def test_bad_judgment_file_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question_id": 1, "model": "m", "score": "high", "turn": 1}) + "\n")
    with pytest.raises(TaskDataError, match="bad.jsonl:1"):
        table_from_files([path])


@pytest.mark.parametrize("lang", ["ru", "pl"])
def test_samples_cover_every_category_with_references(lang):
    bench = load_task("mt_bench")
    samples = bench.load(lang, "samples")
    assert len(samples) >= 8
    assert {s.metadata["category"] for s in samples} == set(CATEGORIES)
    for sample in samples:
        assert len(sample.fields["turns"]) == 2
        if sample.metadata["category"] in NEEDS_REFERENCE:
            assert len(sample.fields["reference"]) == 2


def test_category_temperatures_reach_the_requests():
    from evalkit.run.runner import RunSettings, prepare_run

    bench = load_task("mt_bench")
    prepared = prepare_run(bench, "ru", RunSettings(data="samples"))
    pairs = zip(prepared.samples, prepared.requests, strict=True)
    by_category = {s.metadata["category"]: r.config.temperature for s, r in pairs}
    assert by_category == {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                           "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}
    assert {r.config.max_tokens for r in prepared.requests} == {1024}
    forced = prepare_run(bench, "ru", RunSettings(data="samples", generation_overrides={"temperature": 0.3}))
    assert {r.config.temperature for r in forced.requests} == {0.3}  # the user's setting wins


def test_judge_prompts_show_reference_and_dialogue():
    bench = load_task("mt_bench")
    sample = next(s for s in bench.load("ru", "samples") if s.metadata["category"] == "math")
    first = bench.judge_messages(sample, ["ответ 1", "ответ 2"], sample.fields["reference"], 1, "ru")
    assert "эталон" in first[0].content and sample.fields["reference"][0] in first[1].content
    assert "ответ 2" not in first[1].content and "[[" in first[0].content
    second = bench.judge_messages(sample, ["ответ 1", "ответ 2"], sample.fields["reference"], 2, "ru")
    for text in (*sample.fields["turns"], "ответ 1", "ответ 2", *sample.fields["reference"]):
        assert text in second[1].content
    assert "второй ответ" in second[0].content
    plain = next(s for s in bench.load("pl", "samples") if s.metadata["category"] == "writing")
    polish = bench.judge_messages(plain, ["a", "b"], None, 2, "pl")
    assert "wzorcow" not in polish[1].content and "drugą odpowiedź" in polish[0].content
    assert prompt_name(2, True, "pl") == "single-math-v1-multi-turn-pl"
    assert prompt_name(1, False, "ru") == "single-v1-ru"


def test_bad_rows_name_the_field(tmp_path):
    bench = load_task("mt_bench")
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question_id": 1, "category": "poetry", "turns": ["a", "b"]}) + "\n")
    with pytest.raises(TaskDataError, match=r"q.jsonl:1: field 'category'"):
        bench.load("ru", str(path))
    path.write_text(json.dumps({"question_id": 1, "category": "math", "turns": ["only one"]}) + "\n")
    with pytest.raises(TaskDataError, match=r"field 'turns'"):
        bench.load("ru", str(path))


def test_score_json_is_strict_when_a_model_has_no_second_turn(tmp_path, capsys):
    path = tmp_path / "judgments.jsonl"
    path.write_text(json.dumps({"question_id": 1, "model": "m", "judge": ["j", "single-v1"], "score": 7, "turn": 1,
                                "category": "writing"}) + "\n")
    assert main(["mt-bench", "score", "--judgments", str(path), "--json"]) == 0
    printed = capsys.readouterr().out
    assert "NaN" not in printed and json.loads(printed)[0]["turn2"] is None
