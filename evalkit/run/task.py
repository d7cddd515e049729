"""What a task plugin is: a small class that maps data to messages and scores one completion.

A plugin lives in `tasks/<name>/task.py` (or `<plugin-dir>/<name>/task.py`) and defines `TASK`, an instance
of a `Task` subclass. It ships prompt templates (`prompts/<lang>.jinja`) and original samples
(`samples/<lang>.jsonl`). Real data comes from a Hugging Face dataset pinned by revision (`DataSource`),
or from a local JSONL file in the same schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jinja2

from evalkit.records import TaskDataError, read_jsonl
from evalkit.types import GenerationConfig, Message, Sample, Score

if TYPE_CHECKING:
    from evalkit.run.judging import JudgeQuery, Judgment


@dataclass(frozen=True)
class DataSource:
    """Where a language's real data lives: an HF dataset id pinned by revision.

    `name` tells alternatives apart (`--data full:<name>`; plain `--data full` takes the first).
    `data_files` maps split -> file for repositories that keep plain JSONL files per language.
    """

    name: str
    dataset_id: str
    revision: str
    split: str
    config: str | None = None
    fewshot_split: str | None = None
    data_files: Mapping[str, str] | None = None
    note: str = ""
    repo_type: str = "datasets"  # or "spaces": files kept in a Hugging Face Space (e.g. a leaderboard's data/)

    def describe(self) -> str:
        config = f"/{self.config}" if self.config else ""
        space = "spaces/" if self.repo_type == "spaces" else ""
        return f"{space}{self.dataset_id}{config}@{self.revision[:12]} [{self.split}]"


def require_fields(row: Mapping[str, Any], names: Sequence[str], where: str) -> None:
    for name in names:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise TaskDataError(f"{where}: field {name!r} is missing or not a non-empty string")


def load_hf_rows(source: DataSource, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a pinned Hugging Face dataset split (needs `datasets`, imported lazily)."""
    try:
        import datasets  # noqa: PLC0415 - optional and slow to import
    except ImportError:
        raise TaskDataError("real data needs the `datasets` package: pip install 'evalkit[data]'") from None
    split = split or source.split
    try:
        if source.data_files:
            # Plain JSONL files in a hub repo are read with the packaged json builder straight from the pinned
            # commit, so a loading script in the same repo (which `datasets` 4+ refuses) is never involved.
            files = {name: _hub_file(source, path) for name, path in source.data_files.items()}
            dataset = datasets.load_dataset("json", data_files=files, split=split)
        else:
            dataset = datasets.load_dataset(source.dataset_id, source.config, split=split, revision=source.revision)
    except Exception as exc:  # noqa: BLE001 - network, auth, missing revision: one clear line
        raise TaskDataError(f"cannot load {source.describe()}: {type(exc).__name__}: {exc}") from None
    return [dict(row) for row in dataset]


def is_hub_data(data: str) -> bool:
    return data == "full" or data.startswith("full:")


def _hub_file(source: DataSource, path: str) -> str:
    if source.dataset_id == "json":  # a local json source (tests, or a team's own files)
        return path
    return f"hf://{source.repo_type}/{source.dataset_id}@{source.revision}/{path}"


@dataclass(frozen=True)
class FollowUp:
    """The next step of a multi-step item: messages appended after the previous answer, and config overrides."""

    messages: tuple[Message, ...] = ()
    overrides: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TaskOption:
    """A task setting users change with `--task-option <task>.<name>=<value>` (recorded in summary.json)."""

    default: str
    help: str
    choices: tuple[str, ...] = ()


#: Options every task has (`--task-option <task>.<name>=<value>`), besides its own.
COMMON_OPTIONS: Mapping[str, TaskOption] = {
    "language_mismatch": TaskOption("keep", "a reply in another language than the task's: 'keep' its score (it is "
                                    "counted in extra.language either way) or score it 'zero' (per-item tasks)",
                                    choices=("keep", "zero")),
}  # fmt: skip


