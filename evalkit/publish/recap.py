"""The end of `evalkit run`: one line per task and language (items, errors, seconds, headline number), the
caveats a reader must see next to those numbers, and what to run next.

A newcomer's first run ends here, so it says plainly when the numbers come from a quick slice or from a
judge too small to measure anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from evalkit.stats import minimum_detectable_drop
from evalkit.types import RunSummary

#: A judge this small is a pipeline check: its verdicts say nothing about quality.
SMOKE_TEST_JUDGES = ("local:smollm2",)


def headline(summary: RunSummary) -> str:
    """The task's primary number as the run printed it (`not scored` when no metric could be computed)."""
    if not summary.metrics:
        return "not scored"
    name, metric = next(iter(summary.metrics.items()))
    return f"{name} {metric.shown(3)}"


def in_language(summary: RunSummary) -> str:
    """The share of replies in the run's language, with the most frequent other language when there is one."""
    found = summary.extra.get("language") or {}
    if found.get("in_language") is None:
        return "—"
    return f"{100 * found['in_language']:.0f}%"


def detectable(summary: RunSummary) -> str:
    """The smallest drop of the headline metric a gate between two runs like this one would catch (α 0.05,
    power 0.8; two independent runs, so SE × √2 — a paired gate on the same items does at least as well)."""
    if not summary.metrics:
        return "—"
    from evalkit.publish.gate import MIN_UNITS  # noqa: PLC0415 - the gate pulls in the leaderboard (pandas)

    if summary.n - summary.n_errors < MIN_UNITS:  # as the gate says: no standard error from one or two items
        return "too small"
    name, metric = next(iter(summary.metrics.items()))
    if metric.stderr is None or not math.isfinite(metric.stderr) or metric.stderr == 0:
        return "—"
    from evalkit.publish.gate import points_scale  # noqa: PLC0415 - the gate pulls in the leaderboard (pandas)
    from evalkit.publish.runs import task_info  # noqa: PLC0415

    points = points_scale(summary.task, name, task_info(summary.task, summary.to_dict()))
    return f"{minimum_detectable_drop(math.sqrt(2) * metric.stderr * points, 0.05):.0f} pts"


def errors_of(summary: RunSummary) -> dict[str, int]:
    """Each distinct error -> count (summary.errors; {} for a summary object from before the field)."""
    found = getattr(summary, "errors", None)
    return dict(found) if isinstance(found, Mapping) else {}


def failed_items(summaries: Sequence[RunSummary]) -> list[str]:
    """The loud part of a recap: one line per task/language with failed items — how many, its share, and its most
    frequent error (the run's closing error list has every distinct error in full)."""
    lines = []
    for summary in summaries:
        if not summary.n_errors:
            continue
        share = 100 * summary.n_errors / summary.n if summary.n else 100.0
        errors = sorted(errors_of(summary).items(), key=lambda item: -item[1])
        most = ""
        if errors:
            text = " ".join(errors[0][0].split())
            most = f"; most frequent ({errors[0][1]}×): {text if len(text) <= 100 else text[:99] + '…'}"
            most += f" (+{len(errors) - 1} other)" if len(errors) > 1 else ""
        lines.append(f"ERRORS {summary.task}/{summary.lang}: {summary.n_errors} of {summary.n} items failed "
                     f"({share:.0f}%), not scored: its numbers are over the {max(0, summary.n - summary.n_errors)} "
                     f"answered items{most}")  # fmt: skip
    return lines


def recap_lines(summaries: Sequence[RunSummary], results: str, wall_s: float) -> list[str]:
    """The closing table of a run and its notes. `results` is the run's folder, <output>/<model>."""
    minutes, seconds = divmod(int(round(wall_s)), 60)
    lines = [f"finished in {minutes} min {seconds:02d} s; results in {results}", ""]
    width = max([len(f"{s.task}/{s.lang}") for s in summaries] + [10])
    lines.append(f"{'task/lang':<{width}}  {'items':>5}  {'errors':>6}  {'seconds':>7}  {'in-lang':>7}  "
                 f"{'gate sees':>9}  headline")  # fmt: skip
    for summary in summaries:
        errors = f"{summary.n_errors} !" if summary.n_errors else "0"
        shown = headline(summary) + ("  ⚠ INCOMPLETE" if summary.n_errors else "")
        lines.append(f"{summary.task + '/' + summary.lang:<{width}}  {summary.n:>5}  {errors:>6}  "
                     f"{summary.duration_s:>7.1f}  {in_language(summary):>7}  {detectable(summary):>9}  "
                     f"{shown}")  # fmt: skip
    failed = failed_items(summaries)
    lines += [""] + (failed + [""] if failed else []) + caveats(summaries) + next_steps(summaries, results)
    return lines


def caveats(summaries: Sequence[RunSummary]) -> list[str]:
    notes = []
    slices = {(s.data.get("limit"), s.data.get("max_tokens_cap")) for s in summaries}
    capped = sorted((pair for pair in slices if pair != (None, None)), key=str)
    for limit, cap in capped:
        parts = [f"the first {limit} items of each task and language" if limit is not None else "",
                 f"at most {cap} new tokens per reply" if cap is not None else ""]  # fmt: skip
        notes.append(f"note: a quick slice ({', '.join(p for p in parts if p)}): these numbers show that every "
                     "path works, not how good the model is (`make eval-full` runs every bundled item)")
    judges = sorted({str(s.extra.get("judge")) for s in summaries if s.extra.get("judge") in SMOKE_TEST_JUDGES})
    for judge in judges:
        notes.append(f"note: the judge {judge} is the embedded 135M model (judge mode: choice, one constrained "
                     "token read from its logprobs): its verdicts are a smoke test of the judged pipeline, "
                     "not a measurement; use --judge with a strong model for real numbers")
    return notes


def next_steps(summaries: Sequence[RunSummary], results: str = "results/<model>") -> list[str]:
    """What to run next, with the paths of this run (`evalkit run --output DIR` puts results under DIR)."""
    folder = PurePath(results)
    root = folder.parent
    default = root == PurePath("results")
    publish = "make leaderboard         " if default else f"evalkit leaderboard --results {root}"
    steps = [f"next: {publish}  ({root / 'leaderboard.md'}, .csv, .json and charts)",
             "      make eval MODEL=openai:NAME@http://HOST:PORT/v1 JUDGE=openai:gpt-4o   (a real model and judge)",
             "      make eval-full DATA=full  (the pinned Hugging Face datasets; needs the hub)",
             f"      evalkit gate --baseline {root / 'BASELINE'} --candidate {folder}   (a regression gate; "
             f"evalkit trend {root / 'ckpt-*'} for checkpoints)"]  # fmt: skip
    if any(s.n_errors for s in summaries):
        steps.append(f"      errors above: each failed item has its `error` in {folder}/<task>/<lang>/samples.jsonl "
                     "(answers.jsonl for judged runs); running the same command again retries only what failed")
    return steps
