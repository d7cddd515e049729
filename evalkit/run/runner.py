"""The runner: samples -> requests -> backend -> scores -> records on disk.

One call of `run_task` evaluates one task in one language and writes
results/<model-slug>/<task>/<lang>/samples.jsonl and summary.json. Answers are persisted by the cache as
they arrive, so an interrupted run loses no finished request; records are written once all are in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.backends.base import Backend
from evalkit.provenance import error_counts, library_versions
from evalkit.records import git_sha, run_dir, write_json, write_jsonl
from evalkit.run.judging import Judge, JudgeInfo
from evalkit.run.second_reading import AnswerReader, applies, read_by_judge
from evalkit.run.task import Task
from evalkit.scoring.language import UNDETERMINED, detect_language, fidelity, in_language_metric, mismatched
from evalkit.stats import mean_stderr
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
    chat_template_sha256: str | None = None  # of the template's text: the same path with other contents differs
    samples_per_item: int = 1  # --samples N: N completions per item (replicas), for pass@k
    max_tokens_cap: int | None = None  # --max-tokens-cap N: no task generates more (the demo slice)
    step: float | None = None  # --step N: the training step of this checkpoint (extra.step, for `evalkit trend`)
    command: tuple[str, ...] = ()  # the command line that started the run, for summary.json
    answer_judge: str | None = None  # --answer-judge MODEL: a second reader of answers (evalkit.run.second_reading)
    answer_judge_scope: str = "uncertain"  # which items it reads: "uncertain" (the rules' uncertain ones) or "all"
    answer_judge_scored: bool = False  # the judge's reading is the scored one


def with_system_prompt(messages: Sequence[Message], system_prompt: str | None) -> tuple[Message, ...]:
    """Add the user's system prompt; if the task already has a system message, ours goes first in it."""
    if not system_prompt:
        return tuple(messages)
    if messages and messages[0].role == "system":
        merged = Message("system", f"{system_prompt}\n\n{messages[0].content}")
        return (merged, *messages[1:])
    return (Message("system", system_prompt), *messages)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def generation_config(task: Task, lang: str, overrides: Mapping[str, Any]) -> GenerationConfig:
    base = task.generation
    base = base.merged({"stop": tuple(dict.fromkeys((*base.stop, *task.stop_sequences(lang))))})
    return base.merged(overrides)


def zero_score(task: Task) -> Score:
    """What an item scores when its request failed or its scorer crashed: 0 on every metric."""
    return Score(extracted={}, values=task.failed_values())


def score_one(task: Task, sample: Sample, answers: Sequence[str], lang: str) -> tuple[Score, str | None]:
    """Score one answered item (every step's answer); a scorer crash scores 0 with the error kept."""
    try:
        return task.score_steps(sample, answers, lang), None
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
    if settings.max_tokens_cap is not None and config.max_tokens > settings.max_tokens_cap:
        config = config.merged({"max_tokens": settings.max_tokens_cap})
    samples, requests = [], []
    for item in items:
        messages = with_system_prompt(task.build_messages(item, lang, fewshot), settings.system_prompt)
        own = {k: v for k, v in task.item_generation(item).items() if overrides.get(k) is None}
        item_config = config.merged(own) if own else config
        for replica in range(settings.samples_per_item):
            samples.append(item)
            requests.append(Request(messages, item_config, replica))
    data_info = dict(task.data_description(lang, settings.data))
    if data_info.get("source") == "local":  # the same path with other contents is another run
        data_info["sha256"] = file_sha256(Path(str(data_info["path"])))
    if settings.limit is not None:
        data_info["limit"] = settings.limit
    if settings.max_tokens_cap is not None:
        data_info["max_tokens_cap"] = settings.max_tokens_cap
    return PreparedRun(task, lang, samples, fewshot, requests, config, data_info)


def needs_judge(task: Task) -> bool:
    """Whether a judge decides any of the task's numbers (judged metrics, or a judged benchmark)."""
    return task.kind == "judged" or bool(task.judged_metrics)


