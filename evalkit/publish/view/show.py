"""`evalkit show RUN_DIR --id ID`: the evidence chain of one item in the terminal, as the report shows it —
messages sent, reply (reasoning folded to its length unless --full), extracted answer with its rule and notes,
target, scores; code items their program and sandbox outcome; arena questions both answers, every game with
its judge prompt, the judge's text and the verdict."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import UserError
from evalkit.publish.view.items import RunItems, run_items, split_reasoning
from evalkit.publish.view.load import find_runs


class ShowError(UserError):
    """No such run folder or item."""


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Printer:
    def __init__(self, full: bool, width: int = 100):
        self.lines: list[str] = []
        self.full = full
        self.width = width

    def title(self, text: str) -> None:
        self.lines += ["", f"── {text} " + "─" * max(0, self.width - len(text) - 4)]

    def kv(self, key: str, value: Any) -> None:
        if value is not None and value != "" and value != {}:
            self.lines.append(f"  {key}: {_text(value)}")

    def block(self, value: Any, indent: str = "  │ ") -> None:
        text = _text(value)
        self.lines += [indent + line for line in (text.splitlines() or [""])]

    def reply(self, value: str | None) -> None:
        reasoning, visible, unterminated = split_reasoning(value)
        if reasoning is not None:
            state = ", never closed" if unterminated else ""
            if self.full:
                self.lines.append(f"  <reasoning, {len(reasoning)} characters{state}>")
                self.block(reasoning, "  ┆ ")
            else:
                self.lines.append(f"  <reasoning folded: {len(reasoning)} characters{state}; --full shows it>")
        self.block(visible if visible else "(empty)")

    def messages(self, messages: Sequence[Any]) -> None:
        for message in messages or []:
            role = message.get("role", "?") if isinstance(message, Mapping) else "?"
            content = message.get("content") if isinstance(message, Mapping) else message
            text = _text(content)
            if not self.full and len(text) > 2000:
                left_out = f"\n… ({len(text) - 1300} characters left out; --full shows them) …\n"
                text = text[:300] + left_out + text[-1000:]
            self.lines.append(f"  [{role}]")
            self.block(text)


def find_item(items: RunItems, wanted: str) -> Any:
    for item in items.items:
        if item.key == wanted or item.detail.get("id") == wanted:
            return item
    for item in items.items:  # an id without its replica suffix: the first replica
        if item.key.partition("#")[0] == wanted:
            return item
    return None


def render(run_dir: Path, item_id: str, full: bool = False) -> str:
    folders = find_runs(run_dir)
    if len(folders) != 1:
        raise ShowError(f"{run_dir}: not one run folder (expected results/<model>/<task>/<lang>/)"
                        if not folders else f"{run_dir}: holds {len(folders)} runs; name one <model>/<task>/<lang>/")
    folder = folders[0]
    items = run_items(folder)
    item = find_item(items, item_id)
    if item is None:
        known = ", ".join(i.key for i in items.items[:8])
        raise ShowError(f"{run_dir}: no item {item_id!r} (there are {len(items.items)}: {known}…)")
    out = Printer(full)
    detail = item.detail
    flags = ", ".join(items.flags.get(f, f) for f in item.flags) or "—"
    out.lines.append(f"{folder.model} · {folder.task} · {folder.lang} · item {item.key}: {flags}"
                     + (f" · score {item.score:.4g}" if item.score is not None else ""))
    for warning in [*folder.warnings, *items.notes]:
        out.lines.append(f"note: {warning}")
    kind = detail["kind"]
    if kind == "damaged":
        damaged = detail["damaged"]
        out.title(f"damaged record: {damaged['file']} line {damaged['line']}")
        out.kv("reason", damaged["reason"])
        out.block(damaged["text"])
    elif kind == "task":
        _task(out, detail)
    elif kind == "arena_hard":
        _arena(out, detail)
    elif kind == "mt_bench":
        _mt_bench(out, detail)
    elif kind == "alpaca_eval":
        _alpaca(out, detail)
    return "\n".join(out.lines) + "\n"


def _task(out: Printer, d: Mapping[str, Any]) -> None:
    if d.get("error"):
        out.title("error (counted, not scored as a wrong answer)")
        out.block(d["error"])
    out.title("messages sent")
    out.messages(d.get("messages") or [])
    out.title("reply")
    out.reply(d.get("reply"))
    out.kv("finish_reason", d.get("finish_reason"))
    language = d.get("language")
    if language:
        mismatch = language not in (d.get("expected_language"), "und")
        out.kv("language", f"{language}" + (f"  ≠ expected {d.get('expected_language')}" if mismatch else ""))
    extracted = dict(d.get("extracted") or {})
    code = d.get("code")
    if code:
        out.title("program (extracted code)")
        out.block(code.get("program") or "(no code)")
        out.title("sandbox outcome")
        for key in ("status", "detail", "verdict_mode", "stdout", "stderr"):
            out.kv(key, code.get(key))
    else:
        out.title("extracted answer")
        key = d.get("answer_key")
        out.kv(key or "answer", extracted.pop(key, None) if key else None)
        out.kv("rule", extracted.pop("rule", None))
        out.kv("notes", extracted.pop("notes", None))
        for name, value in extracted.items():
            if name not in ("judge", "language", "code", "status", "detail", "verdict_mode"):
                out.kv(name, value)
    out.title("target")
    out.block(d.get("target"))
    out.title("scores")
    for name, value in (d.get("scores") or {}).items():
        out.kv(name, value)
    judge = d.get("judge")
    if judge:
        out.title("judge")
        out.kv("verdict", judge.get("verdict"))
        out.block(judge.get("raw"))
        if judge.get("reasked"):
            out.kv("re-asked", judge.get("raw_reask"))
    out.title("record")
    for name in ("replica", "usage", "latency_s", "cached", "metadata"):
        out.kv(name, d.get(name))


def _judge(out: Printer, game: Mapping[str, Any]) -> None:
    if game.get("judge_messages"):
        out.lines.append("  judge prompt:")
        out.messages(game["judge_messages"])
    elif game.get("user_prompt"):
        out.lines.append("  judge prompt (the user message as recorded):")
        out.block(game["user_prompt"])
    else:
        out.lines.append("  judge prompt: not recorded in this run")
    out.lines.append(f"  judge's reply{' (' + str(game['judge']) + ')' if game.get('judge') else ''}:")
    out.block(game.get("raw"))
    if game.get("judge_mode"):
        out.kv("judge mode", game["judge_mode"])
    if game.get("option_logprobs"):
        out.kv("options' first-token logprobs", game["option_logprobs"])
    if game.get("reasked"):
        out.lines.append("  re-asked; second reply:")
        out.block(game.get("raw_reask"))


def _arena(out: Printer, d: Mapping[str, Any]) -> None:
    out.title("question" + (f" ({d['category']})" if d.get("category") else ""))
    out.block(d.get("question") or "(not on this machine; it is in the judge prompt)")
    out.title("model's answer")
    out.reply(d.get("answer"))
    out.kv("finish_reason", d.get("finish_reason"))
    out.kv("language", d.get("language"))
    out.title(f"baseline's answer ({d.get('baseline_name')})")
    out.block(d.get("baseline_answer") or "(not on this machine; it is in the judge prompt)")
    for game in d.get("games") or []:
        out.title(f"game {game.get('game')}: A = {game.get('model_a')}, B = {game.get('model_b')} -> "
                  f"{game.get('verdict') or 'no verdict'} ({game.get('model_side')})")
        _judge(out, game)


def _mt_bench(out: Printer, d: Mapping[str, Any]) -> None:
    out.kv("category", d.get("category"))
    games = {g.get("turn"): g for g in d.get("games") or []}
    turns = max(len(d.get("answers") or []), len(d.get("questions") or []), *(t or 0 for t in games), 0)
    for turn in range(1, turns + 1):
        game = games.get(turn)
        rating = "not graded" if game is None else ("unrated" if game.get("score") is None else game["score"])
        out.title(f"turn {turn}: rating {rating}")
        questions, answers, reference = d.get("questions") or [], d.get("answers") or [], d.get("reference") or []
        if len(questions) >= turn:
            out.lines.append("  question:")
            out.block(questions[turn - 1])
        out.lines.append("  answer:")
        out.reply(answers[turn - 1] if len(answers) >= turn else None)
        if len(reference) >= turn and reference[turn - 1]:
            out.lines.append("  reference answer:")
            out.block(reference[turn - 1])
        if game is not None:
            out.kv("judge prompt name", game.get("prompt_name"))
            _judge(out, game)


def _alpaca(out: Printer, d: Mapping[str, Any]) -> None:
    out.title("instruction")
    out.block(d.get("instruction"))
    out.title("model's output")
    out.reply(d.get("answer"))
    for game in d.get("games") or []:
        preference = game.get("preference")
        out.title(f"against {game.get('reference')}: preference {preference if preference is not None else 'none'} "
                  "(1 = the reference wins, 2 = the model wins)")
        out.kv("lengths (characters)", f"model {game.get('model_length')}, reference {game.get('reference_length')}")
        out.kv("presented", "model first" if game.get("switched") else "reference first")
        out.kv("soft (label probabilities)", game.get("soft"))
        out.lines.append("  reference output:")
        out.block(game.get("reference_answer") or "(not on this machine)")
        _judge(out, game)


def command_show(args: Any) -> int:
    text = render(Path(args.run_dir), str(args.id), full=args.full)
    print(textwrap.dedent(text), end="")
    return 0
