"""The leaderboard: every summary.json under results/ -> pandas tables -> leaderboard.md / .csv / .json + charts.

Tables follow what Slavic model cards publish, one set per language:
  knowledge & reasoning  MMLU-Pro, GSM8K, MATH, MBPP / HumanEval pass@1 and bridged lm-eval tasks (percent),
                         plus the baseline-normalised average of the Open PL LLM leaderboard: each task's
                         score s (percent) with its declared chance level b becomes (s - b) / (100 - b) * 100,
                         averaged over the tasks the model has (the count is shown; a missing task is never 0)
  Arena-Hard             Model | Score | 95% CI | Avg tokens, sorted by score, the baseline at 50 (one table
                         per baseline and judge), with a PNG of the scores and CI whiskers
  MT-Bench               Model | Score | Turn 1 | Turn 2, and the per-category means (per judge)
  AlpacaEval             Model | LC win-rate | win-rate | Avg symbols (per judge and reference)
  grounded RAG           Model | domain | accuracy | ROUGE-L | index difference
Footnotes name the judges, baselines / references, datasets + revisions, n, run dates and evalkit versions.
A number from an incomplete run (items failed after retries; the number is over the answered ones) carries ⚠,
with a footnote naming n_errors of n and the first error; CSV / JSON rows carry status, n_errors, first_error.
Output is deterministic: the same results give byte-identical files (sorted rows, fixed formats, dates from
the summaries, PNGs without timestamps).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from evalkit.errors import UserError
from evalkit.publish.runs import (
    INCOMPLETE_MARK,
    LANG_ORDER,
    MISSING,
    Run,
    TaskInfo,
    shown,
    silence_stdout,
    task_info,
    unit,
)
from evalkit.records import atomic_write_text
from evalkit.types import finite_number

KNOWLEDGE_ORDER = ("mmlu_pro", "gsm8k", "math", "mbpp", "humaneval")

JUDGED = ("arena_hard", "mt_bench", "alpaca_eval", "rag")




class LeaderboardError(UserError, ValueError):
    """No results to publish, or an output that cannot be written; the message names the path."""


def marked(text: str, run: Run | None) -> str:
    """A table cell, with the incomplete-run mark when the run behind it has failed items."""
    return f"{text}{INCOMPLETE_MARK}" if run is not None and run.incomplete else text


def collect(results_root: Path) -> tuple[list[Run], list[str]]:
    """Every readable summary under results_root (sorted), and a warning naming each unreadable one."""
    runs, warnings = [], []
    for path in sorted(results_root.glob("*/*/*/summary.json")):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
                raise ValueError("no 'metrics' object")
            for name, metric in summary["metrics"].items():
                value = metric.get("value") if isinstance(metric, dict) else metric
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise ValueError(f"metric {name!r} has value {value!r}, not a number")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            warnings.append(f"{path}: skipped, not a readable summary ({exc})")
            continue
        model, task, lang = path.parts[-4], path.parts[-3], path.parts[-2]
        runs.append(Run(model, task, lang, summary, path))
    return runs, warnings


# -- numbers --------------------------------------------------------------------------------------------------
def long_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per (model, task, lang, metric): the CSV / JSON form of every number on the leaderboard."""
    rows = []
    for run in runs:
        info = task_info(run.task, run.summary)
        data = run.summary.get("data") or {}
        for metric in sorted(run.summary.get("metrics") or {}):
            value = shown(run.task, metric, run.metric(metric), info)
            stderr = shown(run.task, metric, run.stderr(metric), info)
            ci = run.extra.get("ci") if metric == "score" and run.task == "arena_hard" else None
            rows.append({
                "model": run.model, "task": run.task, "lang": run.lang, "metric": metric,
                "primary": metric == info.primary, "value": value, "stderr": stderr,
                "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                "unit": unit(run.task, metric, info), "n": run.summary.get("n"),
                "status": run.status, "n_errors": run.n_errors, "first_error": run.first_error,
                "lc_formula": lc_formula(run) if metric == "lc_win_rate" else None,
                "judge": run.extra.get("judge"), "reference": reference_of(run),
                "dataset": dataset_label(data), "task_version": run.summary.get("task_version"),
                "date": str(run.summary.get("finished_at", ""))[:10],
                "evalkit_version": run.summary.get("evalkit_version"),
            })  # fmt: skip
    return rows


