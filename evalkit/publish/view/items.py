"""One run folder -> the items the viewer lists: outcome flags, a searchable line, and the full evidence chain.

Per-item tasks read samples.jsonl (one record per item and replica). Judged arenas read answers.jsonl and
judgments.jsonl and group them by question: Arena-Hard's two games, MT-Bench's two graded turns, AlpacaEval's
one game per reference. What the records do not hold (the question text of an arena, the baseline's or the
reference's answer) is looked up in the files the summary names — the bundled samples, the reference answers —
and left out, with a note, when they are not on this machine. Nothing here renders a judge template: the judge
prompt shown is the one recorded with the verdict (`judge_messages`), or none for runs made before it was.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from evalkit.publish.view.load import Damaged, RunFolder, read_rows

UNDETERMINED = "und"
#: Outcome flags of an item, in the order the filters show them: code -> label.
TASK_FLAGS = {"correct": "correct", "wrong": "wrong", "no_answer": "no answer", "truncated": "truncated",
              "error": "error", "unscored": "not scored", "wrong_lang": "wrong language",
              "damaged": "damaged record"}  # fmt: skip
ARENA_FLAGS = {"won": "model better", "tie": "tie", "lost": "baseline better", "unparsed": "no verdict",
               "not_judged": "not (fully) judged", "inconsistent": "games disagree", "no_answer": "no answer",
               "truncated": "truncated", "error": "error", "wrong_lang": "wrong language",
               "damaged": "damaged record"}  # fmt: skip
MT_FLAGS = {"high": "rated 8-10", "mid": "rated 4-7", "low": "rated 1-3", "unparsed": "unrated",
            "not_judged": "not (fully) judged", "no_answer": "no answer", "truncated": "truncated", "error": "error",
            "wrong_lang": "wrong language", "damaged": "damaged record"}  # fmt: skip
ALPACA_FLAGS = {"won": "model preferred", "tie": "tie", "lost": "reference preferred", "unparsed": "no preference",
                "not_judged": "not judged", "no_answer": "no answer", "truncated": "truncated", "error": "error",
                "wrong_lang": "wrong language", "damaged": "damaged record"}  # fmt: skip
#: The answer field of each reader's `extracted` (gsm8k/math: answer, mmlu_pro: choice, code tasks: code).
ANSWER_KEYS = ("answer", "choice", "code", "relevant_doc_ids", "filtered")
UNREAD_RULES = {"empty", "unreadable", "unterminated_reasoning", "no_answer", "none"}
SEARCH_REPLY_CHARS = 3000
SEARCH_PROMPT_CHARS = 600
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)


def split_reasoning(reply: str | None) -> tuple[str | None, str, bool]:
    """(reasoning, visible text, unterminated): the text of <think>/<thinking>/<reasoning> blocks (also a lone
    closing tag when the chat template opened the block) is folded away; a block that never closed holds
    everything after its opening tag."""
    text = reply or ""
    closes = list(_CLOSE.finditer(text))
    reasoning = None
    if closes:
        reasoning = _OPEN.sub("", text[: closes[-1].start()], count=1).strip("\n")
        text = text[closes[-1].end():]
    opened = _OPEN.search(text)
    if opened:
        hidden = text[opened.end():]
        return ((reasoning + "\n\n" if reasoning else "") + hidden, text[: opened.start()], True)
    return reasoning, text, False


def short(value: Any, limit: int = 80) -> str:
    text = "" if value is None else (value if isinstance(value, str) else _json_text(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None  # fmt: skip


@dataclass
class Item:
    """What the viewer lists of one item (`row`) and shows when it is opened (`detail`)."""

    key: str
    flags: list[str]
    score: float | None
    row: dict[str, Any]
    detail: dict[str, Any]


@dataclass
class RunItems:
    kind: str
    flags: dict[str, str]  # code -> label, in filter order
    items: list[Item]
    metric: str | None  # the per-item score the list shows
    distribution: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@cache
def declared(task: str) -> tuple[str | None, float | None]:
    """A built-in task's declared headline metric and chance level (percent), or (None, None)."""
    try:
        from evalkit.run.plugins import BUILTIN_TASKS, load_task  # noqa: PLC0415

        if task in BUILTIN_TASKS:
            plugin = load_task(task)
            return plugin.primary_metric or plugin.metrics[0], plugin.chance_level
    except Exception:  # noqa: BLE001 - a plugin that does not import must not stop the viewer
        pass
    return None, None


