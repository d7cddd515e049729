"""The one judged flow, for every judged benchmark (Arena-Hard, MT-Bench, AlpacaEval):

    the model's answers (the runner)                    -> answers.jsonl
    the reference answers (`evalkit.run.references`)        the other model's answers to the same questions
    the games of each question (the plugin)             pairs, turns, references
    the judge (temperature 0, re-asked once)            -> judgments.jsonl, appended and flushed game by game
    the statistic (the plugin, `evalkit.stats`)         -> summary.json

A judged benchmark is a `JudgedTask` plugin (judges/<name>/task.py) that supplies only what differs: its
games, the judge messages, the verdict reader (`evalkit.scoring.verdicts`), the record of a verdict, and the
statistic. Resuming is the same for all: every record carries the key of the exact judge request that produced
it (`Judge.request_key`: the judge, its mode and settings, the rendered prompt with both answers), and a game is
not asked again only when a record with its key is in judgments.jsonl. Changed answers, prompts, judge mode or
settings make new keys: their games are judged anew and the old verdicts no longer count. A run killed with
kill -9 loses at most the games in flight, with or without the response cache.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, ClassVar

from evalkit.backends.base import Backend
from evalkit.provenance import error_counts
from evalkit.records import dumps, run_dir, write_json, write_jsonl
from evalkit.run.judging import Choice, Judge, JudgeQuery, Judgment
from evalkit.run.references import DATASET, AnswerSources, ReferenceAnswers, answer_rows, reference_answers
from evalkit.run.runner import PreparedRun, RunSettings, answer_all, flow_summary, run_config
from evalkit.run.task import Task, TaskDataError, read_jsonl
from evalkit.scoring.language import detect_language, fidelity, in_language_metric
from evalkit.types import Completion, GenerationConfig, Message, MetricValue, RunSummary, Sample, Score


@dataclass(frozen=True)
class Game:
    """One question to the judge: the fields that identify it in judgments.jsonl (its resume key among them)
    and the prompt."""

    record: Mapping[str, Any]
    messages: tuple[Message, ...]
    reask: str
    choice: Choice[Any] | None = None  # how choice mode asks for the verdict (None: as text in any mode)

    @property
    def query(self) -> JudgeQuery:
        return JudgeQuery(self.messages, self.reask, self.choice)


@dataclass(frozen=True)
class JudgedRun:
    """What a plugin's hooks see of one judged run."""

    prepared: PreparedRun
    model: str
    judge: Judge
    references: Mapping[str, ReferenceAnswers]  # the other models' answers, by reference name
    requested: tuple[str, ...]  # the references as named (--reference, else the plugin's default)
    output_root: Path  # the results store (AlpacaEval reads other models' judgments there)

    @property
    def lang(self) -> str:
        return self.prepared.lang


@dataclass(frozen=True)
class Outcome:
    """The statistic of a judged run: metrics (none when no verdict could be read), extra facts, breakdown."""

    metrics: Mapping[str, MetricValue]
    extra: Mapping[str, Any]
    breakdown: Mapping[str, Any] = field(default_factory=dict)