def reference_of(run: Run) -> str | None:
    extra = run.extra
    return extra.get("baseline") or extra.get("reference") or extra.get("reference_model")


def dataset_label(data: Mapping[str, Any]) -> str:
    if data.get("source") == "samples":
        return "bundled samples"
    if data.get("dataset_id"):
        revision = str(data.get("revision") or "")
        config = f"/{data['config']}" if data.get("config") else ""
        return f"{data['dataset_id']}{config}@{revision[:12]}" if revision else f"{data['dataset_id']}{config}"
    return str(data.get("path") or data.get("source") or "?")


def fmt(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


# -- tables ---------------------------------------------------------------------------------------------------
@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    chart: str | None = None


@dataclass
class Leaderboard:
    langs: list[str]
    tables: dict[str, list[Table]]  # lang -> tables
    footnotes: list[str]
    rows: list[dict[str, Any]]
    charts: dict[str, Bars] = field(default_factory=dict)  # file -> bars
    warnings: list[str] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)  # results/<model> folders of runs made with --step
    incomplete: list[dict[str, Any]] = field(default_factory=list)  # runs with failed items, and their errors


def primary_value(run: Run, info: TaskInfo) -> float | None:
    return shown(run.task, info.primary, run.metric(info.primary), info)


def knowledge_table(runs: Sequence[Run], lang: str) -> Table | None:
    """Per-item tasks of one language: model x task primary metric (percent) and the normalised average."""
    chosen = [r for r in runs if r.lang == lang and r.task not in JUDGED]
    if not chosen:
        return None
    infos = {r.task: task_info(r.task, r.summary) for r in chosen}
    by_cell = {(r.model, r.task): r for r in chosen}
    frame = pd.DataFrame([{"model": r.model, "task": r.task, "value": primary_value(r, infos[r.task])} for r in chosen])
    tasks = sorted(frame["task"].unique(), key=lambda t: (KNOWLEDGE_ORDER.index(t) if t in KNOWLEDGE_ORDER else 99, t))
    table = frame.pivot_table(index="model", columns="task", values="value", aggfunc="first", dropna=False)
    averages = {}
    for model in table.index:
        normalised = []
        for task in tasks:
            value, chance = table.loc[model].get(task), infos[task].chance
            if chance is not None and value is not None and not pd.isna(value):
                normalised.append((value - chance) / (100 - chance) * 100)
        averages[model] = (sum(normalised) / len(normalised), len(normalised)) if normalised else (None, 0)
    order = sorted(table.index, key=lambda m: (_best_first(averages[m][0]), m))
    counted = [t for t in tasks if infos[t].chance is not None]
    rows = []
    for model in order:
        cells = [marked(fmt(None if pd.isna(table.loc[model].get(t)) else float(table.loc[model].get(t))),
                        by_cell.get((model, t))) for t in tasks]  # fmt: skip
        average, count = averages[model]
        partial = any(by_cell[(model, t)].incomplete for t in counted if (model, t) in by_cell)
        rows.append([model, *cells, fmt(average) + (INCOMPLETE_MARK if partial and average is not None else ""),
                     f"{count}/{len(counted)}"])  # fmt: skip
    header = ["Model", *(infos[t].title for t in tasks), "Avg (normalised)", "tasks in avg"]
    chances = ", ".join(f"{infos[t].title} {infos[t].chance:g}" for t in counted)
    note = (f"Percent. Normalised average = mean over tasks of (score − chance) / (100 − chance) × 100 "
            f"(chance levels: {chances or 'none declared'}); tasks without a declared chance level are not in it.")
    return Table(f"Knowledge and reasoning ({lang})", header, rows, note)


Bars = list[tuple[str, float, float, float]]  # (model, score, CI low, CI high) for the arena chart


