"""The end of `evalkit run`: one line per task and language (items, errors, seconds, headline number), the
caveats a reader must see next to those numbers, and what to run next.

A newcomer's first run ends here, so it says plainly when the numbers come from a quick slice or from a
judge too small to measure anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    name, metric = next(iter(summary.metrics.items()))
    if metric.stderr is None or not math.isfinite(metric.stderr) or metric.stderr == 0:
        return "—"
    from evalkit.gate import points_scale  # noqa: PLC0415 - the gate pulls in the leaderboard (pandas)
    from evalkit.leaderboard import task_info  # noqa: PLC0415

    points = points_scale(summary.task, name, task_info(summary.task, summary.to_dict()))
    return f"{minimum_detectable_drop(math.sqrt(2) * metric.stderr * points, 0.05):.0f} pts"


def recap_lines(summaries: Sequence[RunSummary], results: str, wall_s: float) -> list[str]:
    """The closing table of a run and its notes."""
    minutes, seconds = divmod(int(round(wall_s)), 60)
    lines = [f"finished in {minutes} min {seconds:02d} s; results in {results}", ""]
    width = max([len(f"{s.task}/{s.lang}") for s in summaries] + [10])
    lines.append(f"{'task/lang':<{width}}  {'items':>5}  {'errors':>6}  {'seconds':>7}  {'in-lang':>7}  "
                 f"{'gate sees':>9}  headline")  # fmt: skip
    for summary in summaries:
        lines.append(f"{summary.task + '/' + summary.lang:<{width}}  {summary.n:>5}  {summary.n_errors:>6}  "
                     f"{summary.duration_s:>7.1f}  {in_language(summary):>7}  {detectable(summary):>9}  "
                     f"{headline(summary)}")  # fmt: skip
    lines += [""] + caveats(summaries) + next_steps(summaries)
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


def next_steps(summaries: Sequence[RunSummary]) -> list[str]:
    steps = ["next: make leaderboard          (results/leaderboard.md, .csv, .json and charts)",
             "      make eval MODEL=openai:NAME@http://HOST:PORT/v1 JUDGE=openai:gpt-4o   (a real model and judge)",
             "      make eval-full DATA=full  (the pinned Hugging Face datasets; needs the hub)",
             "      evalkit gate --baseline results/A --candidate results/B   (a regression gate; evalkit trend "
             "results/ckpt-* for checkpoints)"]
    if any(s.n_errors for s in summaries):
        steps.append("      errors above: see the `error` field of samples.jsonl / answers.jsonl; "
                     "running the same command again retries only what failed")
    return steps
