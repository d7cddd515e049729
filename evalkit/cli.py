"""The `evalkit` command line: it turns arguments into a RunConfig (evalkit.run.config) and calls the functions
the Python API calls; the other commands (list, leaderboard, gate, trend, view, show, rescore, score utilities)
are thin wrappers as well.

Errors a user can fix (bad flag, model string, file, unreachable server, missing key) are printed as one line
`evalkit: error: ...` with exit code 2, before any request; a run whose items failed writes its records, names
every distinct error and exits 3 when a task failed more than --max-error-rate of its items; a bug in evalkit
exits 1 with its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.backends.chat_templates import SHIPPED
from evalkit.backends.modelspec import parse_model_string
from evalkit.errors import UserError
from evalkit.publish.recap import recap_lines
from evalkit.redact import redact
from evalkit.run.alpaca_eval import format_table as alpaca_format
from evalkit.run.alpaca_eval import score_annotations
from evalkit.run.config import RunConfig, merge, read_config_file
from evalkit.run.judging import JUDGE_MODES
from evalkit.run.launch import default_cache_path, failed_share, launch
from evalkit.run.plugins import available_tasks, load_task
from evalkit.stats.arena import (
    METHODS,
    category_leaderboards,
    format_table,
    leaderboard_from_files,
    style_leaderboard_from_files,
)
from evalkit.stats.mt_bench import format_table as mt_bench_format
from evalkit.stats.mt_bench import table_from_files as mt_bench_table
from evalkit.stats.style_control import LENGTH_UNITS
from evalkit.types import finite_number

ENGINE_FLAGS = (
    ("tensor_parallel_size", int), ("data_parallel_size", int), ("pipeline_parallel_size", int),
    ("max_model_len", int), ("dtype", str), ("gpu_memory_utilization", float), ("enforce_eager", None),
    ("distributed_executor_backend", str), ("swap_space", float), ("trust_remote_code", None),
)  # fmt: skip
GENERATION_FLAGS = (
    ("temperature", float), ("top_p", float), ("top_k", int), ("min_p", float), ("repetition_penalty", float),
    ("presence_penalty", float), ("frequency_penalty", float), ("max_tokens", int), ("seed", int),
)  # fmt: skip


class UsageError(UserError):
    """Bad command-line input."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalkit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="evaluate a model on tasks and write results/",
                              description="Every flag is also a key of a --config file and a keyword of "
                              "evalkit.evaluate(): the flag's name with underscores (--cache-path -> cache_path).")
    run.add_argument("--config", type=Path, default=None, metavar="FILE",
                     help="a run file (.yaml/.yml or .toml) of the same settings; flags given here override it")
    run.add_argument("--model", default="local:smollm2",
                     help="model string, or several comma-separated (one leaderboard) (default: local:smollm2)")
    run.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (default)")
    run.add_argument("--langs", default="all", help="comma-separated languages, or 'all' (default)")
    run.add_argument("--limit", type=int, default=None, help="first N items per task and language")
    run.add_argument("--max-tokens-cap", type=int, default=None, metavar="N",
                     help="no task generates more than N new tokens (tasks with a smaller default keep it); "
                     "`make eval` uses it for its quick slice; recorded as generation_config in summary.json")
    run.add_argument("--data", default="samples",
                     help="'samples' (bundled, default), 'full' (the pinned HF dataset), 'full:<source>' "
                     "(a named alternative, see `evalkit list`) or a JSONL file in the dataset's schema")
    run.add_argument("--output", type=Path, default=Path("results"), help="results root (default: results)")
    run.add_argument("--name", default=None, help="results folder name for the model (default: from the model)")
    run.add_argument("--step", type=float, default=None, help="training step of this checkpoint (summary.json "
                     "extra.step; `evalkit trend` orders checkpoints by it)")
    run.add_argument("--plugins", type=Path, action="append", default=[], help="extra folder of task plugins")
    run.add_argument("--lm-eval-include", type=Path, action="append", default=[],
                     help="extra lm-eval task folder for lm_eval:<task> (repeatable)")
    run.add_argument("--concurrency", type=int, default=32, help="requests in flight (openai backend; default 32)")
    run.add_argument("--timeout", type=float, default=600.0, help="per-request timeout in seconds (default 600)")
    run.add_argument("--max-retries", type=int, default=6,
                     help="retries on 429/5xx/timeouts/resets (default 6); a request that cannot succeed (400 "
                     "context length, 401, 404, 422) is not retried")
    run.add_argument("--max-error-rate", type=float, default=0.0, metavar="SHARE",
                     help="the share of items that may fail (after retries) before the run exits 3 (default 0: "
                     "any failed item); failed items are never scored, only counted")
    run.add_argument("--dry-run", action="store_true",
                     help="check the whole plan, print it with the number of model and judge requests, and exit")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a finished run under the same name made with another configuration (without it "
                     "such a run is refused; one with the same configuration resumes)")
    run.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    run.add_argument("--cache-path", type=Path, default=None, help=f"SQLite cache (default: {default_cache_path()})")
    run.add_argument("--system-prompt", default=None, help="system message added to every request")
    run.add_argument("--chat-template", default=None, help=f"Jinja2 file or one of {', '.join(SHIPPED)} "
                     "(vllm backend; also sent to vLLM servers)")  # fmt: skip
    run.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    run.add_argument("--allow-unisolated", action="store_true",
                     help="let code tasks run model-written programs even when no sandbox is available")
    run.add_argument("--samples", type=int, default=1, help="completions per item (pass@k); temperature defaults to "
                     "the task's sampling temperature when N > 1")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--judge", default=None, help="model string of the judge for judged metrics (e.g. RAG accuracy); "
                     "the same model string as --model shares its backend")
    run.add_argument("--judge-max-tokens", type=int, default=1024, help="judge reply budget (default 1024)")
    run.add_argument("--judge-mode", default="auto", choices=("auto", *JUDGE_MODES),
                     help="text: the judge writes its reasoning and a label (the reference tools' method); choice: "
                     "the verdict as one constrained choice read from the first token's logprobs (for small local "
                     "judges; a smoke test, not a measurement); auto (default): choice for local:*, else text")
    run.add_argument("--answer-judge", default=None, metavar="MODEL",
                     help="a second reader: this model is asked for the final answer of gsm8k / mmlu_pro / math items; "
                     "both readings and their agreement are recorded (summary extra.answer_judge)")
    run.add_argument("--answer-judge-scope", default="uncertain", choices=("uncertain", "all"),
                     help="the items it reads: those the rules read with an uncertain rule (default) or all")
    run.add_argument("--answer-judge-scored", action="store_true",
                     help="score the answer judge's reading instead of the rules' (both are kept)")
    run.add_argument("--baseline", default=None, metavar="MODEL",
                     help="arena-hard-auto's name for --reference: the model Arena-Hard answers are judged against "
                     "(default: on the bundled samples `handwritten`, the answers written for them that ship; "
                     "on other data local:smollm2)")
    run.add_argument("--baseline-answers", type=Path, default=None,
                     help="answers of the --baseline (answers.jsonl or arena-hard-auto model_answer file); "
                     "= --reference-answers BASELINE=FILE")
    run.add_argument("--arena-method", default=None, choices=METHODS,
                     help="Arena-Hard statistics (default v0.1); = --task-option arena_hard.method=...")
    run.add_argument("--style-control", nargs="?", const="characters", default=None, choices=LENGTH_UNITS,
                     help="Arena-Hard: also the style-controlled score (length + markdown, arena-hard-auto v2); "
                     "lengths in characters (default) or tokens; = --task-option arena_hard.style_control=...")
    run.add_argument("--bootstrap-rounds", type=int, default=None, help="arena bootstrap rounds (default 100)")
    run.add_argument("--bootstrap-seed", type=int, default=None, help="arena bootstrap seed (default 0)")
    run.add_argument("--reference", action="append", default=[], metavar="MODEL",
                     help="the other model whose answers a judged benchmark compares with: Arena-Hard's baseline, "
                     "MT-Bench's reference (grades math/reasoning/coding), AlpacaEval's references (repeatable, one "
                     "column each); 'dataset' = the answers in the data. Answers come from --reference-answers, an "
                     "earlier run, the bundled ones, or are generated")
    run.add_argument("--reference-answers", action="append", default=[], metavar="NAME=FILE",
                     help="answers of a --reference model from a file (FastChat / alpaca_eval / evalkit format)")
    run.add_argument("--task-option", action="append", default=[], metavar="TASK.NAME=VALUE",
                     help="a task setting (`evalkit list` shows each task's options), e.g. rag.documents=fold; "
                     "repeatable")
    for name, kind in GENERATION_FLAGS:
        run.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, dest=name)
    vllm = run.add_argument_group("vLLM engine arguments (also accepted as vllm:<id>?key=value&...)")
    for name, kind in ENGINE_FLAGS:
        flag = f"--{name.replace('_', '-')}"
        if kind is None:
            vllm.add_argument(flag, action="store_true", default=None, dest=name)
        else:
            vllm.add_argument(flag, type=kind, default=None, dest=name)

    listing = commands.add_parser("list", help="show tasks with languages and data sources")
    listing.add_argument("--plugins", type=Path, action="append", default=[])

    arena = commands.add_parser("arena-hard", help="Arena-Hard utilities")
    arena_commands = arena.add_subparsers(dest="arena_command", required=True)
    score = arena_commands.add_parser("score", help="leaderboard from judgments (arena-hard-auto's layout or ours)")
    score.add_argument("--judgments", type=Path, required=True,
                       help="model_judgment/<judge>/ folder, a results/ tree, or one JSONL file")
    score.add_argument("--answers", type=Path, default=None, help="model_answer/ folder or results/ tree (avg tokens)")
    score.add_argument("--baseline", required=True, help="baseline model name as written in the files")
    score.add_argument("--method", default="v0.1", choices=METHODS)
    score.add_argument("--rounds", type=int, default=100)
    score.add_argument("--seed", type=int, default=0)
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.add_argument("--style-control", nargs="?", const="characters", default=None, choices=LENGTH_UNITS,
                       help="also the style-controlled scores (needs --answers): lengths in characters (default) or "
                       "tokens (the answers' token_len, as arena-hard-auto)")
    score.add_argument("--by-category", action="store_true",
                       help="v2: also score each question category against its own baseline (arena-hard-auto v2)")

    mt = commands.add_parser("mt-bench", help="MT-Bench utilities")
    mt_commands = mt.add_subparsers(dest="mt_command", required=True)
    mt_score = mt_commands.add_parser("score", help="turn and pooled means from FastChat's single judgments (or ours)")
    mt_score.add_argument("--judgments", type=Path, required=True,
                          help="a <judge>_single.jsonl file, a model_judgment/ folder or a results/ tree")
    mt_score.add_argument("--questions", type=Path, default=None, help="question.jsonl (categories)")
    mt_score.add_argument("--json", action="store_true", help="print JSON instead of a table")

    alpaca = commands.add_parser("alpaca-eval", help="AlpacaEval utilities")
    alpaca_commands = alpaca.add_subparsers(dest="alpaca_command", required=True)
    alpaca_score = alpaca_commands.add_parser("score", help="win-rate and LC win-rate from alpaca_eval annotations")
    alpaca_score.add_argument("--annotations", type=Path, required=True, help="alpaca_eval annotations.json")
    alpaca_score.add_argument("--difficulty", type=Path, default=None,
                              help="instruction_difficulty.csv (index,instruction_difficulty); default: no γ term")
    alpaca_score.add_argument("--gamed", type=Path, default=None,
                              help="alpaca_eval's df_gamed.csv (holds γ as well): length_controlled_v1, the LC of "
                                   "the published leaderboard; without it (and --difficulty) evalkit computes "
                                   "length_controlled_minimal, a length-only LC that is not the published one")
    alpaca_score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    alpaca_score.add_argument("--name", default=None,
                              help="the model's name in the table (default: the folder of alpaca_eval's "
                                   "<model>/<annotator>/annotations.json, else the file's name; generator_2 only "
                                   "for files holding several models)")

    board = commands.add_parser("leaderboard", help="publish results/leaderboard.md, .csv, .json and arena charts")
    board.add_argument("--results", type=Path, default=Path("results"), help="results root (default: results)")
    board.add_argument("--output", type=Path, default=None, help="where to write (default: the results root)")
    board.add_argument("--print", action="store_true", dest="show", help="also print leaderboard.md to the terminal")

    gate = commands.add_parser("gate", help="fail a candidate run that regressed against a baseline run")
    gate.add_argument("--baseline", type=Path, required=True, help="results/<model> of the reference run")
    gate.add_argument("--candidate", type=Path, required=True, help="results/<model> of the run under test")
    gate.add_argument("--tasks", default="all", help="comma-separated tasks (default: every shared task)")
    gate.add_argument("--max-drop", type=float, default=1.0,
                      help="largest tolerated drop in points (percent; MT-Bench ratings ×10) (default 1.0)")
    gate.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    gate.add_argument("--rounds", type=int, default=10000, help="paired bootstrap rounds (default 10000)")
    gate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    gate.add_argument("--report", type=Path, default=None, help="also write the markdown report here")
    gate.add_argument("--allow-errors", action="store_true",
                      help="gate incomplete runs (items failed after retries) over their answered items, the errors "
                           "named in the report (default: refuse them, exit 2)")

    trend = commands.add_parser("trend", help="every headline metric of checkpoints against the step: trend.md and "
                                "one PNG per language, with CIs and the gate's verdict between consecutive ones")
    trend.add_argument("checkpoints", nargs="+", help="results/<model> folders, e.g. results/ckpt-*")
    trend.add_argument("--order", default="step", choices=("step", "name"),
                       help="step (default: `evalkit run --step` of each run, else --step-pattern; without steps "
                            "the folders are ordered by name, and the report says so) or name")
    trend.add_argument("--step-pattern", default=None, metavar="REGEX",
                       help="read the step from the folder name with this regular expression (its first group, "
                            "else the whole match), e.g. 'ckpt-(\\d+)'; never guessed from digits in a name")
    trend.add_argument("--allow-errors", action="store_true",
                       help="show incomplete checkpoints (items failed after retries), marked ⚠ (default: refuse, "
                            "exit 2)")
    trend.add_argument("--output", type=Path, default=None, help="where to write (default: the folders' parent)")
    trend.add_argument("--max-drop", type=float, default=1.0, help="the gate's margin in points (default 1.0)")
    trend.add_argument("--alpha", type=float, default=0.05, help="the gate's significance level (default 0.05)")
    trend.add_argument("--rounds", type=int, default=2000, help="the gate's bootstrap rounds (default 2000)")
    trend.add_argument("--seed", type=int, default=0)

    audit = commands.add_parser("audit-extraction", help="read answers out of (lang, task, output, expected) rows and "
                                "report accuracy per task x language with every miss")
    audit.add_argument("file", type=Path, help="JSONL rows: lang, task, output, expected (null: no answer), note")
    audit.add_argument("--plugins", type=Path, action="append", default=[], help="extra plugin folder")
    audit.add_argument("--min-accuracy", type=float, default=None,
                       help="exit 1 when the overall accuracy (percent) is below this")
    audit.add_argument("--json", action="store_true", help="print the report as JSON")

    view = commands.add_parser("view", help="a static report of every number's evidence (opens from file://)")
    view.add_argument("results", type=Path, help="a results root, a results/<model> folder or one run folder")
    view.add_argument("results_b", type=Path, nargs="?", default=None,
                      help="a second run to compare with (the gate's evidence and every flipped item)")
    view.add_argument("--out", type=Path, default=None, help="report folder (default: RESULTS/report)")
    view.add_argument("--check", action="store_true", help="then open every page in headless Chromium (exit 1 on a "
                      "page that does not render or a JavaScript error)")
    show = commands.add_parser("show", help="one item's evidence chain in the terminal")
    show.add_argument("run_dir", type=Path, help="results/<model>/<task>/<lang>")
    show.add_argument("--id", required=True, help="the item's id (an arena's question id)")
    show.add_argument("--full", action="store_true", help="also the reasoning blocks and long messages in full")

    again = commands.add_parser("rescore", help="read a finished run's saved replies again with today's readers "
                                "(no model call, no cache) and list the items whose verdict changed")
    again.add_argument("run_dir", type=Path, help="results/<model> or one results/<model>/<task>/<lang> folder")
    again.add_argument("--plugins", type=Path, action="append", default=[], help="extra folder of task plugins")
    again.add_argument("--dry-run", action="store_true", help="list the changes without rewriting the files")
    parser.set_defaults(single_flags=single_flags(run), run_actions=list(run._actions))  # noqa: SLF001
    export = commands.add_parser("export-smollm2", help="write the embedded model as safetensors (for vLLM)")
    export.add_argument("target", type=Path)
    export.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    return parser


