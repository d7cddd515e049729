"""The regression gate: compare a candidate run with a baseline run task by task, fail on a real drop.

`evalkit gate --baseline results/<a> --candidate results/<b> [--tasks t1,t2] [--max-drop 1.0] [--alpha 0.05]`

For every task/language both runs have, on the primary metric (the leaderboard's), in points (percent;
MT-Bench ratings × 10 so that 1 point = 0.1 rating):
  per-item tasks   paired bootstrap over the items both runs scored (Koehn 2004, "Statistical significance
                   tests for machine translation evaluation"): d_i = candidate_i − baseline_i, Δ = mean(d);
                   B resamples of the shared items with replacement give Δ*_1..B. p = share of Δ* ≥ 0
                   (how often the candidate is not worse), and the one-sided upper bound U = the (1 − α)
                   quantile of Δ*. Per-item values: the mean over replicas (pass@1 for code), MT-Bench's
                   per-question mean rating, AlpacaEval's per-instruction preference against the first reference.
  Arena-Hard       the arena's own bootstrap CIs: the candidate's upper bound is compared with the baseline's
                   lower bound (non-overlapping intervals count as significant).
  pass/fail items  also the exact McNemar test on the discordant items (evalkit.stats.mcnemar_exact); a drop
                   fails the gate only when McNemar's one-sided p < α as well.
  clustered items  MT-Bench turns of one question, Arena-Hard games of one question, RAG domains: the
                   bootstrap resamples whole clusters and the SE is the clustered one (Miller 2024).
  in_language      the share of replies in the run's language (evalkit.scoring.language), gated next to the primary
                   metric whenever both runs have it.
  Every row reports its SE and the minimum detectable drop at its n and α (power 0.8), never below what the
                   items can show (`detectable_drop`); a task whose detectable drop exceeds the margin, or with
                   fewer than MIN_UNITS shared items, is "too small to gate" — named, never reported as a pass.
  summary only     (no per-item file) a normal approximation from the two standard errors:
                   U = Δ + z_(1−α) · sqrt(se_b² + se_c²), p = Φ(Δ / sqrt(se_b² + se_c²)).
A task regresses when the drop is larger than the margin with significance: U < −max_drop (for arenas:
the CIs do not overlap and the drop exceeds the margin). Testing the drop against the margin, not against 0,
is deliberate: with "significantly below 0 and observed drop > margin" a run that only carries noise fails in
about α of all gates once the standard error exceeds margin / 1.65 — one CI job in twenty, for nothing.

Incomparable runs are refused (exit 2) with a message naming the difference: dataset id / config / split /
revision / path, task version, language, generation config, judge, arena baseline or reference model, task
options. An incomplete run (items failed after retries: summary status `incomplete`, or n_errors > 0 in older
summaries) is refused the same way, in one line naming the task/language, the run and its errors, unless
`--allow-errors`: then it is gated over the answered items and the report names its errors. Exit codes: 0 pass,
1 regression, 2 misuse.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from evalkit.errors import UserError
from evalkit.publish.runs import INCOMPLETE_MARK, Run, TaskInfo, task_info
from evalkit.records import atomic_write_text
from evalkit.run.task import COMMON_OPTIONS, read_jsonl
from evalkit.scoring.language import UNDETERMINED
from evalkit.stats import (
    cluster_bootstrap,
    clustered_standard_error,
    mcnemar_exact,
    minimum_detectable_drop,
    paired_bootstrap,
)

#: summary.json keys whose difference makes two runs incomparable (label -> path in the summary).
COMPARED = (
    ("dataset source", ("data", "source")), ("dataset id", ("data", "dataset_id")),
    ("dataset config", ("data", "config")),
    ("dataset split", ("data", "split")), ("dataset revision", ("data", "revision")), ("data path", ("data", "path")),
    ("task version", ("task_version",)), ("language", ("lang",)), ("judge", ("extra", "judge")),
    ("arena baseline", ("extra", "baseline")), ("arena method", ("extra", "method")),
    ("reference model", ("extra", "reference_model")), ("references", ("extra", "references")),
    ("task options", ("extra", "task_options")), ("system prompt", ("system_prompt",)),
    ("chat template", ("chat_template",)),
)  # fmt: skip


#: Language fidelity (evalkit.scoring.language), gated next to every task's primary metric when both runs have it.
IN_LANGUAGE = "in_language"
#: Fewer shared items than this give no usable standard error: such a task is "too small to gate" whatever its
#: numbers say (one item has SE 0 and would "pass", or fail on a single item).
MIN_UNITS = 3
#: Metric gated when neither run has the primary one (RAG without a judge has no accuracy).
FALLBACK_METRIC = {"rag": "rouge_l"}


class GateMisuse(UserError, ValueError):
    """Runs that cannot be compared, or a bad path / task list (exit 2); the message names what differs."""


@dataclass(frozen=True)
class Comparison:
    task: str
    lang: str
    metric: str
    method: str
    n: int
    baseline: float | None  # None: neither run has a score here (e.g. no judge verdict); the task is skipped
    candidate: float | None
    delta: float | None
    bound: float | None  # one-sided upper bound of the delta (None for arena CIs)
    p_value: float | None
    regression: bool
    se: float | None = None  # standard error of the delta (clustered where items come in clusters)
    min_detectable: float | None = None  # the smallest true drop this n and α detect with power 0.8
    mcnemar_p: float | None = None  # pass/fail metrics: one-sided exact McNemar p on the discordant items
    too_small: bool = False  # the detectable drop exceeds the margin, or n is too small to estimate it at all
    errors: str | None = None  # failed items of either run (gated with --allow-errors): named in the report

    @property
    def verdict(self) -> str:
        if self.regression:
            return "**REGRESSION**"
        if self.delta is None and not self.too_small:
            return "skipped"
        return "too small to gate" if self.too_small else "pass"


def load_runs(root: Path) -> dict[tuple[str, str], Run]:
    """(task, lang) -> run, from results/<model>/<task>/<lang>/summary.json."""
    if not root.is_dir():
        raise GateMisuse(f"{root}: no such results folder (expected results/<model>)")
    runs = {}
    for path in sorted(root.glob("*/*/summary.json")):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise GateMisuse(f"{path}: not a readable summary ({exc})") from None
        runs[(path.parts[-3], path.parts[-2])] = Run(root.name, path.parts[-3], path.parts[-2], summary, path)
    if not runs:
        raise GateMisuse(f"{root}: no <task>/<lang>/summary.json (is this a results/<model> folder?)")
    return runs


def _get(summary: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = summary
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def difference(baseline: Run, candidate: Run) -> str | None:
    """Why two runs of one task/language are not comparable, or None."""
    for label, path in COMPARED:
        a, b = _get(baseline.summary, path), _get(candidate.summary, path)
        if path == ("extra", "task_options"):  # runs from before an option existed ran with its default
            defaults = {name: option.default for name, option in COMMON_OPTIONS.items()}
            a, b = ({**defaults, **(x or {})} if (a or b) else x for x in (a, b))
        if a != b:
            return f"{baseline.task}/{baseline.lang}: different {label}: baseline {a!r}, candidate {b!r}"
    a, b = baseline.summary.get("generation_config") or {}, candidate.summary.get("generation_config") or {}
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if changed:
        shown = ", ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in changed)
        return f"{baseline.task}/{baseline.lang}: different generation config: {shown}"
    return None


# -- per-item values ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Items:
    """Per-item values of the primary metric in points, and the cluster of each item (None: independent)."""

    values: dict[str, float]
    clusters: dict[str, str] | None = None
    unit: str = "items"


def item_values(run: Run, metric: str) -> Items | None:
    """Per-item values of the primary metric in points, or None when the run has no per-item file for it."""
    folder = run.path.parent
    if metric == IN_LANGUAGE:
        return _language_items(folder / "samples.jsonl", run)
    if run.task == "mt_bench":
        return _mt_bench_items(folder / "judgments.jsonl", run)
    if run.task == "alpaca_eval":
        return _alpaca_items(folder / "judgments.jsonl", run)
    if run.task == "arena_hard":
        return _arena_items(folder / "judgments.jsonl", run)
    samples = folder / "samples.jsonl"
    if not samples.is_file():
        return None
    key = "passed" if metric.startswith("pass@") else metric
    wanted_filter = None
    if run.task.startswith("lm_eval__"):  # bridged metrics are keyed `metric/filter`; records carry the filter
        key, _, wanted_filter = metric.partition("/")
    sums: dict[str, list[float]] = {}
    groups: dict[str, str] = {}
    for row in read_jsonl(samples):
        if row.get("error") is not None:  # a failed item is not a wrong answer: it has no value to compare
            continue
        if wanted_filter and (row.get("metadata") or {}).get("filter") not in (wanted_filter, None):
            continue
        value = (row.get("scores") or {}).get(key)
        if isinstance(value, (int, float)):
            sums.setdefault(str(row["id"]), []).append(float(value))
            group = (row.get("metadata") or {}).get(CLUSTER_KEY.get(run.task, ""))
            if group is not None:
                groups[str(row["id"])] = str(group)
    values = {item: 100 * sum(v) / len(v) for item, v in sums.items()}
    return Items(values, groups if groups and len(groups) == len(values) else None)


def _language_items(path: Path, run: Run) -> Items | None:
    """100 for a reply in the run's language, 0 for another (undetermined replies left out)."""
    if not path.is_file():
        return None
    expected = (run.extra.get("language") or {}).get("expected", run.lang)
    found: dict[str, list[float]] = {}
    for row in read_jsonl(path):
        if row.get("error") is not None:
            continue
        detected = (row.get("extracted") or {}).get("language")
        if detected and detected != UNDETERMINED:
            found.setdefault(str(row["id"]), []).append(100.0 * (detected == expected))
    return Items({item: sum(v) / len(v) for item, v in found.items()}) if found else None


