"""The runner: samples -> requests -> backend -> scores -> records on disk.

One call of `run_task` evaluates one task in one language and writes
results/<model-slug>/<task>/<lang>/samples.jsonl and summary.json. Answers are persisted by the cache as
they arrive, so an interrupted run loses no finished request; records are written once all are in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.backends.base import Backend
from evalkit.records import git_sha, run_dir, write_json, write_jsonl
from evalkit.stats import mean_stderr
from evalkit.task import Task
from evalkit.types import (
    Completion,
    GenerationConfig,
    Message,
    MetricValue,
    Request,
    RunSummary,
    Sample,
    SampleRecord,
    Score,
    Usage,
)


@dataclass(frozen=True)
class RunSettings:
    output_root: Path = Path("results")
    model: str = "local:smollm2"
    model_slug: str = "local__smollm2"
    data: str = "samples"
    limit: int | None = None
    generation_overrides: Mapping[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    chat_template: str | None = None  # the name or path the user gave, for the summary
    samples_per_item: int = 1  # --samples N: N completions per item (replicas), for pass@k


def with_system_prompt(messages: Sequence[Message], system_prompt: str | None) -> tuple[Message, ...]:
    """Add the user's system prompt; if the task already has a system message, ours goes first in it."""
    if not system_prompt:
        return tuple(messages)
    if messages and messages[0].role == "system":
        merged = Message("system", f"{system_prompt}\n\n{messages[0].content}")
        return (merged, *messages[1:])
    return (Message("system", system_prompt), *messages)


def generation_config(task: Task, lang: str, overrides: Mapping[str, Any]) -> GenerationConfig:
    base = task.generation
    base = base.merged({"stop": tuple(dict.fromkeys((*base.stop, *task.stop_sequences(lang))))})
    return base.merged(overrides)


def zero_score(task: Task) -> Score:
    """What an item scores when its request failed or its scorer crashed: 0 on every metric."""
    return Score(extracted={}, values={metric: 0.0 for metric in task.metrics})


def score_one(task: Task, sample: Sample, text: str, lang: str) -> tuple[Score, str | None]:
    """Score one answered completion; a scorer crash scores 0 with the error kept."""
    try:
        return task.score(sample, text, lang), None
    except Exception as exc:  # noqa: BLE001 - one bad item must not sink the run; the error is recorded
        return zero_score(task), f"scoring failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class PreparedRun:
    """One task x language, read and turned into requests, before any backend is touched."""

    task: Task
    lang: str
    samples: list[Sample]  # one entry per request: an item repeated for each of its replicas
    fewshot: list[Sample]
    requests: list[Request]
    config: GenerationConfig
    data_info: Mapping[str, Any]


def prepare_run(task: Task, lang: str, settings: RunSettings) -> PreparedRun:
    """Load and validate the data and build every request (raises TaskDataError naming file/item/field)."""
    items = task.load(lang, settings.data, settings.limit)
    fewshot = task.fewshot(lang, settings.data)
    overrides = dict(settings.generation_overrides)
    if settings.samples_per_item > 1 and overrides.get("temperature") is None:
        overrides["temperature"] = task.sampling_temperature
    config = generation_config(task, lang, overrides)
    samples, requests = [], []
    for item in items:
        messages = with_system_prompt(task.build_messages(item, lang, fewshot), settings.system_prompt)
        for replica in range(settings.samples_per_item):
            samples.append(item)
            requests.append(Request(messages, config, replica))
    return PreparedRun(task, lang, samples, fewshot, requests, config, task.data_description(lang, settings.data))


def item_scores(task: Task, records: Sequence[SampleRecord]) -> list[tuple[SampleRecord, dict[str, float]]]:
    """Group records by item (replicas together) and let the task turn each group into item metrics."""
    groups: dict[str, list[SampleRecord]] = {}
    for record in records:
        groups.setdefault(record.id, []).append(record)
    return [(group[0], task.item_metrics([r.scores for r in group])) for group in groups.values()]


