"""`evalkit rescore RUN_DIR`: read a finished run's saved replies again with today's readers.

No model is called and no cache is needed: the items are loaded again from the data the summary names (the
bundled samples, a local file, or the pinned dataset), every answered record is scored again from its saved
completion (every step's answer for multi-step items, the finish reason for replies cut at the token limit),
judged metrics keep the judge's verdicts, and samples.jsonl and summary.json are rewritten. The result lists
every item whose verdict changed: the check a team runs after upgrading evalkit.

Judged benchmarks (Arena-Hard, MT-Bench, AlpacaEval) are the judge's verdicts, not a reader's: they are left
as they are and named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.errors import UserError
from evalkit.provenance import error_counts
from evalkit.records import write_json, write_jsonl
from evalkit.run.plugins import load_task
from evalkit.run.runner import aggregate, breakdown, file_sha256, item_groups, item_scores
from evalkit.run.task import Task, read_jsonl
from evalkit.types import Message, MetricValue, Sample, SampleRecord, Score, Usage


class RescoreError(UserError):
    """A folder that holds no run to rescore, or a run whose data can no longer be read."""


@dataclass(frozen=True)
class Change:
    """One item whose reading changed."""

    task: str
    lang: str
    id: str
    replica: int
    metric: str
    before: float | None
    after: float | None
    extracted_before: Any
    extracted_after: Any


@dataclass(frozen=True)
class Rescored:
    """One task x language read again: the summary before and after, and the items that changed."""

    folder: Path
    task: str
    lang: str
    skipped: str | None  # why it was left as it is (a judged benchmark), else None
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    changes: list[Change]


def run_folders(root: Path) -> list[Path]:
    """Every <task>/<lang> folder with a summary under `root` (a results/<model> folder or one run folder)."""
    if (root / "summary.json").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/*/summary.json"))
    if not found:
        raise RescoreError(f"{root}: no summary.json here or in <task>/<lang>/ below (is it a results/<model> folder?)")
    return found


def _record(row: Mapping[str, Any]) -> SampleRecord:
    usage = row.get("usage") or {}
    return SampleRecord(
        id=str(row["id"]), task=str(row.get("task", "")), lang=str(row.get("lang", "")),
        messages=tuple(Message.from_dict(m) for m in row.get("messages") or ()), target=str(row.get("target", "")),
        completion=str(row.get("completion") or ""), finish_reason=row.get("finish_reason"),
        extracted=dict(row.get("extracted") or {}), scores=dict(row.get("scores") or {}), error=row.get("error"),
        usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
        latency_s=float(row.get("latency_s") or 0.0), cached=bool(row.get("cached")),
        replica=int(row.get("replica", 0)), metadata=dict(row.get("metadata") or {}),
        answers=tuple(row.get("answers") or ()),
    )  # fmt: skip


def rescore_folder(folder: Path, plugins: Sequence[Path] = (), write: bool = True) -> Rescored:
    """Score one run folder's saved replies again; rewrites its records and summary when `write`."""
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    task = load_task(str(summary["task"]), list(plugins))
    lang = str(summary["lang"])
    if task.kind != "task":
        return Rescored(folder, task.name, lang, "a judged benchmark: its numbers are the judge's verdicts",
                        summary, summary, [])  # fmt: skip
    config = summary.get("config") or {}
    for name, value in (config.get("task_options") or (summary.get("extra") or {}).get("task_options") or {}).items():
        if name in task.options:
            task.set_option(name, str(value))
    data_info = summary.get("data") or {}
    recorded_hash = data_info.get("sha256")
    if data_info.get("source") == "local" and recorded_hash and Path(str(data_info.get("path"))).is_file() \
            and file_sha256(Path(str(data_info["path"]))) != recorded_hash:  # fmt: skip
        raise RescoreError(f"{folder}: the data file {data_info['path']} has changed since the run (sha256 differs): "
                           "its items and gold answers are not the ones the replies answered")  # fmt: skip
    items = {s.id: s for s in task.load(lang, _data_argument(task, data_info), data_info.get("limit"))}
    rows = read_jsonl(folder / "samples.jsonl")
    records = [_record(row) for row in rows]
    recorded_n = summary.get("n")
    if isinstance(recorded_n, int) and len({r.id for r in records}) != recorded_n:
        raise RescoreError(f"{folder}: samples.jsonl holds {len({r.id for r in records})} items, the summary "
                           f"{recorded_n}: the records are not the run's (run it again instead)")  # fmt: skip
    missing = sorted({r.id for r in records} - set(items))
    if missing:
        raise RescoreError(f"{folder}: items {', '.join(missing[:5])} are no longer in the data the run used")
    new_records, changes = [], []
    primary = task.primary_metric or task.metrics[0]
    for record in records:
        if record.error is not None:
            new_records.append(record)
            continue
        try:
            score = _read_again(task, items[record.id], record, lang)
        except Exception as exc:  # noqa: BLE001 - one item's crash is that item's error, as in a run
            new_records.append(replace(record, scores={}, error=f"scoring failed: {type(exc).__name__}: {exc}"))
            continue
        judged = {m: v for m, v in record.scores.items() if m in task.judged_metrics}
        extracted = {**score.extracted, **{k: v for k, v in record.extracted.items()
                                           if k in ("language", "language_mismatch") or k.startswith("judge")}}
        values = {**score.values, **judged}
        if "language_mismatch" in record.extracted:
            values = {**task.failed_values(), **judged}
        updated = replace(record, extracted=extracted, scores=values)
        new_records.append(updated)
        if record.scores.get(primary) != values.get(primary) or _answer(record.extracted) != _answer(extracted):
            changes.append(Change(task.name, lang, record.id, record.replica, primary, record.scores.get(primary),
                                  values.get(primary), _answer(record.extracted), _answer(extracted)))  # fmt: skip
    per_item = item_scores(task, new_records)
    metrics: dict[str, MetricValue] = aggregate(per_item)
    old_metrics = summary.get("metrics") or {}
    if "in_language" in old_metrics:  # language fidelity is not a reading: kept as measured
        metrics["in_language"] = MetricValue(old_metrics["in_language"]["value"], old_metrics["in_language"]["stderr"])
    groups = item_groups(new_records)
    n_errors = sum(any(r.error is not None for r in g) for g in groups)
    after = {
        **summary,
        "status": "complete" if n_errors == 0 else "incomplete", "n": len(groups), "n_errors": n_errors,
        "error_rate": round(n_errors / len(groups), 6) if groups else 0.0,
        "errors": error_counts(r.error for r in new_records),
        "n_truncated": sum(r.finish_reason == "length" for r in new_records),
        "metrics": {name: m.to_dict() for name, m in metrics.items()},
        "breakdown": {k: dict(v) for k, v in breakdown(per_item, task.breakdowns).items()},
        "extra": {**(summary.get("extra") or {}), **task.summary_extra([r.extracted for r in new_records]),
                  "rescored": {"at": datetime.now(timezone.utc).isoformat(), "evalkit_version": __version__,
                               "task_version": task.version, "changed": len(changes)}},
    }  # fmt: skip
    if write:
        write_jsonl(folder / "samples.jsonl", (r.to_dict() for r in new_records))
        write_json(folder / "summary.json", after)
    return Rescored(folder, task.name, lang, None, summary, after, changes)


