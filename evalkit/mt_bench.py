"""MT-Bench runs: two-turn answers -> single-answer grades 1-10 by a judge -> turn and pooled means.

Layout under results/<model>/mt_bench/<lang>/:
  answers.jsonl     one line per question in FastChat's model_answer schema (choices[0].turns = both answers)
  judgments.jsonl   append-only, one line per graded turn in FastChat's single-judgment schema: question_id,
                    model, judge = [judge model, prompt name], user_prompt, judgment (raw text), score (-1 when
                    no rating could be read after one re-ask), turn; plus category, lang, reference_model
  summary.json      score (pooled), turn1, turn2, per-category breakdown, judge, reference model, counts

Turn 1 is graded on the first answer alone; turn 2 with the whole dialogue shown (the grade is for the second
answer). Math / reasoning / coding are graded against a reference answer from a named reference model
(`--reference MODEL`; by default the `reference` field of the questions — FastChat's question.jsonl schema).
An interrupted judging run resumes: turns already in judgments.jsonl are not asked again.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.arena import append_jsonl, read_judgments
from evalkit.backends.base import Backend
from evalkit.judging import Judge, JudgeQuery
from evalkit.records import run_dir, write_json, write_jsonl
from evalkit.references import DATASET, FlowContext, answer_rows, reference_turns
from evalkit.runner import PreparedRun, answer_all, flow_summary
from evalkit.scoring.verdicts import parse_rating
from evalkit.stats import MTBenchScores, Rating, mt_bench_scores, nan_as_lowest
from evalkit.task import TaskDataError, read_jsonl
from evalkit.types import MetricValue, RunSummary

#: Categories graded against a reference answer (FastChat llm_judge/common.py NEED_REF_CATS).
NEEDS_REFERENCE = ("math", "reasoning", "coding")
#: Answer temperature per category (FastChat llm_judge/common.py temperature_config).
CATEGORY_TEMPERATURE = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                        "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}  # fmt: skip
CATEGORIES = tuple(CATEGORY_TEMPERATURE)

def prompt_name(turn: int, with_reference: bool, lang: str) -> str:
    """FastChat's judge prompt names (single-v1, single-math-v1, and their -multi-turn forms) + our language."""
    base = "single-math-v1" if with_reference else "single-v1"
    return f"{base}{'-multi-turn' if turn == 2 else ''}-{lang}"


def judgment_key(row: Mapping[str, Any]) -> tuple[str, int, str, str, str, str | None]:
    judge = row["judge"]
    return (str(row["question_id"]), int(row["turn"]), str(row["model"]), str(judge[0]), str(judge[1]),
            row.get("reference_model"))  # fmt: skip


def metric(value: tuple[float, float, int]) -> MetricValue:
    mean, stderr, _ = value
    return MetricValue(mean, stderr)


def scores_to_metrics(scores: MTBenchScores) -> tuple[dict[str, MetricValue], dict[str, dict[str, Any]]]:
    """summary.json metrics (only those with at least one rating) and the per-category breakdown."""
    metrics = {name: metric(value) for name, value in (("score", scores.score), ("turn1", scores.turn1),
                                                       ("turn2", scores.turn2)) if value[2] > 0}  # fmt: skip
    categories = {name: {"n": value[2], "score": metric(value).to_dict()} for name, value in scores.categories.items()}
    return metrics, {"category": categories}


