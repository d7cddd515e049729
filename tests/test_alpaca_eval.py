"""AlpacaEval statistics (alpaca_eval metrics/winrate.py and metrics/glm_winrate.py) and annotations interop."""

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from evalkit.run.alpaca_eval import score_annotations
from evalkit.run.plugins import load_task
from evalkit.run.references import instruction_id
from evalkit.run.task import TaskDataError
from evalkit.stats import LC_CS, cross_validated_fit, length_controlled_win_rate, win_rate


def test_raw_win_rate_by_hand():
    # 0 is the old draw encoding (read 1.5); NaN and 3 are not preferences and are dropped.
    result = win_rate([2, 1, 1.5, 0, 1.8, math.nan, 3])
    p = np.array([1, 0, 0.5, 0.5, 0.8])
    assert result.win_rate == pytest.approx(56.0)
    assert result.standard_error == pytest.approx(np.std(p, ddof=1) / math.sqrt(5) * 100)
    assert (result.n_wins, result.n_wins_base, result.n_draws, result.n_total) == (2, 1, 2, 5)
    assert result.discrete_win_rate == pytest.approx(60.0)  # 1.8 rounds to a win


def synthetic(n, seed, length_effect, skill, longer_share):
    rng = np.random.default_rng(seed)
    reference_lengths = rng.integers(300, 1500, n)
    longer = rng.random(n) < longer_share
    model_lengths = np.where(longer, reference_lengths * rng.uniform(1.5, 3.0, n),
                             reference_lengths * rng.uniform(0.4, 0.9, n)).astype(int)
    delta = reference_lengths - model_lengths
    logit = skill + length_effect * np.tanh(delta / np.std(delta, ddof=1))
    preferences = 1 + 1 / (1 + np.exp(-logit))
    return preferences, model_lengths, reference_lengths


def test_lc_equals_raw_win_rate_when_lengths_are_equal():
    rng = np.random.default_rng(3)
    preferences = 1 + rng.beta(3, 2, 200)
    raw = win_rate(preferences).win_rate
    lc = length_controlled_win_rate(preferences, [700] * 200, [700] * 200)
    assert lc.lc_win_rate == pytest.approx(raw, abs=0.05)
    assert lc.weights["length"] == 0.0


def test_winning_only_by_length_loses_most_of_the_advantage():
    preferences, model_lengths, reference_lengths = synthetic(400, 1, length_effect=-2.5, skill=0.0, longer_share=0.85)
    raw = win_rate(preferences).win_rate
    lc = length_controlled_win_rate(preferences, model_lengths, reference_lengths)
    assert raw > 65
    assert abs(lc.lc_win_rate - 50) < (raw - 50) / 3
    assert lc.weights["length"] < 0  # a longer model answer (negative delta) raises P(model wins)


def test_a_better_model_keeps_its_advantage():
    preferences, model_lengths, reference_lengths = synthetic(400, 2, length_effect=0.0, skill=1.2, longer_share=0.5)
    raw = win_rate(preferences).win_rate
    lc = length_controlled_win_rate(preferences, model_lengths, reference_lengths)
    assert lc.lc_win_rate == pytest.approx(raw, abs=1.5)
    assert lc.lc_win_rate > 70


