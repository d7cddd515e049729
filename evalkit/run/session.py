"""One `evalkit run`: the backends (one per model string, behind the response cache and a progress bar), the
judge, and the flow each task goes through.

Flows are a table, not branches on a kind string spread through the code: a per-item task goes through the
runner (evalkit.run.runner), a judged benchmark through the one judged flow (evalkit.run.judged). A plugin names
its flow with its `kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.backends import BackendError, BackendOptions, build_backend
from evalkit.backends.modelspec import ModelSpec, parse_model_string
from evalkit.backends.wrappers import CachedBackend, ProgressBackend
from evalkit.run.cache import ResponseCache
from evalkit.run.judged import JudgedSettings, run_judged
from evalkit.run.judging import CHOICE, TEXT, Judge
from evalkit.run.references import AnswerSources
from evalkit.run.runner import PreparedRun, RunSettings, execute_run
from evalkit.run.second_reading import AnswerReader
from evalkit.run.task import TaskDataError
from evalkit.types import RunSummary


@dataclass(frozen=True)
class JudgeSettings:
    """The judge of a run and the references its judged benchmarks compare against."""

    judge: ModelSpec | None = None
    max_tokens: int = 1024
    mode: str = "auto"  # text | choice | auto (choice for an embedded judge, text otherwise)
    references: tuple[str, ...] = ()  # --reference (empty: each benchmark's default)
    reference_answers: Mapping[str, Path] = field(default_factory=dict)  # --reference-answers NAME=FILE

    @property
    def mode_in_force(self) -> str:
        """The judge mode in force: `auto` is choice for the embedded model (which cannot write a parseable
        verdict), text (the reference tools' method) for any other judge."""
        if self.mode != "auto":
            return self.mode
        return CHOICE if self.judge is not None and self.judge.kind == "local" else TEXT


class Session:
    """Owns what one run opens — backends, cache, judge — and closes it all on exit (also on Ctrl-C)."""

    def __init__(self, model: ModelSpec, settings: RunSettings, options: BackendOptions, cache_path: Path | None,
                 judging: JudgeSettings = JudgeSettings(), progress: bool = True):  # fmt: skip
        self.model = model
        self.settings = settings
        self.options = options
        self.judging = judging
        self.progress = progress
        self.cache = ResponseCache(cache_path) if cache_path is not None else None
        self._served: dict[str, ProgressBackend] = {}
        self._opened: list[Any] = []
        self._judge: Judge | None = None
        self._reader: AnswerReader | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backend(self, spec: ModelSpec, options: BackendOptions | None = None) -> ProgressBackend:
        """The backend of a model string; the same string shares one (one embedded server, one vLLM engine)."""
        if str(spec) not in self._served:
            backend = build_backend(spec, options or self.options)
            self._opened.append(backend)
            wrapped = CachedBackend(backend, self.cache) if self.cache is not None else backend
            self._served[str(spec)] = ProgressBackend(wrapped, enabled=self.progress)
        return self._served[str(spec)]

    def other_backend(self, model: str) -> ProgressBackend:
        """A backend for a model other than the one evaluated (judge, reference): without its chat template
        or engine arguments, which belong to the evaluated model."""
        return self.backend(parse_model_string(model), replace(self.options, chat_template=None, engine_args={}))

    @property
    def judge(self) -> Judge | None:
        if self._judge is None and self.judging.judge is not None:
            self._judge = Judge(self.other_backend(str(self.judging.judge)), str(self.judging.judge),
                                max_tokens=self.judging.max_tokens, mode=self.judge_mode)  # fmt: skip
        return self._judge

    @property
    def answer_reader(self) -> AnswerReader | None:
        """--answer-judge: the second reader of every answer (a judge model in text mode)."""
        model = self.settings.answer_judge
        if model is None:
            return None
        if self._reader is None:
            judge = Judge(self.other_backend(model), str(parse_model_string(model)), max_tokens=256, mode=TEXT)
            self._reader = AnswerReader(judge, self.settings.answer_judge_scope, self.settings.answer_judge_scored)
        return self._reader

    @property
    def judge_mode(self) -> str:
        return self.judging.mode_in_force

    def open(self, judged: bool) -> None:
        """Start the model's backend (and the judge's, when a task needs one) before the first request, so an
        unreachable server or a rejected key stops the run before any work, named as the model's or the judge's."""
        self.backend(self.model)
        if judged and self.judging.judge is not None:
            try:
                _ = self.judge
            except BackendError as exc:
                raise BackendError(f"judge {self.judging.judge}: {exc}") from None
        if self.settings.answer_judge is not None:
            try:
                _ = self.answer_reader
            except BackendError as exc:
                raise BackendError(f"answer judge {self.settings.answer_judge}: {exc}") from None

    def run(self, prepared: PreparedRun) -> RunSummary | None:
        """Evaluate one task in one language through its flow."""
        flow = FLOWS.get(prepared.task.kind)
        if flow is None:
            known = ", ".join(FLOWS)
            raise TaskDataError(f"task {prepared.task.name}: unknown kind {prepared.task.kind!r}; known: {known}")
        return flow(self, prepared)

    def close(self) -> None:
        for backend in self._opened:
            backend.close()
        self._opened.clear()
        if self.cache is not None:
            self.cache.close()
            self.cache = None


def _per_item(session: Session, prepared: PreparedRun) -> RunSummary:
    judge = session.judge if prepared.task.judged_metrics else None
    return execute_run(prepared, session.backend(session.model), session.settings, judge, session.answer_reader)


def _judged(session: Session, prepared: PreparedRun) -> RunSummary | None:
    settings = session.settings
    sources = AnswerSources(settings.output_root, settings.data, session.judging.reference_answers,
                            serve=session.other_backend)  # fmt: skip
    judged = JudgedSettings(settings, sources, session.judging.references)
    return run_judged(prepared, session.backend(session.model), session.judge, judged)


FLOWS: dict[str, Callable[[Session, PreparedRun], RunSummary | None]] = {"task": _per_item, "judged": _judged}


def run_all(session: Session, prepared: Sequence[PreparedRun],
            report: Callable[[PreparedRun, RunSummary | None], None]) -> None:  # fmt: skip
    """Run every prepared task in order and hand each summary to `report` as soon as it is written."""
    for run in prepared:
        report(run, session.run(run))
