"""Checkpoint trends: every headline metric of a training run's checkpoints against the step, with CIs and the
gate's verdict between consecutive checkpoints — the report a team reads every morning of a training run.

`evalkit trend results/ckpt-* [--order step|name] [--output DIR]` writes `trend.md` (one table per language:
a row per checkpoint, a column per task and language, value ± 1.96 SE, and ↓ where the gate finds a
regression against the previous checkpoint) and `trend_<lang>.png` (one line per task, the 95% CI as a band,
a red marker on each regression).

The step of a checkpoint is the `step` given at run time (`evalkit run --step N`, in `extra.step`), else the
last number in its results folder name (`--name ckpt-1200` → 1200).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import UserError
from evalkit.gate import GateMisuse, compare, difference, load_runs
from evalkit.leaderboard import LANG_ORDER, MISSING, Run, shown, task_info
from evalkit.records import atomic_write_text

Z95 = 1.959963984540054


class TrendError(UserError, ValueError):
    """Checkpoints that cannot be ordered or compared; the message names the folder."""


@dataclass(frozen=True)
class Checkpoint:
    name: str
    step: float | None
    runs: dict[tuple[str, str], Run]


@dataclass(frozen=True)
class Point:
    """One task/language at one checkpoint: the headline value and its CI in the leaderboard's unit."""

    value: float | None
    low: float | None
    high: float | None
    regression: bool  # the gate failed this task against the previous checkpoint


def step_of(folder: Path, runs: dict[tuple[str, str], Run]) -> float | None:
    """`extra.step` from any of the checkpoint's summaries, else the last number in the folder name."""
    for run in runs.values():
        step = run.extra.get("step")
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            return float(step)
    numbers = re.findall(r"\d+(?:\.\d+)?", folder.name)
    return float(numbers[-1]) if numbers else None


def load_checkpoints(folders: Sequence[Path], order: str) -> list[Checkpoint]:
    checkpoints = []
    for folder in folders:
        try:
            runs = load_runs(folder)
        except GateMisuse as exc:
            raise TrendError(str(exc)) from None
        checkpoints.append(Checkpoint(folder.name, step_of(folder, runs), runs))
    if order == "step":
        missing = [c.name for c in checkpoints if c.step is None]
        if missing:
            raise TrendError(f"no step for {', '.join(missing)}: run with --step N, put the step in the folder name "
                             "(--name ckpt-1200), or use --order name")  # fmt: skip
        return sorted(checkpoints, key=lambda c: (c.step, c.name))
    return sorted(checkpoints, key=lambda c: c.name)


def point(run: Run | None, regression: bool) -> Point:
    if run is None:
        return Point(None, None, None, False)
    info = task_info(run.task, run.summary)
    value = shown(run.task, info.primary, run.metric(info.primary), info)
    if value is None:
        return Point(None, None, None, False)
    ci = run.extra.get("ci")
    if run.task == "arena_hard" and isinstance(ci, list) and len(ci) == 2 and None not in ci:
        return Point(value, float(ci[0]), float(ci[1]), regression)
    stderr = run.stderr(info.primary)
    scaled = shown(run.task, info.primary, stderr, info) if stderr is not None else None
    if scaled is None or not math.isfinite(scaled):
        return Point(value, None, None, regression)
    return Point(value, value - Z95 * scaled, value + Z95 * scaled, regression)


def trend_points(checkpoints: Sequence[Checkpoint], max_drop: float, alpha: float, rounds: int,
                 seed: int) -> dict[tuple[str, str], list[Point]]:  # fmt: skip
    """(task, lang) -> one Point per checkpoint, with the gate run between each checkpoint and the previous one."""
    keys = sorted({key for c in checkpoints for key in c.runs})
    series: dict[tuple[str, str], list[Point]] = {}
    for key in keys:
        points = []
        for index, checkpoint in enumerate(checkpoints):
            run = checkpoint.runs.get(key)
            previous = checkpoints[index - 1].runs.get(key) if index else None
            regressed = False
            if run is not None and previous is not None and difference(previous, run) is None:
                try:
                    regressed = compare(previous, run, max_drop, alpha, rounds, seed).regression
                except GateMisuse:
                    regressed = False  # not comparable item by item (no shared ids): shown, not gated
            points.append(point(run, regressed))
        series[key] = points
    return series