#: Per-item tasks whose items come in groups that move together: the record metadata key naming the group.
CLUSTER_KEY = {"rag": "domain"}


def _mt_bench_items(path: Path, run: Run) -> Items | None:
    """One value per graded turn (rating × 10), clustered by question."""
    if not path.is_file():
        return None
    from evalkit.stats.mt_bench import ratings_from_files  # here, not at the top: it pulls in the runner (~1.3 s)

    grouped = ratings_from_files([path]).get((str(run.summary.get("model")), str(run.extra.get("judge"))), [])
    values = {f"{r.question_id}#{r.turn}": 10 * r.rating for r in grouped if r.rating != -1}
    return Items(values, {key: key.partition("#")[0] for key in values}, "turns")


def _alpaca_items(path: Path, run: Run) -> Items | None:
    if not path.is_file():
        return None
    reference = run.extra.get("reference")
    return Items({str(row["question_id"]): 100 * (float(row["preference"]) - 1) for row in read_jsonl(path)
                  if row.get("model") == run.summary.get("model") and row.get("judge") == run.extra.get("judge")
                  and row.get("reference") == reference and row.get("preference") is not None})  # fmt: skip


def _arena_items(path: Path, run: Run) -> Items | None:
    """One value per judged game from the model's side (win 100, tie 50, loss 0), clustered by question."""
    if not path.is_file():
        return None
    from evalkit.stats.battles import VERDICT_OUTCOMES  # noqa: PLC0415

    values: dict[str, float] = {}
    for row in read_jsonl(path):
        if row.get("model") != run.summary.get("model") or row.get("judge") != run.extra.get("judge"):
            continue
        if row.get("baseline") != run.extra.get("baseline") or row.get("verdict") not in VERDICT_OUTCOMES:
            continue
        outcome = VERDICT_OUTCOMES[row["verdict"]][0]
        won = outcome if row["model_a"] == row["model"] else 1 - outcome
        values[f"{row['question_id']}#{row['game']}"] = 100 * won
    return Items(values, {key: key.partition("#")[0] for key in values}, "games") if values else None


