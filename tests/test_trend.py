"""`evalkit trend`: checkpoints ordered by step, a table and a PNG per language, the gate's verdict between
consecutive checkpoints marked."""

import json

import numpy as np
import pytest
from test_gate import write_run

from evalkit.cli import main
from evalkit.publish.trend import TrendError, load_checkpoints, trend_points


def checkpoint(root, name, scores, lang="ru", step=None):
    folder = write_run(root, name, scores, lang=lang)
    if step is not None:
        path = folder / "gsm8k" / lang / "summary.json"
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["extra"]["step"] = step
        path.write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_trend_orders_by_step_and_marks_the_planted_drop(tmp_path):
    rng = np.random.default_rng(0)
    good = (rng.random(400) < 0.6).astype(float)
    better = good.copy()
    better[np.flatnonzero(good == 0)[:8]] = 1.0  # +2 points
    worse = better.copy()
    worse[np.flatnonzero(better == 1)[:40]] = 0.0  # -10 points: a real regression
    folders = [checkpoint(tmp_path, "ckpt-1000", worse), checkpoint(tmp_path, "ckpt-200", good),
               checkpoint(tmp_path, "ckpt-500", better)]  # fmt: skip
    ordered, how = load_checkpoints(folders, "step", step_pattern=r"ckpt-(\d+)")
    assert [c.step for c in ordered] == [200, 500, 1000]  # numeric, not the folders' lexical order
    assert how == "Ordered by step (`--step` of each run, else --step-pattern 'ckpt-(\\\\d+)')."
    series = trend_points(ordered, max_drop=1.0, alpha=0.05, rounds=2000, seed=0)
    points = series[("gsm8k", "ru")]
    assert [p.regression for p in points] == [False, False, True]
    assert points[1].value == pytest.approx(100 * better.mean())
    assert points[0].low < points[0].value < points[0].high

    out = tmp_path / "report"
    assert main(["trend", *map(str, folders), "--output", str(out), "--step-pattern", r"ckpt-(\d+)"]) == 0
    text = (out / "trend.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ckpt-")]
    assert [r.split("|")[1].strip() for r in rows] == ["ckpt-200", "ckpt-500", "ckpt-1000"]
    assert "↓" in rows[2] and "↓" not in rows[0] + rows[1]
    png = (out / "trend_ru.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_step_recorded_at_run_time_wins_over_the_folder_name(tmp_path):
    a = checkpoint(tmp_path, "late-run", [1.0, 0.0, 1.0], step=10)
    b = checkpoint(tmp_path, "early-run-99", [1.0, 0.0, 1.0], step=5)
    assert [c.name for c in load_checkpoints([a, b], "step")[0]] == ["early-run-99", "late-run"]


def test_a_checkpoint_without_a_step_is_named_when_the_others_have_one(tmp_path):
    a = checkpoint(tmp_path, "final", [1.0, 0.0])
    b = checkpoint(tmp_path, "ckpt-3", [1.0, 0.0], step=3)
    with pytest.raises(TrendError, match="no step for final"):
        load_checkpoints([a, b], "step")
    assert [c.name for c in load_checkpoints([a, b], "name")[0]] == ["ckpt-3", "final"]
    assert main(["trend", str(a), str(b), "--output", str(tmp_path / "out")]) == 2


def test_digits_in_a_name_are_not_a_step_without_a_pattern(tmp_path, capsys):
    # `local__smollm2` is not step 2 and `ckpt-a7b` not step 7: without steps, name order, and the report says so.
    folders = [checkpoint(tmp_path, "local__smollm2", [1.0, 0.0, 1.0]), checkpoint(tmp_path, "ckpt-a7b", [1.0] * 3),
               checkpoint(tmp_path, "base", [0.0, 0.0, 1.0])]  # fmt: skip
    ordered, how = load_checkpoints(folders, "step")
    assert [c.name for c in ordered] == ["base", "ckpt-a7b", "local__smollm2"]
    assert all(c.step is None for c in ordered) and how.startswith("Ordered by folder name: no checkpoint has a step")
    out = tmp_path / "out"
    assert main(["trend", *map(str, folders), "--output", str(out)]) == 0
    text = (out / "trend.md").read_text(encoding="utf-8")
    assert "Ordered by folder name: no checkpoint has a step" in text
    assert "| local__smollm2 | — |" in text and "| ckpt-a7b | — |" in text


def test_an_explicit_step_pattern_reads_the_step_or_names_the_folder(tmp_path, capsys):
    a = checkpoint(tmp_path, "run-step1200-lr3", [1.0, 0.0, 1.0])
    b = checkpoint(tmp_path, "run-step300-lr3", [1.0, 0.0, 1.0])
    ordered, _ = load_checkpoints([a, b], "step", step_pattern=r"step(\d+)")
    assert [(c.name, c.step) for c in ordered] == [("run-step300-lr3", 300), ("run-step1200-lr3", 1200)]
    c = checkpoint(tmp_path, "final", [1.0, 0.0, 1.0])
    with pytest.raises(TrendError, match="does not match the folder name 'final'"):
        load_checkpoints([a, c], "step", step_pattern=r"step(\d+)")
    assert main(["trend", str(a), str(b), "--step-pattern", "step(", "--output", str(tmp_path / "o")]) == 2
    assert "not a regular expression" in capsys.readouterr().err


def test_no_interval_at_one_or_two_items(tmp_path):
    folders = [checkpoint(tmp_path, "a", [1.0, 0.0], step=1), checkpoint(tmp_path, "b", [1.0], step=2),
               checkpoint(tmp_path, "c", [1.0, 0.0, 1.0, 1.0], step=3)]  # fmt: skip
    out = tmp_path / "out"
    assert main(["trend", *map(str, folders), "--output", str(out)]) == 0
    rows = {line.split("|")[1].strip(): line for line in (out / "trend.md").read_text("utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| checkpoint")}  # fmt: skip
    assert "50.0 (n = 2)" in rows["a"] and "100.0 (n = 1)" in rows["b"]
    assert "±" not in rows["a"] + rows["b"] and "75.0 ± " in rows["c"]


def incomplete(folder, lang="ru", n_errors=4, errors=None):
    path = folder / "gsm8k" / lang / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary.update(status="incomplete", n_errors=n_errors, errors=errors or {"HTTP 503: Service Unavailable": 4})
    path.write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_an_incomplete_checkpoint_is_refused_unless_errors_are_allowed(tmp_path, capsys):
    a = checkpoint(tmp_path, "a", [1.0, 0.0, 1.0, 1.0], step=1)
    b = incomplete(checkpoint(tmp_path, "b", [1.0, 0.0, 1.0, 1.0], step=2))
    out = tmp_path / "out"
    assert main(["trend", str(a), str(b), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "b gsm8k/ru: 4 of 4 items failed" in err and "--allow-errors" in err
    assert not (out / "trend.md").exists()
    assert main(["trend", str(a), str(b), "--output", str(out), "--allow-errors"]) == 0
    text = (out / "trend.md").read_text(encoding="utf-8")
    assert "| b | 2 | 75.0⚠" in text and "- b gsm8k/ru: 4 of 4 items failed; first error: HTTP 503" in text


def test_an_old_summary_with_errors_counts_as_incomplete(tmp_path):
    a = checkpoint(tmp_path, "a", [1.0, 0.0, 1.0], step=1)
    b = checkpoint(tmp_path, "b", [1.0, 0.0, 1.0], step=2)
    path = b / "gsm8k" / "ru" / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["n_errors"] = 1  # from before `status` and `errors` existed
    path.write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(TrendError, match="b gsm8k/ru: 1 of 3 items failed"):
        load_checkpoints([a, b], "step")


def test_the_leaderboard_adds_the_trend_when_runs_carry_a_step(tmp_path):
    rng = np.random.default_rng(1)
    scores = (rng.random(60) < 0.5).astype(float)
    checkpoint(tmp_path, "ckpt-a", scores, step=100)
    checkpoint(tmp_path, "ckpt-b", scores, step=200)
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "trend.md").is_file() and (tmp_path / "trend_ru.png").is_file()
    assert "Checkpoint trend of the 2 runs made with --step" in (tmp_path / "leaderboard.md").read_text("utf-8")