def _languages(series: dict[tuple[str, str], list[Point]]) -> list[str]:
    langs = {lang for _, lang in series}
    return sorted(langs, key=lambda x: (LANG_ORDER.index(x) if x in LANG_ORDER else 99, x))


def render_markdown(checkpoints: Sequence[Checkpoint], series: dict[tuple[str, str], list[Point]],
                    max_drop: float, alpha: float) -> str:  # fmt: skip
    lines = ["# Checkpoint trend", "",
             f"Headline metric per task (± 95% CI half-width); ↓ = the gate finds a drop of more than {max_drop:g} "
             f"points against the previous checkpoint (one-sided α = {alpha:g}).", ""]  # fmt: skip
    for lang in _languages(series):
        tasks = sorted(task for task, key_lang in series if key_lang == lang)
        lines += [f"## {lang}", "", "| checkpoint | step | " + " | ".join(tasks) + " |",
                  "|---|---|" + "---|" * len(tasks)]  # fmt: skip
        for index, checkpoint in enumerate(checkpoints):
            cells = []
            for task in tasks:
                p = series[(task, lang)][index]
                if p.value is None:
                    cells.append(MISSING)
                    continue
                half = f" ± {(p.high - p.low) / 2:.1f}" if p.low is not None and p.high is not None else ""
                cells.append(f"{p.value:.1f}{half}{' ↓' if p.regression else ''}")
            step = MISSING if checkpoint.step is None else f"{checkpoint.step:g}"
            lines.append(f"| {checkpoint.name} | {step} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def render_chart(path: Path, lang: str, checkpoints: Sequence[Checkpoint],
                 series: dict[tuple[str, str], list[Point]]) -> None:  # fmt: skip
    """One line per task with its CI band; red markers where the gate found a regression."""
    import matplotlib  # noqa: PLC0415 - optional and slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    xs = [c.step if c.step is not None else float(i) for i, c in enumerate(checkpoints)]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for task in sorted(task for task, key_lang in series if key_lang == lang):
        points = series[(task, lang)]
        known = [(x, p) for x, p in zip(xs, points, strict=True) if p.value is not None]
        if not known:
            continue
        line = axes.plot([x for x, _ in known], [p.value for _, p in known], marker="o", label=task)[0]
        banded = [(x, p) for x, p in known if p.low is not None and p.high is not None]
        if len(banded) > 1:
            axes.fill_between([x for x, _ in banded], [p.low for _, p in banded], [p.high for _, p in banded],
                              color=line.get_color(), alpha=0.15)  # fmt: skip
        drops = [(x, p.value) for x, p in known if p.regression]
        if drops:
            axes.scatter([x for x, _ in drops], [y for _, y in drops], color="red", marker="v", s=80, zorder=3)
    axes.set_xlabel("step")
    axes.set_ylabel("headline metric (%, MT-Bench rating)")
    axes.set_title(f"checkpoint trend — {lang}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def write_trend(folders: Sequence[Path], output: Path, order: str = "step", max_drop: float = 1.0,
                alpha: float = 0.05, rounds: int = 2000, seed: int = 0) -> list[Path]:  # fmt: skip
    if len(folders) < 2:
        raise TrendError("a trend needs at least two checkpoint folders (results/<model> each)")
    checkpoints = load_checkpoints(folders, order)
    series = trend_points(checkpoints, max_drop, alpha, rounds, seed)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in _languages(series):
        path = output / f"trend_{lang}.png"
        render_chart(path, lang, checkpoints, series)
        written.append(path)
    atomic_write_text(output / "trend.md", render_markdown(checkpoints, series, max_drop, alpha))
    return [output / "trend.md", *written]


def command_trend(args: argparse.Namespace) -> int:
    output = args.output or Path(args.checkpoints[0]).parent
    written = write_trend([Path(p) for p in args.checkpoints], output, args.order, args.max_drop, args.alpha,
                          args.rounds, args.seed)  # fmt: skip
    print(written[0].read_text(encoding="utf-8"))
    for path in written:
        print(path)
    return 0
