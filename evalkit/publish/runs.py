"""A finished run as the publishing side reads it: results/<model>/<task>/<lang>/summary.json (`Run`), the
task facts a table needs (`TaskInfo`), and how a summary value is shown. Shared by the leaderboard, the gate and
the trend, which import it and never each other's tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.run.plugins import BUILTIN_TASKS, load_task
from evalkit.types import finite_number

MISSING = "—"
#: Beside a number from an incomplete run (items failed after retries; the number is over the answered ones).
INCOMPLETE_MARK = "⚠"
#: Languages in the order the leaderboard shows them (others follow alphabetically).
LANG_ORDER = ("ru", "pl", "uk", "cs", "sr", "en")
TASK_TITLES = {"mmlu_pro": "MMLU-Pro", "gsm8k": "GSM8K", "math": "MATH", "mbpp": "MBPP pass@1",
               "humaneval": "HumanEval pass@1"}  # fmt: skip
#: Metrics whose summary values are fractions in [0, 1] (shown as percent); others keep their own unit.
UNITS = {"score": {"arena_hard": "%", "mt_bench": "rating"}, "turn1": "rating", "turn2": "rating",
         "lc_win_rate": "%", "win_rate": "%", "avg_symbols": "characters", "index_diff": "ids",
         "in_language": "%"}  # fmt: skip
#: Metrics that are fractions in [0, 1] in every task, judged arenas included.
FRACTION_METRICS = frozenset({"in_language"})


@dataclass(frozen=True)
class Run:
    """One results/<model>/<task>/<lang>/summary.json."""

    model: str  # the results folder name: unique per run, what the tables show
    task: str  # the folder name: `lm_eval__<task>` for bridged tasks
    lang: str
    summary: Mapping[str, Any]
    path: Path

    def metric(self, name: str) -> float | None:
        return finite_number((self.summary.get("metrics") or {}).get(name, {}).get("value"))

    def stderr(self, name: str) -> float | None:
        return finite_number(((self.summary.get("metrics") or {}).get(name) or {}).get("stderr"))

    @property
    def extra(self) -> Mapping[str, Any]:
        return self.summary.get("extra") or {}

    @property
    def n_errors(self) -> int:
        value = self.summary.get("n_errors")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    @property
    def status(self) -> str:
        """`complete` or `incomplete` as the summary says; summaries from before the field: by n_errors."""
        status = self.summary.get("status")
        if status == "incomplete" or self.n_errors or self.errors:  # any sign of a failed item counts
            return "incomplete"
        return "complete"

    @property
    def incomplete(self) -> bool:
        return self.status == "incomplete"

    @property
    def errors(self) -> dict[str, int]:
        """Each distinct error text -> count, most frequent first (summary.json's `errors`; {} in old ones)."""
        found = self.summary.get("errors")
        if not isinstance(found, Mapping):
            return {}
        counts = {str(k): int(v) for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    @property
    def first_error(self) -> str | None:
        return short_error(next(iter(self.errors), None))

    def failure(self) -> str:
        """`4 of 12 items failed (HTTP 503: ...)`: what an incomplete run's mark stands for, on one line."""
        n = self.summary.get("n")
        count = f"{self.n_errors} of {n}" if isinstance(n, int) else str(self.n_errors)
        first = self.first_error
        more = len(self.errors) - 1
        named = f"; first error: {first}" + (f" (+{more} other error{'s' if more > 1 else ''})" if more > 0 else "")
        if not self.n_errors:  # marked incomplete without a count (an interrupted run)
            return "incomplete run" + (named if first else "")
        return f"{count} items failed" + (named if first else "")


@dataclass(frozen=True)
class TaskInfo:
    title: str
    primary: str
    chance: float | None
    fraction: bool  # values are fractions in [0, 1]


def short_error(text: str | None, limit: int = 160) -> str | None:
    """An error message on one line, cut to `limit` characters (a server may answer with a whole HTML page)."""
    if text is None:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def task_info(task: str, summary: Mapping[str, Any]) -> TaskInfo:
    """What the leaderboard shows for a task: the plugin's declared primary metric and chance level."""
    if task in BUILTIN_TASKS:
        plugin = load_task(task)
        primary = plugin.primary_metric or plugin.metrics[0]
        fraction = task not in ("arena_hard", "mt_bench", "alpaca_eval")
        return TaskInfo(TASK_TITLES.get(task, task), primary, plugin.chance_level, fraction)
    metrics = list((summary.get("metrics") or {}).keys())
    if task.startswith("lm_eval__"):  # lm-eval's scored metrics are keyed `metric/filter`; others (sample_len) are not
        scored = [m for m in metrics if "/" in m]
        return TaskInfo(task.replace("lm_eval__", "lm-eval "), (scored or metrics or [""])[0], None, True)
    return TaskInfo(task, metrics[0] if metrics else "", None, True)


def unit(task: str, metric: str, info: TaskInfo) -> str:
    declared = UNITS.get(metric)
    if isinstance(declared, dict):
        return declared.get(task, "%" if info.fraction else "")
    if declared is not None:
        return declared
    return "%" if info.fraction else ""


def shown(task: str, metric: str, value: float | None, info: TaskInfo) -> float | None:
    """A summary value in the unit the tables use (fractions become percent)."""
    if value is None:
        return None
    fraction = info.fraction or metric in FRACTION_METRICS
    return value * 100 if unit(task, metric, info) == "%" and fraction else value


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout without a file descriptor (captured in tests)
        pass