def test_lc_standard_error_is_the_sem_of_the_predictions():
    preferences, model_lengths, reference_lengths = synthetic(100, 5, -1.0, 0.5, 0.6)
    difficulty = np.random.default_rng(0).normal(0, 1, 100)
    lc = length_controlled_win_rate(preferences, model_lengths, reference_lengths, difficulty)
    coef = np.array([lc.weights["length"], lc.weights["difficulty"], lc.weights["model"]])
    predicted = 1 / (1 + np.exp(-(np.column_stack([np.zeros(100), difficulty, np.ones(100)]) @ coef)))
    assert lc.lc_win_rate == pytest.approx(predicted.mean() * 100)
    assert lc.lc_standard_error == pytest.approx(np.std(predicted, ddof=1) / 10 * 100)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_validated_fit_equals_sklearn_logistic_regression_cv(weighted):
    """Our written-out CV equals LogisticRegressionCV set up as alpaca_eval's fit_LogisticRegressionCV does it."""
    sklearn = pytest.importorskip("sklearn")
    import pandas as pd
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(11)
    n = 150
    x = np.column_stack([np.tanh(rng.normal(0, 1, n)), rng.normal(0, 1, n), np.ones(n)])
    p = 1 / (1 + np.exp(-(x @ np.array([-1.0, 0.4, 0.3]) + rng.normal(0, 0.5, n))))
    weight = np.where(np.arange(n) < 50, 0.1, 1.0) if weighted else None

    def soft_loss(y_true, y_pred, true_prob, true_sample_weight=None):
        target = np.where(y_true == 1, true_prob, 1 - true_prob)
        y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
        loss = target * np.log(y_pred) + (1 - target) * np.log(1 - y_pred)
        return -np.mean(loss * true_sample_weight if true_sample_weight is not None else loss)

    data = pd.DataFrame(x, columns=["length", "difficulty", "model"])
    groups = np.r_[np.arange(n), np.arange(n)]
    dup = pd.concat([data, data], ignore_index=True)
    true_prob = np.r_[p, 1 - p]
    true_weight = None if weight is None else np.r_[weight, weight]
    sample_weight = true_prob if weight is None else true_prob * true_weight
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = make_scorer(soft_loss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_sample_weight=True, true_prob=True)
        reference = LogisticRegressionCV(cv=GroupKFold(n_splits=5), scoring=scorer, random_state=123, dual=False,
                                         l1_ratios=(1.0,), solver="liblinear", fit_intercept=False, Cs=list(LC_CS))
        reference.set_fit_request(sample_weight=True)
        reference.fit(dup, np.r_[np.ones(n), np.zeros(n)], sample_weight=sample_weight, groups=groups,
                      true_sample_weight=true_weight, true_prob=true_prob)
    coef, best = cross_validated_fit(x, p, weight)
    assert best == pytest.approx(float(np.ravel(reference.C_)[0]))
    np.testing.assert_allclose(coef, reference.coef_[0], atol=1e-9)


def annotation(instruction, output_1, output_2, preference, model="model-x", baseline="gpt-4o"):
    return {"instruction": instruction, "output_1": output_1, "output_2": output_2, "generator_1": baseline,
            "generator_2": model, "preference": preference, "annotator": "weighted_alpaca_eval_gpt4_turbo"}


def alpaca_eval_layout(tmp_path, rows, model_folder="model-x-run"):
    """alpaca_eval's results layout: <model folder>/<annotator>/annotations.json."""
    folder = tmp_path / model_folder / "weighted_alpaca_eval_gpt4_turbo"
    folder.mkdir(parents=True)
    path = folder / "annotations.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def varied_rows(n=60, seed=7, model="model-x"):
    rng = np.random.default_rng(seed)
    return [annotation(f"q{i}", "x" * 500, "y" * int(rng.integers(300, 800)), float(1 + rng.beta(4, 2)), model=model)
            for i in range(n)]  # fmt: skip