def primary_metric(folder: RunFolder) -> str | None:
    """The run's headline metric: the plugin's declared one for built-in tasks, else the summary's first."""
    metrics = folder.summary.get("metrics") if isinstance(folder.summary.get("metrics"), Mapping) else {}
    primary, _ = declared(folder.task)
    if primary is not None:
        return primary
    if folder.task.startswith("lm_eval__"):
        scored = [m for m in metrics if "/" in m]
        if scored:
            return scored[0]
    return next(iter(metrics), None)


def item_score_key(metric: str | None, scores: Mapping[str, Any]) -> str | None:
    """The per-item score behind a summary metric: pass@k is the mean of `passed`, lm-eval's metric/filter is
    `metric` per record."""
    if metric is None:
        return next(iter(scores), None)
    if metric.startswith("pass@"):
        return "passed"
    if metric in scores:
        return metric
    head = metric.partition("/")[0]
    return head if head in scores else None


def expected_language(folder: RunFolder) -> str:
    language = folder.extra.get("language")
    if isinstance(language, Mapping) and isinstance(language.get("expected"), str):
        return language["expected"]
    return folder.lang


def damaged_item(index: int, damaged: Damaged, flags: dict[str, str]) -> Item:
    key = f"damaged:{damaged.path.name}:{damaged.line}"
    return Item(key, ["damaged"], None,
                {"id": f"{damaged.path.name} line {damaged.line}", "a": "", "g": "",
                 "q": f"damaged {damaged.path.name} {damaged.line} {damaged.text[:300]}".lower()},
                {"kind": "damaged", "id": key, "damaged": damaged.to_dict()})  # fmt: skip


# -- per-item tasks -------------------------------------------------------------------------------------------
def task_items(folder: RunFolder) -> RunItems:
    metric = primary_metric(folder)
    expected = expected_language(folder)
    records = list(folder.rows("samples.jsonl"))
    values = []
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("scores"), Mapping):
            key = item_score_key(metric, record["scores"])
            value = number(record["scores"].get(key)) if key else None
            if value is not None:
                values.append(value)
    binary = all(v in (0.0, 1.0) for v in values)
    flags = dict(TASK_FLAGS)
    if not binary:
        flags["correct"], flags["wrong"] = "score ≥ 0.5", "score < 0.5"
    items: list[Item] = []
    replicas = Counter(str(r.get("id")) for r in records if isinstance(r, dict) and r.get("replica"))
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if isinstance(record, Damaged):
            items.append(damaged_item(index, record, flags))
            continue
        item = task_item(record, metric, expected, replicas)
        if item.key in seen:  # lm-eval writes one record per filter of an item: told apart by the filter
            metadata = record.get("metadata") if isinstance(record.get("metadata"), Mapping) else {}
            suffix = metadata.get("filter") or str(seen[item.key] + 1)
            seen[item.key] += 1
            item.key = item.row["id"] = item.detail["id"] = f"{item.key}#{suffix}"
        seen[item.key] = seen.get(item.key, 0) + 1
        items.append(item)
    notes = []
    if not (folder.path / "samples.jsonl").is_file():
        notes.append("no samples.jsonl in this run folder: there are no per-item records to show")
    counts = Counter(f for item in items for f in item.flags)
    bars = [{"label": flags[f], "flag": f, "count": counts.get(f, 0)} for f in flags if counts.get(f, 0)
            or f in ("correct", "wrong")]  # fmt: skip
    distribution: dict[str, Any] = {"title": "Outcomes", "bars": bars}
    if not binary and values:
        distribution = {"title": f"{metric or 'score'} per item", "bars": histogram(values, 0.0, 1.0, 10)}
    return RunItems("task", flags, items, metric, distribution, notes)


