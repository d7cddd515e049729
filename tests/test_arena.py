"""Arena-Hard: statistics against hand-computed values and the reference's method, the judging flow, interop."""

import json
import math

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.stats import Battles, arena_v01, arena_v2, bootstrap_counts, bradley_terry, win_rate_vs
from evalkit.stats.arena import judgment_rows_from_file, leaderboard_from_files, question_scores
from evalkit.testing.openai_stub import OpenAIStub


def star(outcomes, model="m", baseline="base"):
    """Battles of one model against the baseline: (outcome for the model, weight) pairs."""
    return Battles.from_rows([(baseline, model, 1.0 - o, w) for o, w in outcomes])


def test_all_ties_give_fifty_percent():
    (score,) = [s for s in arena_v01(star([(0.5, 1)] * 40), "base", rounds=200) if s.model == "m"]
    assert score.score == pytest.approx(50.0, abs=1e-9) and score.lower <= 50.0 <= score.upper


def test_model_that_always_wins_is_bounded_near_100():
    (score,) = [s for s in arena_v01(star([(1.0, 1)] * 30), "base", rounds=50) if s.model == "m"]
    assert 99.0 < score.score <= 100.0 and score.upper <= 100.0 and math.isfinite(score.rating)


def test_model_vs_baseline_equals_weighted_mean_win_rate_exactly():
    # 5 strong wins (x3), 7 wins, 4 ties, 6 losses, 2 strong losses (x3): weighted share of model points.
    outcomes = [(1.0, 3)] * 5 + [(1.0, 1)] * 7 + [(0.5, 1)] * 4 + [(0.0, 1)] * 6 + [(0.0, 3)] * 2
    expected = (15 + 7 + 2) / (15 + 7 + 4 + 6 + 6)
    rating = bradley_terry(star(outcomes), "base")[0]
    models = star(outcomes).models
    assert 100 * win_rate_vs(rating[models.index("m")]) == pytest.approx(100 * expected, abs=1e-9)


def test_strong_verdicts_weigh_three_times():
    # one strong win and one plain loss: 3 of 4 rows won -> 75%; plain win + plain loss -> 50%.
    strong = [s for s in arena_v01(star([(1.0, 3), (0.0, 1)]), "base", rounds=10) if s.model == "m"][0]
    plain = [s for s in arena_v01(star([(1.0, 1), (0.0, 1)]), "base", rounds=10) if s.model == "m"][0]
    assert strong.score == pytest.approx(75.0, abs=1e-9) and plain.score == pytest.approx(50.0, abs=1e-9)


def test_v01_and_v2_agree_on_the_point_score_against_one_baseline():
    rng = np.random.default_rng(3)
    outcomes = [(float(rng.choice([0.0, 0.5, 1.0])), int(rng.choice([1, 3]))) for _ in range(300)]
    v01 = [s for s in arena_v01(star(outcomes), "base") if s.model == "m"][0]
    v2 = arena_v2({"m": [o for o, w in outcomes for _ in range(w)]})[0]
    assert v01.score == pytest.approx(v2.score, abs=1e-8)
    assert v01.lower < v01.score < v01.upper and v2.lower < v2.score < v2.upper


def test_seeded_bootstrap_is_deterministic_and_anchored_to_the_named_baseline():
    outcomes = [(1.0, 1)] * 30 + [(0.0, 1)] * 20 + [(0.5, 1)] * 10
    battles = star(outcomes, baseline="gpt-4-0613")
    assert arena_v01(battles, "gpt-4-0613", seed=7) == arena_v01(battles, "gpt-4-0613", seed=7)
    assert arena_v01(battles, "gpt-4-0613", seed=7) != arena_v01(battles, "gpt-4-0613", seed=8)
    boot = bradley_terry(battles, "gpt-4-0613", bootstrap_counts(battles, 50, 0))
    assert np.all(boot[:, battles.models.index("gpt-4-0613")] == 1000.0)  # the fixed arena-hard-auto bug