# -- the gate -------------------------------------------------------------------------------------------------
def points_scale(task: str, metric: str, info: TaskInfo) -> float:
    """Gate points per unit of a summary metric: percent for fractions (in_language in every task), an MT-Bench
    rating × 10, arena win-rates as they are (already percent)."""
    if metric == IN_LANGUAGE:
        return 100.0
    if task == "mt_bench":
        return 10.0
    return 100.0 if info.fraction else 1.0


def compare(baseline: Run, candidate: Run, max_drop: float, alpha: float, rounds: int, seed: int,
            metric: str | None = None) -> Comparison:  # fmt: skip
    """One task/language on its primary metric (or on `metric`, e.g. in_language)."""
    info = task_info(baseline.task, baseline.summary)
    if metric is None:
        metric = info.primary
        if baseline.metric(metric) is None and candidate.metric(metric) is None and baseline.task in FALLBACK_METRIC:
            metric = FALLBACK_METRIC[baseline.task]
    scale = points_scale(baseline.task, metric, info)
    base_items, cand_items = item_values(baseline, metric), item_values(candidate, metric)
    if base_items and cand_items and base_items.values and cand_items.values:
        return _paired(baseline, metric, base_items, cand_items, max_drop, alpha, rounds, seed)
    b_value, c_value = baseline.metric(metric), candidate.metric(metric)
    if b_value is None and c_value is None:
        return Comparison(baseline.task, baseline.lang, metric, "not scored in either run", 0, None, None, None, None,
                          None, False)  # fmt: skip
    if b_value is None or c_value is None:
        missing = "baseline" if b_value is None else "candidate"
        if answered_items(baseline if b_value is None else candidate) == 0:  # every item failed (--allow-errors)
            return Comparison(baseline.task, baseline.lang, metric, f"no answered items in the {missing}", 0,
                              b_value and b_value * scale, c_value and c_value * scale, None, None, None, False,
                              too_small=True)  # fmt: skip
        raise GateMisuse(f"{baseline.task}/{baseline.lang}: the {missing} run has no {metric!r}")
    b_value, c_value = b_value * scale, c_value * scale
    n = min(answered_items(baseline), answered_items(candidate))
    if n < MIN_UNITS:
        return Comparison(baseline.task, baseline.lang, metric, "summary values", n, b_value, c_value,
                          c_value - b_value, None, None, False, too_small=True)  # fmt: skip
    if baseline.task == "arena_hard":
        b_ci, c_ci = baseline.extra.get("ci"), candidate.extra.get("ci")
        separated = bool(b_ci and c_ci and c_ci[1] < b_ci[0])
        return Comparison(baseline.task, baseline.lang, metric, "arena CIs", n, b_value, c_value, c_value - b_value,
                          None, None, separated and b_value - c_value > max_drop)  # fmt: skip
    b_se, c_se = _stderr(baseline, metric) * scale, _stderr(candidate, metric) * scale
    se = math.hypot(b_se, c_se)
    delta = c_value - b_value
    if se == 0 or not math.isfinite(se):
        raise GateMisuse(f"{baseline.task}/{baseline.lang}: no per-item file and no standard error for {metric!r}")
    bound = delta + NormalDist().inv_cdf(1 - alpha) * se
    detectable = minimum_detectable_drop(se, alpha)
    return Comparison(baseline.task, baseline.lang, metric, "normal approximation", n, b_value, c_value, delta,
                      bound, 1 - NormalDist().cdf(-delta / se), bound < -max_drop, se=se,
                      min_detectable=detectable, too_small=detectable > max_drop)  # fmt: skip