def histogram(values: Sequence[float], low: float, high: float, bins: int) -> list[dict[str, Any]]:
    counts = [0] * bins
    for value in values:
        position = int((value - low) / (high - low) * bins) if high > low else 0
        counts[min(max(position, 0), bins - 1)] += 1
    width = (high - low) / bins
    return [{"label": f"{low + i * width:.2g}–{low + (i + 1) * width:.2g}", "count": c} for i, c in enumerate(counts)]


def task_item(record: Mapping[str, Any], metric: str | None, expected: str, replicas: Counter[str]) -> Item:
    item_id = str(record.get("id"))
    replica = record.get("replica") or 0
    key = f"{item_id}#{replica}" if replicas.get(item_id) else item_id  # pass@k: one record per sample
    scores = record.get("scores") if isinstance(record.get("scores"), Mapping) else {}
    extracted = record.get("extracted") if isinstance(record.get("extracted"), Mapping) else {}
    score_key = item_score_key(metric, scores)
    score = number(scores.get(score_key)) if score_key else None
    answer_key = next((k for k in ANSWER_KEYS if k in extracted), None)
    answer = extracted.get(answer_key) if answer_key else None
    error = record.get("error")
    flags: list[str] = []
    if error:
        flags.append("error")
    else:
        unread = (number(scores.get("no_answer")) == 1.0 or (answer_key is not None and answer in (None, ""))
                  or str(extracted.get("rule")) in UNREAD_RULES)  # fmt: skip
        if unread:
            flags.append("no_answer")
        if score is not None:
            flags.append("correct" if score >= 0.5 else "wrong")
        else:
            flags.append("unscored")  # e.g. a judged metric whose judge request failed
    if record.get("finish_reason") == "length" or extracted.get("truncated"):
        flags.append("truncated")
    language = extracted.get("language")
    if extracted.get("language_mismatch") or (isinstance(language, str) and language not in (expected, UNDETERMINED)):
        flags.append("wrong_lang")
    messages = record.get("messages") if isinstance(record.get("messages"), list) else []
    last_user = next((m.get("content", "") for m in reversed(messages)
                      if isinstance(m, Mapping) and m.get("role") == "user"), "")  # fmt: skip
    reply = record.get("completion") if isinstance(record.get("completion"), str) else ""
    code = None
    if "status" in extracted or answer_key == "code":
        code = {"program": extracted.get("code"), "status": extracted.get("status"), "detail": extracted.get("detail"),
                "verdict_mode": extracted.get("verdict_mode"), "stdout": extracted.get("stdout"),
                "stderr": extracted.get("stderr")}  # fmt: skip
    target = record.get("target")
    shown_answer = "" if answer_key == "code" else answer
    row = {"id": key, "a": short(shown_answer if not error else "error"), "g": short(target),
           "l": language if isinstance(language, str) and not error else None,
           "q": " ".join((key, str(target or ""), str(shown_answer or ""), str(last_user)[-SEARCH_PROMPT_CHARS:],
                          reply[:SEARCH_REPLY_CHARS], str(error or ""))).lower()}  # fmt: skip
    detail = {
        "kind": "task", "id": key, "messages": messages, "reply": reply, "finish_reason": record.get("finish_reason"),
        "extracted": dict(extracted), "answer_key": answer_key, "target": target, "scores": dict(scores),
        "score_key": score_key, "error": error, "usage": record.get("usage"), "latency_s": record.get("latency_s"),
        "cached": record.get("cached"), "metadata": record.get("metadata"), "replica": replica,
        "language": language, "expected_language": expected, "code": code,
        "judge": extracted.get("judge") if isinstance(extracted.get("judge"), Mapping) else None,
    }  # fmt: skip
    return Item(key, flags, score, row, detail)


