"""Start a run from its RunConfig: check the whole plan, then evaluate every model on every task and language.

The CLI, the config file and `evalkit.evaluate()` all end here with a RunConfig; nothing below reads flags.
`launch` returns the summaries and prints only through the `say` callback it is given (the API gives none).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evalkit.backends import BackendOptions
from evalkit.backends.chat_templates import load_chat_template
from evalkit.backends.modelspec import ModelSpec, ModelSpecError, parse_model_string
from evalkit.records import write_json
from evalkit.run.config import RunConfig
from evalkit.run.judging import JUDGE_MODES, JudgeInfo
from evalkit.run.plan import (
    Pairs,
    PlanError,
    check_existing,
    check_ranges,
    check_writable,
    clear,
    describe,
    fold_roles,
    must_replace,
    planned_configs,
    select_pairs,
)
from evalkit.run.plugins import BUILTIN_TASKS, available_tasks, load_task
from evalkit.run.references import DATASET, HANDWRITTEN
from evalkit.run.runner import PreparedRun, RunSettings, needs_judge, prepare_run
from evalkit.run.second_reading import SCOPES
from evalkit.run.session import JudgeSettings, Session, run_all
from evalkit.run.task import Task, is_hub_data
from evalkit.stats.arena import METHODS as ARENA_METHODS
from evalkit.stats.style_control import LENGTH_UNITS
from evalkit.types import RunSummary

LM_EVAL_PREFIX = "lm_eval:"
ARENA_DEFAULT_BASELINE = "local:smollm2"

Say = Callable[[str], None]


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("EVALKIT_CACHE", os.path.join(base, "evalkit", "responses.sqlite")))


def validate(config: RunConfig) -> None:
    """What can be checked of a RunConfig alone, before any task is read (one line each, exit 2)."""
    numbers = {f.replace("_", "-"): getattr(config, f) for f in (
        "limit", "samples", "concurrency", "timeout", "max_retries", "max_tokens_cap", "judge_max_tokens",
        "bootstrap_rounds", "max_error_rate", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
        "presence_penalty", "frequency_penalty", "max_tokens")}  # fmt: skip
    check_ranges(numbers)
    if config.samples > 1 and config.temperature == 0:
        raise PlanError(f"--samples {config.samples} with --temperature 0 draws {config.samples} identical samples; "
                        "give a temperature above 0 (or leave it out: the task's sampling temperature)")  # fmt: skip
    for key, value, allowed in (("judge-mode", config.judge_mode, ("auto", *JUDGE_MODES)),
                                ("arena-method", config.arena_method, ARENA_METHODS),
                                ("answer-judge-scope", config.answer_judge_scope, SCOPES),
                                ("style-control", config.style_control, LENGTH_UNITS)):  # fmt: skip
        if value is not None and value not in allowed:
            raise PlanError(f"--{key} {value!r}: choose one of {', '.join(allowed)}")
    missing = [str(p) for p in [*config.plugins, *config.lm_eval_include] if not p.is_dir()]
    if missing:
        raise PlanError(f"--plugins / --lm-eval-include: no such folder: {', '.join(missing)}")
    duplicates = sorted({m for m in config.model if config.model.count(m) > 1})
    if duplicates:
        raise PlanError(f"--model: named more than once: {', '.join(duplicates)}")
    if config.name is not None and len(config.model) > 1:
        raise PlanError("--name names one model's results folder: leave it out when running several models")
    for flag, names in (("tasks", config.tasks), ("langs", config.langs)):
        repeated = sorted({n for n in names or () if (names or ()).count(n) > 1})
        if repeated:
            raise PlanError(f"--{flag}: named more than once: {', '.join(repeated)}")


@dataclass(frozen=True)
class ModelPlan:
    """One model's part of a run: what will be sent, and what a finished run under its name must match."""

    spec: ModelSpec
    settings: RunSettings
    options: BackendOptions
    prepared: list[PreparedRun]
    pairs: Pairs
    notes: list[str]
    bridged: list[str]
    replaced: list[Path]


