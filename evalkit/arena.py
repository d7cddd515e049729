"""Arena-Hard's numbers: pairwise verdicts (both orders) -> win-rate vs a baseline with a bootstrap CI, answer
lengths in tokens, and `evalkit arena-hard score` over arena-hard-auto's own files (or ours).

The run itself is the one judged flow (evalkit.judged) with the plugin judges/arena_hard/task.py; its files
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
from pathlib import Path
from typing import Any

from evalkit.scoring.verdicts import parse_pairwise_verdict
from evalkit.stats import STRONG_WEIGHT, ArenaScore, Battles, arena_v01, arena_v2
from evalkit.task import TaskDataError, read_jsonl
from evalkit.types import Completion

METHODS = ("v0.1", "v2")
#: Verdict (game's A vs B) -> (outcome for A, weight): A>>B counts STRONG_WEIGHT times, as arena-hard-auto.
VERDICT_OUTCOMES = {"A>>B": (1.0, STRONG_WEIGHT), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1),
                    "B>>A": (0.0, STRONG_WEIGHT)}  # fmt: skip


# -- answers ---------------------------------------------------------------------------------------------------
def answer_text(row: Mapping[str, Any]) -> str | None:
    """The first-turn answer of a row in our answers.jsonl or arena-hard-auto's model_answer schema."""
    if isinstance(row.get("answer"), str):
        return row["answer"]
    try:
        return str(row["choices"][0]["turns"][0]["content"])
    except (KeyError, IndexError, TypeError):
        return None


def answer_tokens(row: Mapping[str, Any]) -> int | None:
    for path in (("token_len",), ("choices", 0, "turns", 0, "token_len"), ("conv_metadata", "token_len")):
        value: Any = row
        try:
            for key in path:
                value = value[key]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, int):
            return value
    return None


# -- token counting --------------------------------------------------------------------------------------------
def _tiktoken_encoder() -> Any | None:
    """cl100k_base when tiktoken and its encoding file are already cached on this machine (never downloads)."""
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
def judgment_rows_from_file(path: Path) -> list[dict[str, Any]]:
    """Game rows from arena-hard-auto model_judgment files (`games` lists) or our judgments.jsonl."""
    rows: list[dict[str, Any]] = []
    for row in read_jsonl(path):
        if "games" in row:
            model, baseline = str(row["model"]), row.get("baseline")
            games = row["games"]
            if not isinstance(games, list) or len(games) < 1:
                raise TaskDataError(f"{path}:{row['_line']}: field 'games' must be a list of games")
            for game, entry in enumerate(games[:2], start=1):
                verdict = entry.get("score") if isinstance(entry, dict) else None
                verdict = parse_pairwise_verdict(f"[[{verdict}]]") if isinstance(verdict, str) else None
                a, b = ("__baseline__", model) if game == 1 else (model, "__baseline__")
                rows.append({"question_id": str(row.get("question_id", row.get("uid"))), "game": game, "model_a": a,
                             "model_b": b, "model": model, "baseline": baseline, "judge": row.get("judge"),
                             "verdict": verdict})  # fmt: skip
        elif {"question_id", "game", "model_a", "model_b", "verdict"} <= set(row):
            rows.append(row)
        else:
            raise TaskDataError(f"{path}:{row['_line']}: neither an arena-hard-auto judgment ('games') nor an "
                                "evalkit judgment (question_id, game, model_a, model_b, verdict)")  # fmt: skip
    return rows


def leaderboard_from_files(judgment_paths: Sequence[Path], answer_paths: Sequence[Path], baseline: str,
                           method: str, rounds: int, seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """Model | score | CI | avg tokens for every model in the judgments, jointly fitted, baseline at 50."""
    rows = [r for path in judgment_paths for r in judgment_rows_from_file(path)]
    for row in rows:  # arena-hard-auto files leave the baseline implicit
        for side in ("model_a", "model_b"):
            if row[side] == "__baseline__":
                row[side] = baseline
    scores = score_models(rows, baseline, method, rounds, seed)
    lengths: dict[str, list[int]] = {}
    for path in answer_paths:
        for row in read_jsonl(path):
            name = row.get("model") or row.get("model_id") or path.stem
            tokens = answer_tokens(row)
            if tokens is not None:
                lengths.setdefault(str(name), []).append(tokens)
    table = [{"model": s.model, "score": s.score, "lower": s.lower, "upper": s.upper} for s in scores]
    table.append({"model": baseline, "score": 50.0, "lower": 50.0, "upper": 50.0})
    for entry in table:
        counts = lengths.get(entry["model"]) or lengths.get(entry["model"].split("/")[-1])
        entry["avg_tokens"] = sum(counts) / len(counts) if counts else None
    return sorted(table, key=lambda e: (-e["score"], e["model"]))


def format_table(table: Sequence[Mapping[str, Any]], method: str) -> str:
    level = "95% CI" if method == "v0.1" else "90% CI"
    lines = [f"{'Model':<40} | {'Score':>6} | {level:^14} | Avg tokens"]
    for e in table:
        interval = f"({e['lower'] - e['score']:+.1f}, {e['upper'] - e['score']:+.1f})"
        tokens = "—" if e["avg_tokens"] is None else f"{e['avg_tokens']:.0f}"
        lines.append(f"{e['model']:<40} | {e['score']:>6.1f} | {interval:^14} | {tokens}")
    return "\n".join(lines)