def aggregate(per_item: Sequence[tuple[SampleRecord, Mapping[str, float]]]) -> dict[str, MetricValue]:
    names = list(dict.fromkeys(name for _, values in per_item for name in values))
    return {m: MetricValue(*mean_stderr([values[m] for _, values in per_item if m in values])) for m in names}


def breakdown(
    per_item: Sequence[tuple[SampleRecord, Mapping[str, float]]], keys: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-group metrics for each breakdown key (groups sorted by name, so files diff cleanly)."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for key in keys:
        groups: dict[str, list[tuple[SampleRecord, Mapping[str, float]]]] = {}
        for record, values in per_item:
            groups.setdefault(str(record.metadata.get(key, "unknown")), []).append((record, values))
        result[key] = {
            value: {"n": len(group), **{m: v.to_dict() for m, v in aggregate(group).items()}}
            for value, group in sorted(groups.items())
        }
    return result


def score_all(task: Task, samples: Sequence[Sample], completions: Sequence[Completion],
              lang: str) -> list[tuple[Score, str | None]]:  # fmt: skip
    """Score every completion: the answered ones in one batch; failures and scorer crashes score 0."""
    results: list[tuple[Score, str | None]] = [(zero_score(task), c.error) for c in completions]
    answered = [i for i, c in enumerate(completions) if c.ok]
    try:
        scores = task.score_batch([samples[i] for i in answered], [completions[i].text for i in answered], lang)
        for index, score in zip(answered, scores, strict=True):
            results[index] = (score, None)
    except Exception:  # noqa: BLE001 - fall back to one by one, so one bad item only costs itself
        for index in answered:
            results[index] = score_one(task, samples[index], completions[index].text, lang)
    return results


def run_task(task: Task, lang: str, backend: Backend, settings: RunSettings) -> RunSummary:
    return execute_run(prepare_run(task, lang, settings), backend, settings)


def execute_run(prepared: PreparedRun, backend: Backend, settings: RunSettings) -> RunSummary:
    """Send the requests, score the answers and write samples.jsonl + summary.json."""
    task, lang = prepared.task, prepared.lang
    started_at = datetime.now(timezone.utc)
    clock = time.monotonic()
    if hasattr(backend, "description"):
        backend.description = f"{task.name}/{lang}"
    completions = backend.generate(prepared.requests)

    records: list[SampleRecord] = []
    scored = score_all(task, prepared.samples, completions, lang)
    for sample, request, completion, (score, error) in zip(
        prepared.samples, prepared.requests, completions, scored, strict=True
    ):
        records.append(
            SampleRecord(
                id=sample.id, task=task.name, lang=lang, messages=request.messages, target=sample.target,
                completion=completion.text, finish_reason=completion.finish_reason, extracted=score.extracted,
                scores=score.values, error=error, usage=completion.usage, latency_s=completion.latency_s,
                cached=completion.cached, metadata=sample.metadata, replica=request.replica,
            )  # fmt: skip
        )
    per_item = item_scores(task, records)
    metrics = aggregate(per_item)
    usage = Usage(
        sum(r.usage.prompt_tokens for r in records), sum(r.usage.completion_tokens for r in records)
    )
    summary = RunSummary(
        task=task.name, task_version=task.version, lang=lang, model=settings.model, backend=backend.identity,
        metrics=metrics, n=len(per_item), n_errors=sum(r.error is not None for r in records), data=prepared.data_info,
        generation_config=prepared.config, system_prompt=settings.system_prompt, chat_template=settings.chat_template,
        usage=usage, evalkit_version=__version__, git_sha=git_sha(), started_at=started_at.isoformat(),
        finished_at=datetime.now(timezone.utc).isoformat(), duration_s=time.monotonic() - clock,
        extra={"n_cached": sum(r.cached for r in records), "fewshot": len(prepared.fewshot),
               "samples_per_item": settings.samples_per_item,
               **task.summary_extra([r.extracted for r in records])},
        breakdown=breakdown(per_item, task.breakdowns),
    )  # fmt: skip
    out = run_dir(settings.output_root, settings.model_slug, task.name, lang)
    write_jsonl(out / "samples.jsonl", (r.to_dict() for r in records))
    write_json(out / "summary.json", summary.to_dict())
    return summary
