"""Arena-Hard runs: answers -> pairwise judgments (both orders) -> win-rate vs a baseline with a bootstrap CI.

Layout under results/<model>/arena_hard/<lang>/:
  answers.jsonl     one line per question: question_id, model, answer, token counts (the runner's answers)
  judgments.jsonl   append-only, one line per game: question_id, game, model_a, model_b, model, baseline,
                    judge, raw judge text, verdict (None when unparsed after one re-ask), re-ask text
  summary.json      score (percent), CI, average tokens, baseline, judge, method, counts

An interrupted judging run resumes: games already in judgments.jsonl are not asked again, and every judge
reply is also in the response cache. The statistics are `evalkit.stats.arena_v01` / `arena_v2`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.backends.base import Backend
from evalkit.judging import Judge, JudgeQuery
from evalkit.modelspec import parse_model_string
from evalkit.records import run_dir, write_json, write_jsonl
from evalkit.references import stored_answer_paths
from evalkit.runner import PreparedRun, answer_all, flow_summary
from evalkit.scoring.verdicts import parse_pairwise_verdict
from evalkit.stats import STRONG_WEIGHT, ArenaScore, Battles, arena_v01, arena_v2
from evalkit.task import TaskDataError, read_jsonl
from evalkit.types import MetricValue, RunSummary

METHODS = ("v0.1", "v2")
#: Verdict (game's A vs B) -> (outcome for A, weight): A>>B counts STRONG_WEIGHT times, as arena-hard-auto.
VERDICT_OUTCOMES = {"A>>B": (1.0, STRONG_WEIGHT), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1),
                    "B>>A": (0.0, STRONG_WEIGHT)}  # fmt: skip


@dataclass(frozen=True)
class ArenaSettings:
    baseline: str
    baseline_answers: Path | None = None
    method: str = "v0.1"
    rounds: int = 100
    seed: int = 0


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


def read_answers(path: Path) -> dict[str, dict[str, Any]]:
    """question_id -> row, from our answers.jsonl or an arena-hard-auto model_answer file (errors name the line)."""
    answers = {}
    for row in read_jsonl(path):
        qid = row.get("question_id", row.get("uid"))
        if qid is None or answer_text(row) is None:
            raise TaskDataError(f"{path}:{row['_line']}: needs 'question_id' and an answer ('answer' or choices)")
        answers[str(qid)] = row
    return answers


def find_baseline_answers(arena: Any, lang: str, data: str, settings: ArenaSettings, output_root: Path) -> Path:
    """Where the baseline's answers are: --baseline-answers, a previous evalkit run, or the bundled ones."""
    if settings.baseline_answers is not None:
        return settings.baseline_answers
    slug = parse_model_string(settings.baseline).slug
    candidates = stored_answer_paths(arena, "baselines", lang, slug, data, output_root)
    for path in candidates:
        if path.is_file():
            return path
    raise TaskDataError(
        f"{arena.name}/{lang}: no answers of the baseline {settings.baseline!r} (looked in "
        f"{', '.join(map(str, candidates))}); generate them with `evalkit run --model {settings.baseline} --tasks "
        f"{arena.name} --langs {lang}` (no --judge needed) or pass --baseline-answers FILE"
    )


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


def count_tokens(texts: Sequence[str], backend_counts: Sequence[int]) -> tuple[list[int], str]:
    """Answer lengths in tokens and which counter produced them (tiktoken cl100k_base, else the backend's)."""
    encoder = _tiktoken_encoder()
    if encoder is not None:
        return [len(encoder.encode(t, disallowed_special=())) for t in texts], "tiktoken:cl100k_base"
    return list(backend_counts), "backend"


# -- judgments -------------------------------------------------------------------------------------------------
def game_key(row: Mapping[str, Any]) -> tuple[str, int, str, str, str]:
    return (str(row["question_id"]), int(row["game"]), row["model_a"], row["model_b"], row["judge"])


def read_judgments(path: Path) -> list[dict[str, Any]]:
    return [row for row in read_jsonl(path)] if path.is_file() else []


def append_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append rows and fsync, so judgments survive an interrupted run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


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


