"""The plan check: everything about a run that can be wrong is found before its first request.

`evalkit run` (and every other face that starts a run) reads every task's data, builds every request and then
checks the whole plan here: values in range, the (task, language) pairs that exist, message roles the backend
can carry (folded where the task documents a fallback, recorded in its task options), the results and cache
paths writable, and finished runs under the same name made with another configuration (refused unless
--overwrite). Every refusal is one line naming the flag, file or pair; nothing has been sent yet.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.backends.modelspec import ModelSpec
from evalkit.errors import UserError
from evalkit.records import run_dir
from evalkit.run.judging import JudgeInfo
from evalkit.run.runner import PreparedRun, RunSettings, needs_judge, run_config
from evalkit.run.task import Task


class PlanError(UserError):
    """A run that must not start; the message names the flag, file or (task, language) pair."""


#: Allowed ranges of numeric run settings: flag -> (lowest, highest, whether the lowest is excluded).
RANGES: Mapping[str, tuple[float | None, float | None, bool]] = {
    "limit": (1, None, False), "samples": (1, None, False), "concurrency": (1, None, False),
    "timeout": (0, None, True), "max-retries": (0, None, False), "max-tokens": (1, None, False),
    "max-tokens-cap": (1, None, False), "judge-max-tokens": (1, None, False), "temperature": (0, None, False),
    "top-p": (0, 1, True), "top-k": (-1, None, False), "min-p": (0, 1, False), "repetition-penalty": (0, None, True),
    "presence-penalty": (-2, 2, False), "frequency-penalty": (-2, 2, False), "bootstrap-rounds": (1, None, False),
    "max-error-rate": (0, 1, False),
}  # fmt: skip


def check_ranges(values: Mapping[str, Any]) -> None:
    """Refuse a numeric setting outside its range (`--limit 0`, `--top-p 2`, `--timeout -1`, ...)."""
    for flag, value in values.items():
        if value is None or flag not in RANGES:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise PlanError(f"--{flag} {value!r}: must be a finite number")
        low, high, open_low = RANGES[flag]
        too_low = low is not None and (value <= low if open_low else value < low)
        too_high = high is not None and value > high
        if too_low or too_high:
            lower = f"> {low:g}" if open_low else f">= {low:g}" if low is not None else ""
            upper = f"<= {high:g}" if high is not None else ""
            wanted = " and ".join(part for part in (lower, upper) if part)
            raise PlanError(f"--{flag} {value!r}: must be {wanted}")


@dataclass(frozen=True)
class Pairs:
    """The (task, language) pairs a run evaluates, and those left out of an 'all' with the reason."""

    chosen: list[tuple[Task, str]]
    skipped: list[str] = field(default_factory=list)


def select_pairs(tasks: Sequence[Task], langs: Sequence[str] | None, tasks_named: bool) -> Pairs:
    """Which (task, language) pairs run. Named tasks with named languages must all exist (each missing pair is
    named with the languages the task has); with --tasks all, tasks without a named language are skipped and
    said so; a language no task has is refused."""
    known = list(dict.fromkeys(lang for task in tasks for lang in task.languages))
    if langs is not None and not tasks_named:
        unknown = [lang for lang in langs if lang not in known]
        if unknown:
            raise PlanError(f"--langs: no selected task has {', '.join(unknown)}; languages: {', '.join(known)}")
    chosen, missing, skipped = [], [], []
    for task in tasks:
        wanted = list(task.languages) if langs is None else list(langs)
        for lang in wanted:
            if lang in task.languages:
                chosen.append((task, lang))
            elif tasks_named:
                missing.append(f"{task.name}/{lang} (it has {', '.join(task.languages)})")
            else:
                skipped.append(f"{task.name}/{lang}: the task has no {lang} (it has {', '.join(task.languages)})")
    if missing:
        raise PlanError(f"no such task/language: {'; '.join(missing)}; drop the language or the task")
    if not chosen:
        raise PlanError("nothing to run: no selected task has a selected language")
    return Pairs(chosen, skipped)


def allowed_roles(spec: ModelSpec) -> frozenset[str] | None:
    """The message roles a backend can carry, when known before it starts (None: its chat template decides)."""
    if spec.kind == "local":
        from evalkit.backends.local import LLAMA_CPP_ROLES  # noqa: PLC0415

        return LLAMA_CPP_ROLES
    if spec.kind == "openai" and spec.base_url is None:
        from evalkit.backends.openai_backend import OPENAI_ROLES  # noqa: PLC0415

        return OPENAI_ROLES
    return None


def roles_of(prepared: PreparedRun) -> set[str]:
    return {message.role for request in prepared.requests for message in request.messages}


def fold_roles(prepared: Sequence[PreparedRun], spec: ModelSpec, explicit: Mapping[str, set[str]],
               prepare: Callable[[Task, str], PreparedRun]) -> tuple[list[PreparedRun], list[str]]:  # fmt: skip
    """Apply each task's documented fallback for roles the backend cannot carry; refuse where there is none.

    `explicit` holds the options a user set by hand (task -> names): a fallback never overrides those.
    Returns the runs (rebuilt where folded) and one note per folded task.
    """
    allowed = allowed_roles(spec)
    if allowed is None:
        return list(prepared), []
    result, notes = [], []
    for run in prepared:
        task, extra = run.task, sorted(roles_of(run) - allowed)
        if not extra:
            result.append(run)
            continue
        for role in extra:
            fallback = task.role_fallbacks.get(role)
            if fallback is None:
                raise PlanError(f"{task.name}/{run.lang}: {spec} cannot carry message role {role!r} and the task "
                                "has no fallback; use a backend whose chat template knows it")  # fmt: skip
            option, value = fallback
            if option in explicit.get(task.name, set()) and task.option(option) != value:
                raise PlanError(f"{task.name}: {spec} cannot carry message role {role!r}; use --task-option "
                                f"{task.name}.{option}={value} instead of {task.option(option)!r}")  # fmt: skip
            if task.option(option) != value:
                task.set_option(option, value)
                notes.append(f"{task.name}: {spec} cannot carry role {role!r}: {task.name}.{option}={value} "
                             "(the task's documented fallback; recorded in task_options)")  # fmt: skip
        rebuilt = prepare(task, run.lang)
        still = sorted(roles_of(rebuilt) - allowed)
        if still:
            raise PlanError(f"{task.name}/{run.lang}: {spec} cannot carry message role(s) {', '.join(still)}")
        result.append(rebuilt)
    return result, list(dict.fromkeys(notes))


def check_writable(output_root: Path, cache_path: Path | None) -> None:
    """The results root and the cache file can be written (one line each when not), before any request."""
    try:
        output_root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_root, prefix=".evalkit-write-check."):
            pass
    except OSError as exc:
        raise PlanError(f"--output {output_root}: cannot write there ({exc.strerror or exc})") from None
    if cache_path is None:
        return
    folder = cache_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlanError(f"--cache-path {cache_path}: cannot create its folder {folder} ({exc.strerror or exc}); "
                        "choose another --cache-path or use --no-cache") from None  # fmt: skip
    target = cache_path if cache_path.exists() else folder
    if not os.access(target, os.W_OK) or (cache_path.exists() and not cache_path.is_file()):
        raise PlanError(f"--cache-path {cache_path}: not writable; choose another --cache-path or use --no-cache")


def planned_configs(prepared: Sequence[PreparedRun], settings: RunSettings, judge: JudgeInfo | None,
                    references: Sequence[str]) -> list[dict[str, Any]]:  # fmt: skip
    """The config each run's summary.json will record (evalkit.run.runner.run_config)."""
    configs = []
    for run in prepared:
        names = list(references) or [run.task.default_reference_of(run)] if run.task.kind == "judged" else []
        configs.append(run_config(run, settings, judge if needs_judge(run.task) else None, names))
    return configs


