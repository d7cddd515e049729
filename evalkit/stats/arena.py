"""Arena-Hard's numbers: pairwise verdicts (both orders) -> win-rate vs a baseline with a bootstrap CI, answer
lengths in tokens, and `evalkit arena-hard score` over arena-hard-auto's own files (or ours).

The run itself is the one judged flow (evalkit.run.judged) with the plugin judges/arena_hard/task.py; its files
under results/<model>/arena_hard/<lang>/:
  answers.jsonl     one line per question: question_id, model, answer, token counts
  judgments.jsonl   append-only, one line per game: question_id, game, model_a, model_b, model, baseline,
                    judge, raw judge text, verdict (None when unparsed after one re-ask), re-ask text
  summary.json      score (percent), CI, average tokens, baseline, judge, method, counts
The statistics are `evalkit.stats.arena_v01` / `arena_v2`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalkit.records import TaskDataError, read_jsonl
from evalkit.scoring.verdicts import parse_pairwise_verdict
from evalkit.stats import ArenaScore, Battles, arena_v01, arena_v2
from evalkit.stats.battles import VERDICT_OUTCOMES, answer_tokens
from evalkit.stats.style_control import style_battles, style_controlled, styles_from_answer_files
from evalkit.types import Completion

METHODS = ("v0.1", "v2")
# -- token counting --------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _tiktoken_encoder() -> Any | None:
    """cl100k_base when tiktoken and its encoding file are already cached on this machine (never downloads);
    looked up once per process, since answers are counted one by one."""
    try:
        import tiktoken  # noqa: PLC0415 - optional
    except ImportError:
        return None
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache")  # fmt: skip
    if not (Path(cache) / hashlib.sha1(url.encode()).hexdigest()).is_file():
        return None
    try:
        return tiktoken.get_encoding("cl100k_base")
    except Exception:  # noqa: BLE001 - a broken cache file: fall back to the backend's counts
        return None


def answer_tokens_of(answer: Completion) -> tuple[int, str]:
    """One answer's length in tokens and the counter that measured it (see `count_tokens`)."""
    counts, counter = count_tokens([answer.text], [answer.usage.completion_tokens])
    return counts[0], counter


def count_tokens(texts: Sequence[str], backend_counts: Sequence[int]) -> tuple[list[int], str]:
    """Answer lengths in tokens and which counter produced them (tiktoken cl100k_base, else the backend's)."""
    encoder = _tiktoken_encoder()
    if encoder is not None:
        return [len(encoder.encode(t, disallowed_special=())) for t in texts], "tiktoken:cl100k_base"
    return list(backend_counts), "backend"


def battle_rows(judgments: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, float, int]]:
    """v0.1 battles: one (model_a, model_b, outcome, weight) per game with a verdict; unparsed games dropped."""
    rows = []
    for row in judgments:
        if row.get("verdict") in VERDICT_OUTCOMES:
            outcome, weight = VERDICT_OUTCOMES[row["verdict"]]
            rows.append((row["model_a"], row["model_b"], outcome, weight))
    return rows


def question_scores(judgments: Iterable[Mapping[str, Any]], baseline: str) -> dict[str, list[float]]:
    """v2 rows: per model, the pooled per-game scores of questions whose two games both have a verdict.

    From the model's side: a win counts [1] ([1, 1, 1] when decisive), a tie [0.5], a loss [0] ([0, 0, 0]).
    """
    games: dict[tuple[str, str], dict[int, Mapping[str, Any]]] = {}
    for row in judgments:
        games.setdefault((row["model"], str(row["question_id"])), {})[int(row["game"])] = row
    scores: dict[str, list[float]] = {}
    for (model, _), pair in sorted(games.items()):
        if set(pair) != {1, 2} or any(pair[g].get("verdict") not in VERDICT_OUTCOMES for g in (1, 2)):
            continue
        for game in (1, 2):
            outcome, weight = VERDICT_OUTCOMES[pair[game]["verdict"]]
            model_is_a = pair[game]["model_a"] == model
            scores.setdefault(model, []).extend([outcome if model_is_a else 1.0 - outcome] * weight)
    return scores


def score_models(judgments: Sequence[Mapping[str, Any]], baseline: str, method: str, rounds: int,
                 seed: int) -> list[ArenaScore]:  # fmt: skip
    if method == "v0.1":
        rows = battle_rows(judgments)
        if not rows:
            return []
        return [s for s in arena_v01(Battles.from_rows(rows), baseline, rounds, seed) if s.model != baseline]
    if method == "v2":
        return arena_v2(question_scores(judgments, baseline), rounds, seed)
    raise ValueError(f"unknown arena method {method!r}; choose one of {', '.join(METHODS)}")