def _data_argument(task: Task, data_info: Mapping[str, Any]) -> str:
    """The --data value that reads the same items again."""
    source = data_info.get("source")
    if source == "samples":
        return "samples"
    if source == "local":
        return str(data_info["path"])
    if source == "hf":
        return f"full:{data_info['name']}" if data_info.get("name") else "full"
    raise RescoreError(f"task {task.name}: the summary does not say which data the run used")


def _read_again(task: Task, sample: Sample, record: SampleRecord, lang: str) -> Score:
    answers = list(record.answers) or [record.completion]
    if len(answers) == 1:
        score = task.score_batch([sample], answers, lang)[0]
    else:
        score = task.score_steps(sample, answers, lang)
    return task.score_truncated(sample, score, lang) if record.finish_reason == "length" else score


def _answer(extracted: Mapping[str, Any]) -> Any:
    for key in ("answer", "letter", "flexible", "ids", "outcome"):
        if key in extracted:
            return extracted[key]
    return None


def rescore(root: Path, plugins: Sequence[Path] = (), write: bool = True) -> list[Rescored]:
    """Every run folder under `root` read again (see the module docstring)."""
    return [rescore_folder(folder, plugins, write) for folder in run_folders(root)]


def report_lines(results: Sequence[Rescored]) -> list[str]:
    lines = []
    for result in results:
        name = f"{result.task}/{result.lang}"
        if result.skipped:
            lines.append(f"{name}: left as it is ({result.skipped})")
            continue
        before, after = result.before.get("metrics") or {}, result.after.get("metrics") or {}
        shown = ", ".join(f"{m} {_value(before.get(m))} -> {_value(after.get(m))}" for m in after if m != "in_language")
        lines.append(f"{name}: {len(result.changes)} changed; {shown}")
        for change in result.changes:
            lines.append(f"  {change.id}#{change.replica}: {change.metric} {change.before} -> {change.after} "
                         f"(read {change.extracted_before!r} -> {change.extracted_after!r})")  # fmt: skip
    return lines


def _value(metric: Mapping[str, Any] | None) -> str:
    value = (metric or {}).get("value")
    return "—" if value is None else f"{value:.4f}"