def arena_tables(runs: Sequence[Run], lang: str) -> tuple[list[Table], dict[str, Bars]]:
    chosen = [r for r in runs if r.lang == lang and r.task == "arena_hard"]
    tables, charts = [], {}
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in chosen:
        groups.setdefault((str(run.extra.get("baseline")), str(run.extra.get("judge"))), []).append(run)
    for number, ((baseline, judge), group) in enumerate(sorted(groups.items()), start=1):
        entries = []
        runs_by_model = {run.model: run for run in group}
        for run in group:
            score = run.metric("score")
            ci = run.extra.get("ci")
            entries.append((run.model, score, ci, run.extra.get("avg_tokens")))
        entries.append((f"{baseline} (baseline)", 50.0, None, None))
        entries.sort(key=lambda e: (_best_first(e[1]), e[0]))
        controlled = {r.model: r.extra["style_control"] for r in group if (r.extra.get("style_control") or {}).get(
            "score") is not None}  # fmt: skip
        rows = []
        for model, score, ci, tokens in entries:
            interval = MISSING if not ci or score is None else f"({ci[0] - score:+.1f}, {ci[1] - score:+.1f})"
            row = [model, marked(fmt(score), runs_by_model.get(model)), interval, fmt(tokens, 0)]
            if controlled:
                found = controlled.get(model)
                row.append(fmt(found["score"]) + f" ({found['length_unit']})" if found else
                           ("50.0" if model.endswith("(baseline)") else MISSING))  # fmt: skip
            rows.append(row)
        chart = f"leaderboard_arena_hard_{lang}{'' if number == 1 else f'_{number}'}.png"
        charts[chart] = [(m, s, (c[0] if c else s), (c[1] if c else s)) for m, s, c, _ in entries if s is not None]
        level = {float(r.extra.get("ci_level") or 0.95) for r in group}
        tables.append(Table(f"Arena-Hard ({lang}) — baseline {baseline}, judge {judge}",
                            ["Model", "Score", f"{int(max(level) * 100)}% CI", "Avg tokens",
                             *(["Style-controlled"] if controlled else [])], rows,
                            "Win-rate against the baseline (%), Bradley-Terry; CI from the bootstrap."
                            + (" Style-controlled: the win-rate with answer length and markdown accounted for "
                               "(arena-hard-auto v2's features; lengths in the unit shown)." if controlled else ""),
                            chart))  # fmt: skip
    return tables, charts


def mt_bench_tables(runs: Sequence[Run], lang: str) -> list[Table]:
    chosen = [r for r in runs if r.lang == lang and r.task == "mt_bench"]
    tables = []
    groups: dict[str, list[Run]] = {}
    for run in chosen:
        groups.setdefault(str(run.extra.get("judge")), []).append(run)
    for judge, group in sorted(groups.items()):
        group = sorted(group, key=lambda r: (_best_first(r.metric("score")), r.model))
        rows = [[r.model, marked(fmt(r.metric("score"), 2), r), fmt(r.metric("turn1"), 2), fmt(r.metric("turn2"), 2)]
                for r in group]
        tables.append(Table(f"MT-Bench ({lang}) — judge {judge}", ["Model", "Score", "Turn 1", "Turn 2"], rows,
                            "Ratings 1–10; Score pools both turns' ratings (FastChat's average)."))
        categories = sorted({c for r in group for c in ((r.summary.get("breakdown") or {}).get("category") or {})})
        if categories:
            cat_rows = []
            for r in group:
                breakdown = (r.summary.get("breakdown") or {}).get("category") or {}
                cat_rows.append([r.model, *(fmt((breakdown.get(c) or {}).get("score", {}).get("value"), 2)
                                            for c in categories)])  # fmt: skip
            tables.append(Table(f"MT-Bench per category ({lang}) — judge {judge}", ["Model", *categories], cat_rows))
    return tables


def lc_formula(run: Run) -> str:
    """The name of the LC win-rate formula behind an AlpacaEval run (summaries from before the field: by γ)."""
    named = run.extra.get("lc_formula")
    if isinstance(named, str) and named:
        return named
    return "evalkit_joint_difficulty" if run.extra.get("gamma") == "joint" else "length_controlled_minimal"