# -- one model, one language -------------------------------------------------------------------------------
def run_arena(prepared: PreparedRun, backend: Backend, judge: Judge | None, model: str, model_slug: str,
              output_root: Path, data: str, settings: ArenaSettings) -> RunSummary | None:  # fmt: skip
    """Answer every question, then (with a judge) judge both games against the baseline and write summary.json."""
    arena, lang = prepared.task, prepared.lang
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    completions = [s[-1] for s in answer_all(prepared, backend)]
    texts = [c.text for c in completions]
    backend_tokens = [c.usage.completion_tokens for c in completions]
    tokens, counter = count_tokens(texts, backend_tokens)
    out = run_dir(output_root, model_slug, arena.name, lang)
    write_jsonl(out / "answers.jsonl", (
        {"question_id": s.id, "model": model, "answer": c.text, "token_len": n, "token_counter": counter,
         "finish_reason": c.finish_reason, "usage": c.usage.to_dict(), "error": c.error}
        for s, c, n in zip(prepared.samples, completions, tokens, strict=True)
    ))  # fmt: skip
    if judge is None:
        print(f"{arena.name}/{lang}: {len(texts)} answers written (no --judge: not judged)")
        return None
    if model == settings.baseline:
        print(f"{arena.name}/{lang}: {model} is the baseline; answers written, nothing to judge")
        return None

    baseline_path = find_baseline_answers(arena, lang, data, settings, output_root)
    baseline_answers = read_answers(baseline_path)
    log_path = out / "judgments.jsonl"
    done = {game_key(r) for r in read_judgments(log_path)}
    pending: list[dict[str, Any]] = []
    queries: list[JudgeQuery] = []
    missing_baseline = 0
    for sample, completion in zip(prepared.samples, completions, strict=True):
        if not completion.ok:
            continue
        base = baseline_answers.get(sample.id)
        if base is None:
            missing_baseline += 1
            continue
        base_text = answer_text(base) or ""
        for game, (a, b, text_a, text_b) in enumerate(
            ((settings.baseline, model, base_text, completion.text), (model, settings.baseline, completion.text,
                                                                      base_text)), start=1):  # fmt: skip
            row = {"question_id": sample.id, "game": game, "model_a": a, "model_b": b, "model": model,
                   "baseline": settings.baseline, "judge": judge.model}  # fmt: skip
            if game_key(row) in done:
                continue
            pending.append(row)
            queries.append(JudgeQuery(arena.judge_messages(sample, text_a, text_b, lang), arena.reask(lang)))
    judgments = judge.run(queries, parse_pairwise_verdict, description=f"{arena.name}/{lang} judge")
    append_jsonl(log_path, (
        {**row, **j.to_dict()} for row, j in zip(pending, judgments, strict=True) if j.error is None
    ))  # fmt: skip
    failed = sum(j.error is not None for j in judgments)

    ids = {s.id for s in prepared.samples}
    recorded = [r for r in read_judgments(log_path) if r["judge"] == judge.model and r["baseline"] == settings.baseline
                and r["model"] == model and str(r["question_id"]) in ids]  # fmt: skip
    scores = score_models(recorded, settings.baseline, settings.method, settings.rounds, settings.seed)
    result = scores[0] if scores else None
    if result is None:  # every verdict unparsed: reported as not scored, never as 0
        print(f"{arena.name}/{lang}: warning: no judgment of {model} has a verdict; no score (see {log_path})",
              file=sys.stderr)  # fmt: skip
    answered = [n for n, c in zip(tokens, completions, strict=True) if c.ok]
    summary = flow_summary(
        prepared, backend, model, metrics={"score": MetricValue(result.score, None)} if result else {},
        n=len({r["question_id"] for r in recorded}), n_errors=sum(not c.ok for c in completions) + failed,
        completions=completions, started_at=started_at, clock=clock, extra={
            "method": settings.method, "ci": [result.lower, result.upper] if result else None,
            "ci_level": 0.95 if settings.method == "v0.1" else 0.90,
            "avg_tokens": sum(answered) / len(answered) if answered else None, "token_counter": counter,
            "baseline": settings.baseline, "baseline_answers": str(baseline_path), "judge": judge.model,
            "judge_backend": judge.identity, "rounds": settings.rounds, "seed": settings.seed,
            "games": len(recorded), "unparsed": sum(r["verdict"] is None for r in recorded),
            "reasked": sum(bool(r.get("reasked")) for r in recorded), "judge_failures": failed,
            "missing_baseline_answers": missing_baseline, "task_options": dict(arena.option_values),
        },
    )  # fmt: skip
    write_json(out / "summary.json", summary.to_dict())
    return summary


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