def test_scores_alpaca_eval_annotations(tmp_path):
    rng = np.random.default_rng(7)
    rows = varied_rows()
    rows += [annotation(f"q{i}", "x" * 500, "x" * 500, 1.5 if i % 3 else 1.0, model="gpt-4o") for i in range(60)]
    rows[3]["preference"] = None  # an annotation the judge could not make
    path = alpaca_eval_layout(tmp_path, rows)
    table = {e["model"]: e for e in score_annotations(path)}
    # The model's row is named by its folder (alpaca_eval's layout), not by generator_2 inside the file.
    model = table["model-x-run"]
    assert model["generator"] == "model-x" and model["reference"] == "gpt-4o"
    assert model["n_total"] == 59 and 0 < model["lc_win_rate"] < 100
    assert model["formula"] == "length_controlled_minimal" and "not the published LC" in model["formula_note"]
    # The baseline against itself: 50 by construction, and its counts like every other row.
    baseline = table["gpt-4o"]
    assert baseline["lc_win_rate"] == 50.0
    assert (baseline["n_wins"], baseline["n_wins_base"], baseline["n_draws"], baseline["n_total"]) == (0, 20, 40, 60)

    difficulty = tmp_path / "instruction_difficulty.csv"
    difficulty.write_text("index,instruction_difficulty\n" + "".join(f"{i},{rng.normal():.4f}\n" for i in range(60)))
    cli = subprocess.run([sys.executable, "-m", "evalkit", "alpaca-eval", "score", "--annotations", str(path),
                          "--difficulty", str(difficulty), "--json"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    first = json.loads(cli.stdout)[0]
    assert first["formula"] == "length_controlled_noreg" and "n_draws" in first and "formula_note" in first


def test_the_table_names_the_lc_formula_and_how_to_get_the_published_one(tmp_path):
    path = alpaca_eval_layout(tmp_path, varied_rows())
    cli = subprocess.run([sys.executable, "-m", "evalkit", "alpaca-eval", "score", "--annotations", str(path)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    head = cli.stdout.splitlines()
    assert head[0].startswith("LC formula: length_controlled_minimal = length only")
    assert "--gamed df_gamed.csv" in head[1]
    row = next(line for line in head if line.startswith("model-x-run"))
    assert row.split()[-1] == "gpt-4o"


def test_the_model_row_is_named_by_name_then_file_then_generator_2(tmp_path):
    rows = varied_rows(30, model="example")  # alpaca_eval's NullModel writes generator "example"
    in_layout = alpaca_eval_layout(tmp_path, rows, model_folder="NullModel")
    assert [e["model"] for e in score_annotations(in_layout)] == ["NullModel"]
    assert [e["model"] for e in score_annotations(in_layout, name="my-run")] == ["my-run"]
    loose = tmp_path / "checkpoint-7.json"
    loose.write_text(json.dumps(rows), encoding="utf-8")
    assert [e["model"] for e in score_annotations(loose)] == ["checkpoint-7"]
    # Several models in one file: generator_2 is all there is to tell them apart; --name cannot apply.
    several = tmp_path / "all.json"
    several.write_text(json.dumps(rows + varied_rows(30, seed=8, model="other")), encoding="utf-8")
    assert sorted(e["model"] for e in score_annotations(several)) == ["example", "other"]
    with pytest.raises(TaskDataError, match="--name names one model, but the file holds 2"):
        score_annotations(several, name="x")


def test_outputs_exactly_as_long_as_the_baseline_are_an_error_as_in_alpaca_eval(tmp_path):
    from evalkit.run.alpaca_eval import EqualLengths

    rows = [annotation(f"q{i}", "x" * 500, "y" * 500, 1.2 + (i % 5) * 0.15, model="copy") for i in range(40)]
    path = alpaca_eval_layout(tmp_path, rows, model_folder="copy-of-gpt-4o")
    with pytest.raises(EqualLengths, match="copy-of-gpt-4o against gpt-4o: .* exactly as long"):
        score_annotations(path)
    cli = subprocess.run([sys.executable, "-m", "evalkit", "alpaca-eval", "score", "--annotations", str(path)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert cli.returncode == 2 and "exactly as long" in cli.stderr and len(cli.stderr.strip().splitlines()) == 1


def test_a_run_with_equal_lengths_keeps_its_win_rate_and_names_why_lc_is_missing(tmp_path):
    """In a finished run the LC is left out (with the reason), not invented; the raw win-rate and counts stay."""
    from types import SimpleNamespace

    from evalkit.run.alpaca_eval import per_reference_outcome
    from evalkit.types import Completion

    ids = [f"q{i}" for i in range(6)]
    answers = {q: [Completion(text="a" * 40, finish_reason="stop")] for q in ids}
    reference = SimpleNamespace(answers={q: ["b" * 40] for q in ids}, source="bundled")
    run = SimpleNamespace(output_root=tmp_path, prepared=SimpleNamespace(task=SimpleNamespace(name="alpaca_eval")),
                          lang="ru", judge=SimpleNamespace(model="judge-x"), references={"gpt-4o": reference},
                          model="m")  # fmt: skip
    records = [{"question_id": q, "reference": "gpt-4o", "preference": 2.0 if i % 2 else 1.0}
               for i, q in enumerate(ids)]
    outcome = per_reference_outcome(run, records, answers)
    numbers = outcome.extra["per_reference"]["gpt-4o"]
    assert numbers["lc_win_rate"] is None and "exactly as long" in numbers["lc_undefined"]
    assert numbers["win_rate"] == 50.0 and numbers["n_wins"] == 3 and numbers["n_draws"] == 0
    assert "lc_win_rate" not in outcome.metrics and outcome.metrics["win_rate"].value == 50.0
    assert outcome.extra["lc_formula"] == numbers["lc_formula"] == "length_controlled_minimal"


def test_bad_annotations_name_the_row(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([annotation("q", "a", "b", 2.0), {"output_1": "a"}]))
    with pytest.raises(TaskDataError, match=r"annotations.json\[1\]: field 'output_2'"):
        score_annotations(path)


@pytest.mark.parametrize("lang", ["ru", "pl"])
def test_samples_have_handwritten_reference_answers(lang):
    task = load_task("alpaca_eval")
    samples = task.load(lang, "samples")
    assert len(samples) >= 12
    for sample in samples:
        assert sample.id == instruction_id(sample.fields["instruction"])
        assert sample.fields["output"] and sample.metadata["generator"] == "handwritten"


def test_few_annotations_still_fit():
    # Fewer instructions than CV folds (a --limit run): as many folds as rows; one row: alpaca_eval's fixed C.
    three = length_controlled_win_rate([2.0, 1.2, 1.9], [900, 300, 700], [500, 500, 500])
    assert 0 < three.lc_win_rate < 100
    one = length_controlled_win_rate([2.0], [900], [500])
    assert one.c == 100.0 and 50 < one.lc_win_rate < 100


def alpaca_eval_glm():
    """alpaca_eval's own metrics/glm_winrate module (a dev dependency). Its utils module imports
    pkg_resources only for version helpers the GLM never calls; recent setuptools no longer ships it."""
    import types

    sys.modules.setdefault("pkg_resources", types.ModuleType("pkg_resources"))
    return pytest.importorskip("alpaca_eval.metrics.glm_winrate")


def reference_inputs(tmp_path, n=120, seed=4):
    """Annotations of one model against a baseline, and the two files alpaca_eval downloads from the hub."""
    rng = np.random.default_rng(seed)
    preferences, model_lengths, reference_lengths = synthetic(n, seed, length_effect=-1.5, skill=0.4, longer_share=0.7)
    preferences = np.where(rng.random(n) < 0.1, np.round(preferences), preferences)  # some hard labels
    preferences[5] = np.nan  # one annotation missing
    rows = [annotation(f"instruction {i}", "r" * int(reference_lengths[i]), "m" * int(model_lengths[i]),
                       None if np.isnan(preferences[i]) else float(preferences[i])) for i in range(n)]
    difficulty = rng.normal(0, 1, n)
    gamed = tmp_path / "df_gamed.csv"
    lines = ["model,index,preference,std_delta_len,instruction_difficulty,not_gamed_baseline"]
    for name, sign in (("gamed_verbose", -1.0), ("gamed_concise", 1.0)):
        for i in range(n):
            std_delta = sign * abs(rng.normal(1.0, 0.5))
            pref = 1 / (1 + np.exp(-(-1.5 * np.tanh(std_delta) + 0.3 * difficulty[i])))
            lines.append(f"{name},{i},{pref:.6f},{std_delta:.6f},{difficulty[i]:.6f},False")
    gamed.write_text("\n".join(lines) + "\n")
    (tmp_path / "instruction_difficulty.csv").write_text(
        "index,instruction_difficulty\n" + "".join(f"{i},{difficulty[i]:.6f}\n" for i in range(n)))
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return rows, path


@pytest.mark.parametrize("glm_name", ["length_controlled_minimal", "length_controlled_noreg", "length_controlled_v1"])
def test_equals_alpaca_eval_on_identical_annotations(tmp_path, monkeypatch, glm_name):
    import pandas as pd

    glm = alpaca_eval_glm()
    rows, path = reference_inputs(tmp_path)
    monkeypatch.setattr(glm, "hf_hub_download", lambda repo_id, filename, **kwargs: str(tmp_path / filename))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = glm.get_length_controlled_winrate(pd.DataFrame(rows), glm_name=glm_name, save_weights_dir=None,
                                                   is_warn_extreme_changes=False)
    files = {"length_controlled_minimal": {},
             "length_controlled_noreg": {"difficulty_path": tmp_path / "instruction_difficulty.csv"},
             "length_controlled_v1": {"gamed_path": tmp_path / "df_gamed.csv"}}[glm_name]
    ours = score_annotations(path, **files)[0]
    assert ours["formula"] == glm_name
    assert ours["lc_win_rate"] == pytest.approx(theirs["length_controlled_winrate"], abs=1e-6)
    assert ours["lc_standard_error"] == pytest.approx(theirs["lc_standard_error"], abs=1e-6)
    assert ours["win_rate"] == pytest.approx(theirs["win_rate"], abs=1e-9)
    assert ours["standard_error"] == pytest.approx(theirs["standard_error"], abs=1e-9)
    assert ours["discrete_win_rate"] == pytest.approx(theirs["discrete_win_rate"], abs=1e-9)
    assert (ours["n_wins"], ours["n_draws"], ours["n_total"]) == (theirs["n_wins"], theirs["n_draws"],
                                                                 theirs["n_total"])


def test_instruction_difficulty_is_estimated_jointly_from_the_results_store(tmp_path):
    from evalkit.run.alpaca_eval import MIN_MODELS_FOR_DIFFICULTY, joint_difficulty

    rng = np.random.default_rng(9)
    ids = [f"q{i:02d}" for i in range(60)]
    easiness = rng.normal(0, 1.5, len(ids))  # how much any model beats the reference on each instruction

    def write_model(name, skill):
        folder = tmp_path / name / "alpaca_eval" / "ru"
        folder.mkdir(parents=True)
        rows = []
        for qid, ease in zip(ids, easiness, strict=True):
            model_length, reference_length = int(rng.integers(200, 900)), int(rng.integers(200, 900))
            p = 1 / (1 + np.exp(-(skill + ease)))
            rows.append({"question_id": qid, "model": name, "reference": "gpt-4o", "judge": "judge-x",
                         "preference": float(1 + p), "model_length": model_length,
                         "reference_length": reference_length, "request_key": f"{name}-{qid}", "game_slot": 0})
        (folder / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    for index in range(MIN_MODELS_FOR_DIFFICULTY - 1):
        write_model(f"m{index}", skill=index * 0.5 - 0.5)
    gamma, models = joint_difficulty(tmp_path, "alpaca_eval", "ru", "judge-x", ids)
    assert gamma is None and models == MIN_MODELS_FOR_DIFFICULTY - 1  # too few: the minimal formula
    unkeyed = tmp_path / "old" / "alpaca_eval" / "ru"  # verdicts written before they were keyed never count
    unkeyed.mkdir(parents=True)
    old = [{"question_id": q, "model": "old", "reference": "gpt-4o", "judge": "judge-x", "preference": 2.0,
            "model_length": 300, "reference_length": 300} for q in ids]
    (unkeyed / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert joint_difficulty(tmp_path, "alpaca_eval", "ru", "judge-x", ids)[1] == MIN_MODELS_FOR_DIFFICULTY - 1
    write_model("m9", skill=1.0)
    gamma, models = joint_difficulty(tmp_path, "alpaca_eval", "ru", "judge-x", ids)
    assert models == MIN_MODELS_FOR_DIFFICULTY and gamma[ids[0]] == 0.0  # treatment coding: the first is 0
    estimated = np.array([gamma[q] for q in ids])
    assert np.corrcoef(estimated[1:], easiness[1:])[0, 1] > 0.9
    assert joint_difficulty(tmp_path, "alpaca_eval", "ru", "another-judge", ids)[0] is None


def test_switch_coin_is_seeded_by_the_instruction_and_balanced():
    # alpaca_eval seeds Python's random with "is_switched_outputs" + instruction + "123": the same instruction
    # always gets the same order, and over many instructions about half are switched.
    from evalkit.run.alpaca_eval import is_switched

    assert is_switched("Как штаты США получили свои названия?") == is_switched("Как штаты США получили свои названия?")
    share = sum(is_switched(f"instruction {i}") for i in range(2000)) / 2000
    assert 0.45 < share < 0.55
