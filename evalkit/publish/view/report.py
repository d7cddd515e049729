"""`evalkit view`: a results tree -> a static report folder that opens from file:// (no server, no network).

    DIR/index.html              the page (assets/app.js renders it)
    DIR/assets/app.js, app.css  copied from evalkit/publish/view/assets/
    DIR/data/index.js           the runs, the leaderboard tables and charts, the two-run comparison
    DIR/data/<run>.js           one run's item list (ids, outcome flags, the searchable text), loaded when its
                                page is opened
    DIR/data/<run>-<k>.js       the full records of items k*CHUNK .. (k+1)*CHUNK-1, loaded when one is opened

Data files are scripts that hand their data to the page (`EK.put(name, data)`), because a page opened from
file:// may not fetch() files next to it, while it may load scripts; so a 12,000-item run costs one list file
when its page opens and one small chunk per opened item.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.errors import UserError
from evalkit.publish.view.items import RunItems, declared, number, primary_metric, run_items
from evalkit.publish.view.load import RunFolder, find_runs

CHUNK = 200
ASSETS = Path(__file__).with_name("assets")
LANG_ORDER = ("ru", "pl", "uk", "cs", "sr", "en")
TASK_ORDER = ("mmlu_pro", "gsm8k", "math", "mbpp", "humaneval", "rag")
def title(task: str) -> str:
    return TITLES.get(task) or (f"lm-eval {task[len('lm_eval__'):]}" if task.startswith("lm_eval__") else task)


TITLES = {"mmlu_pro": "MMLU-Pro", "gsm8k": "GSM8K", "math": "MATH", "mbpp": "MBPP", "humaneval": "HumanEval",
          "rag": "Grounded RAG", "arena_hard": "Arena-Hard", "mt_bench": "MT-Bench", "alpaca_eval": "AlpacaEval"}
#: Metrics in [0, 1] shown in percent; arena scores are percent already and MT-Bench ratings stay ratings.
NOT_FRACTION = {"arena_hard", "mt_bench", "alpaca_eval"}


class ViewError(UserError):
    """Nothing to show, or an output folder that cannot be written."""


@dataclass
class Run:
    key: str
    side: str  # "A", or "B" for the second results tree
    label: str  # the model as the tables show it
    folder: RunFolder
    items: RunItems | None = None


def metric_value(summary: Mapping[str, Any], name: str | None) -> float | None:
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), Mapping) else {}
    entry = metrics.get(name) if name else None
    return number(entry.get("value") if isinstance(entry, Mapping) else entry)


def metric_stderr(summary: Mapping[str, Any], name: str) -> float | None:
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), Mapping) else {}
    entry = metrics.get(name)
    return number(entry.get("stderr")) if isinstance(entry, Mapping) else None


def shown(task: str, metric: str | None, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == "index_diff":
        return f"{value:.2f}"
    if metric == "in_language" or (task not in NOT_FRACTION and metric not in ("avg_symbols",)):
        return f"{100 * value:.1f}"
    return f"{value:.2f}" if task == "mt_bench" else f"{value:.1f}"


def status_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The run's completeness as the summary states it (older summaries: inferred from n_errors)."""
    n_errors = summary.get("n_errors") if isinstance(summary.get("n_errors"), int) else 0
    errors = summary.get("errors") if isinstance(summary.get("errors"), Mapping) else {}
    status = summary.get("status")
    if status == "incomplete" or n_errors or errors:  # any sign of a failed item counts
        status = "incomplete"
    elif status != "complete":
        status = "complete" if summary else "unknown"
    return {"status": status, "n_errors": n_errors, "errors": dict(errors),
            "error_rate": number(summary.get("error_rate")), "n_truncated": summary.get("n_truncated")}  # fmt: skip


def _lang_key(lang: str) -> tuple[int, str]:
    return (LANG_ORDER.index(lang) if lang in LANG_ORDER else 99, lang)


def _task_key(task: str) -> tuple[int, str]:
    return (TASK_ORDER.index(task) if task in TASK_ORDER else 50, task)


def cell(text: str, run: Run | None = None, warn: bool = False, title: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"t": text}
    if run is not None:
        out["r"] = run.key
    if warn:
        out["w"] = 1
    if title:
        out["title"] = title
    return out