def _paired(baseline: Run, metric: str, base: Items, cand: Items, max_drop: float, alpha: float, rounds: int,
            seed: int) -> Comparison:  # fmt: skip
    """The paired comparison on shared items: bootstrap (of clusters when items are clustered), the clustered
    standard error, the minimum detectable drop and, for pass/fail metrics, the exact McNemar test."""
    shared = sorted(set(base.values) & set(cand.values))
    if not shared:
        raise GateMisuse(f"{baseline.task}/{baseline.lang}: the runs share no item ids")
    b = np.array([base.values[i] for i in shared])
    c = np.array([cand.values[i] for i in shared])
    clusters = [base.clusters[i] for i in shared] if base.clusters is not None else None
    if clusters is not None:
        delta, bound, p = cluster_bootstrap(b, c, clusters, rounds, seed, alpha)
        method = f"cluster bootstrap ({base.unit} in {len(set(clusters))} clusters)"
    else:
        delta, bound, p = paired_bootstrap(b, c, rounds, seed, alpha)
        method = "paired bootstrap"
    binary = set(np.unique(b)) <= {0.0, 100.0} and set(np.unique(c)) <= {0.0, 100.0}
    if len(shared) < MIN_UNITS:  # no standard error to speak of: neither a pass nor a regression can be claimed
        return Comparison(baseline.task, baseline.lang, metric, method, len(shared), float(b.mean()),
                          float(c.mean()), delta, None, None, False, too_small=True)  # fmt: skip
    se = clustered_standard_error(c - b, clusters)
    regression = bound < -max_drop
    mcnemar = None
    if binary:
        mcnemar = mcnemar_exact(int(np.sum((b == 100) & (c == 0))), int(np.sum((b == 0) & (c == 100))))
        method += " + exact McNemar"
        regression = regression and mcnemar < alpha
    detectable = detectable_drop(se, alpha, len(shared), binary)
    return Comparison(baseline.task, baseline.lang, metric, method, len(shared), float(b.mean()), float(c.mean()),
                      delta, bound, p, regression, se=se, min_detectable=detectable, mcnemar_p=mcnemar,
                      too_small=detectable > max_drop)  # fmt: skip