def alpaca_eval_tables(runs: Sequence[Run], lang: str) -> list[Table]:
    from evalkit.run.alpaca_eval import LC_FORMULAS  # noqa: PLC0415 - the judged flow; loaded with the plugin anyway

    chosen = [r for r in runs if r.lang == lang and r.task == "alpaca_eval"]
    groups: dict[tuple[str, str], list[tuple[Run, Mapping[str, Any]]]] = {}
    for run in chosen:
        for reference, numbers in sorted((run.extra.get("per_reference") or {}).items()):
            groups.setdefault((str(run.extra.get("judge")), reference), []).append((run, numbers))
    tables = []
    for (judge, reference), group in sorted(groups.items()):
        group.sort(key=lambda e: (_best_first(finite_number(e[1].get("lc_win_rate"))), e[0].model))
        rows = [[run.model, marked(fmt(finite_number(n.get("lc_win_rate"))), run),
                 fmt(finite_number(n.get("win_rate"))), fmt(run.metric("avg_symbols"), 0),
                 str(n.get("lc_formula") or lc_formula(run))] for run, n in group]  # fmt: skip
        formulas = sorted({row[-1] for row in rows})
        described = "; ".join(f"{name} = {LC_FORMULAS.get(name, 'unknown formula')}" for name in formulas)
        tables.append(Table(f"AlpacaEval ({lang}) — reference {reference}, judge {judge}",
                            ["Model", "LC win-rate", "win-rate", "Avg symbols", "LC formula"], rows,
                            f"Percent. LC win-rate formula: {described}."))
    return tables


def rag_table(runs: Sequence[Run], lang: str) -> Table | None:
    chosen = sorted((r for r in runs if r.lang == lang and r.task == "rag"), key=lambda r: r.model)
    if not chosen:
        return None
    rows = []
    for run in chosen:
        domains = (run.summary.get("breakdown") or {}).get("domain") or {}
        for domain in sorted(domains):
            values = domains[domain]

            def value(metric: str, scale: float, values: Mapping[str, Any] = values) -> float | None:
                entry = values.get(metric)
                raw = finite_number(entry.get("value") if isinstance(entry, dict) else None)
                return None if raw is None else raw * scale

            rows.append([run.model, domain, marked(fmt(value("accuracy", 100)), run), fmt(value("rouge_l", 100)),
                         fmt(value("index_diff", 1), 2), str(values.get("n", MISSING))])  # fmt: skip
    return Table(f"Grounded RAG ({lang})", ["Model", "Domain", "Accuracy", "ROUGE-L", "Index diff", "n"], rows,
                 "Accuracy (judged) and ROUGE-L F1 in percent; index difference = mean |predicted Δ gold| ids "
                 "(lower is better).")


def language_table(runs: Sequence[Run], lang: str) -> Table | None:
    """In-language %: per model and task, the share of replies written in the language of the run."""
    chosen = [r for r in runs if r.lang == lang and (r.extra.get("language") or {}).get("determined")]
    if not chosen:
        return None
    tasks = sorted({r.task for r in chosen})
    by_key = {(r.model, r.task): r.extra["language"] for r in chosen}
    by_run = {(r.model, r.task): r for r in chosen}
    rows = []
    for model in sorted({r.model for r in chosen}):
        cells = [model]
        for task in tasks:
            found = by_key.get((model, task))
            if found is None or found.get("in_language") is None:
                cells.append(MISSING)
                continue
            wrong = f" ({found['top_wrong']} {100 * found['top_wrong_share']:.0f}%)" if found.get("top_wrong") else ""
            cells.append(marked(f"{100 * found['in_language']:.0f}", by_run.get((model, task))) + wrong)
        rows.append(cells)
    return Table(f"Language fidelity ({lang}): in-language %", ["Model", *tasks], rows,
                 "Share of replies written in the run's language (py3langid on the reply's prose; replies too short "
                 "to tell are left out), and in brackets the most frequent other language.")


def _best_first(value: float | None) -> float:
    """Sort key: higher values first, a missing value last (a score of exactly 0 is not missing)."""
    return -value if value is not None else math.inf


def _version_label(summary: Mapping[str, Any]) -> str:
    """`0.1.0 (git 7242aae)`: the commit pins the code behind a number when the version alone does not."""
    version, sha = str(summary.get("evalkit_version")), summary.get("git_sha")
    return f"{version} (git {str(sha)[:7]})" if sha else version