# -- judged arenas --------------------------------------------------------------------------------------------
def resolve(path_text: Any, folder: RunFolder) -> Path | None:
    """A file a summary names (absolute, or relative to the working directory, the results tree or the
    repository), or None when it is not on this machine."""
    if not isinstance(path_text, str) or not path_text.strip():
        return None
    path = Path(path_text.strip())
    if path.is_file():
        return path
    from evalkit.run.plugins import repository_root  # noqa: PLC0415

    bases = (Path.cwd(), *folder.path.resolve().parents, repository_root())
    # an absolute path from another machine or checkout: its tail, from the longest
    tails = [Path(*path.parts[i:]) for i in range(1, len(path.parts) - 1)] if path.is_absolute() else [path]
    for tail in tails:
        for base in bases:
            if (base / tail).is_file():
                return base / tail
    return None


def question_rows(folder: RunFolder) -> dict[str, dict[str, Any]]:
    """The questions of an arena run by id, from the data file its summary names (bundled samples or a local
    file); {} for hub data."""
    data = folder.summary.get("data") if isinstance(folder.summary.get("data"), Mapping) else {}
    path = resolve(data.get("path"), folder)
    if path is None:
        return {}
    found = {}
    for row in read_rows(path):
        if isinstance(row, dict):
            qid = row.get("question_id", row.get("uid", row.get("id")))
            if qid is not None:
                found[str(qid)] = row
    return found


def answer_turns_of(row: Mapping[str, Any]) -> list[str] | None:
    """Answer turns of a row in any of the answer schemas evalkit reads (FastChat, arena-hard-auto, alpaca_eval)."""
    if isinstance(row.get("answer"), str):
        return [row["answer"]]
    if isinstance(row.get("output"), str):
        return [row["output"]]
    try:
        turns = row["choices"][0]["turns"]
    except (KeyError, IndexError, TypeError):
        return None
    out = []
    for turn in turns:
        out.append(turn.get("content", "") if isinstance(turn, Mapping) else str(turn))
    return out


def answers_file(path: Path | None) -> dict[str, list[str]]:
    if path is None:
        return {}
    found = {}
    for row in read_rows(path):
        if isinstance(row, dict):
            qid = row.get("question_id", row.get("instruction"))
            turns = answer_turns_of(row)
            if qid is not None and turns is not None:
                found[str(qid)] = turns
    return found


def _language(text: str | None) -> str | None:
    if not text:
        return None
    try:
        from evalkit.scoring.language import detect_language  # noqa: PLC0415 - loads the langid model once

        return detect_language(text).lang
    except Exception:  # noqa: BLE001
        return None


def _answer_flags(row: Mapping[str, Any] | None, turns: Sequence[str], expected: str) -> tuple[list[str], str | None]:
    flags: list[str] = []
    if row is None:
        return ["no_answer"], None
    if row.get("error"):
        flags.append("error")
    elif not any(t.strip() for t in turns):
        flags.append("no_answer")
    reasons = row.get("finish_reasons") if isinstance(row.get("finish_reasons"), list) else [row.get("finish_reason")]
    if "length" in reasons:
        flags.append("truncated")
    language = _language("\n\n".join(split_reasoning(t)[1] for t in turns))
    if language not in (None, UNDETERMINED, expected):
        flags.append("wrong_lang")
    return flags, language