def mcnemar_floor(alpha: float) -> int:
    """The fewest lost items the exact McNemar test can call significant: the smallest k with ½^k < α (5 at
    α = 0.05) — k items lost and none gained is the most extreme outcome k discordant items can give."""
    lost = 1
    while 0.5**lost >= alpha:
        lost += 1
    return lost


def detectable_drop(se: float, alpha: float, n: int, binary: bool) -> float:
    """The minimum detectable drop in points (Miller 2024: (z_(1−α) + z_0.8) · SE), never below what n items can
    show at all: for pass/fail metrics the drop of `mcnemar_floor` lost items (the gate also needs McNemar's
    p < α); for others, when every item moved alike (SE 0), the SE of one item moving by 100 points."""
    detectable = minimum_detectable_drop(se, alpha)
    if binary:
        return max(detectable, 100.0 * mcnemar_floor(alpha) / n)
    if se == 0:
        return minimum_detectable_drop(100.0 / n, alpha)
    return detectable


def answered_items(run: Run) -> int:
    """The items a summary's numbers stand on: all items less the failed ones."""
    return max(0, int(run.summary.get("n") or 0) - run.n_errors)


def _stderr(run: Run, metric: str) -> float:
    value = run.stderr(metric)
    return math.nan if value is None else value


def run_gate(baseline_root: Path, candidate_root: Path, tasks: Sequence[str] | None, max_drop: float, alpha: float,
             rounds: int, seed: int, allow_errors: bool = False) -> list[Comparison]:  # fmt: skip
    """Every shared task/language compared; incomplete runs (items failed after retries) are refused unless
    `allow_errors`, and then gated over their answered items with the errors named in each comparison."""
    if not 0 < alpha < 1 or max_drop < 0 or rounds < 100:
        raise GateMisuse("--alpha must be in (0, 1), --max-drop >= 0 and --rounds >= 100")
    baseline, candidate = load_runs(baseline_root), load_runs(candidate_root)
    shared = sorted(set(baseline) & set(candidate))
    if tasks:
        unknown = sorted(set(tasks) - {task for task, _ in shared})
        if unknown:
            raise GateMisuse(f"--tasks {', '.join(unknown)}: not in both runs (shared: "
                             f"{', '.join(sorted({t for t, _ in shared})) or 'none'})")  # fmt: skip
        shared = [key for key in shared if key[0] in tasks]
    if not shared:
        raise GateMisuse(f"{baseline_root} and {candidate_root} share no task/language")
    problems = [d for key in shared if (d := difference(baseline[key], candidate[key])) is not None]
    if problems:
        raise GateMisuse("runs are not comparable:\n  " + "\n  ".join(problems))
    failed = {key: text for key in shared if (text := run_errors(baseline[key], candidate[key])) is not None}
    if failed and not allow_errors:
        raise GateMisuse(refusal(failed, "gate"))
    comparisons = []
    for key in shared:
        found = [compare(baseline[key], candidate[key], max_drop, alpha, rounds, seed)]
        if baseline[key].metric(IN_LANGUAGE) is not None and candidate[key].metric(IN_LANGUAGE) is not None:
            found.append(compare(baseline[key], candidate[key], max_drop, alpha, rounds, seed, IN_LANGUAGE))
        comparisons += [replace(c, errors=failed.get(key)) for c in found]
    return comparisons


def run_errors(baseline: Run | None, candidate: Run | None, sides: tuple[str, str] = ("baseline", "candidate"),
               ) -> str | None:  # fmt: skip
    """`candidate: 4 of 12 items failed; first error: HTTP 503 …` for each incomplete run of a pair, or None."""
    parts = [f"{side} {run.model}: {run.failure()}" for side, run in zip(sides, (baseline, candidate), strict=True)
             if run is not None and run.incomplete]  # fmt: skip
    return "; ".join(parts) or None