def test_joint_fit_matches_unpenalised_logistic_regression():
    """The reference's estimator (sklearn, duplicated rows, ties split) on a 4-model non-star design."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(11)
    models = ["base", "a", "b", "c"]
    strength = {"base": 0.0, "a": 0.4, "b": -0.3, "c": 0.8}
    rows = []
    for _ in range(400):
        i, j = rng.choice(4, 2, replace=False)
        p = 1 / (1 + math.exp(strength[models[j]] - strength[models[i]]))
        u = rng.random()
        outcome = 0.5 if abs(u - p) < 0.05 else float(u < p)
        rows.append((models[i], models[j], outcome, int(rng.choice([1, 3], p=[0.8, 0.2]))))
    battles = Battles.from_rows(rows)
    expanded = [(a, b, o) for a, b, o, w in rows for _ in range(w)]
    index = {m: k for k, m in enumerate(battles.models)}
    n = len(expanded)
    x, y = np.zeros((2 * n, len(index))), np.zeros(2 * n)
    for k, (a, b, o) in enumerate(expanded):
        x[[k, k + n], index[a]], x[[k, k + n], index[b]] = math.log(10), -math.log(10)
        y[k] = 1.0 if o >= 0.5 else 0.0
        y[k + n] = 1.0 if o == 1.0 else 0.0
    fit = sklearn.LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10_000).fit(x, y)
    reference = 400 * fit.coef_[0] + 1000
    reference += 1000 - reference[index["base"]]
    assert bradley_terry(battles, "base")[0] == pytest.approx(reference, abs=1e-3)


def question_rows(n):
    return [{"question_id": f"q{i}", "category": "arena-hard-v0.1", "cluster": "t",
             "turns": [{"content": f"Вопрос номер {i}?"}]} for i in range(n)]  # fmt: skip


def judge_or_answer(messages):
    """The model answers 'long' to even questions; the judge prefers the longer answer, item q3 never decides."""
    if messages[0]["role"] == "system" and "[[A>>B]]" in messages[0]["content"]:
        prompt = messages[1]["content"]
        a = prompt.split("<|The Start of Assistant A's Answer|>\n")[1].split("\n<|The End")[0]
        b = prompt.split("<|The Start of Assistant B's Answer|>\n")[1].split("\n<|The End")[0]
        if "Вопрос номер 3?" in prompt:
            return "Сложно сказать." if len(messages) == 2 else "Всё ещё сложно."
        if len(a) == len(b):
            return "Равны. [[A=B]]"
        return "Мой вердикт: [[A>>B]]" if len(a) > len(b) else "Мой вердикт: [[B>A]]"
    number = int(messages[-1]["content"].split()[-1].rstrip("?"))
    return "длинный подробный ответ" if number % 2 == 0 else "коротко"


def test_arena_flow_judges_both_orders_resumes_and_scores(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in question_rows(6)), encoding="utf-8")
    baseline = tmp_path / "base.jsonl"
    baseline.write_text("".join(json.dumps({"question_id": f"q{i}", "model": "base", "answer": "средний ответ"},
                                           ensure_ascii=False) + "\n" for i in range(6)), encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=judge_or_answer) as stub:
        model = f"openai:m@{stub.base_url}"
        args = ["run", "--model", model, "--judge", model, "--tasks", "arena_hard", "--langs", "ru", "--data",
                str(questions), "--baseline", "openai:base", "--baseline-answers", str(baseline), "--output",
                str(tmp_path / "out"), "--name", "m", "--no-progress", "--cache-path", str(tmp_path / "c.sqlite"),
                "--bootstrap-rounds", "200"]  # fmt: skip
        assert main(args) == 0
        first_arrivals = stub.total_arrivals
        judgments_file = tmp_path / "out/m/arena_hard/ru/judgments.jsonl"
        lines = judgments_file.read_text(encoding="utf-8").splitlines()
        assert main([*args, "--no-cache"]) == 0  # resumes: the 12 games are not judged again
        answers_only = stub.total_arrivals - first_arrivals
    assert answers_only == 6 and judgments_file.read_text(encoding="utf-8").splitlines() == lines
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 12 and {r["game"] for r in rows} == {1, 2}
    game1 = next(r for r in rows if r["question_id"] == "q0" and r["game"] == 1)
    assert (game1["model_a"], game1["model_b"], game1["verdict"]) == ("openai:base", model, "B>A")
    stuck = [r for r in rows if r["question_id"] == "q3"]
    assert all(r["verdict"] is None and r["reasked"] and r["raw_reask"] == "Всё ещё сложно." for r in stuck)

    summary = json.loads((tmp_path / "out/m/arena_hard/ru/summary.json").read_text(encoding="utf-8"))
    # Even questions (q0, q2, q4): the model's long answer wins, games: B>A (g1) and A>>B (g2) -> 1 + 3 rows won.
    # Odd answered (q1, q5): the short answer loses: A>>B (g1, baseline strong) and B>A (g2) -> 3 + 1 rows lost.
    expected = 100 * (3 * 4) / (3 * 4 + 2 * 4)
    assert summary["metrics"]["score"]["value"] == pytest.approx(expected, abs=1e-9)
    extra = summary["extra"]
    assert (extra["games"], extra["unparsed"], extra["baseline"], extra["method"]) == (12, 2, "openai:base", "v0.1")
    assert extra["ci"][0] < expected < extra["ci"][1] and extra["ci_level"] == 0.95
    assert extra["token_counter"] in ("backend", "tiktoken:cl100k_base") and extra["avg_tokens"] > 0


def test_score_command_reads_arena_hard_auto_layout(tmp_path, capsys):
    judge_dir = tmp_path / "model_judgment" / "gpt-4-1106-preview"
    judge_dir.mkdir(parents=True)
    answers_dir = tmp_path / "model_answer"
    answers_dir.mkdir()
    verdicts = {"m1": [("B>A", "A>B")] * 6 + [("A=B", "A=B")] * 2 + [("A>>B", "B>>A")] * 2,
                "m2": [("A>B", "B>A")] * 7 + [("B>>A", "A>>B")] * 3}
    for model, games in verdicts.items():
        with (judge_dir / f"{model}.jsonl").open("w") as f:
            for i, (g1, g2) in enumerate(games):
                f.write(json.dumps({"question_id": f"q{i}", "model": model, "judge": "gpt-4-1106-preview",
                                    "games": [{"user_prompt": "...", "judgment": "...", "score": g1},
                                              {"user_prompt": "...", "judgment": "...", "score": g2}]}) + "\n")
        with (answers_dir / f"{model}.jsonl").open("w") as f:
            for i in range(10):
                tokens = 100 + i + (50 if model == "m2" else 0)
                f.write(json.dumps({"question_id": f"q{i}", "model_id": model, "choices": [
                    {"index": 0, "turns": [{"content": "x", "token_len": tokens}]}]}) + "\n")
    code = main(["arena-hard", "score", "--judgments", str(judge_dir), "--answers", str(answers_dir),
                 "--baseline", "gpt-4-0314", "--json", "--rounds", "50"])  # fmt: skip
    table = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert code == 0 and table["gpt-4-0314"]["score"] == 50.0
    # m1: 6 questions won in both games (12 rows), 2 tied in both (4 rows), 2 lost decisively in both (12 rows)
    assert table["m1"]["score"] == pytest.approx(100 * 14 / 28, abs=1e-9)
    # m2: 7 questions lost in both games (14 rows), 3 won decisively in both (18 rows)
    assert table["m2"]["score"] == pytest.approx(100 * 18 / 32, abs=1e-9)
    # mean lengths 104.5 and 154.5, truncated as arena-hard-auto prints them
    assert table["m1"]["avg_tokens"] == 104 and table["m2"]["avg_tokens"] == 154
    rows = [r for p in sorted(judge_dir.glob("*.jsonl")) for r in judgment_rows_from_file(p)]
    assert len(rows) == 40 and {r["model_a"] for r in rows if r["game"] == 1} == {"__baseline__"}


def test_v2_rows_need_both_games_and_take_the_model_side():
    rows = [
        {"question_id": "1", "game": 1, "model_a": "b", "model_b": "m", "model": "m", "verdict": "B>>A"},
        {"question_id": "1", "game": 2, "model_a": "m", "model_b": "b", "model": "m", "verdict": "A=B"},
        {"question_id": "2", "game": 1, "model_a": "b", "model_b": "m", "model": "m", "verdict": "A>B"},
        {"question_id": "2", "game": 2, "model_a": "m", "model_b": "b", "model": "m", "verdict": None},
    ]
    assert question_scores(rows, "b") == {"m": [1.0, 1.0, 1.0, 0.5]}
    (score,) = arena_v2(question_scores(rows, "b"), rounds=20)
    assert score.score == pytest.approx(87.5)


def test_leaderboard_from_files_rejects_unknown_rows(tmp_path):
    bad = tmp_path / "j.jsonl"
    bad.write_text('{"question_id": "1"}\n')
    with pytest.raises(ValueError, match=r"j.jsonl:1: neither an arena-hard-auto judgment"):
        leaderboard_from_files([bad], [], "base", "v0.1", 10, 0)


def write_judgments(folder, model, games_per_question, category="hard_prompt", baseline=None, first=0):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{model}.jsonl").open("w") as handle:
        for i, games in enumerate(games_per_question):
            row = {"uid": f"q{first + i}", "model": model, "judge": "j", "category": category,
                   "games": [{"score": g} for g in games]}
            if baseline:
                row["baseline"] = baseline
            handle.write(json.dumps(row) + "\n")


def test_score_command_is_strict_about_unusable_judgments(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "m.jsonl").write_text("")
    assert main(["arena-hard", "score", "--judgments", str(empty), "--baseline", "b"]) == 2
    assert "no judgments" in capsys.readouterr().err
    unusable = tmp_path / "unusable"
    write_judgments(unusable, "m", [(None, None), ("A>B",)])  # null scores; one game missing
    assert main(["arena-hard", "score", "--judgments", str(unusable), "--baseline", "b", "--method", "v2"]) == 2
    assert "no judgment has a usable verdict" in capsys.readouterr().err


def test_score_command_counts_dropped_games_and_names_models_without_a_score(tmp_path, capsys):
    judgments, answers = tmp_path / "j", tmp_path / "a"
    write_judgments(judgments, "good", [("B>A", "A>B")] * 4 + [(None, "A>B"), ("A>B",)])
    write_judgments(judgments, "silent", [(None, None)] * 3)
    answers.mkdir()
    rows = [{"question_id": f"q{i}", "model_id": "something-else", "choices": [{"turns": [{"token_len": 10 + i}]}]}
            for i in (0, 1, 1, 2)]  # q1 twice: counted once
    (answers / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["arena-hard", "score", "--judgments", str(judgments), "--answers", str(answers), "--baseline", "b",
            "--rounds", "20"]
    assert main([*args, "--json"]) == 0
    table = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert (table["good"]["games"], table["good"]["usable"], table["good"]["dropped"]) == (12, 10, 2)
    assert table["silent"]["score"] is None and table["silent"]["dropped"] == 6  # named, not left off
    assert table["good"]["avg_tokens"] == int((10 + 11 + 12) / 3)  # by file name; q1 once
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "silent" in printed and "no usable game" in printed
    assert f"| {table['good']['avg_tokens']:>10} |" in printed  # the table shows the JSON's number


def test_v2_scores_each_category_against_its_own_baseline(tmp_path, capsys):
    judgments = tmp_path / "j"
    write_judgments(judgments, "m", [("B>A", "A>B")] * 6 + [("A>B", "B>A")] * 2, category="hard_prompt",
                    baseline="o3-mini-2025-01-31")
    (judgments / "m.jsonl").rename(judgments / "m_hard.jsonl")
    write_judgments(judgments, "m", [("A>B", "B>A")] * 6, category="creative_writing", first=100)
    code = main(["arena-hard", "score", "--judgments", str(judgments), "--baseline", "o3-mini-2025-01-31",
                 "--method", "v2", "--by-category", "--json", "--rounds", "30"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    hard, creative = report["categories"]["hard_prompt"][0], report["categories"]["creative_writing"][0]
    assert hard["baseline"] == "o3-mini-2025-01-31" and hard["score"] == pytest.approx(75.0)
    assert creative["baseline"] == "gemini-2.0-flash-001" and creative["score"] == pytest.approx(0.0)
    pooled = {row["model"]: row for row in report["pooled"]}
    assert pooled["m"]["score"] == pytest.approx(100 * 12 / 28)  # pooled over both categories, as upstream
