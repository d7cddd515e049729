"""The regression gate on synthetic paired results: a planted drop is caught, noise passes, misuse is refused."""

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.publish.gate import GateMisuse, run_gate
from evalkit.stats import paired_bootstrap

GEN = {"temperature": 0.0, "top_p": None, "top_k": None, "min_p": None, "repetition_penalty": None,
       "presence_penalty": None, "frequency_penalty": None, "max_tokens": 512, "stop": [], "seed": None, "n": 1}


def write_run(root: Path, model: str, scores, task="gsm8k", lang="ru", revision="5b47500", judge=None, **changes):
    folder = root / model / task / lang
    folder.mkdir(parents=True, exist_ok=True)
    metric = "exact_match" if task == "gsm8k" else "accuracy"
    summary = {
        "task": task, "task_version": "1.0", "lang": lang, "model": model, "n": len(scores),
        "metrics": {metric: {"value": float(np.mean(scores)), "stderr": float(np.std(scores) / len(scores) ** 0.5)}},
        "data": {"source": "hf", "dataset_id": "d0rj/gsm8k-ru", "revision": revision, "split": "test"},
        "generation_config": dict(GEN), "system_prompt": None, "chat_template": None,
        "extra": {"judge": judge} if judge else {},
    }
    for key, value in changes.items():
        summary[key] = value
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "samples.jsonl").write_text("".join(json.dumps({"id": f"item{i}", "scores": {metric: float(s)}}) + "\n"
                                                  for i, s in enumerate(scores)), encoding="utf-8")  # fmt: skip
    return root / model


def test_catches_a_planted_three_point_drop_at_n_500(tmp_path):
    rng = np.random.default_rng(0)
    baseline = (rng.random(500) < 0.6).astype(float)
    candidate = baseline.copy()
    candidate[np.flatnonzero(baseline == 1)[:15]] = 0.0  # 15 of 500 items lost: exactly 3 points
    base = write_run(tmp_path, "release", baseline)
    cand = write_run(tmp_path, "checkpoint", candidate)
    [result] = run_gate(base, cand, None, max_drop=1.0, alpha=0.05, rounds=10000, seed=0)
    assert result.delta == pytest.approx(-3.0) and result.n == 500
    assert result.method == "paired bootstrap + exact McNemar" and result.mcnemar_p == pytest.approx(0.5**15)
    assert result.regression and result.bound < -1.0 and result.p_value < 0.05
    report = tmp_path / "gate.md"
    code = main(["gate", "--baseline", str(base), "--candidate", str(cand), "--report", str(report)])
    assert code == 1 and "**REGRESSION**" in report.read_text(encoding="utf-8")
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--max-drop", "5"]) == 0


def test_pure_noise_passes_at_least_95_percent_of_200_seeds(tmp_path):
    passed = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        root = tmp_path / f"s{seed}"
        base = write_run(root, "a", (rng.random(500) < 0.6).astype(float))
        cand = write_run(root, "b", (rng.random(500) < 0.6).astype(float))  # the same true accuracy
        [result] = run_gate(base, cand, None, max_drop=1.0, alpha=0.05, rounds=2000, seed=seed)
        passed += not result.regression
    assert passed >= 190