def refusal(failed: Mapping[tuple[str, str], str], command: str) -> str:
    """The one-line refusal of incomplete runs, naming each task/language and its error count."""
    named = "; ".join(f"{task}/{lang}: {text}" for (task, lang), text in sorted(failed.items()))
    verb = "gated" if command == "gate" else "compared"
    return (f"incomplete runs, not {verb}: {named} — run the same command again to retry the failed items, "
            "or pass --allow-errors to use the answered items only")  # fmt: skip


def report(comparisons: Sequence[Comparison], baseline: Path, candidate: Path, max_drop: float, alpha: float) -> str:
    lines = [
        f"# Regression gate: {candidate.name} vs {baseline.name}", "",
        f"Fails a task when its drop exceeds {max_drop:g} points with significance (one-sided α = {alpha:g}; "
        "pass/fail metrics also need the exact McNemar test at α). Points: percent; MT-Bench ratings × 10. "
        "SE: the delta's standard error, clustered where items come in clusters (Miller 2024). Detectable: the "
        "smallest true drop this n and α catch with 80% power (for pass/fail metrics never less than the drop of "
        f"the {mcnemar_floor(alpha)} lost items McNemar needs); a task whose detectable drop exceeds the margin, "
        f"or with fewer than {MIN_UNITS} items, is too small to gate.", "",
        "| Task | Lang | Metric | Method | n | Baseline | Candidate | Δ | Upper bound | p | McNemar p | SE "
        "| Detectable | Verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip

    def number(value: float | None, pattern: str) -> str:
        return "—" if value is None else format(value, pattern)

    for c in comparisons:
        verdict = c.verdict + (f" {INCOMPLETE_MARK}" if c.errors else "")
        lines.append(f"| {c.task} | {c.lang} | {c.metric} | {c.method} | {c.n} | {number(c.baseline, '.2f')} | "
                     f"{number(c.candidate, '.2f')} | {number(c.delta, '+.2f')} | {number(c.bound, '+.2f')} | "
                     f"{number(c.p_value, '.4f')} | {number(c.mcnemar_p, '.4f')} | {number(c.se, '.2f')} | "
                     f"{number(c.min_detectable, '.1f')} | {verdict} |")  # fmt: skip
    failed = sum(c.regression for c in comparisons)
    small = [c for c in comparisons if c.too_small and not c.regression]
    if small:
        named = [f"{c.task}/{c.lang}" + (f" {c.metric}" if c.metric == IN_LANGUAGE else "")
                 + (f" ({c.min_detectable:.1f})" if c.min_detectable is not None else f" (n = {c.n})")
                 for c in small]  # fmt: skip
        lines += ["", f"Too small to gate a {max_drop:g}-point drop (minimum detectable drop in points): "
                  + ", ".join(named) + ". These pass only because the gate cannot see a drop of that size: run "
                  "more items for them, or gate them on a larger margin."]  # fmt: skip
    incomplete = sorted({f"{c.task}/{c.lang}: {c.errors}" for c in comparisons if c.errors})
    if incomplete:
        lines += ["", f"{INCOMPLETE_MARK} Incomplete runs, gated with --allow-errors over their answered items only "
                  "(failed items are neither right nor wrong):"] + [f"- {text}" for text in incomplete]  # fmt: skip
    regressed = [c for c in comparisons if c.regression and c.errors]
    tail = f"; {len(regressed)} of them on incomplete runs" if regressed else ""
    lines += ["", f"Result: {'FAIL' if failed else 'PASS'} ({failed} of {len(comparisons)} regressed{tail}; "
              f"{len(small)} too small to gate)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def command_gate(args: argparse.Namespace) -> int:
    tasks = None if args.tasks in ("", "all") else [t.strip() for t in args.tasks.split(",") if t.strip()]
    comparisons = run_gate(args.baseline, args.candidate, tasks, args.max_drop, args.alpha, args.rounds, args.seed,
                           getattr(args, "allow_errors", False))  # fmt: skip
    text = report(comparisons, args.baseline, args.candidate, args.max_drop, args.alpha)
    print(text, end="")
    if args.report is not None:
        atomic_write_text(args.report, text)
    return 1 if any(c.regression for c in comparisons) else 0