def plan_model(config: RunConfig, model: str, command: Sequence[str]) -> tuple[ModelPlan, JudgeSettings]:
    """Read every task's data for one model and check the plan (raises PlanError / UserError, nothing sent)."""
    spec = parse_model_string(model)
    requested = list(config.tasks) if config.tasks is not None else ["all"]
    bridged = [name[len(LM_EVAL_PREFIX):] for name in requested if name.startswith(LM_EVAL_PREFIX)]
    native = [name for name in requested if not name.startswith(LM_EVAL_PREFIX)]
    available = available_tasks(list(config.plugins))
    task_names = select(native, available) if native else []
    tasks = [load_task(name, list(config.plugins)) for name in task_names]
    explicit = apply_task_options(tasks, [*arena_options(config), *config.task_option])
    langs = list(config.langs) if config.langs is not None else None
    local_file = config.data != "samples" and not is_hub_data(config.data)
    if local_file and len(tasks) > 1:
        raise PlanError("--data PATH names one file: run one task at a time with it")
    if local_file and not Path(config.data).is_file():
        raise PlanError(f"--data {config.data!r}: not 'samples', 'full', 'full:<source>' or an existing file")
    if local_file and tasks and (langs is None and len(tasks[0].languages) > 1 or langs is not None and len(langs) > 1):
        raise PlanError(f"--data {config.data}: one file holds one language's items; name it with --langs "
                        f"(one of {', '.join(tasks[0].languages)})")  # fmt: skip
    pairs = select_pairs(tasks, langs, tasks_named="all" not in native) if tasks else Pairs([])
    template_text = load_chat_template(config.chat_template) if config.chat_template else None
    options = BackendOptions(concurrency=config.concurrency, timeout_s=config.timeout, max_retries=config.max_retries,
                             chat_template=template_text, engine_args=config.engine_args())  # fmt: skip
    settings = RunSettings(
        output_root=config.output, model=str(spec), model_slug=config.name or spec.slug, data=config.data,
        limit=config.limit, generation_overrides=config.generation_overrides(), system_prompt=config.system_prompt,
        chat_template=config.chat_template, samples_per_item=config.samples, max_tokens_cap=config.max_tokens_cap,
        chat_template_sha256=hashlib.sha256(template_text.encode()).hexdigest() if template_text else None,
        step=config.step, command=tuple(command),
        answer_judge=str(parse_model_string(config.answer_judge)) if config.answer_judge else None,
        answer_judge_scope=config.answer_judge_scope, answer_judge_scored=config.answer_judge_scored,
    )  # fmt: skip
    prepared = [prepare_run(task, lang, settings) for task, lang in pairs.chosen]
    prepared, notes = fold_roles(prepared, spec, explicit, lambda task, lang: prepare_run(task, lang, settings))
    references, reference_answers = reference_settings(config)
    judge_spec = parse_model_string(config.judge) if config.judge else None
    judging = JudgeSettings(judge=judge_spec, max_tokens=config.judge_max_tokens, mode=config.judge_mode,
                            references=references, reference_answers=reference_answers)  # fmt: skip
    judge_info = JudgeInfo(str(judge_spec), judging.mode_in_force, config.judge_max_tokens) if judge_spec else None
    configs = planned_configs(prepared, settings, judge_info, references)
    replaced = check_existing(prepared, configs, settings, config.overwrite)
    if bridged:
        replaced += check_existing_bridged(bridged, settings, config.overwrite)
    return ModelPlan(spec, settings, options, prepared, pairs, notes, bridged, replaced), judging