# -- interop: score arena-hard-auto's own files (or ours) -------------------------------------------------
#: arena-hard-auto v2's baseline per question category (utils/judge_utils.py JUDGE_SETTINGS).
V2_CATEGORY_BASELINES = {"hard_prompt": "o3-mini-2025-01-31", "coding": "o3-mini-2025-01-31",
                         "math": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001",
                         "arena-hard-v0.1": "gpt-4-0314"}  # fmt: skip


def judgment_rows_from_file(path: Path) -> list[dict[str, Any]]:
    """Game rows from arena-hard-auto model_judgment files (`games` lists) or our judgments.jsonl.

    An arena-hard-auto row with fewer than two games, or a game without a score, gives a row whose verdict is
    None (counted as dropped, never silently left out).
    """
    rows: list[dict[str, Any]] = []
    for row in read_jsonl(path):
        if "games" in row:
            model, baseline = str(row["model"]), row.get("baseline")
            games = row["games"]
            if not isinstance(games, list):
                raise TaskDataError(f"{path}:{row['_line']}: field 'games' must be a list of games")
            for game in (1, 2):
                entry = games[game - 1] if len(games) >= game else None
                verdict = entry.get("score") if isinstance(entry, dict) else None
                verdict = parse_pairwise_verdict(f"[[{verdict}]]") if isinstance(verdict, str) else None
                a, b = ("__baseline__", model) if game == 1 else (model, "__baseline__")
                rows.append({"question_id": str(row.get("question_id", row.get("uid"))), "game": game, "model_a": a,
                             "model_b": b, "model": model, "baseline": baseline, "judge": row.get("judge"),
                             "category": row.get("category"), "verdict": verdict})  # fmt: skip
        elif {"question_id", "game", "model_a", "model_b", "verdict"} <= set(row):
            rows.append(row)
        else:
            raise TaskDataError(f"{path}:{row['_line']}: neither an arena-hard-auto judgment ('games') nor an "
                                "evalkit judgment (question_id, game, model_a, model_b, verdict)")  # fmt: skip
    return rows


def with_baseline(row: Mapping[str, Any], baseline: str) -> dict[str, Any]:
    """A copy of a game row with the baseline named: arena-hard-auto's files leave it implicit (`__baseline__`
    in model_a / model_b, `baseline` possibly absent)."""
    named = {side: baseline for side in ("model_a", "model_b") if row[side] == "__baseline__"}
    return {**row, **named, "baseline": row.get("baseline") or baseline}


def style_leaderboard_from_files(judgment_paths: Sequence[Path], answer_paths: Sequence[Path], baseline: str,
                                 unit: str, rounds: int, seed: int) -> dict[str, Any]:  # fmt: skip
    """`arena-hard score --style-control`: every model's style-controlled score (evalkit.stats.style_control) in the
    score table's layout, the baseline at 50, with the style coefficients."""
    rows = [with_baseline(r, baseline) for path in judgment_paths for r in judgment_rows_from_file(path)]
    found = style_controlled(style_battles(rows, styles_from_answer_files(answer_paths, unit)), rounds=rounds,
                             seed=seed)  # fmt: skip
    table = [{"model": s.model, "score": s.score, "lower": s.lower, "upper": s.upper, "avg_tokens": None,
              "games": 0, "dropped": 0, "bootstrap_median": s.bootstrap_median} for s in found.scores]
    table.append({"model": baseline, "score": 50.0, "lower": 50.0, "upper": 50.0, "avg_tokens": None, "games": 0,
                  "dropped": 0})  # fmt: skip
    return {"length_unit": unit, "table": table, "coefficients": found.coefficients,
            "constant_features": list(found.dropped)}


def answer_lengths(paths: Sequence[Path]) -> dict[str, list[int]]:
    """Answer lengths in tokens per model. As arena-hard-auto, a model_answer file names its model by its file
    name (our answers.jsonl files by their `model` field); a question answered twice in one file counts once."""
    lengths: dict[str, list[int]] = {}
    for path in paths:
        per_question: dict[str, int] = {}
        name = path.stem
        for row in read_jsonl(path):
            if path.name == "answers.jsonl":
                name = str(row.get("model") or row.get("model_id") or name)
            tokens = answer_tokens(row)
            if tokens is not None:
                per_question.setdefault(str(row.get("question_id", row.get("uid"))), tokens)
        lengths.setdefault(name, []).extend(per_question.values())
    return lengths


def _usable_games(rows: Sequence[Mapping[str, Any]], method: str) -> dict[str, int]:
    """Per model, the games that enter the statistic (v2 needs both games of a question)."""
    if method == "v2":
        pairs: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in rows:
            pairs.setdefault((row["model"], str(row["question_id"])), []).append(row)
        usable: dict[str, int] = {}
        for (model, _), games in pairs.items():
            if len(games) == 2 and all(g.get("verdict") in VERDICT_OUTCOMES for g in games):
                usable[model] = usable.get(model, 0) + 2
        return usable
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("verdict") in VERDICT_OUTCOMES:
            counts[row["model"]] = counts.get(row["model"], 0) + 1
    return counts