class Task:
    """Base class of task plugins. Subclasses set the class attributes and implement the three methods."""

    name: ClassVar[str]
    version: ClassVar[str]
    #: The flow that evaluates it (evalkit.run.session.FLOWS): "task" (scored per item by the runner) or "judged"
    #: (a judge compares its answers with another model's: evalkit.run.judged.JudgedTask).
    kind: ClassVar[str] = "task"
    languages: ClassVar[tuple[str, ...]]
    sources: ClassVar[Mapping[str, tuple[DataSource, ...]]] = {}
    generation: ClassVar[GenerationConfig] = GenerationConfig()
    metrics: ClassVar[tuple[str, ...]]
    #: Sample.metadata keys whose values split the metrics in summary.json (e.g. "category").
    breakdowns: ClassVar[tuple[str, ...]] = ()
    #: Temperature used when several samples per item are drawn (--samples N > 1) and none was given.
    sampling_temperature: ClassVar[float] = 0.8
    #: Settings a user may change with --task-option (name -> TaskOption); read with `self.option(name)`.
    options: ClassVar[Mapping[str, TaskOption]] = {}
    #: A message role this task sends -> the (option, value) that folds it into roles every chat template knows;
    #: the plan applies it (and records it) for backends that cannot carry the role.
    role_fallbacks: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: Metrics decided by a judge model (--judge); without a judge they are absent from the summary, never 0.
    judged_metrics: ClassVar[tuple[str, ...]] = ()
    #: The metric leaderboards show and the gate compares (default: the first of `metrics`).
    primary_metric: ClassVar[str | None] = None
    #: Score (percent) of random / majority guessing on the primary metric, for the baseline-normalised
    #: leaderboard average (None: the task is not in that average, e.g. judged arenas).
    chance_level: ClassVar[float | None] = None

    def __init__(self, folder: Path):
        self.folder = folder
        self.options = {**COMMON_OPTIONS, **type(self).options}
        self.option_values: dict[str, str] = {name: option.default for name, option in self.options.items()}
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder / "prompts")),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )

    # -- plugin API ------------------------------------------------------------------------------------
    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        raise NotImplementedError

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        raise NotImplementedError

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        raise NotImplementedError

    def score_batch(self, samples: Sequence[Sample], completions: Sequence[str], lang: str) -> list[Score]:
        """Score many completions at once (code tasks run them in parallel); by default one by one."""
        return [self.score(s, c, lang) for s, c in zip(samples, completions, strict=True)]

    def score_truncated(self, sample: Sample, score: Score, lang: str) -> Score:
        """Re-read an item whose last reply was cut by the token limit (finish_reason "length").

        The runner calls it after scoring; by default the score stands. Tasks that read a final answer
        keep only an answer committed before the cut and otherwise score the reply as no answer.
        """
        return score

    def item_metrics(self, scores: Sequence[Mapping[str, float]]) -> dict[str, float]:
        """One item's metrics from its replicas' scores (several with --samples N); by default their mean.

        A metric some replica lacks (a judged metric without a judge, an unparsed verdict) is left out.
        """
        present = [m for m in self.metrics if all(m in s for s in scores)]
        return {m: sum(s[m] for s in scores) / len(scores) for m in present}

    def failed_values(self) -> dict[str, float]:
        """Metric values of an item whose request failed or whose scorer crashed: 0 (judged metrics absent)."""
        return {metric: 0.0 for metric in self.metrics if metric not in self.judged_metrics}

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Task-specific additions to summary.json["extra"] (e.g. counts of sandbox outcomes)."""
        return {}

    def audit_sample(self, expected: str | None, row: Mapping[str, Any]) -> Sample:
        """A stand-in item whose gold answer is `expected`, for `evalkit audit-extraction` (tasks that read an
        answer out of a reply override it; the row may carry task fields such as `n_options`)."""
        raise TaskDataError(f"task {self.name!r} has no answer reader to audit")

    # -- multi-step items (optional) ---------------------------------------------------------------------
    def follow_up(self, sample: Sample, lang: str, step: int) -> FollowUp | None:
        """Step `step` (1, 2, ...) after the first answer, or None when the item is done (the default)."""
        return None

    def steps_per_item(self, sample: Sample) -> int:
        """How many requests one item makes (its first step and every follow-up), for the plan's count."""
        return 1

    def score_steps(self, sample: Sample, answers: Sequence[str], lang: str) -> Score:
        """Score a multi-step item from every step's answer; by default only the last one counts."""
        return self.score(sample, answers[-1], lang)

    # -- judged metrics (optional; see evalkit.run.judging) ----------------------------------------------------
    def judge_query(self, sample: Sample, answers: Sequence[str], lang: str) -> JudgeQuery | None:
        """The judge prompt for one answered item (None: this item needs no judge)."""
        return None

    def parse_verdict(self, text: str) -> Any | None:
        """The verdict in a judge reply, or None when it has none (strict: never guess)."""
        return None

    def apply_judgment(self, sample: Sample, score: Score, judgment: Judgment[Any]) -> Score:
        """Fold a judgment into the item's score (add the judged metrics, keep the raw judge text)."""
        return score

    # -- options -----------------------------------------------------------------------------------------------
    def set_option(self, name: str, value: str) -> None:
        if name not in self.options:
            known = ", ".join(sorted(self.options)) or "none"
            raise TaskDataError(f"task {self.name} has no option {name!r} (options: {known})")
        choices = self.options[name].choices
        if choices and value not in choices:
            raise TaskDataError(f"task option {self.name}.{name}={value!r}: choose one of {', '.join(choices)}")
        self.option_values[name] = value

    def option(self, name: str) -> str:
        return self.option_values[name]

    # -- shared machinery ------------------------------------------------------------------------------
    def check_language(self, lang: str) -> None:
        if lang not in self.languages:
            raise TaskDataError(f"task {self.name} has no language {lang!r}; it has: {', '.join(self.languages)}")

    def render(self, lang: str, **context: Any) -> str:
        try:
            return self._templates.get_template(f"{lang}.jinja").render(**context).strip()
        except jinja2.TemplateNotFound:
            raise TaskDataError(f"task {self.name}: no prompt template prompts/{lang}.jinja") from None

    def samples_path(self, lang: str) -> Path:
        return self.folder / "samples" / f"{lang}.jsonl"

    def resolve_source(self, lang: str, data: str) -> DataSource:
        """The DataSource that `--data full` or `--data full:<name>` means for this language."""
        options = self.sources.get(lang, ())
        if not options:
            raise TaskDataError(
                f"task {self.name} has no public dataset for {lang!r}: pass a local file with --data PATH"
            )
        if data == "full":
            return options[0]
        wanted = data.split(":", 1)[1]
        for source in options:
            if source.name == wanted:
                return source
        names = ", ".join(f"full:{s.name}" for s in options)
        raise TaskDataError(f"task {self.name}/{lang} has no data source {data!r}; it has: {names}")

    def data_description(self, lang: str, data: str) -> dict[str, Any]:
        """What summary.json records about the data a run used."""
        if data == "samples":
            return {"source": "samples", "path": f"{self.folder.parent.name}/{self.folder.name}/samples/{lang}.jsonl"}
        if is_hub_data(data):
            source = self.resolve_source(lang, data)
            return {"source": "hf", "name": source.name, "dataset_id": source.dataset_id, "config": source.config,
                    "revision": source.revision, "split": source.split,
                    "data_files": dict(source.data_files) if source.data_files else None}  # fmt: skip
        return {"source": "local", "path": str(Path(data).resolve())}

    def load(self, lang: str, data: str, limit: int | None = None) -> list[Sample]:
        """Items for one language from bundled samples, a pinned HF dataset (full[:name]) or a local JSONL path."""
        self.check_language(lang)
        if data == "samples":
            path = self.samples_path(lang)
            rows, where = read_jsonl(path), str(path)
        elif is_hub_data(data):
            source = self.resolve_source(lang, data)
            rows, where = load_hf_rows(source), source.describe()
        else:
            path = Path(data)
            rows, where = read_jsonl(path), str(path)
        if not rows:
            raise TaskDataError(f"{where}: no items")
        samples = []
        for index, row in enumerate(rows[:limit] if limit else rows):
            location = f"{where}:{row.get('_line', index + 1)}"
            samples.append(self.sample_from_row(row, index, location))
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            raise TaskDataError(f"{where}: duplicate item ids")
        return samples

    def fewshot(self, lang: str, data: str) -> list[Sample]:
        """Few-shot exemplars; tasks without few-shot return []."""
        return []

    def item_generation(self, sample: Sample) -> Mapping[str, Any]:
        """Per-item generation settings over the task's (e.g. MT-Bench's per-category temperature).

        A setting the user gave on the command line wins over these.
        """
        return {}

    def stop_sequences(self, lang: str) -> tuple[str, ...]:
        """Extra stop strings for this language (added to the task's generation config)."""
        return ()