def config_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """The first setting two run configs differ in, as `key: old -> new`, or None when they are the same."""
    for key in dict.fromkeys([*new, *old]):
        if old.get(key) != new.get(key):
            a, b = old.get(key), new.get(key)
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                inner = config_difference(a, b)
                return f"{key}.{inner}" if inner else f"{key}: {a!r} -> {b!r}"
            return f"{key}: {a!r} -> {b!r}"
    return None


def check_existing(prepared: Sequence[PreparedRun], configs: Sequence[Mapping[str, Any]], settings: RunSettings,
                   overwrite: bool) -> list[Path]:  # fmt: skip
    """Finished runs under this name: the same config resumes; another config is refused unless `overwrite`.

    Returns the folders --overwrite will clear (they are cleared by `clear`, after every check has passed).
    """
    import json  # noqa: PLC0415

    replaced = []
    for run, config in zip(prepared, configs, strict=True):
        folder = run_dir(settings.output_root, settings.model_slug, run.task.name, run.lang)
        summary_path = folder / "summary.json"
        if not summary_path.is_file():
            continue
        try:
            old = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            old = {}
        if must_replace(folder, old.get("config") if isinstance(old, dict) else None, config, overwrite):
            replaced.append(folder)
    return replaced


def must_replace(folder: Path, previous: Any, wanted: Mapping[str, Any], overwrite: bool) -> bool:
    """Whether a finished run in `folder` (made with config `previous`) is to be replaced: False when it was made
    with the same config (the run resumes), True with --overwrite, else the run is refused naming the difference."""
    changed = "made by an earlier evalkit without a recorded config" if not isinstance(previous, Mapping) \
        else config_difference(previous, wanted)  # fmt: skip
    if changed is None:
        return False
    if not overwrite:
        raise PlanError(f"{folder} holds a finished run with another configuration ({changed}); use another "
                        "--name, or --overwrite to replace it")  # fmt: skip
    return True


def clear(folders: Sequence[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def judge_requests(run: PreparedRun, references: int) -> int:
    """Judge requests a run makes at most (before re-asks), without its cache."""
    task = run.task
    if task.kind == "judged":
        questions = list({s.id: s for s in run.samples}.values())
        return sum(task.judge_requests_per_question(s, references) for s in questions)  # type: ignore[attr-defined]
    return len(run.requests) if task.judged_metrics else 0


def describe(prepared: Sequence[PreparedRun], judged: bool, references: int, skipped: Sequence[str],
             notes: Sequence[str]) -> list[str]:  # fmt: skip
    """`--dry-run`: one line per run with its items and requests, then the totals."""
    lines, model_total, judge_total = [], 0, 0
    for run in prepared:
        items = len({s.id for s in run.samples})
        requests = sum(run.task.steps_per_item(s) for s in run.samples)
        asked = judge_requests(run, references) if judged else 0
        model_total += requests
        judge_total += asked
        lines.append(f"  {run.task.name}/{run.lang}: {items} items, {requests} model requests"
                     + (f", {asked} judge requests" if asked else "") + f", max_tokens {run.config.max_tokens}")
    lines += [f"  skipped {s}" for s in skipped] + [f"  note: {n}" for n in notes]
    lines.append(f"total: {len(prepared)} runs, at most {model_total} model requests and {judge_total} judge "
                 "requests (fewer with answers in the cache)")
    return lines
