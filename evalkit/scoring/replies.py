"""What of a model reply the answer readers look at: the visible answer, not the reasoning.

Reasoning models write `<think>…</think>` (or `<thinking>`, `<reasoning>`) before the answer; some chat
templates open the block in the prompt, so the reply holds only the closing tag. The reasoning is cut off
before reading (its letters and numbers are drafts, not answers) and its length is recorded. A block that
never closes means the model ran out of tokens while thinking: nothing is read (`no_answer`).

A model that runs on past its answer and invents the next item ("Задача: У Пети 5 яблок…", as few-shot
prompts invite) is read up to that label (phrases `next_item`) when an answer came before it; an echo of the
problem at the start, or "Вопрос: …" restated mid-reasoning, is read on. A reply that is empty, only
whitespace, or mostly control / replacement characters (a broken decode) is not read either; a very long
reply is read from its last `MAX_READ_CHARS` characters, where an answer ends.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from evalkit.scoring import phrases

MAX_READ_CHARS = 60_000
_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_GARBAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ud800-\udfff]")


@dataclass(frozen=True)
class VisibleReply:
    """The part of a reply a grader reads, and why there may be nothing to read."""

    text: str
    reasoning_chars: int = 0
    #: None when there is text to read; else "empty", "unreadable" or "unterminated_reasoning".
    unread: str | None = None


def visible_reply(reply: str | None) -> VisibleReply:
    if reply is None or not reply.strip():
        return VisibleReply("", unread="empty")
    text = reply
    reasoning = 0
    closes = list(_CLOSE.finditer(text))
    if closes:
        last = closes[-1]
        reasoning = last.start()
        text = text[last.end() :]
    opened = _OPEN.search(text)
    if opened:  # a block opened after the last close (or with none): it never ended
        return VisibleReply("", reasoning_chars=reasoning + len(text) - opened.end(), unread="unterminated_reasoning")
    text = _before_next_item(text)
    if not text.strip():
        return VisibleReply("", reasoning_chars=reasoning, unread="empty")
    tail = text[-MAX_READ_CHARS:]
    if len(_GARBAGE.findall(tail)) > 0.1 * len(tail):
        return VisibleReply("", reasoning_chars=reasoning, unread="unreadable")
    return VisibleReply(_GARBAGE.sub("", tail), reasoning_chars=reasoning)


def _before_next_item(text: str) -> str:
    """The reply up to an invented next item: a line opening with "Задача:", "Question:"… after an answer."""
    labels = phrases.pattern("next_item").pattern
    label_line = rf"^[ \t>*_#]*(?:{labels})[ \t]*\d*[ \t]*[*_]*[:.][ \t]*\S"
    for match in re.finditer(label_line, text, re.IGNORECASE | re.MULTILINE):
        before = text[: match.start()]
        if re.search(r"####|\\boxed", before) or phrases.pattern("answer").search(before):
            return before  # answered, then ran on into a new item ("Вопрос: на сколько…" mid-reasoning stays)
    return text


@dataclass(frozen=True)
class Reading:
    """One answer read out of one reply: the value (None: no answer), the rule that decided it, and notes
    on any ambiguous choice made on the way (a separator read as thousands, say)."""

    value: str | None
    rule: str
    reasoning_chars: int = 0
    notes: tuple[str, ...] = ()

    def fields(self, key: str) -> dict[str, str | int | None]:
        """The reading as `extracted` fields of a sample record: value under `key`, plus rule and notes."""
        out: dict[str, str | int | None] = {key: self.value, "rule": self.rule}
        if self.reasoning_chars:
            out["reasoning_chars"] = self.reasoning_chars
        if self.notes:
            out["notes"] = "; ".join(self.notes)
        return out


def read_visible(reply: str | None, read: Callable[[str], Reading]) -> Reading:
    """Run a reader on the visible part of a reply: a reply with nothing to read is no answer (its reason as
    the rule), and every reading carries the length of the reasoning cut off before it."""
    visible = visible_reply(reply)
    if visible.unread is not None:
        return Reading(None, visible.unread, visible.reasoning_chars)
    return replace(read(visible.text), reasoning_chars=visible.reasoning_chars)


def reading_summary(extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """summary.json["extra"] of a task that reads answers: which rule decided how many readings, how many
    replies had no answer, and how much reasoning was cut off before reading."""
    rules = Counter(str(e.get("rule")) for e in extracted if e.get("rule") is not None)
    reasoning = [int(e.get("reasoning_chars") or 0) for e in extracted]
    with_reasoning = [r for r in reasoning if r > 0]
    return {
        "reading_rules": dict(sorted(rules.items())),
        "n_unterminated_reasoning": rules.get("unterminated_reasoning", 0),
        "n_empty": rules.get("empty", 0),
        "n_with_reasoning": len(with_reasoning),
        "mean_reasoning_chars": round(sum(with_reasoning) / len(with_reasoning), 1) if with_reasoning else 0.0,
    }