def run_mt_bench(prepared: PreparedRun, backend: Backend, judge: Judge | None,
                 context: FlowContext) -> RunSummary | None:  # fmt: skip
    """Answer both turns of every question, then (with a judge) grade each turn and write summary.json."""
    bench, lang = prepared.task, prepared.lang
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    steps = answer_all(prepared, backend)
    out = run_dir(context.output_root, context.model_slug, bench.name, lang)
    write_jsonl(out / "answers.jsonl", answer_rows(prepared.samples, steps, context.model))
    if judge is None:
        print(f"{bench.name}/{lang}: {len(steps)} answers written (no --judge: not graded)")
        return None
    if len(context.references) > 1:
        raise TaskDataError(f"{bench.name}: one --reference model grades math/reasoning/coding; got "
                            f"{', '.join(context.references)}")  # fmt: skip
    reference = context.references[0] if context.references else DATASET
    needing = [s for s in prepared.samples if s.metadata["category"] in NEEDS_REFERENCE]
    references, reference_source = ({}, None)
    if needing:
        references, reference_source = reference_turns(prepared, reference, context,
                                                       lambda s: s.fields.get("reference"))  # fmt: skip

    log_path = out / "judgments.jsonl"
    done = {judgment_key(r) for r in read_judgments(log_path)}
    pending: list[dict[str, Any]] = []
    queries: list[JudgeQuery] = []
    missing_reference = 0
    for sample, answers in zip(prepared.samples, steps, strict=True):
        if any(not c.ok for c in answers):
            continue
        category = sample.metadata["category"]
        with_reference = category in NEEDS_REFERENCE
        ref = references.get(sample.id) if with_reference else None
        if with_reference and (ref is None or len(ref) < len(answers)):
            missing_reference += 1
            continue
        texts = [c.text for c in answers]
        for turn in range(1, len(texts) + 1):
            row = {"question_id": sample.id, "model": context.model,
                   "judge": [judge.model, prompt_name(turn, with_reference, lang)], "turn": turn,
                   "category": category, "lang": lang, "reference_model": reference if with_reference else None}
            if judgment_key(row) in done:
                continue
            messages = bench.judge_messages(sample, texts, ref, turn, lang)
            pending.append({**row, "user_prompt": messages[-1].content})
            queries.append(JudgeQuery(messages, bench.reask(lang)))
    if missing_reference:
        print(f"{bench.name}/{lang}: warning: {missing_reference} math/reasoning/coding questions have no answer of "
              f"the reference {reference!r} and are not graded (see --reference, --reference-answers)",
              file=sys.stderr)  # fmt: skip
    judgments = judge.run(queries, parse_rating, description=f"{bench.name}/{lang} judge")
    append_jsonl(log_path, (
        {**row, "judgment": j.raw, "score": j.verdict if j.verdict is not None else -1, "reasked": j.reasked,
         "raw_reask": j.raw_reask}
        for row, j in zip(pending, judgments, strict=True) if j.error is None
    ))  # fmt: skip
    failed = sum(j.error is not None for j in judgments)

    ids = {s.id for s in prepared.samples}
    recorded = [r for r in read_judgments(log_path) if r["model"] == context.model and r["judge"][0] == judge.model
                and str(r["question_id"]) in ids
                and r.get("reference_model") in (None, reference)]  # fmt: skip
    scores = mt_bench_scores([Rating(str(r["question_id"]), int(r["turn"]), r["category"], float(r["score"]))
                              for r in recorded])  # fmt: skip
    metrics, breakdown = scores_to_metrics(scores)
    if not metrics:
        print(f"{bench.name}/{lang}: warning: no turn of {context.model} has a rating; no score (see {log_path})",
              file=sys.stderr)  # fmt: skip
    completions = [c for answers in steps for c in answers]
    summary = flow_summary(
        prepared, backend, context.model, metrics=metrics, n=len({r["question_id"] for r in recorded}),
        n_errors=sum(any(not c.ok for c in a) for a in steps) + failed, completions=completions,
        started_at=started_at, clock=clock, extra={
            "judge": judge.model, "judge_backend": judge.identity, "reference_model": reference,
            "reference_answers": reference_source, "graded": len(recorded), "unrated": scores.excluded,
            "reasked": sum(bool(r.get("reasked")) for r in recorded), "judge_failures": failed,
            "missing_reference": missing_reference, "category_temperatures": dict(CATEGORY_TEMPERATURE),
            "task_options": dict(bench.option_values),
        },
        breakdown=breakdown,
    )  # fmt: skip
    write_json(out / "summary.json", summary.to_dict())
    return summary


# -- interop: FastChat's judgment files (or ours) --------------------------------------------------------------
def ratings_from_files(paths: Sequence[Path], questions: Path | None = None) -> dict[tuple[str, str], list[Rating]]:
    """(model, judge model) -> ratings, from FastChat model_judgment/<judge>_single.jsonl files or our judgments.

    Categories come from the rows (ours carry them) or from a question.jsonl (`--questions`); else "unknown".
    """
    categories: dict[str, str] = {}
    if questions is not None:
        for row in read_jsonl(questions):
            categories[str(row.get("question_id"))] = str(row.get("category", "unknown"))
    grouped: dict[tuple[str, str], list[Rating]] = {}
    for path in paths:
        for row in read_jsonl(path):
            if not {"question_id", "model", "score", "turn"} <= set(row):
                raise TaskDataError(f"{path}:{row['_line']}: not a single-grading judgment (needs question_id, "
                                    "model, score, turn)")  # fmt: skip
            try:
                rating = float(row["score"])
                turn = int(row["turn"])
            except (TypeError, ValueError):
                raise TaskDataError(f"{path}:{row['_line']}: 'score' and 'turn' must be numbers") from None
            judge = row.get("judge")
            judge_model = str(judge[0]) if isinstance(judge, list) and judge else str(judge)
            qid = str(row["question_id"])
            category = str(row.get("category") or categories.get(qid, "unknown"))
            grouped.setdefault((str(row["model"]), judge_model), []).append(Rating(qid, turn, category, rating))
    return grouped


def table_from_files(paths: Sequence[Path], questions: Path | None = None) -> list[dict[str, Any]]:
    """One entry per (model, judge): pooled score, turn means, per-category means, excluded count."""
    table = []
    for (model, judge_model), ratings in ratings_from_files(paths, questions).items():
        scores = mt_bench_scores(ratings)
        table.append({
            "model": model, "judge": judge_model, "score": scores.score[0], "turn1": scores.turn1[0],
            "turn2": scores.turn2[0], "n": scores.score[2], "excluded": scores.excluded,
            "categories": {name: value[0] for name, value in scores.categories.items()},
        })  # fmt: skip
    return sorted(table, key=lambda e: (e["judge"], -nan_as_lowest(e["score"]), e["model"]))



def format_table(table: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"{'model':40} {'judge':20} {'score':>6} {'turn 1':>6} {'turn 2':>6} {'n':>5} {'excl':>5}"]
    for e in table:
        lines.append(f"{e['model'][:40]:40} {e['judge'][:20]:20} {e['score']:6.3f} {e['turn1']:6.3f} "
                     f"{e['turn2']:6.3f} {e['n']:5d} {e['excluded']:5d}")  # fmt: skip
    return "\n".join(lines)