def run_config(prepared: PreparedRun, settings: RunSettings, judge: JudgeInfo | None,
               references: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """Everything that decides a run's numbers, as summary.json's `config`: a rerun under the same name with
    another config is refused (--overwrite replaces it); with the same config it resumes."""
    task = prepared.task
    judged = needs_judge(task) and judge is not None
    return {
        "model": settings.model, "task_version": task.version, "data": dict(prepared.data_info),
        "generation_config": prepared.config.to_dict(), "system_prompt": settings.system_prompt,
        "chat_template": settings.chat_template, "samples_per_item": settings.samples_per_item,
        **({"chat_template_sha256": settings.chat_template_sha256} if settings.chat_template_sha256 else {}),
        "task_options": dict(task.option_values),
        **({"judge": judge.model, "judge_mode": judge.mode, "judge_max_tokens": judge.max_tokens}
           if judged and judge is not None else {}),
        **({"references": list(references)} if task.kind == "judged" else {}),
        **({"answer_judge": settings.answer_judge, "answer_judge_scope": settings.answer_judge_scope,
            "answer_judge_scored": settings.answer_judge_scored}
           if settings.answer_judge and applies(task) else {}),
    }  # fmt: skip


def item_groups(records: Sequence[SampleRecord]) -> list[list[SampleRecord]]:
    """Records grouped by item (an item's replicas together), in first-seen order."""
    groups: dict[str, list[SampleRecord]] = {}
    for record in records:
        groups.setdefault(record.id, []).append(record)
    return list(groups.values())


def item_scores(task: Task, records: Sequence[SampleRecord]) -> list[tuple[SampleRecord, dict[str, float]]]:
    """Every answered item's metrics (the task turns its replicas' scores into them).

    An item with a failed request or a crashed scorer is not a wrong answer: it has no score and is left
    out here; it is counted in n_errors and named in summary.json's errors.
    """
    return [(group[0], task.item_metrics([r.scores for r in group]))
            for group in item_groups(records) if all(r.error is None for r in group)]  # fmt: skip


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


def score_all(task: Task, samples: Sequence[Sample], steps: Sequence[Sequence[Completion]],
              lang: str) -> list[tuple[Score, str | None]]:  # fmt: skip
    """Score every item from its steps' answers; a failed request or a crashed scorer is an error, never a score.

    Single-step items are scored in one batch (code tasks run their programs in parallel).
    """
    results: list[tuple[Score, str | None]] = [(zero_score(task), first_error(s)) for s in steps]
    answered = [i for i, s in enumerate(steps) if first_error(s) is None]
    if all(len(s) == 1 for s in steps):
        try:
            scores = task.score_batch([samples[i] for i in answered], [steps[i][0].text for i in answered], lang)
            for index, score in zip(answered, scores, strict=True):
                results[index] = (score, None)
            return results
        except Exception:  # noqa: BLE001 - fall back to one by one, so one bad item only costs itself
            pass
    for index in answered:
        results[index] = score_one(task, samples[index], [c.text for c in steps[index]], lang)
    return results


def reread_truncated(task: Task, samples: Sequence[Sample], steps: Sequence[Sequence[Completion]], lang: str,
                     scored: list[tuple[Score, str | None]]) -> None:  # fmt: skip
    """Let the task re-read every answered item whose last reply the server cut at the token limit: only an
    answer committed before the cut counts (Task.score_truncated)."""
    for index, (sample, answers) in enumerate(zip(samples, steps, strict=True)):
        score, error = scored[index]
        if error is None and answers[-1].finish_reason == "length":
            try:
                scored[index] = (task.score_truncated(sample, score, lang), None)
            except Exception as exc:  # noqa: BLE001 - one bad item must not sink the run; the error is recorded
                scored[index] = (zero_score(task), f"scoring failed: {type(exc).__name__}: {exc}")


def first_error(steps: Sequence[Completion]) -> str | None:
    return next((c.error for c in steps if c.error is not None), None)


def generate_steps(prepared: PreparedRun, backend: Backend) -> tuple[list[list[Completion]], list[Request]]:
    """Every item's answers, step by step: step k+1's request is step k's plus its answer and the follow-up.

    Returns each item's completions and its last request (whose messages hold all earlier answers, so the
    record shows the whole dialogue). Each step is one batch through the backend, cached like any other.
    """
    task, lang = prepared.task, prepared.lang
    last = list(prepared.requests)
    steps = [[c] for c in backend.generate(last)]
    step = 1
    while True:
        pending = []
        for index, sample in enumerate(prepared.samples):
            if len(steps[index]) != step or not steps[index][-1].ok:
                continue
            follow = task.follow_up(sample, lang, step)
            if follow is None:
                continue
            previous = last[index]
            answer = Message("assistant", steps[index][-1].text)
            last[index] = Request((*previous.messages, answer, *follow.messages),
                                  previous.config.merged(follow.overrides or {}), previous.replica)  # fmt: skip
            pending.append(index)
        if not pending:
            return steps, last
        for index, completion in zip(pending, backend.generate([last[i] for i in pending]), strict=True):
            steps[index].append(completion)
        step += 1


def total_usage(completions: Sequence[Completion]) -> Usage:
    return Usage(sum(c.usage.prompt_tokens for c in completions), sum(c.usage.completion_tokens for c in completions))


def combined(steps: Sequence[Completion]) -> Completion:
    """One completion standing for an item's steps: the last answer, summed usage and latency."""
    usage = total_usage(steps)
    return Completion(text=steps[-1].text, finish_reason=steps[-1].finish_reason, usage=usage,
                      latency_s=sum(c.latency_s for c in steps), error=first_error(steps),
                      cached=all(c.cached for c in steps))  # fmt: skip


def judge_all(prepared: PreparedRun, steps: Sequence[Sequence[Completion]], scored: list[tuple[Score, str | None]],
              judge: Judge) -> None:  # fmt: skip
    """Ask the judge about every answered item the task wants judged and fold the verdicts into the scores."""
    task, lang = prepared.task, prepared.lang
    asked: list[int] = []
    queries = []
    for index, (sample, answers) in enumerate(zip(prepared.samples, steps, strict=True)):
        if scored[index][1] is not None:
            continue
        query = task.judge_query(sample, [c.text for c in answers], lang)
        if query is not None:
            asked.append(index)
            queries.append(query)
    judgments = judge.run(queries, task.parse_verdict, description=f"{task.name}/{lang} judge")
    for index, judgment in zip(asked, judgments, strict=True):
        score, _ = scored[index]
        if judgment.error is not None:  # the judge's request failed: the item is not fully scored, and says so
            scored[index] = (score, f"judge: {judgment.error}")
            continue
        scored[index] = (task.apply_judgment(prepared.samples[index], score, judgment), None)


def answer_all(prepared: PreparedRun, backend: Backend) -> list[list[Completion]]:
    """Every item's answers (all steps), for the judged flows that record answers before judging them."""
    if hasattr(backend, "description"):
        backend.description = f"{prepared.task.name}/{prepared.lang}"
    steps, _ = generate_steps(prepared, backend)
    return steps


def reply_counts(completions: Sequence[Completion]) -> dict[str, int]:
    """What summary.json says of the replies themselves: empty answers (a model that returns nothing must not
    look like one that answers wrongly) and how many requests needed retries."""
    return {
        "n_empty": sum(c.ok and not c.text.strip() for c in completions),
        "attempts": sum(c.attempts for c in completions),
        "retried": sum(c.attempts > 1 for c in completions),
    }


def flow_summary(prepared: PreparedRun, backend: Backend, settings: RunSettings, *,
                 metrics: Mapping[str, MetricValue], n: int, n_errors: int, errors: Mapping[str, int],
                 completions: Sequence[Completion], started_at: datetime, clock: float, extra: Mapping[str, Any],
                 breakdown: Mapping[str, Any] | None = None, config: Mapping[str, Any]) -> RunSummary:  # fmt: skip
    """The summary.json of a judged flow (arena, MT-Bench, AlpacaEval): the run's facts plus the flow's numbers."""
    return RunSummary(
        task=prepared.task.name, task_version=prepared.task.version, lang=prepared.lang, model=settings.model,
        backend=backend.identity, metrics=metrics, n=n, n_errors=n_errors, data=prepared.data_info,
        generation_config=prepared.config, system_prompt=settings.system_prompt, chat_template=settings.chat_template,
        usage=total_usage(completions), evalkit_version=__version__, git_sha=git_sha(),
        started_at=started_at.isoformat(), finished_at=datetime.now(timezone.utc).isoformat(),
        duration_s=time.monotonic() - clock, extra={**reply_counts(completions), **extra}, breakdown=breakdown or {},
        errors=errors, n_truncated=sum(c.finish_reason == "length" for c in completions),
        command=settings.command, versions=library_versions(), config=config,
    )  # fmt: skip


def run_task(task: Task, lang: str, backend: Backend, settings: RunSettings, judge: Judge | None = None) -> RunSummary:
    return execute_run(prepare_run(task, lang, settings), backend, settings, judge)


def execute_run(prepared: PreparedRun, backend: Backend, settings: RunSettings, judge: Judge | None = None,
                reader: AnswerReader | None = None) -> RunSummary:  # fmt: skip
    """Send the requests (step by step), score the answers, ask the judge, write samples.jsonl + summary.json."""
    task, lang = prepared.task, prepared.lang
    started_at = datetime.now(timezone.utc)
    clock = time.monotonic()
    if hasattr(backend, "description"):
        backend.description = f"{task.name}/{lang}"
    steps, last_requests = generate_steps(prepared, backend)
    scored = score_all(task, prepared.samples, steps, lang)
    reread_truncated(task, prepared.samples, steps, lang, scored)
    if judge is not None and task.judged_metrics:
        judge_all(prepared, steps, scored, judge)
    second = read_by_judge(task, lang, prepared.samples, steps, scored, reader) \
        if reader is not None and applies(task) else None  # fmt: skip

    mismatch = task.option("language_mismatch")
    records: list[SampleRecord] = []
    detected: list[str] = []
    for sample, request, answers, (score, error) in zip(
        prepared.samples, last_requests, steps, scored, strict=True
    ):
        completion = combined(answers)
        found = detect_language(completion.text).lang if error is None else UNDETERMINED
        detected.append(found)
        extracted, values = {**score.extracted, "language": found}, score.values
        if mismatch == "zero" and mismatched(lang, found):  # scores as a failed reply; extracted says why
            extracted, values = {**extracted, "language_mismatch": found}, task.failed_values()
        if error is not None:
            values = {}  # a failed item has no score: it is an error, not a wrong answer
        records.append(
            SampleRecord(
                id=sample.id, task=task.name, lang=lang, messages=request.messages, target=sample.target,
                completion=completion.text, finish_reason=completion.finish_reason, extracted=extracted,
                scores=values, error=error, usage=completion.usage, latency_s=completion.latency_s,
                cached=completion.cached, metadata=sample.metadata, replica=request.replica,
                answers=tuple(c.text for c in answers) if len(answers) > 1 else (),
            )  # fmt: skip
        )
    per_item = item_scores(task, records)
    metrics = aggregate(per_item)
    in_language = in_language_metric(lang, detected)
    if in_language is not None:
        metrics["in_language"] = MetricValue(*in_language)
    usage = Usage(
        sum(r.usage.prompt_tokens for r in records), sum(r.usage.completion_tokens for r in records)
    )
    groups = item_groups(records)
    summary = RunSummary(
        task=task.name, task_version=task.version, lang=lang, model=settings.model, backend=backend.identity,
        metrics=metrics, n=len(groups), n_errors=sum(any(r.error is not None for r in g) for g in groups),
        errors=error_counts(r.error for r in records), n_truncated=sum(r.finish_reason == "length" for r in records),
        command=settings.command, versions=library_versions(), data=prepared.data_info,
        config=run_config(prepared, settings, judge.info if judge is not None else None),
        generation_config=prepared.config, system_prompt=settings.system_prompt, chat_template=settings.chat_template,
        usage=usage, evalkit_version=__version__, git_sha=git_sha(), started_at=started_at.isoformat(),
        finished_at=datetime.now(timezone.utc).isoformat(), duration_s=time.monotonic() - clock,
        extra={"n_cached": sum(r.cached for r in records), **reply_counts([c for s in steps for c in s]),
               **({"step": settings.step} if settings.step is not None else {}),
               "fewshot": len(prepared.fewshot),
               **({"answer_judge": second} if second is not None else {}),
               "samples_per_item": settings.samples_per_item,
               **({"judge": judge.model if judge else None, "judge_backend": judge.identity if judge else None,
                   "judge_mode": judge.mode if judge else None}
                  if task.judged_metrics else {}),
               **({"task_options": dict(task.option_values)} if task.options else {}),
               **task.summary_extra([r.extracted for r in records]),
               "language": fidelity(lang, detected, mismatch)},
        breakdown=breakdown(per_item, task.breakdowns),
    )  # fmt: skip
    out = run_dir(settings.output_root, settings.model_slug, task.name, lang)
    write_jsonl(out / "samples.jsonl", (r.to_dict() for r in records))
    write_json(out / "summary.json", summary.to_dict())
    return summary
