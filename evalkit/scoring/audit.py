"""`evalkit audit-extraction FILE.jsonl`: how well the answer readers read a model's style of reply.

Each row is (lang, task, output, expected[, finish_reason]): a reply and the answer a careful human grader
reads in it (null when the reply gives none). Every row goes through the task's own scorer, exactly as
`evalkit run` scores a reply, so the audit measures what a run would publish: a row is read right when the
scorer's headline metric is 1 against `expected` (for MATH: equivalence), or, for a null `expected`, when
the scorer finds no answer. A row with `finish_reason: "length"` is then re-read by the task's
`score_truncated`, as the runner re-reads a reply cut by the token limit. The report gives accuracy per
task x language and lists every miss with the rule that decided it: the check a team runs on a new model's
replies before trusting a number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.run.task import Task, TaskDataError, read_jsonl


@dataclass(frozen=True)
class AuditRow:
    where: str
    lang: str
    task: str
    output: str
    expected: str | None
    note: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class AuditResult:
    row: AuditRow
    correct: bool
    extracted: Mapping[str, Any]


@dataclass
class AuditReport:
    results: list[AuditResult] = field(default_factory=list)

    def cells(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(task, lang) -> (read right, rows)."""
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for result in self.results:
            key = (result.row.task, result.row.lang)
            right, total = out.get(key, (0, 0))
            out[key] = (right + result.correct, total + 1)
        return dict(sorted(out.items()))

    @property
    def accuracy(self) -> float:
        return sum(r.correct for r in self.results) / len(self.results) if self.results else 0.0

    def misses(self) -> list[AuditResult]:
        return [r for r in self.results if not r.correct]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.results),
            "accuracy": self.accuracy,
            "cells": [{"task": t, "lang": lang, "right": r, "n": n, "accuracy": r / n}
                      for (t, lang), (r, n) in self.cells().items()],
            "misses": [{"where": m.row.where, "task": m.row.task, "lang": m.row.lang, "expected": m.row.expected,
                        "extracted": dict(m.extracted), "note": m.row.note} for m in self.misses()],
        }  # fmt: skip


def read_rows(path: Path) -> list[AuditRow]:
    """Audit rows from a JSONL file; a bad row is an error naming the file, line and field."""
    rows = []
    for row in read_jsonl(path):
        where = f"{path}:{row.get('_line', '?')}"
        for name in ("lang", "task", "output"):
            if not isinstance(row.get(name), str):
                raise TaskDataError(f"{where}: field {name!r} must be a string")
        expected = row.get("expected")
        if expected is not None and not isinstance(expected, (str, int, float)):
            raise TaskDataError(f"{where}: field 'expected' must be a string, a number or null")
        rows.append(AuditRow(where, row["lang"], row["task"], row["output"],
                             None if expected is None else str(expected), str(row.get("note", "")), row))  # fmt: skip
    return rows


def audit(rows: Sequence[AuditRow], load: Callable[[str], Task]) -> AuditReport:
    """Score every row with its task's scorer (tasks loaded once each through `load`)."""
    tasks: dict[str, Task] = {}
    report = AuditReport()
    for row in rows:
        if row.task not in tasks:
            tasks[row.task] = load(row.task)
        task = tasks[row.task]
        sample = task.audit_sample(row.expected, row.raw)
        score = task.score(sample, row.output, row.lang)
        if row.raw.get("finish_reason") == "length":  # as the runner does: a reply cut by the token limit
            score = task.score_truncated(sample, score, row.lang)
        if row.expected is None:
            correct = score.values.get("no_answer") == 1.0
        else:
            correct = score.values.get(task.primary_metric or task.metrics[0]) == 1.0
        report.results.append(AuditResult(row, correct, score.extracted))
    return report


def format_report(report: AuditReport) -> str:
    lines = ["| task | lang | read right | n | accuracy |", "|---|---|---|---|---|"]
    for (task, lang), (right, n) in report.cells().items():
        lines.append(f"| {task} | {lang} | {right} | {n} | {100 * right / n:.1f}% |")
    right = sum(r.correct for r in report.results)
    lines.append(f"| all | | {right} | {len(report.results)} | {100 * report.accuracy:.1f}% |")
    misses = report.misses()
    if misses:
        lines += ["", f"{len(misses)} miss(es):"]
        for miss in misses:
            shown = {k: v for k, v in miss.extracted.items() if v is not None}
            note = f" — {miss.row.note}" if miss.row.note else ""
            lines.append(f"- {miss.row.where} [{miss.row.task}/{miss.row.lang}] expected {miss.row.expected!r}, "
                         f"read {json.dumps(shown, ensure_ascii=False)}{note}")
    return "\n".join(lines)