def launch(config: RunConfig, command: Sequence[str] = (), say: Say | None = None,
           on_summary: Callable[[RunSummary, bool], None] | None = None) -> list[RunSummary]:  # fmt: skip
    """Check the plan of every model, then run them one after another; returns every summary written.

    With `config.dry_run` the plan is described through `say` and nothing starts.
    """
    validate(config)
    if config.allow_unisolated:
        os.environ["EVALKIT_ALLOW_UNISOLATED"] = "1"  # read by evalkit.sandbox.code_task, also in worker threads
    cache_path = None if config.no_cache else (config.cache_path or default_cache_path())
    plans = [plan_model(config, model, command) for model in config.model]
    check_writable(config.output, cache_path)
    if config.dry_run:
        for plan, judging in plans:
            describe_plan(plan, judging, config, say or (lambda line: None))
        return []
    preflight(plans, config)
    bridge_plans = []
    for plan, _ in plans:
        bridge_plan = None
        if plan.bridged:
            from evalkit.run.lm_eval_bridge import plan_tasks  # noqa: PLC0415 - imports lm-eval

            bridge_plan = plan_tasks(plan.bridged, plan.spec, list(config.lm_eval_include), plan.options)
        bridge_plans.append(bridge_plan)
    summaries: list[RunSummary] = []

    def report(summary: RunSummary | None, judged: bool = False) -> None:
        if summary is not None:
            summaries.append(summary)
            if on_summary is not None:
                on_summary(summary, judged)

    for (plan, judging), bridge_plan in zip(plans, bridge_plans, strict=True):
        for line in [*plan.pairs.skipped, *plan.notes]:
            if say is not None:
                say(f"evalkit: {line}")
        clear(plan.replaced)
        write_json(config.output / plan.settings.model_slug / "run_config.json",
                   {**config.to_dict(), "model": [str(plan.spec)]})
        if plan.prepared:
            with Session(plan.spec, plan.settings, plan.options, cache_path, judging,
                         progress=not config.no_progress) as session:  # fmt: skip
                session.open(judged=any(needs_judge(run.task) for run in plan.prepared))
                run_all(session, plan.prepared, lambda run, summary: report(summary, run.task.kind == "judged"))
        if bridge_plan is not None:
            from evalkit.run.lm_eval_bridge import run_plan  # noqa: PLC0415

            run_plan(bridge_plan, plan.spec, plan.options, plan.settings, cache_path, report)
    return summaries


def check_existing_bridged(names: Sequence[str], settings: RunSettings, overwrite: bool) -> list[Path]:
    """Finished lm_eval: runs under this name: the same config reruns; another is refused unless `overwrite`."""
    from evalkit.run.lm_eval_bridge import bridge_config, existing_bridge_runs  # noqa: PLC0415 - no lm-eval import

    replaced = []
    for name in names:
        wanted = bridge_config(name, settings)
        for folder, found in existing_bridge_runs(settings.output_root, settings.model_slug, name):
            if must_replace(folder, found or None, wanted, overwrite):
                replaced.append(folder)
    return replaced


def preflight(plans: Sequence[tuple[ModelPlan, JudgeSettings]], config: RunConfig) -> None:
    """Every OpenAI-compatible server the run will use (each model's, the judge's, the answer judge's) answers and
    takes the key before the first request of the first model (the embedded and vLLM backends start with their
    model's turn)."""
    from evalkit.backends import BackendError, build_backend  # noqa: PLC0415

    seen: set[str] = set()
    for plan, judging in plans:
        roles = [("model", plan.spec, plan.options)]
        if judging.judge is not None:
            roles.append(("judge", judging.judge, replace(plan.options, chat_template=None, engine_args={})))
        if config.answer_judge:
            spec = parse_model_string(config.answer_judge)
            roles.append(("answer judge", spec, replace(plan.options, chat_template=None, engine_args={})))
        for role, spec, options in roles:
            if spec.kind != "openai" or str(spec) in seen:
                continue
            seen.add(str(spec))
            try:
                build_backend(spec, options).close()
            except BackendError as exc:
                raise BackendError(f"{role} {spec}: {exc}") from None


def describe_plan(plan: ModelPlan, judging: JudgeSettings, config: RunConfig, say: Say) -> None:
    judge = judging.judge
    say(f"plan: {plan.spec} -> {config.output / plan.settings.model_slug}" + (f", judge {judge}" if judge else ""))
    for line in describe(plan.prepared, judge is not None, max(1, len(judging.references)), plan.pairs.skipped,
                         plan.notes):  # fmt: skip
        say(line)
    if plan.bridged:
        from evalkit.run.lm_eval_bridge import unknown_names  # noqa: PLC0415

        missing = unknown_names(plan.bridged, list(config.lm_eval_include))
        if missing:
            raise PlanError(f"lm-eval knows no task or group {', '.join(map(repr, missing))}")
        say(f"  lm-eval tasks (counted by lm-eval when run): {', '.join(plan.bridged)}")