def _by_question(rows: Iterable[dict[str, Any] | Damaged]) -> tuple[dict[str, list[dict[str, Any]]], list[Damaged]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    damaged = []
    for row in rows:
        if isinstance(row, Damaged):
            damaged.append(row)
        elif row.get("question_id") is not None:
            grouped.setdefault(str(row["question_id"]), []).append(row)
    return grouped, damaged


def current_judgments(folder: RunFolder, judgments: dict[str, list[dict[str, Any]]],
                      game_of: Any) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The records of judgments.jsonl that count for this run's summary: its model and judge, and of several
    records of one game (an earlier judge request, appended before it was re-asked) the last. Returns them by
    question and how many were left out."""
    model, judge = folder.summary.get("model"), folder.extra.get("judge")
    kept: dict[str, list[dict[str, Any]]] = {}
    left_out = 0
    for qid, rows in judgments.items():
        latest: dict[Any, dict[str, Any]] = {}
        for row in rows:
            row_judge = row.get("judge")
            row_judge = row_judge[0] if isinstance(row_judge, list) and row_judge else row_judge
            if (model and row.get("model") not in (None, model)) or (judge and row_judge not in (None, judge)):
                left_out += 1
                continue
            key = game_of(row)
            left_out += key in latest
            latest[key] = row
        kept[qid] = list(latest.values())
    return kept, left_out


def _left_out_note(count: int) -> list[str]:
    return [f"{count} record(s) of judgments.jsonl are not shown: another model's or judge's, or an earlier "
            "judgment of the same game (the summary counts the last)"] if count else []


def _judge_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    messages = row.get("judge_messages")
    return {"judge_messages": messages if isinstance(messages, list) else None, "request_key": row.get("request_key"),
            "raw": row.get("raw", row.get("judgment")), "reasked": row.get("reasked"),
            "raw_reask": row.get("raw_reask"), "judge_mode": row.get("judge_mode"),
            "option_logprobs": row.get("option_logprobs"), "judge": row.get("judge")}  # fmt: skip


#: Arena-Hard labels read from the model's side when the model is A, and when it is B.
_MODEL_SIDE = {"A>>B": "≫", "A>B": ">", "A=B": "=", "B>A": "<", "B>>A": "≪"}
_SWAP = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
_POINTS = {"≫": 1.0, ">": 1.0, "=": 0.5, "<": 0.0, "≪": 0.0}
_SIDE_LABELS = {"≫": "model ≫ baseline", ">": "model > baseline", "=": "tie", "<": "baseline > model",
                "≪": "baseline ≫ model"}  # fmt: skip


def arena_items(folder: RunFolder) -> RunItems:
    expected = expected_language(folder)
    answers, damaged_answers = _by_question(folder.rows("answers.jsonl"))
    judgments, damaged_games = _by_question(folder.rows("judgments.jsonl"))
    judgments, left_out = current_judgments(folder, judgments, lambda r: (r.get("game"), r.get("baseline")))
    questions = question_rows(folder)
    baseline_name = folder.extra.get("baseline")
    baseline = answers_file(resolve(folder.extra.get("baseline_answers"), folder))
    notes = _left_out_note(left_out)
    if judgments and not any(r.get("judge_messages") for rows in judgments.values() for r in rows):
        notes.append("the judge prompts are not in judgments.jsonl (a run from before they were recorded)")
    if folder.extra.get("baseline_answers") and not baseline:
        notes.append(f"the baseline's answers ({folder.extra.get('baseline_answers')}) are not on this machine")
    items: list[Item] = []
    sides = Counter()
    for qid in sorted(set(answers) | set(judgments), key=_natural):
        answer_row = answers.get(qid, [None])[-1]
        turns = answer_turns_of(answer_row) or [] if answer_row else []
        flags, language = _answer_flags(answer_row, turns, expected)
        games, points = [], []
        for row in sorted(judgments.get(qid, []), key=lambda r: (r.get("game") or 0)):
            verdict = row.get("verdict")
            model_is_a = row.get("model_a") == row.get("model")
            side = None
            if verdict in _MODEL_SIDE:
                side = _MODEL_SIDE[verdict if model_is_a else _SWAP[verdict]]
                points.append(_POINTS[side])
            sides[side or "unparsed"] += 1
            games.append({"game": row.get("game"), "model_a": row.get("model_a"), "model_b": row.get("model_b"),
                          "verdict": verdict, "model_side": _SIDE_LABELS.get(side or "", "no verdict"),
                          "baseline": row.get("baseline"), **_judge_fields(row)})  # fmt: skip
        if any(g["verdict"] not in _MODEL_SIDE for g in games):
            flags.append("unparsed")
        if len(games) < 2:  # a game whose judge request failed is not recorded (asked again next run)
            flags.append("not_judged")
        score = 100 * sum(points) / len(points) if points else None
        if score is not None:
            flags.append("won" if score > 50 else "lost" if score < 50 else "tie")
            if len({(p > 0.5) - (p < 0.5) for p in points}) > 1:
                flags.append("inconsistent")
        question = questions.get(qid, {})
        prompt = _first_turn(question)
        base = baseline.get(qid)
        row = {"id": qid, "a": short(" / ".join(g["model_side"] for g in games) or "not judged"),
               "g": short(question.get("category") or (games[0].get("baseline") if games else "")), "l": language,
               "q": " ".join((qid, prompt or "", " ".join(turns)[:SEARCH_REPLY_CHARS],
                              " ".join(str(g.get("raw") or "") for g in games)[:SEARCH_REPLY_CHARS])).lower()}
        answered = answer_row or {}
        detail = {"kind": "arena_hard", "id": qid, "question": prompt, "category": question.get("category"),
                  "answer": turns[0] if turns else None,
                  "baseline_name": baseline_name or (games[0]["baseline"] if games else None),
                  "baseline_answer": base[0] if base else None, "games": games, "score": score,
                  "finish_reason": _finish(answer_row), "error": answered.get("error"), "usage": answered.get("usage"),
                  "token_len": answered.get("token_len"), "language": language,
                  "expected_language": expected}  # fmt: skip
        items.append(Item(qid, flags, score, row, detail))
    items += [damaged_item(i, d, ARENA_FLAGS) for i, d in enumerate(damaged_answers + damaged_games)]
    order = ["≫", ">", "=", "<", "≪", "unparsed"]
    bars = [{"label": _SIDE_LABELS.get(s, "no verdict"), "count": sides.get(s, 0),
             "flag": {"≫": "won", ">": "won", "=": "tie", "<": "lost", "≪": "lost"}.get(s, "unparsed")}
            for s in order]  # fmt: skip
    return RunItems("arena_hard", dict(ARENA_FLAGS), items, "score",
                    {"title": "Verdicts per game, from the model's side", "bars": bars}, notes)


def _finish(row: Mapping[str, Any] | None) -> Any:
    if not row:
        return None
    return row.get("finish_reasons", row.get("finish_reason"))


def _first_turn(question: Mapping[str, Any]) -> str | None:
    turns = question.get("turns")
    if isinstance(turns, list) and turns:
        first = turns[0]
        return first.get("content") if isinstance(first, Mapping) else str(first)
    for key in ("prompt", "question", "instruction"):
        if isinstance(question.get(key), str):
            return question[key]
    return None


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def mt_bench_items(folder: RunFolder) -> RunItems:
    expected = expected_language(folder)
    answers, damaged_answers = _by_question(folder.rows("answers.jsonl"))
    judgments, damaged_games = _by_question(folder.rows("judgments.jsonl"))
    judgments, left_out = current_judgments(folder, judgments, lambda r: (r.get("turn"), r.get("reference_model")))
    questions = question_rows(folder)
    reference_file = answers_file(resolve(folder.extra.get("reference_answers"), folder))
    notes = _left_out_note(left_out)
    if judgments and not any(r.get("judge_messages") for rows in judgments.values() for r in rows):
        notes.append("the judge prompts are not in judgments.jsonl (a run from before they were recorded); "
                     "FastChat's user_prompt is shown where it is")  # fmt: skip
    items, ratings = [], Counter()
    for qid in sorted(set(answers) | set(judgments), key=_natural):
        answer_row = answers.get(qid, [None])[-1]
        turns = answer_turns_of(answer_row) or [] if answer_row else []
        flags, language = _answer_flags(answer_row, turns, expected)
        question = questions.get(qid, {})
        games, scores = [], []
        for row in sorted(judgments.get(qid, []), key=lambda r: (r.get("turn") or 0)):
            score = number(row.get("score"))
            rated = score is not None and score >= 0
            ratings[int(round(score)) if rated else -1] += 1
            if rated:
                scores.append(score)
            judge = row.get("judge")
            games.append({"turn": row.get("turn"), "score": score if rated else None,
                          "prompt_name": judge[1] if isinstance(judge, list) and len(judge) > 1 else None,
                          "reference_model": row.get("reference_model"), "user_prompt": row.get("user_prompt"),
                          **_judge_fields(row),
                          "judge": judge[0] if isinstance(judge, list) and judge else judge})  # fmt: skip
        if any(g["score"] is None for g in games):
            flags.append("unparsed")
        if not games or len(games) < len(turns):
            flags.append("not_judged")
        mean = sum(scores) / len(scores) if scores else None
        if mean is not None:
            flags.append("high" if mean >= 8 else "low" if mean < 4 else "mid")
        reference = question.get("reference") if isinstance(question.get("reference"), list) else None
        reference = reference_file.get(qid) or reference
        asked = question.get("turns") if isinstance(question.get("turns"), list) else None
        row = {"id": qid, "a": short(" / ".join(f"T{g['turn']}: {g['score'] if g['score'] is not None else '—'}"
                                                for g in games) or "not judged"),
               "g": short(question.get("category") or (answer_row or {}).get("category")), "l": language,
               "q": " ".join((qid, " ".join(map(str, asked or [])), " ".join(turns)[:SEARCH_REPLY_CHARS])).lower()}
        detail = {"kind": "mt_bench", "id": qid, "category": question.get("category"), "questions": asked,
                  "answers": turns, "reference": reference, "games": games, "score": mean,
                  "finish_reason": _finish(answer_row), "error": (answer_row or {}).get("error"),
                  "usage": (answer_row or {}).get("usage"), "language": language,
                  "expected_language": expected}  # fmt: skip
        items.append(Item(qid, flags, mean, row, detail))
    items += [damaged_item(i, d, MT_FLAGS) for i, d in enumerate(damaged_answers + damaged_games)]
    bars = [{"label": str(r), "count": ratings.get(r, 0), "flag": "high" if r >= 8 else "low" if r < 4 else "mid"}
            for r in range(1, 11)] + [{"label": "unrated", "count": ratings.get(-1, 0), "flag": "unparsed"}]
    return RunItems("mt_bench", dict(MT_FLAGS), items, "rating", {"title": "Ratings per turn", "bars": bars}, notes)


def alpaca_items(folder: RunFolder) -> RunItems:
    expected = expected_language(folder)
    answers, damaged_answers = _by_question(folder.rows("answers.jsonl"))
    judgments, damaged_games = _by_question(folder.rows("judgments.jsonl"))
    judgments, left_out = current_judgments(folder, judgments, lambda r: r.get("reference"))
    questions = question_rows(folder)
    per_reference = folder.extra.get("per_reference") if isinstance(folder.extra.get("per_reference"), Mapping) else {}
    reference_answers = {name: answers_file(resolve((info or {}).get("answers"), folder))
                         for name, info in per_reference.items() if isinstance(info, Mapping)}  # fmt: skip
    first_reference = folder.extra.get("reference")
    # alpaca_eval's rows have no id of their own: evalkit derives one from the instruction
    by_instruction = {row.get("instruction"): row for row in questions.values()}
    data = folder.summary.get("data") if isinstance(folder.summary.get("data"), Mapping) else {}
    data_path = resolve(data.get("path"), folder)
    for row in read_rows(data_path) if data_path is not None else ():
        if isinstance(row, dict) and isinstance(row.get("instruction"), str):
            by_instruction.setdefault(row["instruction"], row)
    notes = _left_out_note(left_out)
    if judgments and not any(r.get("judge_messages") for rows in judgments.values() for r in rows):
        notes.append("the judge prompts are not in judgments.jsonl (a run from before they were recorded)")
    items, bins = [], []
    unparsed = 0
    for qid in sorted(set(answers) | set(judgments), key=_natural):
        answer_row = answers.get(qid, [None])[-1]
        turns = answer_turns_of(answer_row) or [] if answer_row else []
        flags, language = _answer_flags(answer_row, turns, expected)
        instruction = (answer_row or {}).get("instruction")
        question = questions.get(qid) or by_instruction.get(instruction) or {}
        instruction = instruction or question.get("instruction")
        games = []
        for row in judgments.get(qid, []):
            name = row.get("reference")
            reference_text = (reference_answers.get(name) or {}).get(qid)
            if reference_text is None and isinstance(question.get("output"), str):
                reference_text = [question["output"]]
            preference = number(row.get("preference"))
            games.append({"reference": name, "preference": preference, "verdict": row.get("verdict"),
                          "switched": row.get("switched"), "soft": row.get("soft"),
                          "model_length": row.get("model_length", len(turns[0]) if turns else None),
                          "reference_length": row.get("reference_length"),
                          "reference_answer": reference_text[0] if reference_text else None,
                          **_judge_fields(row)})  # fmt: skip
        main = next((g for g in games if g["reference"] == first_reference), games[0] if games else None)
        preference = main["preference"] if main else None
        if main is not None and preference is None:
            flags.append("unparsed")
            unparsed += 1
        if not games:
            flags.append("not_judged")
        if preference is not None:
            bins.append(preference)
            flags.append("won" if preference > 1.5 else "lost" if preference < 1.5 else "tie")
        row = {"id": qid, "a": short(", ".join(f"{g['reference']}: {g['preference']:.2f}" for g in games
                                               if g["preference"] is not None) or "not judged"),
               "g": short(main["reference"] if main else ""), "l": language,
               "q": " ".join((qid, str(instruction or ""), " ".join(turns)[:SEARCH_REPLY_CHARS])).lower()}
        detail = {"kind": "alpaca_eval", "id": qid, "instruction": instruction, "answer": turns[0] if turns else None,
                  "games": games, "preference": preference, "finish_reason": _finish(answer_row),
                  "error": (answer_row or {}).get("error"), "usage": (answer_row or {}).get("usage"),
                  "language": language, "expected_language": expected}  # fmt: skip
        items.append(Item(qid, flags, None if preference is None else 100 * (preference - 1), row, detail))
    items += [damaged_item(i, d, ALPACA_FLAGS) for i, d in enumerate(damaged_answers + damaged_games)]
    bars = histogram(bins, 1.0, 2.0, 10)
    for bar, low in zip(bars, range(10), strict=True):
        bar["flag"] = "lost" if low < 5 else "won"
    bars.append({"label": "no preference", "count": unparsed, "flag": "unparsed"})
    return RunItems("alpaca_eval", dict(ALPACA_FLAGS), items, "preference",
                    {"title": "Preferences (1 = the reference wins, 2 = the model wins)", "bars": bars}, notes)


def run_items(folder: RunFolder) -> RunItems:
    reader = {"arena_hard": arena_items, "mt_bench": mt_bench_items, "alpaca_eval": alpaca_items}.get(folder.kind,
                                                                                                       task_items)
    return reader(folder)