def test_refuses_a_revision_mismatch(tmp_path, capsys):
    scores = np.ones(20)
    base = write_run(tmp_path, "a", scores)
    cand = write_run(tmp_path, "b", scores, revision="ffff000")
    with pytest.raises(GateMisuse, match="different dataset revision: baseline '5b47500', candidate 'ffff000'"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    assert "dataset revision" in capsys.readouterr().err


def test_refuses_other_incomparable_runs(tmp_path):
    scores = np.ones(20)
    base = write_run(tmp_path, "a", scores, task="rag", judge="openai:gpt-4o")
    cand = write_run(tmp_path, "b", scores, task="rag", judge="local:smollm2")
    with pytest.raises(GateMisuse, match="different judge"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    hot = dict(GEN, temperature=0.7)
    base = write_run(tmp_path / "g", "a", scores)
    cand = write_run(tmp_path / "g", "b", scores, generation_config=hot)
    with pytest.raises(GateMisuse, match="generation config: temperature 0.0 vs 0.7"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    base = write_run(tmp_path / "v", "a", scores)
    cand = write_run(tmp_path / "v", "b", scores, task_version="2.0")
    with pytest.raises(GateMisuse, match="task version"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    other_lang = write_run(tmp_path / "l", "b", scores, lang="pl")
    with pytest.raises(GateMisuse, match="share no task"):
        run_gate(write_run(tmp_path / "l", "a", scores), other_lang, None, 1.0, 0.05, 1000, 0)


def test_misuse_exit_code_for_bad_paths_and_tasks(tmp_path):
    base = write_run(tmp_path, "a", np.ones(10))
    assert main(["gate", "--baseline", str(tmp_path / "nope"), "--candidate", str(base)]) == 2
    assert main(["gate", "--baseline", str(base), "--candidate", str(base), "--tasks", "mmlu_pro"]) == 2
    assert main(["gate", "--baseline", str(base), "--candidate", str(base), "--tasks", "gsm8k"]) == 0


def test_arena_scores_use_the_arena_intervals(tmp_path):
    def arena(model, score, ci):
        folder = tmp_path / model / "arena_hard" / "ru"
        folder.mkdir(parents=True)
        summary = {"task": "arena_hard", "task_version": "1.0", "lang": "ru", "model": model, "n": 500,
                   "metrics": {"score": {"value": score, "stderr": None}}, "data": {"source": "samples"},
                   "generation_config": GEN, "extra": {"ci": ci, "judge": "j", "baseline": "b", "method": "v0.1"}}
        (folder / "summary.json").write_text(json.dumps(summary))
        return tmp_path / model

    release, worse, close = arena("release", 60.0, [57.0, 63.0]), arena("worse", 52.0, [49.0, 55.5]), \
        arena("close", 58.5, [55.5, 61.0])  # fmt: skip
    [drop] = run_gate(release, worse, None, 1.0, 0.05, 1000, 0)
    assert drop.method == "arena CIs" and drop.regression and drop.delta == -8.0
    [overlap] = run_gate(release, close, None, 1.0, 0.05, 1000, 0)
    assert not overlap.regression  # a 1.5-point drop inside overlapping intervals is not significant


def test_paired_bootstrap_by_hand():
    # d = (0, 0, -1, -1): Δ = -0.5; every resample has mean <= 0, and P(mean >= 0) = P(no -1 drawn) = 1/16.
    delta, bound, p = paired_bootstrap(np.array([1, 1, 1, 1]), np.array([1, 1, 0, 0]), rounds=20000, seed=1,
                                       alpha=0.05)  # fmt: skip
    assert delta == -0.5 and bound <= 0 and p == pytest.approx(1 / 16, abs=0.01)


def test_unscored_tasks_are_skipped_and_rag_falls_back_to_rouge_l(tmp_path):
    scores = np.array([0.2, 0.4, 0.6, 0.8])

    def rag_run(model):
        folder = tmp_path / model / "rag" / "ru"
        folder.mkdir(parents=True)
        summary = {"task": "rag", "task_version": "1.0", "lang": "ru", "model": model, "n": 4, "data": {},
                   "metrics": {"rouge_l": {"value": float(scores.mean()), "stderr": 0.1}}, "generation_config": GEN,
                   "extra": {"judge": None}}
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "samples.jsonl").write_text("".join(json.dumps({"id": str(i), "scores": {"rouge_l": s}}) + "\n"
                                                      for i, s in enumerate(scores)))  # fmt: skip
        unscored = tmp_path / model / "alpaca_eval" / "ru"
        unscored.mkdir(parents=True)
        (unscored / "summary.json").write_text(json.dumps({**summary, "task": "alpaca_eval", "metrics": {}}))
        return tmp_path / model

    comparisons = run_gate(rag_run("a"), rag_run("b"), None, 1.0, 0.05, 1000, 0)
    by_task = {c.task: c for c in comparisons}
    assert by_task["rag"].metric == "rouge_l" and by_task["rag"].delta == 0.0 and by_task["rag"].n == 4
    assert by_task["alpaca_eval"].delta is None and not by_task["alpaca_eval"].regression


def test_mt_bench_is_gated_on_per_question_ratings_of_its_own_judge(tmp_path):
    def mt_run(model, ratings):  # ratings: question id -> (turn 1, turn 2); -1 = no rating
        pooled = [r for pair in ratings.values() for r in pair if r != -1]
        root = write_run(tmp_path, model, [0.0], task="mt_bench", judge="openai:gpt-4o",
                         metrics={"score": {"value": float(np.mean(pooled)), "stderr": None}})
        rows = [{"question_id": q, "model": model, "judge": ["openai:gpt-4o", "single-v1"], "turn": t + 1,
                 "score": pair[t]} for q, pair in ratings.items() for t in range(2)]
        rows.append({"question_id": "q1", "model": model, "judge": ["other-judge", "single-v1"], "turn": 1, "score": 1})
        folder = root / "mt_bench" / "ru"
        (folder / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return root

    base = mt_run("a", {"q1": (8, 6), "q2": (7, -1), "q3": (9, 9)})
    cand = mt_run("b", {"q1": (8, 6), "q2": (7, 5), "q3": (9, 9), "q4": (2, 2)})
    [result] = run_gate(base, cand, None, max_drop=1.0, alpha=0.05, rounds=1000, seed=0)
    # The turns both runs rated (× 10), clustered by question; the other judge's row and the −1 are left out, so
    # q2's turn 2 (unrated in the baseline) is not compared.
    assert result.method == "cluster bootstrap (turns in 3 clusters)" and result.n == 5
    assert result.baseline == pytest.approx((80 + 60 + 70 + 90 + 90) / 5) == result.candidate
    assert result.delta == 0 and not result.regression and result.se == 0


@pytest.mark.parametrize(("lost", "gained"), [(0, 0), (1, 0), (0, 3), (5, 2), (15, 0), (12, 30), (40, 38), (3, 3)])
def test_exact_mcnemar_equals_the_one_sided_binomial_test(lost, gained):
    from scipy.stats import binomtest

    from evalkit.stats import mcnemar_exact

    expected = 1.0 if lost + gained == 0 else binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue
    assert mcnemar_exact(lost, gained) == pytest.approx(expected, rel=1e-12)


def test_clustered_standard_error_matches_the_spread_of_the_mean_over_simulations():
    """Items in clusters of 4 sharing a cluster effect: the clustered SE estimates the true spread of the mean
    (simulated), the plain SE underestimates it; with singleton clusters both are the plain SE."""
    from evalkit.stats import clustered_standard_error

    rng = np.random.default_rng(7)
    clusters = np.repeat([f"q{i}" for i in range(100)], 4)
    means, clustered, plain = [], [], []
    for _ in range(400):
        d = np.repeat(rng.normal(0, 1.0, 100), 4) + rng.normal(0, 0.5, 400)
        means.append(d.mean())
        clustered.append(clustered_standard_error(d, clusters))
        plain.append(clustered_standard_error(d))
    true_spread = float(np.std(means))
    assert np.mean(clustered) == pytest.approx(true_spread, rel=0.12)
    assert np.mean(plain) < 0.6 * true_spread
    d = rng.normal(size=50)
    assert clustered_standard_error(d, [str(i) for i in range(50)]) == pytest.approx(np.std(d) / np.sqrt(50))


def test_minimum_detectable_drop_has_the_stated_power():
    from statistics import NormalDist

    from evalkit.stats import minimum_detectable_drop

    se = 1.3
    mdd = minimum_detectable_drop(se, 0.05)
    assert mdd == pytest.approx((NormalDist().inv_cdf(0.95) + NormalDist().inv_cdf(0.8)) * se)
    rng = np.random.default_rng(3)
    observed = rng.normal(-mdd, se, 20000)  # the true drop is exactly the detectable one
    power = np.mean(observed + NormalDist().inv_cdf(0.95) * se < 0)
    assert power == pytest.approx(0.8, abs=0.01)


def test_small_tasks_are_named_as_too_small_to_gate(tmp_path):
    base = write_run(tmp_path, "a", [1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    cand = write_run(tmp_path, "b", [1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    report = tmp_path / "gate.md"
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "Too small to gate a 1-point drop" in text and "gsm8k/ru" in text.split("Too small")[1]


def test_rag_items_are_clustered_by_domain(tmp_path):
    def rag_run(model, scores):
        root = write_run(tmp_path, model, [0.0], task="rag", judge="openai:gpt-4o",
                         metrics={"accuracy": {"value": float(np.mean(scores)), "stderr": 0.1}})
        rows = [{"id": f"i{k}", "metadata": {"domain": "in_domain" if k < 6 else "out_of_domain"},
                 "scores": {"accuracy": s}} for k, s in enumerate(scores)]
        (root / "rag" / "ru" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
        return root

    base = rag_run("a", [1, 1, 1, 0, 1, 1, 1, 0, 1])
    cand = rag_run("b", [1, 0, 1, 0, 1, 1, 0, 0, 1])
    [result] = run_gate(base, cand, None, max_drop=1.0, alpha=0.05, rounds=1000, seed=0)
    assert result.method.startswith("cluster bootstrap (items in 2 clusters)") and result.n == 9
    d = np.array([0, -100, 0, 0, 0, 0, -100, 0, 0], dtype=float)
    by_hand = np.sqrt(((d[:6] - d.mean()).sum()) ** 2 + ((d[6:] - d.mean()).sum()) ** 2) / 9
    assert result.se == pytest.approx(by_hand) and result.mcnemar_p == pytest.approx(0.25)


def test_a_run_from_before_the_common_task_options_compares_with_one_that_records_their_defaults(tmp_path):
    base = write_run(tmp_path, "old", [1.0, 0.0, 1.0])
    cand = write_run(tmp_path, "new", [1.0, 0.0, 1.0])
    path = cand / "gsm8k" / "ru" / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["extra"]["task_options"] = {"language_mismatch": "keep"}
    path.write_text(json.dumps(summary), encoding="utf-8")
    assert run_gate(base, cand, None, 1.0, 0.05, 1000, 0)[0].delta == 0
    summary["extra"]["task_options"] = {"language_mismatch": "zero"}
    path.write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(GateMisuse, match="different task options"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)


def make_incomplete(root, failed, errors, task="gsm8k", lang="ru"):
    """Mark `failed` items of a run as failed after retries (no score, an error), as the runner writes them."""
    folder = root / task / lang
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["id"] in failed:
            row.update(scores={}, error=errors[0])
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary.update(status="incomplete", n_errors=len(failed), error_rate=len(failed) / summary["n"],
                   errors={text: len(failed) if i == 0 else 1 for i, text in enumerate(errors)})  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return root


def test_an_incomplete_run_is_refused_in_one_line_unless_errors_are_allowed(tmp_path, capsys):
    rng = np.random.default_rng(5)
    scores = (rng.random(200) < 0.6).astype(float)
    base = write_run(tmp_path, "release", scores)
    cand = make_incomplete(write_run(tmp_path, "candidate", scores), {f"item{i}" for i in range(4)},
                           ["HTTP 503: Service Unavailable"])  # fmt: skip
    with pytest.raises(GateMisuse, match=r"gsm8k/ru: candidate candidate: 4 of 200 items failed; first error: HTTP"):
        run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "--allow-errors" in captured.err
    # Allowed: gated over the answered items (the 4 failed ones are not zeros), the errors named in the report.
    report = tmp_path / "gate.md"
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--allow-errors", "--report",
                 str(report)]) == 0  # fmt: skip
    [result] = run_gate(base, cand, None, 1.0, 0.05, 1000, 0, allow_errors=True)
    assert result.n == 196 and result.delta == 0 and result.errors.startswith("candidate candidate: 4 of 200")
    text = report.read_text(encoding="utf-8")
    assert "⚠ Incomplete runs, gated with --allow-errors" in text
    assert "- gsm8k/ru: candidate candidate: 4 of 200 items failed; first error: HTTP 503: Service Unavailable" in text


def test_a_regression_on_an_incomplete_run_names_its_errors(tmp_path):
    rng = np.random.default_rng(6)
    baseline = (rng.random(500) < 0.6).astype(float)
    candidate = baseline.copy()
    candidate[np.flatnonzero(baseline == 1)[:60]] = 0.0  # 12 points lost
    base = write_run(tmp_path, "release", baseline)
    cand = make_incomplete(write_run(tmp_path, "candidate", candidate), {"item499", "item498"},
                           ["HTTP 400: maximum context length is 2048 tokens", "timeout"])  # fmt: skip
    report = tmp_path / "gate.md"
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--allow-errors", "--report",
                 str(report)]) == 1  # fmt: skip
    text = report.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| gsm8k |"))
    assert "**REGRESSION** ⚠" in row
    assert "2 of 500 items failed; first error: HTTP 400: maximum context length is 2048 tokens (+1 other" in text
    assert "Result: FAIL (1 of 1 regressed; 1 of them on incomplete runs;" in text


def test_a_candidate_whose_every_item_failed_is_not_a_regression(tmp_path, capsys):
    base = write_run(tmp_path, "release", np.ones(12))
    cand = make_incomplete(write_run(tmp_path, "candidate", np.ones(12)), {f"item{i}" for i in range(12)},
                           ["HTTP 503: Service Unavailable"])  # fmt: skip
    path = cand / "gsm8k" / "ru" / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["metrics"] = {}  # metrics are over answered items: none
    path.write_text(json.dumps(summary), encoding="utf-8")
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    assert "gsm8k/ru: candidate candidate: 12 of 12 items failed" in capsys.readouterr().err
    [result] = run_gate(base, cand, None, 1.0, 0.05, 1000, 0, allow_errors=True)
    assert not result.regression and result.verdict == "too small to gate" and result.n == 0


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_items_are_too_small_to_gate_never_a_pass(tmp_path, n):
    base = write_run(tmp_path, "a", [1.0] * n)
    cand = write_run(tmp_path, "b", [1.0] * n)
    [result] = run_gate(base, cand, None, 1.0, 0.05, 1000, 0)
    assert result.too_small and not result.regression and result.se is None and result.min_detectable is None
    report = tmp_path / "gate.md"
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| gsm8k |"))
    assert row.endswith("| — | — | too small to gate |") and "| pass |" not in text and "0.00 | 0.0" not in row
    assert f"Too small to gate a 1-point drop (minimum detectable drop in points): gsm8k/ru (n = {n})" in text
    # A single lost item is no regression either: one item cannot carry significance.
    worse = write_run(tmp_path, "c", [0.0] * n)
    assert not run_gate(base, worse, None, 1.0, 0.05, 1000, 0)[0].regression


def test_too_small_whenever_the_detectable_drop_exceeds_the_margin(tmp_path):
    # 40 identical pass/fail items: SE 0, but McNemar needs 5 lost items (12.5 points) to say anything.
    base = write_run(tmp_path, "a", [1.0, 0.0] * 20)
    [same] = run_gate(base, write_run(tmp_path, "b", [1.0, 0.0] * 20), None, 1.0, 0.05, 1000, 0)
    assert same.se == 0 and same.min_detectable == pytest.approx(12.5) and same.too_small
    assert same.verdict == "too small to gate"
    assert not run_gate(base, base, None, 20.0, 0.05, 1000, 0)[0].too_small  # a 20-point margin it can gate
    # 1000 identical items: a 1-point margin is within reach (5 items = 0.5 points), so a plain pass.
    big = write_run(tmp_path / "big", "a", [1.0, 0.0] * 500)
    [plain] = run_gate(big, write_run(tmp_path / "big", "b", [1.0, 0.0] * 500), None, 1.0, 0.05, 1000, 0)
    assert not plain.too_small and plain.verdict == "pass" and plain.min_detectable == pytest.approx(0.5)


def test_a_graded_metric_that_did_not_move_still_has_a_resolution(tmp_path):
    # Graded items (0.25 steps), identical in both runs: SE 0, but 10 items cannot show a drop finer than one
    # item's full swing, SE 100 / n = 10 points -> detectable (z_0.95 + z_0.8) · 10 ≈ 24.9 points.
    scores = [0.25, 0.5, 0.75, 1.0, 0.5] * 2
    base = write_run(tmp_path, "a", scores, task="rag", judge="j")
    [result] = run_gate(base, write_run(tmp_path, "b", scores, task="rag", judge="j"), None, 1.0, 0.05, 1000, 0)
    assert result.se == 0 and result.min_detectable == pytest.approx(24.87, abs=0.01) and result.too_small


def test_end_to_end_failed_items_on_a_loopback_server_are_named_by_gate_and_leaderboard(tmp_path, capsys):
    """Issue 24's scenario against our fault server: the candidate's server fails 2 of 6 items for good
    (400: context length exceeded); the gate refuses the run naming the errors, the leaderboard marks it."""
    from evalkit.testing.openai_stub import OpenAIStub

    def run(name, fault_fn=None):
        with OpenAIStub(**({"fault_fn": fault_fn} if fault_fn else {})) as stub:
            return main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru",
                         "--limit", "6", "--output", str(tmp_path), "--name", name, "--no-cache", "--no-progress",
                         "--concurrency", "1", "--max-retries", "0"])  # fmt: skip

    assert run("release") == 0
    run("candidate", lambda key, index, attempt: "400ctx" if index < 2 else "ok")
    summary = json.loads((tmp_path / "candidate" / "gsm8k" / "ru" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_errors"] == 2 and summary.get("status", "incomplete") == "incomplete"
    capsys.readouterr()
    code = main(["gate", "--baseline", str(tmp_path / "release"), "--candidate", str(tmp_path / "candidate")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "gsm8k/ru: candidate candidate: 2 of 6 items failed" in captured.err and "--allow-errors" in captured.err
    assert main(["gate", "--baseline", str(tmp_path / "release"), "--candidate", str(tmp_path / "candidate"),
                 "--allow-errors"]) in (0, 1)  # fmt: skip
    assert "2 of 6 items failed" in capsys.readouterr().out
    assert main(["leaderboard", "--results", str(tmp_path), "--output", str(tmp_path / "board")]) == 0
    board = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    row = next(line for line in board.splitlines() if line.startswith("| candidate |"))
    assert "⚠" in row and "- ⚠ incomplete run candidate gsm8k/ru: 2 of 6 items failed" in board