def leaderboard(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Per language: the tables the published leaderboard has, every number a link to its run's page."""
    sections = []
    for lang in sorted({r.folder.lang for r in runs}, key=_lang_key):
        here = [r for r in runs if r.folder.lang == lang]
        tables, charts = [], []
        models = sorted({r.label for r in here})
        plain = sorted({r.folder.task for r in here if r.folder.kind == "task" and r.folder.task != "rag"},
                       key=_task_key)  # fmt: skip
        if plain:
            by = {(r.label, r.folder.task): r for r in here if r.folder.kind == "task"}
            metrics = {t: next((r.items.metric for r in here if r.folder.task == t and r.items), None) for t in plain}
            chances = {t: declared(t)[1] for t in plain}
            rows, averages = [], {}
            for model in models:
                row, normalised = [cell(model)], []
                for task in plain:
                    run = by.get((model, task))
                    if run is None:
                        row.append(cell("—"))
                        continue
                    value = metric_value(run.folder.summary, metrics[task])
                    state = status_of(run.folder.summary)
                    row.append(cell(shown(task, metrics[task], value), run, state["status"] != "complete",
                                    f"{metrics[task]}; {state['status']}, {state['n_errors']} errors"))
                    if value is not None and chances[task] is not None:
                        normalised.append((100 * value - chances[task]) / (100 - chances[task]) * 100)
                average = sum(normalised) / len(normalised) if normalised else None
                averages[model] = average
                counted = sum(c is not None for c in chances.values())
                rows.append([*row, cell(f"{average:.1f}" if average is not None else "—"),
                             cell(f"{len(normalised)}/{counted}")])
            rows.sort(key=lambda row: (-(averages[row[0]["t"]] if averages[row[0]["t"]] is not None else -1e9),
                                       row[0]["t"]))  # fmt: skip
            header = ["Model", *(f"{title(t)} ({metrics[t] or '—'})" for t in plain), "Avg (normalised)",
                      "tasks in avg"]  # fmt: skip
            tables.append({"title": "Knowledge and reasoning (percent)", "header": header, "rows": rows,
                           "note": "Normalised average = mean over tasks of (score − chance) / (100 − chance) × 100, "
                                   "as the published leaderboard."})  # fmt: skip
            charts.append({"title": f"Knowledge and reasoning ({lang})", "unit": "%", "groups": [
                {"label": title(t), "bars": [
                    {"label": m, "value": 100 * v, "run": by[(m, t)].key}
                    for m in models if (m, t) in by
                    and (v := metric_value(by[(m, t)].folder.summary, metrics[t])) is not None]}
                for t in plain]})  # fmt: skip
        arena = [r for r in here if r.folder.task == "arena_hard"]
        if arena:
            rows, bars = [], []
            for run in sorted(arena, key=lambda r: -(metric_value(r.folder.summary, "score") or -1)):
                extra, value = run.folder.extra, metric_value(run.folder.summary, "score")
                ci = extra.get("ci") if isinstance(extra.get("ci"), list) and len(extra["ci"]) == 2 else None
                tokens = number(extra.get("avg_tokens"))
                warn = status_of(run.folder.summary)["status"] != "complete"
                rows.append([cell(run.label), cell(shown("arena_hard", "score", value), run, warn),
                             cell(f"{ci[0]:.1f} – {ci[1]:.1f}" if ci and None not in ci else "—", run),
                             cell(f"{tokens:.0f}" if tokens is not None else "—", run),
                             cell(str(extra.get("baseline", "—"))), cell(str(extra.get("games", "—")), run),
                             cell(str(extra.get("unparsed", "—")), run)])  # fmt: skip
                if value is not None:
                    bars.append({"label": run.label, "value": value, "run": run.key,
                                 "low": ci[0] if ci else None, "high": ci[1] if ci else None})  # fmt: skip
            tables.append({"title": "Arena-Hard", "header": ["Model", "Score", "95% CI", "Avg tokens", "Baseline",
                                                             "Games", "No verdict"], "rows": rows})  # fmt: skip
            charts.append({"title": f"Arena-Hard ({lang}), win-rate against the baseline", "unit": "%",
                           "groups": [{"label": "", "bars": bars}], "mark": 50})  # fmt: skip
        tables += _metric_table(here, "rag", "Grounded RAG (percent)", [("accuracy", "Accuracy"),
                                                                        ("rouge_l", "ROUGE-L"),
                                                                        ("index_diff", "Index difference")])
        tables += _metric_table(here, "mt_bench", "MT-Bench", [("score", "Score"), ("turn1", "Turn 1"),
                                                               ("turn2", "Turn 2")])  # fmt: skip
        tables += _metric_table(here, "alpaca_eval", "AlpacaEval", [("lc_win_rate", "LC win-rate"),
                                                                    ("win_rate", "Win-rate"),
                                                                    ("avg_symbols", "Avg symbols")])  # fmt: skip
        fidelity = [r for r in here if metric_value(r.folder.summary, "in_language") is not None]
        if fidelity:
            tasks = sorted({r.folder.task for r in fidelity}, key=_task_key)
            by = {(r.label, r.folder.task): r for r in fidelity}
            rows = []
            for model in sorted({r.label for r in fidelity}):
                row = [cell(model)]
                for task in tasks:
                    run = by.get((model, task))
                    if run is None:
                        row.append(cell("—"))
                        continue
                    language = run.folder.extra.get("language") if isinstance(run.folder.extra.get("language"),
                                                                              Mapping) else {}  # fmt: skip
                    top = language.get("top_wrong")
                    text = shown(task, "in_language", metric_value(run.folder.summary, "in_language"))
                    row.append(cell(text + (f" ({top})" if top else ""), run))
                rows.append(row)
            tables.append({"title": "Language fidelity (% of replies in the run's language; most frequent other)",
                           "header": ["Model", *(title(t) for t in tasks)], "rows": rows})  # fmt: skip
        sections.append({"lang": lang, "tables": tables, "charts": charts})
    return sections


def _metric_table(runs: Sequence[Run], task: str, title: str, columns: Sequence[tuple[str, str]]) -> list[dict]:
    chosen = [r for r in runs if r.folder.task == task]
    if not chosen:
        return []
    if task == "rag":  # the leaderboard's RAG table is per model; judged accuracy needs --judge
        columns = [c for c in columns if any(metric_value(r.folder.summary, c[0]) is not None for r in chosen)]
    rows = []
    for run in sorted(chosen, key=lambda r: -(metric_value(r.folder.summary, columns[0][0]) or -1)):
        warn = status_of(run.folder.summary)["status"] != "complete"
        rows.append([cell(run.label), *(cell(shown(task, m, metric_value(run.folder.summary, m)), run, warn)
                                        for m, _ in columns)])  # fmt: skip
    return [{"title": title, "header": ["Model", *(label for _, label in columns)], "rows": rows}]


def run_entry(run: Run) -> dict[str, Any]:
    folder, items = run.folder, run.items
    assert items is not None
    summary = folder.summary
    counts: dict[str, int] = {}
    for item in items.items:
        for flag in item.flags:
            counts[flag] = counts.get(flag, 0) + 1
    extra = folder.extra
    language = extra.get("language") if isinstance(extra.get("language"), Mapping) else {}
    return {
        "key": run.key, "side": run.side, "model": run.label, "folder": str(folder.path), "task": folder.task,
        "title": title(folder.task), "lang": folder.lang,
        "kind": items.kind, "n_items": len(items.items), "metric": items.metric,
        "headline": primary_metric(folder),
        "metrics": {name: {"value": metric_value(summary, name), "stderr": metric_stderr(summary, name),
                           "shown": shown(folder.task, name, metric_value(summary, name))}
                    for name in (summary.get("metrics") or {}) if isinstance(summary.get("metrics"), Mapping)},
        "n": summary.get("n"), **status_of(summary), "flags": items.flags, "counts": counts,
        "distribution": items.distribution, "notes": [*folder.warnings, *items.notes],
        "language": {k: language.get(k) for k in ("expected", "in_language", "top_wrong", "top_wrong_share")},
        "facts": {k: v for k, v in {
            "judge": extra.get("judge"), "judge mode": extra.get("judge_mode"), "baseline": extra.get("baseline"),
            "reference": extra.get("reference") or extra.get("reference_model"),
            "data": _data_label(summary.get("data")), "backend": summary.get("backend"),
            "generation": _generation_label(summary.get("generation_config")),
            "evalkit": " ".join(str(x) for x in (summary.get("evalkit_version"), summary.get("git_sha")) if x),
            "finished": summary.get("finished_at"),
        }.items() if v},
        "summary": summary,
    }  # fmt: skip


def _data_label(data: Any) -> str | None:
    if not isinstance(data, Mapping):
        return None
    parts = [str(data.get(k)) for k in ("dataset_id", "config", "split", "path") if data.get(k)]
    if data.get("revision"):
        parts.append(f"@ {data['revision']}")
    if data.get("limit"):
        parts.append(f"(first {data['limit']})")
    return " ".join([str(data.get("source", ""))] + parts).strip() or None


def _generation_label(config: Any) -> str | None:
    if not isinstance(config, Mapping):
        return None
    return ", ".join(f"{k}={v}" for k, v in config.items() if v not in (None, [], ()))


def collect(results: Path, results_b: Path | None) -> list[Run]:
    sides = []
    for side, path in (("A", results), ("B", results_b)):
        if path is None:
            continue
        found = find_runs(path)
        if not found:
            raise ViewError(f"{path}: no run folders (<model>/<task>/<lang>/ with summary.json or samples.jsonl)")
        sides.append((side, found))
    names = [{f.model for f in found} for _, found in sides]
    clash = len(sides) == 2 and bool(names[0] & names[1])
    runs = []
    for side, found in sides:
        for folder in found:
            label = f"{folder.model} ({side})" if clash else folder.model
            runs.append(Run(f"r{len(runs)}", side, label, folder))
    return runs


def compare(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """With two results trees: per task × language both have, the gate's comparison and every item whose
    per-item value (the gate's own) differs between the runs."""
    a_runs = [r for r in runs if r.side == "A"]
    b_runs = [r for r in runs if r.side == "B"]
    single = len({r.folder.model for r in a_runs}) == 1 and len({r.folder.model for r in b_runs}) == 1

    def key(run: Run) -> tuple[str, ...]:
        return (run.folder.task, run.folder.lang) if single else (run.folder.model, run.folder.task, run.folder.lang)

    b_by = {key(r): r for r in b_runs}
    pairs = []
    for run_a in a_runs:
        run_b = b_by.get(key(run_a))
        if run_b is not None:
            pairs.append(pair_evidence(run_a, run_b))
    return pairs


def pair_evidence(run_a: Run, run_b: Run) -> dict[str, Any]:
    entry: dict[str, Any] = {"task": run_a.folder.task, "title": title(run_a.folder.task),
                             "lang": run_a.folder.lang, "a": run_a.key, "b": run_b.key, "model_a": run_a.label,
                             "model_b": run_b.label, "gate": None, "note": None, "flips": []}  # fmt: skip
    try:
        from evalkit.publish import gate  # noqa: PLC0415 - numpy, pandas: only when comparing

        base = gate.Run(run_a.folder.model, run_a.folder.task, run_a.folder.lang, run_a.folder.summary,
                        run_a.folder.path / "summary.json")  # fmt: skip
        cand = gate.Run(run_b.folder.model, run_b.folder.task, run_b.folder.lang, run_b.folder.summary,
                        run_b.folder.path / "summary.json")  # fmt: skip
        reason = gate.difference(base, cand)
        if reason is not None:
            entry["note"] = f"not comparable: {reason}"
        if run_a.folder.summary and run_b.folder.summary:
            found = gate.compare(base, cand, 1.0, 0.05, 2000, 0)
            entry["gate"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in found.__dict__.items()}
            values_a = gate.item_values(base, found.metric)
            values_b = gate.item_values(cand, found.metric)
            if values_a and values_b:
                entry["flips"] = flips(run_a, run_b, values_a.values, values_b.values)
    except Exception as exc:  # noqa: BLE001 - a comparison that cannot be made is shown as such, not a crash
        entry["note"] = (entry["note"] + "; " if entry["note"] else "") + f"the gate could not compare: {exc}"
    if entry["gate"] is None or not entry["flips"] and "could not" in (entry["note"] or ""):
        # the gate's per-item values are not available (a damaged record, no summary): the viewer's own scores
        entry["flips"] = flips(run_a, run_b, _item_scores(run_a), _item_scores(run_b))
    return entry


def _item_scores(run: Run) -> dict[str, float]:
    assert run.items is not None
    scale = 100.0 if run.folder.kind == "task" else 1.0
    return {item.key: scale * item.score for item in run.items.items if item.score is not None}


def flips(run_a: Run, run_b: Run, a: Mapping[str, float], b: Mapping[str, float]) -> list[dict[str, Any]]:
    index_a = _positions(run_a)
    index_b = _positions(run_b)
    out = []
    for unit in sorted(set(a) & set(b), key=lambda u: (-abs(b[u] - a[u]), u)):
        if abs(a[unit] - b[unit]) < 1e-9:
            continue
        item = unit.partition("#")[0] if run_a.folder.kind != "task" else unit
        out.append({"unit": unit, "id": item, "a": round(a[unit], 2), "b": round(b[unit], 2),
                    "ia": index_a.get(item), "ib": index_b.get(item)})  # fmt: skip
    return out


def _positions(run: Run) -> dict[str, int]:
    assert run.items is not None
    found: dict[str, int] = {}
    for index, item in enumerate(run.items.items):
        found.setdefault(item.key, index)
        found.setdefault(item.key.partition("#")[0], index)
    return found


def script(name: str, data: Any) -> str:
    """A data file: `EK.put(name, data)` (JSON is a JavaScript expression)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return f"EK.put({json.dumps(name)},{text});\n"


def _write(path: Path, text: str) -> None:
    # a lone surrogate from a model's reply stays a JSON escape instead of stopping the report
    path.write_bytes(text.encode("utf-8", errors="backslashreplace"))


def _clean(value: Any) -> Any:
    """NaN / infinity -> None, so every data file is strict JSON."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def build_report(results: Path, out: Path | None = None, results_b: Path | None = None) -> Path:
    """Write the report of `results` (and its comparison with `results_b`) to `out`; returns index.html."""
    results = Path(results)
    out = Path(out) if out is not None else results / "report"
    runs = collect(results, Path(results_b) if results_b is not None else None)
    for run in runs:
        run.items = run_items(run.folder)
    data = out / "data"
    if data.is_dir():
        if not (data / "index.js").is_file():  # never delete a folder that is not an earlier report's data
            raise ViewError(f"{out}: has a data/ folder that is not an evalkit report's; choose another --out")
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)
    for asset in ("app.js", "app.css"):
        shutil.copyfile(ASSETS / asset, out / "assets" / asset)
    entries = []
    for run in runs:
        assert run.items is not None
        entry = _clean(run_entry(run))
        entry["chunks"] = (len(run.items.items) + CHUNK - 1) // CHUNK
        entry["chunk"] = CHUNK
        entries.append(entry)
        rows = []
        for item in run.items.items:
            rows.append({**item.row, "f": item.flags, "s": None if item.score is None else round(item.score, 4)})
        _write(data / f"{run.key}.js", script(run.key, _clean(rows)))
        for start in range(0, len(run.items.items), CHUNK):
            chunk = [item.detail for item in run.items.items[start:start + CHUNK]]
            _write(data / f"{run.key}-{start // CHUNK}.js", script(f"{run.key}-{start // CHUNK}", _clean(chunk)))
    index = {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "sources": [str(results)] + ([str(results_b)] if results_b is not None else []),
        "runs": entries, "leaderboard": leaderboard(runs),
        "compare": _clean(compare(runs)) if results_b is not None else None,
    }  # fmt: skip
    _write(data / "index.js", script("index", _clean(index)))
    shutil.copyfile(ASSETS / "index.html", out / "index.html")
    return out / "index.html"


def command_view(args: Any) -> int:
    index = build_report(args.results, args.out, args.results_b)
    print(f"report: {index.resolve()}")
    if getattr(args, "check", False):
        from evalkit.publish.view.browser import check_report, find_chromium  # noqa: PLC0415

        if find_chromium() is None:
            raise ViewError("--check needs chromium and chromedriver (apt-get install chromium chromium-driver)")
        problems = check_report(index)
        for problem in problems:
            print(f"check: {problem}")
        print(f"check: {'every page rendered' if not problems else f'{len(problems)} problem(s)'} in headless Chromium")
        return 1 if problems else 0
    return 0