class JudgedTask(Task):
    """A judged benchmark: answers are judged against the answers of another model (the reference)."""

    kind = "judged"
    #: The reference when the user names none: a model string, or DATASET (answers shipped with the questions).
    default_reference: ClassVar[str] = DATASET
    #: How many references one run may compare against (None: any number, one column each).
    max_references: ClassVar[int | None] = 1

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        return Score(extracted={}, values={})

    def default_reference_of(self, prepared: PreparedRun) -> str:
        """The reference when the user names none, for this run's data (default: `default_reference`)."""
        return self.default_reference

    # -- what differs between judged benchmarks --------------------------------------------------------------
    def answer_record(self, sample: Sample, answers: Sequence[Completion], model: str) -> dict[str, Any]:
        """One line of answers.jsonl (default: FastChat's model_answer schema)."""
        return next(iter(answer_rows([sample], [answers], model)))

    def dataset_answer(self, sample: Sample) -> list[str] | None:
        """The reference answer shipped with a question (the DATASET reference), by turn."""
        return None

    def judge_requests_per_question(self, sample: Sample, references: int) -> int:
        """How many judge requests one question makes at most (before re-asks), for the plan's count."""
        return references

    def needs_reference(self, sample: Sample) -> bool:
        """Whether this question is judged against a reference answer (MT-Bench: only some categories)."""
        return True

    def games(self, run: JudgedRun, sample: Sample, answers: Sequence[str]) -> Iterable[Game]:
        raise NotImplementedError

    def judge_config(self, judge: Judge) -> GenerationConfig | None:
        """The judge's generation settings for this benchmark (None: the judge's own)."""
        return None

    def read_verdict(self, completion: Completion) -> Any | None:
        raise NotImplementedError

    def verdict_record(self, game: Game, judgment: Judgment[Any]) -> dict[str, Any]:
        """The fields a verdict adds to its game's record in judgments.jsonl."""
        return judgment.to_dict()

    def belongs(self, run: JudgedRun, record: Mapping[str, Any]) -> bool:
        """Whether a record in judgments.jsonl counts for this run (same model, judge, references)."""
        raise NotImplementedError

    def statistic(self, run: JudgedRun, records: Sequence[Mapping[str, Any]],
                  answers: Mapping[str, Sequence[Completion]]) -> Outcome:  # fmt: skip
        raise NotImplementedError

    def not_judged(self, run_model: str, references: Sequence[str]) -> str | None:
        """Why there is nothing to judge (the model is its own reference, say), or None."""
        return None

    def extra_references(self) -> tuple[str, ...]:
        """References the plugin itself needs besides the requested ones (Arena-Hard v2: a baseline per
        category)."""
        return ()

    def dataset_reference_name(self, prepared: PreparedRun) -> str:
        """The name the DATASET reference goes by (AlpacaEval: the generator named in the data)."""
        return DATASET


@dataclass(frozen=True)
class JudgedSettings:
    """Whose answers a judged run judges, where it writes, and which references it compares against."""

    run: RunSettings  # the run's settings (model, results folder, step, system prompt, ...)
    sources: AnswerSources
    references: tuple[str, ...] = ()  # --reference (empty: the plugin's default)

    @property
    def model(self) -> str:
        return self.run.model

    @property
    def model_slug(self) -> str:
        return self.run.model_slug

    @property
    def step(self) -> float | None:
        return self.run.step


def slot_of(record: Mapping[str, Any]) -> tuple[str, int, str] | None:
    """A judgment's game: (question id, place among the question's games, judge request key); None for records
    without a key (written before verdicts were keyed: they never count and their games are judged anew)."""
    key, place = record.get("request_key"), record.get("game_slot")
    if not isinstance(key, str) or not isinstance(place, int):
        return None
    return (str(record.get("question_id")), place, key)


def read_judgments(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path)) if path.is_file() else []