def leaderboard_from_files(judgment_paths: Sequence[Path], answer_paths: Sequence[Path], baseline: str,
                           method: str, rounds: int, seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Model | score | CI | avg tokens | games (usable, dropped) for every model in the judgments, jointly
    fitted, the baseline at 50. A model without one usable game is listed with no score; no usable game at all
    is an error."""
    rows = [r for path in judgment_paths for r in judgment_rows_from_file(path)]
    if not rows:
        raise TaskDataError(f"no judgments in {', '.join(map(str, judgment_paths)) or 'the given folder'}")
    rows = [with_baseline(row, baseline) for row in rows]
    usable = _usable_games(rows, method)
    if not usable:
        raise TaskDataError("no judgment has a usable verdict (every game is unparsed or incomplete)")
    scores = {s.model: s for s in score_models(rows, baseline, method, rounds, seed)}
    lengths = answer_lengths(answer_paths)
    models = sorted({r["model"] for r in rows})
    table: list[dict[str, Any]] = []
    for model in models:
        games = [r for r in rows if r["model"] == model]
        found = scores.get(model)
        table.append({"model": model, "score": found.score if found else None,
                      "lower": found.lower if found else None, "upper": found.upper if found else None,
                      "games": len(games), "usable": usable.get(model, 0),
                      "dropped": len(games) - usable.get(model, 0)})  # fmt: skip
    table.append({"model": baseline, "score": 50.0, "lower": 50.0, "upper": 50.0, "games": 0, "usable": 0,
                  "dropped": 0})  # fmt: skip
    for entry in table:
        counts = lengths.get(entry["model"]) or lengths.get(entry["model"].split("/")[-1])
        entry["avg_tokens"] = int(sum(counts) / len(counts)) if counts else None  # truncated, as arena-hard-auto
    return sorted(table, key=lambda e: (e["score"] is None, -(e["score"] or 0.0), e["model"]))


@dataclass(frozen=True)
class CategoryScores:
    """One question category scored against its own baseline."""

    baseline: str
    questions: int
    scores: list[ArenaScore]


def scores_by_category(rows: Sequence[Mapping[str, Any]], method: str, rounds: int,
                       seed: int) -> dict[str, CategoryScores]:  # fmt: skip
    """arena-hard-auto v2: each question category scored against its own baseline — the one its judgments name,
    else V2_CATEGORY_BASELINES. Fixes a reference bug: upstream's show_result narrows its battle table to the
    first category and then looks for the next one in it, so asking for two categories fails."""
    by_category: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_category.setdefault(str(row.get("category") or "uncategorised"), []).append(row)
    result: dict[str, CategoryScores] = {}
    for category, category_rows in sorted(by_category.items()):
        named = {r.get("baseline") for r in category_rows if r.get("baseline")}
        baseline = named.pop() if len(named) == 1 else V2_CATEGORY_BASELINES.get(category, "baseline")
        category_rows = [with_baseline(row, baseline) for row in category_rows]
        questions = len({str(r["question_id"]) for r in category_rows})
        result[category] = CategoryScores(baseline, questions, score_models(category_rows, baseline, method, rounds,
                                                                            seed))  # fmt: skip
    return result


def category_leaderboards(judgment_paths: Sequence[Path], rounds: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """`evalkit arena-hard score --by-category`: every model per category, by the v2 statistic."""
    rows = [r for path in judgment_paths for r in judgment_rows_from_file(path)]
    return {category: [{"model": s.model, "score": s.score, "lower": s.lower, "upper": s.upper,
                        "baseline": found.baseline} for s in found.scores]
            for category, found in scores_by_category(rows, "v2", rounds, seed).items()}  # fmt: skip


def format_table(table: Sequence[Mapping[str, Any]], method: str) -> str:
    level = "95% CI" if method == "v0.1" else "90% CI"
    lines = [f"{'Model':<40} | {'Score':>6} | {level:^14} | {'Avg tokens':>10} | games (dropped)"]
    for e in table:
        tokens = "—" if e["avg_tokens"] is None else str(e["avg_tokens"])
        if e["score"] is None:
            lines.append(f"{e['model']:<40} | {'—':>6} | {'no usable game':^14} | {tokens:>10} | "
                         f"{e['games']} ({e['dropped']})")  # fmt: skip
            continue
        interval = f"({e['lower'] - e['score']:+.1f}, {e['upper'] - e['score']:+.1f})"
        lines.append(f"{e['model']:<40} | {e['score']:>6.1f} | {interval:^14} | {tokens:>10} | "
                     f"{e['games']} ({e['dropped']})")  # fmt: skip
    return "\n".join(lines)