def footnotes(runs: Sequence[Run]) -> list[str]:
    """Incomplete runs, judges, baselines / references, datasets, n, dates and versions behind the tables."""
    notes = []
    for run in sorted((r for r in runs if r.incomplete), key=lambda r: (r.model, r.task, r.lang)):
        notes.append(f"{INCOMPLETE_MARK} incomplete run {run.model} {run.task}/{run.lang}: {run.failure()}. Its "
                     "numbers are over the answered items only (a failed item is not scored as a wrong answer); "
                     "run the same command again to retry the failed items.")
    judges = sorted({str(r.extra["judge"]) for r in runs if r.extra.get("judge")})
    if judges:
        notes.append(f"Judges: {', '.join(judges)}.")
    smoke = sorted({str(r.extra["judge"]) for r in runs if r.extra.get("judge_mode") == "choice"})
    if smoke:
        notes.append(f"Judged in choice mode (one constrained token read from the judge's logprobs) by "
                     f"{', '.join(smoke)}: with a small local judge such numbers are a smoke test of the pipeline, "
                     "not a measurement.")
    sliced = sorted({f"{r.task}/{r.lang}" for r in runs if (r.summary.get("data") or {}).get("max_tokens_cap")})
    if sliced:
        caps = sorted({int(r.summary["data"]["max_tokens_cap"]) for r in runs
                       if (r.summary.get("data") or {}).get("max_tokens_cap")})  # fmt: skip
        notes.append(f"Quick slice (replies capped at {', '.join(map(str, caps))} tokens) in {len(sliced)} "
                     "task/language runs: not comparable with full runs.")
    references = sorted({str(reference_of(r)) for r in runs if r.task in JUDGED and reference_of(r)})
    if references:
        notes.append(f"Baselines / references: {', '.join(references)}.")
    data: dict[tuple[str, str], set[str]] = {}
    counts: dict[tuple[str, str], set[int]] = {}
    for run in runs:
        data.setdefault((run.task, run.lang), set()).add(dataset_label(run.summary.get("data") or {}))
        if isinstance(run.summary.get("n"), int):
            counts.setdefault((run.task, run.lang), set()).add(run.summary["n"])
    for (task, lang), labels in sorted(data.items()):
        n = sorted(counts.get((task, lang), set()))
        shown_n = MISSING if not n else (str(n[0]) if len(n) == 1 else f"{n[0]}–{n[-1]}")
        notes.append(f"{task}/{lang}: {'; '.join(sorted(labels))}; n = {shown_n}.")
    empty = [f"{r.model} {r.task}/{r.lang} {r.extra['n_empty']} of {r.summary.get('n', '?')}" for r in runs
             if isinstance(r.extra.get("n_empty"), int) and r.extra["n_empty"] > 0]  # fmt: skip
    if empty:
        notes.append(f"Empty replies (counted as no answer, not as wrong ones): {'; '.join(sorted(empty))}.")
    dates = sorted(str(r.summary.get("finished_at", ""))[:10] for r in runs if r.summary.get("finished_at"))
    if dates:
        notes.append(f"Runs finished {dates[0]}" + (f" – {dates[-1]}." if dates[-1] != dates[0] else "."))
    versions = sorted({_version_label(r.summary) for r in runs})
    notes.append(f"evalkit {', '.join(versions)}.")
    return notes


def build_leaderboard(results_root: Path) -> Leaderboard:
    runs, warnings = collect(results_root)
    if not runs:
        raise LeaderboardError(f"{results_root}: no summary.json under <model>/<task>/<lang>/ "
                               "(run `evalkit run` first)")
    langs = sorted({r.lang for r in runs}, key=lambda x: (LANG_ORDER.index(x) if x in LANG_ORDER else 99, x))
    tables: dict[str, list[Table]] = {}
    charts: dict[str, Bars] = {}
    for lang in langs:
        found: list[Table] = []
        knowledge = knowledge_table(runs, lang)
        if knowledge is not None:
            found.append(knowledge)
        arena, lang_charts = arena_tables(runs, lang)
        found += arena
        charts.update(lang_charts)
        found += mt_bench_tables(runs, lang)
        found += alpaca_eval_tables(runs, lang)
        rag = rag_table(runs, lang)
        if rag is not None:
            found.append(rag)
        fidelity = language_table(runs, lang)
        if fidelity is not None:
            found.append(fidelity)
        tables[lang] = found
    stepped = sorted({r.path.parents[2] for r in runs if isinstance(r.extra.get("step"), (int, float))})
    notes = footnotes(runs)
    if len(stepped) >= 2:
        notes.append(f"Checkpoint trend of the {len(stepped)} runs made with --step: trend.md and trend_<lang>.png "
                     "(`evalkit trend`).")
    incomplete = [{"model": r.model, "task": r.task, "lang": r.lang, "n": r.summary.get("n"), "n_errors": r.n_errors,
                   "errors": r.errors} for r in runs if r.incomplete]  # fmt: skip
    return Leaderboard(langs, tables, notes, long_rows(runs), charts, warnings, stepped, incomplete)


