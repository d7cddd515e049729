"""`evalkit trend`: checkpoints ordered by step, a table and a PNG per language, the gate's verdict between
consecutive checkpoints marked."""

import json

import numpy as np
import pytest
from test_gate import write_run

from evalkit.cli import main
from evalkit.trend import TrendError, load_checkpoints, trend_points


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
    ordered = load_checkpoints(folders, "step")
    assert [c.step for c in ordered] == [200, 500, 1000]  # numeric, not the folders' lexical order
    series = trend_points(ordered, max_drop=1.0, alpha=0.05, rounds=2000, seed=0)
    points = series[("gsm8k", "ru")]
    assert [p.regression for p in points] == [False, False, True]
    assert points[1].value == pytest.approx(100 * better.mean())
    assert points[0].low < points[0].value < points[0].high

    out = tmp_path / "report"
    assert main(["trend", *map(str, folders), "--output", str(out)]) == 0
    text = (out / "trend.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ckpt-")]
    assert [r.split("|")[1].strip() for r in rows] == ["ckpt-200", "ckpt-500", "ckpt-1000"]
    assert "↓" in rows[2] and "↓" not in rows[0] + rows[1]
    png = (out / "trend_ru.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_step_recorded_at_run_time_wins_over_the_folder_name(tmp_path):
    a = checkpoint(tmp_path, "late-run", [1.0, 0.0, 1.0], step=10)
    b = checkpoint(tmp_path, "early-run-99", [1.0, 0.0, 1.0], step=5)
    assert [c.name for c in load_checkpoints([a, b], "step")] == ["early-run-99", "late-run"]


def test_a_checkpoint_without_a_step_is_named(tmp_path):
    a = checkpoint(tmp_path, "final", [1.0, 0.0])
    b = checkpoint(tmp_path, "ckpt-3", [1.0, 0.0])
    with pytest.raises(TrendError, match="no step for final"):
        load_checkpoints([a, b], "step")
    assert [c.name for c in load_checkpoints([a, b], "name")] == ["ckpt-3", "final"]


def test_the_leaderboard_adds_the_trend_when_runs_carry_a_step(tmp_path):
    rng = np.random.default_rng(1)
    scores = (rng.random(60) < 0.5).astype(float)
    checkpoint(tmp_path, "ckpt-a", scores, step=100)
    checkpoint(tmp_path, "ckpt-b", scores, step=200)
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "trend.md").is_file() and (tmp_path / "trend_ru.png").is_file()
    assert "Checkpoint trend of the 2 runs made with --step" in (tmp_path / "leaderboard.md").read_text("utf-8")