def select(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    if list(requested) == ["all"]:
        return list(available)
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise PlanError(f"unknown task {', '.join(map(repr, unknown))}; available: {', '.join(available)}")
    return list(requested)


def arena_options(config: RunConfig) -> list[str]:
    """--arena-method / --bootstrap-rounds / --bootstrap-seed / --style-control as the Arena-Hard options."""
    flags = (("method", config.arena_method), ("rounds", config.bootstrap_rounds), ("seed", config.bootstrap_seed),
             ("style_control", config.style_control))  # fmt: skip
    return [f"arena_hard.{name}={value}" for name, value in flags if value is not None]


def apply_task_options(tasks: Sequence[Task], assignments: Sequence[str]) -> dict[str, set[str]]:
    """Apply `--task-option task.name=value` settings; an option for a task not being run is an error, and so
    is one setting given two different values (`--arena-method v2` with `arena_hard.method=v0.1`).
    Returns the options set by hand, task -> names."""
    by_name = {task.name: task for task in tasks}
    given: dict[str, str] = {}
    explicit: dict[str, set[str]] = {}
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        if key in given and given[key] != value:
            raise PlanError(f"--task-option {key}: given twice, as {given[key]!r} and {value!r} (a flag such as "
                            "--arena-method sets the same option)")  # fmt: skip
        given[key] = value
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        task_name, dot, option = key.partition(".")
        if not sep or not dot:
            raise PlanError(f"--task-option {assignment!r}: expected TASK.NAME=VALUE")
        if task_name not in by_name:
            if task_name in BUILTIN_TASKS:
                continue  # a setting for a built-in task this run does not include (e.g. from `make eval`)
            raise PlanError(f"--task-option {assignment!r}: unknown task {task_name!r}")
        by_name[task_name].set_option(option, value)
        explicit.setdefault(task_name, set()).add(option)
    return explicit


def reference_key(name: str) -> str:
    """A reference as written in results: a model string in its canonical form, else the name as given
    (`dataset`, or a model known only by its answers file, e.g. FastChat's `gpt-4`)."""
    try:
        return str(parse_model_string(name))
    except ModelSpecError:
        return name.strip()


def parse_reference_answers(assignments: Sequence[str]) -> dict[str, Path]:
    """`--reference-answers NAME=FILE` -> {name: path}; the file must exist."""
    found: dict[str, Path] = {}
    for assignment in assignments:
        name, sep, path = assignment.partition("=")
        if not sep or not name or not path:
            raise PlanError(f"--reference-answers {assignment!r}: expected NAME=FILE")
        if not Path(path).is_file():
            raise PlanError(f"--reference-answers {assignment!r}: no such file {path}")
        found[reference_key(name)] = Path(path)
    return found


def reference_settings(config: RunConfig) -> tuple[tuple[str, ...], dict[str, Path]]:
    """--reference / --reference-answers, with arena-hard-auto's --baseline / --baseline-answers as aliases."""
    answers = parse_reference_answers(config.reference_answers)
    names = [reference_key(r) for r in config.reference]
    if config.baseline is not None:
        names.append(reference_key(config.baseline))
    if config.baseline_answers is not None:
        if not config.baseline_answers.is_file():
            raise PlanError(f"--baseline-answers {config.baseline_answers}: no such file")
        baseline = names[-1] if config.baseline is not None else reference_key(ARENA_DEFAULT_BASELINE)
        answers[baseline] = config.baseline_answers
    for name in names:
        if name not in (DATASET, HANDWRITTEN) and name not in answers:
            parse_model_string(name)  # a reference without an answers file must be a model we can run
    return tuple(dict.fromkeys(names)), answers


def failed_share(summaries: Sequence[RunSummary]) -> tuple[int, int, dict[str, int]]:
    """(failed items, items, each distinct error -> count) over a run's summaries."""
    counts: dict[str, int] = {}
    for summary in summaries:
        for text, count in summary.errors.items():
            counts[text] = counts.get(text, 0) + count
    return sum(s.n_errors for s in summaries), sum(s.n for s in summaries), counts