# -- output ---------------------------------------------------------------------------------------------------
def render_markdown(board: Leaderboard) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("evalkit.publish", "templates"), undefined=jinja2.StrictUndefined, autoescape=False,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    return environment.get_template("leaderboard.md.jinja").render(board=board, cell=_cell)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_chart(path: Path, bars: Bars, title: str) -> None:
    """Arena scores as points with CI whiskers; written without timestamps so the bytes are reproducible."""
    import matplotlib  # noqa: PLC0415 - optional and slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ordered = list(reversed(bars))
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(ordered) + 1.2), dpi=100)
    ys = range(len(ordered))
    scores = [b[1] for b in ordered]
    errors = [[b[1] - b[2] for b in ordered], [b[3] - b[1] for b in ordered]]
    axes.errorbar(scores, list(ys), xerr=errors, fmt="o", color="#1f5fa8", ecolor="#7a9cc6", capsize=3)
    axes.set_yticks(list(ys), [b[0] for b in ordered])
    axes.axvline(50, color="#999999", linewidth=0.8, linestyle="--")
    axes.set_xlim(0, 100)
    axes.set_xlabel("score (%) with CI")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def write_leaderboard(results_root: Path, output_dir: Path | None = None) -> list[Path]:
    """Write leaderboard.md, .csv, .json and the arena charts; returns the files written."""
    board = build_leaderboard(results_root)
    out = output_dir or results_root
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, bars in sorted(board.charts.items()):
        render_chart(out / name, bars, name.removeprefix("leaderboard_").removesuffix(".png").replace("_", " "))
        written.append(out / name)
    frame = pd.DataFrame(board.rows)
    atomic_write_text(out / "leaderboard.csv", frame.to_csv(index=False, lineterminator="\n", float_format="%.6g"))
    atomic_write_text(out / "leaderboard.json", json.dumps(
        {"langs": board.langs, "rows": _json_safe(board.rows), "footnotes": board.footnotes,
         "incomplete": board.incomplete},
        ensure_ascii=False, indent=1, sort_keys=True) + "\n")  # fmt: skip
    atomic_write_text(out / "leaderboard.md", render_markdown(board))
    written += [out / "leaderboard.csv", out / "leaderboard.json", out / "leaderboard.md"]
    if len(board.checkpoints) >= 2:  # runs made with --step: the checkpoint trend beside the tables
        from evalkit.publish.trend import write_trend  # noqa: PLC0415 - trend builds on this module

        written += write_trend(board.checkpoints, out, allow_errors=True)  # marked ⚠ there, as here
    for warning in board.warnings:
        print(f"evalkit leaderboard: warning: {warning}", file=sys.stderr)
    return written


def _json_safe(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rounded floats (so tiny platform differences do not show in diffs) and no NaN."""
    safe = []
    for row in rows:
        safe.append({k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else
                         None if isinstance(v, float) else v) for k, v in row.items()})  # fmt: skip
    return safe


def command_leaderboard(results: Path, output: Path | None, show: bool = False) -> int:
    """`evalkit leaderboard`: write the files and say where they are (`--print`: and show the markdown).

    A reader that stops early (`evalkit leaderboard --print | head -1`) is not an error: the files are written
    before anything is printed, so the rest of the output is dropped quietly."""
    written = write_leaderboard(results, output)
    try:
        if show:
            markdown = next(p for p in written if p.name == "leaderboard.md")
            print(markdown.read_text(encoding="utf-8"))
        for path in written:
            print(path)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    return 0
