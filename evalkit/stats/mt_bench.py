"""MT-Bench's numbers: single-answer grades 1-10 -> turn and pooled means, and `evalkit mt-bench score`
over FastChat's own judgment files (or ours).

The run itself is the one judged flow (evalkit.run.judged) with the plugin judges/mt_bench/task.py.
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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.records import TaskDataError, read_jsonl
from evalkit.stats import MTBenchScores, Rating, mt_bench_scores, nan_as_lowest
from evalkit.types import MetricValue

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


def metric(value: tuple[float, float, int]) -> MetricValue:
    mean, stderr, _ = value
    return MetricValue(mean, stderr)


def scores_to_metrics(scores: MTBenchScores) -> tuple[dict[str, MetricValue], dict[str, dict[str, Any]]]:
    """summary.json metrics (only those with at least one rating) and the per-category breakdown."""
    metrics = {name: metric(value) for name, value in (("score", scores.score), ("turn1", scores.turn1),
                                                       ("turn2", scores.turn2)) if value[2] > 0}  # fmt: skip
    categories = {name: {"n": value[2], "score": metric(value).to_dict()} for name, value in scores.categories.items()}
    return metrics, {"category": categories}


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
