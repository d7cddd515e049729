"""Checkpoint trends: every headline metric of a training run's checkpoints against the step, with CIs and the
gate's verdict between consecutive checkpoints — the report a team reads every morning of a training run.

`evalkit trend results/ckpt-* [--order step|name] [--output DIR]` writes `trend.md` (one table per language:
a row per checkpoint, a column per task and language, value ± 1.96 SE, and ↓ where the gate finds a
regression against the previous checkpoint) and `trend_<lang>.png` (one line per task, the 95% CI as a band,
a red marker on each regression).

The step of a checkpoint is the `step` given at run time (`evalkit run --step N`, in `extra.step`), else what
an explicit `--step-pattern REGEX` reads from its results folder name (`--step-pattern 'ckpt-(\\d+)'`: ckpt-1200
→ 1200). Digits are never guessed from a name (`local__smollm2` is not step 2): without steps the checkpoints
are ordered by folder name, and trend.md says so.

A checkpoint with failed items (summary status `incomplete`) is refused (exit 2) unless `--allow-errors`; then
its cells carry ⚠ and a note names the errors. At n ≤ 2 a cell shows its n and no interval (a standard error
of one or two items is no interval at all).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import UserError
from evalkit.publish.gate import GateMisuse, answered_items, compare, difference, load_runs
from evalkit.publish.runs import INCOMPLETE_MARK, LANG_ORDER, MISSING, Run, shown, silence_stdout, task_info
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
    n: int | None = None  # the answered items the value stands on
    incomplete: bool = False  # the run has failed items (shown with --allow-errors only)


#: At this many answered items or fewer a cell shows its n instead of an interval.
NO_INTERVAL_AT = 2


def step_of(folder: Path, runs: dict[tuple[str, str], Run], pattern: re.Pattern[str] | None = None) -> float | None:
    """`extra.step` from any of the checkpoint's summaries, else what `pattern` reads from the folder name (its
    first group, else the whole match); None without either. Digits anywhere in a name are never a step."""
    for run in runs.values():
        step = run.extra.get("step")
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            return float(step)
    if pattern is None:
        return None
    found = pattern.search(folder.name)
    if found is None:
        raise TrendError(f"{folder}: --step-pattern {pattern.pattern!r} does not match the folder name "
                         f"{folder.name!r}")  # fmt: skip
    text = found.group(1) if pattern.groups else found.group(0)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise TrendError(f"{folder}: --step-pattern {pattern.pattern!r} reads {text!r} from {folder.name!r}, "
                         "not a number") from None  # fmt: skip


def compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TrendError(f"--step-pattern {pattern!r}: not a regular expression ({exc})") from None


def load_checkpoints(folders: Sequence[Path], order: str, step_pattern: str | None = None,
                     allow_errors: bool = False) -> tuple[list[Checkpoint], str]:  # fmt: skip
    """The checkpoints in trend order, and a sentence saying how they were ordered."""
    pattern = compile_pattern(step_pattern)
    checkpoints = []
    for folder in folders:
        try:
            runs = load_runs(folder)
        except GateMisuse as exc:
            raise TrendError(str(exc)) from None
        checkpoints.append(Checkpoint(folder.name, step_of(folder, runs, pattern), runs))
    failed = {(c.name, *key): run.failure() for c in checkpoints for key, run in c.runs.items() if run.incomplete}
    if failed and not allow_errors:
        named = "; ".join(f"{name} {task}/{lang}: {text}" for (name, task, lang), text in sorted(failed.items()))
        raise TrendError(f"incomplete checkpoints, not compared: {named} — run the same command again to retry the "
                         "failed items, or pass --allow-errors to show them marked ⚠")  # fmt: skip
    if order == "name":
        return sorted(checkpoints, key=lambda c: c.name), "Ordered by folder name (--order name)."
    missing = [c.name for c in checkpoints if c.step is None]
    if len(missing) == len(checkpoints):
        return sorted(checkpoints, key=lambda c: c.name), (
            "Ordered by folder name: no checkpoint has a step (`evalkit run --step N`, or `--step-pattern REGEX` "
            "to read it from the folder names).")  # fmt: skip
    if missing:
        raise TrendError(f"no step for {', '.join(missing)} (the others have one): run with --step N, give "
                         "--step-pattern REGEX to read it from the folder name, or use --order name")  # fmt: skip
    how = "`--step` of each run" + ("" if pattern is None else f", else --step-pattern {pattern.pattern!r}")
    return sorted(checkpoints, key=lambda c: (c.step, c.name)), f"Ordered by step ({how})."


def point(run: Run | None, regression: bool) -> Point:
    if run is None:
        return Point(None, None, None, False)
    info = task_info(run.task, run.summary)
    value = shown(run.task, info.primary, run.metric(info.primary), info)
    answered = answered_items(run)
    if value is None:
        return Point(None, None, None, False, answered, run.incomplete)
    if answered <= NO_INTERVAL_AT:  # a standard error of one or two items is no interval
        return Point(value, None, None, regression, answered, run.incomplete)
    ci = run.extra.get("ci")
    if run.task == "arena_hard" and isinstance(ci, list) and len(ci) == 2 and None not in ci:
        return Point(value, float(ci[0]), float(ci[1]), regression, answered, run.incomplete)
    stderr = run.stderr(info.primary)
    scaled = shown(run.task, info.primary, stderr, info) if stderr is not None else None
    if scaled is None or not math.isfinite(scaled):
        return Point(value, None, None, regression, answered, run.incomplete)
    return Point(value, value - Z95 * scaled, value + Z95 * scaled, regression, answered, run.incomplete)


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
                    max_drop: float, alpha: float, ordering: str = "") -> str:  # fmt: skip
    lines = ["# Checkpoint trend", "",
             f"Headline metric per task (± 95% CI half-width; at n ≤ {NO_INTERVAL_AT} answered items the n instead: "
             f"no interval); ↓ = the gate finds a drop of more than {max_drop:g} points against the previous "
             f"checkpoint (one-sided α = {alpha:g}). {ordering}".rstrip(), ""]  # fmt: skip
    for lang in _languages(series):
        tasks = sorted(task for task, key_lang in series if key_lang == lang)
        lines += [f"## {lang}", "", "| checkpoint | step | " + " | ".join(tasks) + " |",
                  "|---|---|" + "---|" * len(tasks)]  # fmt: skip
        for index, checkpoint in enumerate(checkpoints):
            cells = []
            for task in tasks:
                p = series[(task, lang)][index]
                mark = INCOMPLETE_MARK if p.incomplete else ""
                if p.value is None:
                    cells.append(MISSING + mark)
                    continue
                if p.low is not None and p.high is not None:
                    spread = f" ± {(p.high - p.low) / 2:.1f}"
                else:
                    spread = f" (n = {p.n})" if p.n is not None and p.n <= NO_INTERVAL_AT else ""
                cells.append(f"{p.value:.1f}{mark}{spread}{' ↓' if p.regression else ''}")
            step = MISSING if checkpoint.step is None else f"{checkpoint.step:g}"
            lines.append(f"| {checkpoint.name} | {step} | " + " | ".join(cells) + " |")
        lines.append("")
    failed = [f"- {c.name} {task}/{lang}: {run.failure()}" for c in checkpoints
              for (task, lang), run in sorted(c.runs.items()) if run.incomplete]  # fmt: skip
    if failed:
        lines += [f"{INCOMPLETE_MARK} Incomplete checkpoints (--allow-errors): their numbers are over the answered "
                  "items only, and failed items are neither right nor wrong.", *failed, ""]  # fmt: skip
    return "\n".join(lines)


def render_chart(path: Path, lang: str, checkpoints: Sequence[Checkpoint],
                 series: dict[tuple[str, str], list[Point]]) -> None:  # fmt: skip
    """One line per task with its CI band; red markers where the gate found a regression."""
    import matplotlib  # noqa: PLC0415 - optional and slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    by_name = any(c.step is None for c in checkpoints)
    xs = [float(i) if by_name else float(c.step or 0) for i, c in enumerate(checkpoints)]
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
    if by_name:  # no steps: the checkpoints in name order, one tick each
        axes.set_xticks(xs, [c.name for c in checkpoints], rotation=30, ha="right", fontsize="small")
    axes.set_xlabel("checkpoint (ordered by name: no steps)" if by_name else "step")
    axes.set_ylabel("headline metric (%, MT-Bench rating)")
    axes.set_title(f"checkpoint trend — {lang}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def write_trend(folders: Sequence[Path], output: Path, order: str = "step", max_drop: float = 1.0,
                alpha: float = 0.05, rounds: int = 2000, seed: int = 0, step_pattern: str | None = None,
                allow_errors: bool = False) -> list[Path]:  # fmt: skip
    if len(folders) < 2:
        raise TrendError("a trend needs at least two checkpoint folders (results/<model> each)")
    checkpoints, ordering = load_checkpoints(folders, order, step_pattern, allow_errors)
    series = trend_points(checkpoints, max_drop, alpha, rounds, seed)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in _languages(series):
        path = output / f"trend_{lang}.png"
        render_chart(path, lang, checkpoints, series)
        written.append(path)
    atomic_write_text(output / "trend.md", render_markdown(checkpoints, series, max_drop, alpha, ordering))
    return [output / "trend.md", *written]


def command_trend(args: argparse.Namespace) -> int:
    output = args.output or Path(args.checkpoints[0]).parent
    written = write_trend([Path(p) for p in args.checkpoints], output, args.order, args.max_drop, args.alpha,
                          args.rounds, args.seed, getattr(args, "step_pattern", None),
                          getattr(args, "allow_errors", False))  # fmt: skip
    try:
        print(written[0].read_text(encoding="utf-8"))
        for path in written:
            print(path)
        sys.stdout.flush()
    except BrokenPipeError:  # `evalkit trend ... | head`: the files are written; the rest of the output is dropped
        silence_stdout()
    return 0