class JudgmentLog:
    """judgments.jsonl opened for appending; every record is written, flushed and fsynced on its own."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def append(self, record: Mapping[str, Any]) -> None:
        self._handle.write(dumps(record) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def run_judged(prepared: PreparedRun, backend: Backend, judge: Judge | None,
               settings: JudgedSettings) -> RunSummary | None:  # fmt: skip
    """Answer every question; with a judge, judge every game not yet recorded and write summary.json."""
    task = prepared.task
    assert isinstance(task, JudgedTask)
    lang = prepared.lang
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    steps = answer_all(prepared, backend)
    out = run_dir(settings.sources.output_root, settings.model_slug, task.name, lang)
    write_jsonl(out / "answers.jsonl", (task.answer_record(s, a, settings.model)
                                        for s, a in zip(prepared.samples, steps, strict=True)))  # fmt: skip
    failed_answers = {s.id: next(c.error for c in a if not c.ok)
                      for s, a in zip(prepared.samples, steps, strict=True) if any(not c.ok for c in a)}  # fmt: skip
    if judge is None:
        print(f"{task.name}/{lang}: {len(steps)} answers written (no --judge: not judged)")
        if not failed_answers:
            return None
        # Not judged, but some answers failed: a summary without numbers says so (status incomplete, exit 3).
        completions = [c for answers in steps for c in answers]
        summary = flow_summary(prepared, backend, settings.run, metrics={}, n=len({s.id for s in prepared.samples}),
                               n_errors=len(failed_answers), errors=error_counts(failed_answers.values()),
                               completions=completions, started_at=started_at, clock=clock,
                               extra={"judged": False}, config=run_config(prepared, settings.run, None))  # fmt: skip
        write_json(out / "summary.json", summary.to_dict())
        return summary
    names = settings.references or (task.default_reference_of(prepared),)
    if task.max_references is not None and len(names) > task.max_references:
        raise TaskDataError(f"{task.name}: at most {task.max_references} --reference; got {', '.join(names)}")
    reason = task.not_judged(settings.model, names)
    if reason is not None:
        print(f"{task.name}/{lang}: {reason}")
        return None
    references: dict[str, ReferenceAnswers] = {}
    if any(task.needs_reference(s) for s in prepared.samples):
        for name in dict.fromkeys((*names, *task.extra_references())):
            found = reference_answers(prepared, name, settings.sources, task.dataset_answer,
                                      task.dataset_reference_name(prepared))  # fmt: skip
            if found.name in references:
                raise TaskDataError(f"{task.name}/{lang}: the reference {found.name!r} is named twice")
            references[found.name] = found
    run = JudgedRun(prepared, settings.model, judge, references, tuple(names), settings.sources.output_root)

    log_path = out / "judgments.jsonl"
    config = task.judge_config(judge)
    # A game is named by its question, its place among that question's games and the key of its exact judge
    # request: two games with identical requests (both orders of an answer equal to the baseline's, two
    # questions with the same text) stay two games.
    every_game: list[Game] = []
    slots: list[tuple[str, int, str]] = []
    for sample, answers in zip(prepared.samples, steps, strict=True):
        if not all(c.ok for c in answers):
            continue
        for place, game in enumerate(task.games(run, sample, [c.text for c in answers])):
            every_game.append(game)
            slots.append((sample.id, place, judge.request_key(game.query, config)))
    done = {slot_of(r) for r in read_judgments(log_path)}
    pending = [index for index, slot in enumerate(slots) if slot not in done]
    games = [every_game[i] for i in pending]
    log = JudgmentLog(log_path)
    failed: list[tuple[str, str]] = []

    def record(index: int, judgment: Judgment[Any]) -> None:
        question, place, key = slots[pending[index]]
        if judgment.error is not None:
            failed.append((question, f"judge: {judgment.error}"))  # not recorded: asked again next time
            return
        game = games[index]
        sent = judge.request(game.query, config)
        log.append({**game.record, **task.verdict_record(game, judgment), "request_key": key, "game_slot": place,
                    "judge_messages": [m.to_dict() for m in sent.messages],
                    "judge_config": sent.config.to_dict()})  # fmt: skip

    try:
        judge.run([g.query for g in games], parse=None,
                  description=f"{task.name}/{lang} judge", read=task.read_verdict,
                  config=config, on_judgment=record)  # fmt: skip
    finally:
        log.close()

    current = set(slots)
    latest = {slot_of(r): r for r in read_judgments(log_path) if slot_of(r) in current}
    recorded = [r for r in latest.values() if task.belongs(run, r)]
    answered = {s.id: a for s, a in zip(prepared.samples, steps, strict=True)}
    outcome = task.statistic(run, recorded, answered)
    if not outcome.metrics:
        print(f"{task.name}/{lang}: warning: no verdict on {settings.model} could be read; not scored (see {log_path})",
              file=sys.stderr)  # fmt: skip
    completions = [c for answers in steps for c in answers]
    detected = [detect_language(c.text).lang for c in completions if c.ok]
    metrics = dict(outcome.metrics)
    in_language = in_language_metric(lang, detected)
    if in_language is not None and outcome.metrics:
        metrics["in_language"] = MetricValue(*in_language)
    failed_questions = set(failed_answers) | {question for question, _ in failed}
    summary = flow_summary(
        prepared, backend, settings.run, metrics=metrics,
        n=len({s.id for s in prepared.samples}), n_errors=len(failed_questions),
        errors=error_counts([*failed_answers.values(), *(text for _, text in failed)]), completions=completions,
        started_at=started_at, clock=clock, breakdown=outcome.breakdown,
        config=run_config(prepared, settings.run, judge.info, names),
        extra={"judge": judge.model, "judge_backend": judge.identity, "judge_mode": judge.mode,
               **({"step": settings.step} if settings.step is not None else {}),
               "references": {name: ref.source for name, ref in references.items()},
               "judge_config": (config or judge.config).to_dict(), "judged_games": len(recorded),
               **outcome.extra, "judge_failures": len(failed), "task_options": dict(task.option_values),
               "language": fidelity(lang, detected, task.option("language_mismatch"))},
    )  # fmt: skip
    write_json(out / "summary.json", summary.to_dict())
    return summary