def single_flags(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """The option strings of every flag that takes one value (not the repeatable ones)."""
    return [tuple(a.option_strings) for a in parser._actions  # noqa: SLF001 - argparse has no public list
            if a.option_strings and not isinstance(a, (argparse._AppendAction, argparse._HelpAction))]


def check_repeated(argv: Sequence[str], flags: Sequence[tuple[str, ...]]) -> None:
    """A one-value flag given twice (`--model a --model b`) is refused instead of the last one silently winning."""
    for strings in flags:
        count = sum(token in strings or token.split("=", 1)[0] in strings for token in argv if token.startswith("-"))
        if count > 1:
            raise UsageError(f"{strings[-1]} given {count} times; give it once")


def command_list(args: argparse.Namespace) -> int:
    for name in available_tasks(args.plugins):
        task = load_task(name, args.plugins)
        shown = task.metrics if task.primary_metric in (None, *task.metrics) else (task.primary_metric,)
        print(f"{name}  v{task.version}  langs: {','.join(task.languages)}  metrics: {','.join(shown)}")
        for option, setting in task.options.items():
            choices = f" ({'|'.join(setting.choices)})" if setting.choices else ""
            shown = setting.default if len(setting.default) <= 40 else setting.default[:37] + "..."
            print(f"    --task-option {name}.{option}={shown!s}{choices}: {setting.help}")
        for lang in task.languages:
            sources = task.sources.get(lang, ())
            real = " | ".join(f"full:{s.name}: {s.describe()}" for s in sources) or "no public dataset (--data PATH)"
            print(f"    {lang}: samples: {task.folder.parent.name}/{name}/samples/{lang}.jsonl | {real}")
    return 0


def explicit_flags(args: argparse.Namespace, argv: Sequence[str], actions: Sequence[argparse.Action]) -> dict[str, Any]:
    """The settings given as flags on this command line (they override a --config file), by config key."""
    given = {token.split("=", 1)[0] for token in argv if token.startswith("--")}
    return {action.dest: getattr(args, action.dest) for action in actions
            if action.dest not in ("config", "help") and given & set(action.option_strings)}  # fmt: skip


def command_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """`evalkit run`: flags (over an optional --config file) -> RunConfig -> evalkit.run.launch."""
    clock = time.monotonic()
    explicit = explicit_flags(args, argv, args.run_actions)
    file_values, where = read_config_file(args.config) if args.config else ({}, {})
    where.update({key: f"--{key.replace('_', '-')}" for key in explicit})
    config = RunConfig.from_mapping(merge(file_values, explicit), where)
    summaries = launch(config, command=("evalkit", *argv), say=say,
                       on_summary=lambda summary, judged: print_summary(summary, judged))  # fmt: skip
    if config.dry_run:
        return 0
    results = config.output / (config.name or parse_model_string(config.model[0]).slug)
    if summaries:
        shown = results if len(config.model) == 1 else config.output
        print("\n" + "\n".join(recap_lines(summaries, str(shown), time.monotonic() - clock)))
    else:
        print(f"results: {results}")
    return failure_report(summaries, config.max_error_rate)


def say(line: str) -> None:
    print(line, file=sys.stderr if line.startswith("evalkit:") else sys.stdout)


def failure_report(summaries: Sequence[Any], max_error_rate: float) -> int:
    """Print each distinct error of the run with its count and each task's failed share; exit 3 when any task and
    language failed a larger share of its items than --max-error-rate allows."""
    failed, items, counts = failed_share(summaries)
    if not failed:
        return 0
    print(f"\nevalkit: {failed} of {items} items failed and were not scored (metrics are over answered items; "
          "a rerun asks exactly these again):", file=sys.stderr)  # fmt: skip
    for text, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {count} x {text}", file=sys.stderr)
    over = [s for s in summaries if s.n_errors and s.n_errors / max(s.n, 1) > max_error_rate]
    for summary in summaries:
        if summary.n_errors:
            print(f"  {summary.task}/{summary.lang}: {summary.n_errors}/{summary.n} failed", file=sys.stderr)
    if over:
        names = ", ".join(f"{s.task}/{s.lang}" for s in over)
        print(f"evalkit: the run is incomplete (exit 3): {names} failed more than --max-error-rate "
              f"{max_error_rate:g}", file=sys.stderr)  # fmt: skip
        return 3
    return 0


def command_arena_score(args: argparse.Namespace) -> int:
    judgments = _jsonl_files(args.judgments, "judgments.jsonl")
    answers = _jsonl_files(args.answers, "answers.jsonl") if args.answers else []
    table = leaderboard_from_files(judgments, answers, args.baseline, args.method, args.rounds, args.seed)
    boards = category_leaderboards(judgments, args.rounds, args.seed) if args.by_category else None
    controlled = None
    if args.style_control:
        if not answers:
            raise UsageError("--style-control needs --answers (the answers' lengths and markdown)")
        controlled = style_leaderboard_from_files(judgments, answers, args.baseline, args.style_control,
                                                  args.rounds, args.seed)  # fmt: skip
    if args.json:
        shown: Any = {"pooled": table, "categories": boards} if boards is not None else table
        if controlled is not None:
            shown = {"scores": shown, "style_controlled": controlled}
        print(strict_json(shown))
        return 0
    print(format_table(table, args.method))
    if controlled is not None:
        print(f"\nstyle-controlled (lengths in {controlled['length_unit']}; 90% interval; coefficients: "
              + ", ".join(f"{k} {v:+.3f}" for k, v in controlled["coefficients"].items()) + ")")
        print(format_table(controlled["table"], "v2"))
    for category, board in (boards or {}).items():
        print(f"\n{category} (baseline {board[0]['baseline'] if board else '—'})")
        print(format_table([{**e, "avg_tokens": None, "games": 0, "dropped": 0} for e in board], "v2"))
    return 0


def command_mt_bench_score(args: argparse.Namespace) -> int:
    table = mt_bench_table(_jsonl_files(args.judgments, "judgments.jsonl"), args.questions)
    print(strict_json(table) if args.json else mt_bench_format(table))
    return 0


def command_alpaca_eval_score(args: argparse.Namespace) -> int:
    table = score_annotations(args.annotations, args.difficulty, args.gamed, args.name)
    print(strict_json(table) if args.json else alpaca_format(table))
    return 0


def strict_json(value: Any) -> str:
    """JSON a strict parser reads: NaN and infinities (a model with no turn 2, say) are written as null."""

    def clean(item: Any) -> Any:
        if isinstance(item, float):
            return finite_number(item)
        if isinstance(item, Mapping):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return json.dumps(clean(value), ensure_ascii=False, indent=2, allow_nan=False)


def _jsonl_files(path: Path, ours: str) -> list[Path]:
    """One file, or every *.jsonl of an arena-hard-auto folder, or every `ours` file under a results/ tree."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    files = sorted(path.rglob(ours)) or sorted(path.glob("*.jsonl"))
    if not files:
        raise UsageError(f"{path}: no {ours} or *.jsonl files")
    return files


def print_summary(summary: Any, judged: bool = False) -> None:
    """One line per task and language: its metrics (an arena's score with its CI), n, errors, judge."""
    if summary is None:
        return
    extra = summary.extra
    shown = "  ".join(f"{k}={m.shown(4)}" for k, m in summary.metrics.items()) or "not scored"
    if "ci" in extra and extra["ci"] and "score" in summary.metrics:
        low, high = (bound - summary.metrics["score"].value for bound in extra["ci"])
        shown += f" CI=({low:+.1f}, {high:+.1f}) vs {extra['baseline']} avg_tokens={extra['avg_tokens']}"
    controlled = extra.get("style_control") or {}
    if controlled.get("score") is not None:
        coefficients = ", ".join(f"{k} {v:+.2f}" for k, v in controlled["coefficients"].items())
        shown += f" style-controlled={controlled['score']:.1f} ({controlled['length_unit']}; {coefficients})"
    by = f" judge={extra['judge']}" if judged and extra.get('judge') else ""
    print(f"{summary.task}/{summary.lang}: n={summary.n} errors={summary.n_errors} {shown}{by}")


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds `finally` blocks, so the embedded server is stopped


def command_audit_extraction(args: argparse.Namespace) -> int:
    from evalkit.scoring.audit import audit, format_report, read_rows  # noqa: PLC0415

    report = audit(read_rows(args.file), lambda name: load_task(name, args.plugins))
    if not report.results:
        raise UsageError(f"{args.file}: no rows")
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) if args.json else format_report(report))
    if args.min_accuracy is not None and 100 * report.accuracy < args.min_accuracy:
        print(f"evalkit: reading accuracy {100 * report.accuracy:.1f}% is below {args.min_accuracy}%", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        if args.command == "list":
            return command_list(args)
        if args.command == "export-smollm2":
            from evalkit.backends.export import export_smollm2  # noqa: PLC0415 - imports torch

            print(export_smollm2(args.target, args.dtype))
            return 0
        if args.command == "arena-hard":
            return command_arena_score(args)
        if args.command == "leaderboard":
            from evalkit.publish.leaderboard import command_leaderboard  # noqa: PLC0415 - imports pandas, matplotlib

            return command_leaderboard(args.results, args.output, args.show)
        if args.command == "gate":
            from evalkit.publish.gate import command_gate  # noqa: PLC0415

            return command_gate(args)
        if args.command == "trend":
            from evalkit.publish.trend import command_trend  # noqa: PLC0415 - imports matplotlib

            return command_trend(args)
        if args.command == "mt-bench":
            return command_mt_bench_score(args)
        if args.command == "alpaca-eval":
            return command_alpaca_eval_score(args)
        if args.command == "rescore":
            from evalkit.run.rescore import report_lines, rescore  # noqa: PLC0415

            print("\n".join(report_lines(rescore(args.run_dir, args.plugins, write=not args.dry_run))))
            return 0
        if args.command == "audit-extraction":
            return command_audit_extraction(args)
        if args.command in ("view", "show"):
            from evalkit.publish.view.report import command_view  # noqa: PLC0415
            from evalkit.publish.view.show import command_show  # noqa: PLC0415

            return command_view(args) if args.command == "view" else command_show(args)
        check_repeated(argv, args.single_flags)
        return command_run(args, argv)
    except BrokenPipeError:  # `evalkit list | head`: the reader has gone; nothing is wrong
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UserError, OSError) as exc:
        print(f"evalkit: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evalkit: interrupted; finished answers are in the cache, run again to resume", file=sys.stderr)
        return 130
    except Exception:  # a bug in evalkit, not bad input: the whole traceback (keys scrubbed), exit 1
        print(redact(traceback.format_exc()), file=sys.stderr)
        print("evalkit: internal error (the traceback above is a bug in evalkit, please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
